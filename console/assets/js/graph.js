// The state machine graph: laid out by dagre (vendored), drawn as SVG like the AWS console:
// Start/End markers, a box per state, Choice rules and Default as labelled edges, Catch edges
// dashed, Map and Parallel states as boxes around their branches. Colouring per state is a
// class: succeeded, failed, caught, in_progress, aborted.
"use strict";

const graphView = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = String(text);
    return el;
  }

  function size(node) {
    if (node.kind === "Start" || node.kind === "End") return { width: 64, height: 30 };
    const chars = Math.max(node.name.length, node.kind.length + 2);
    return { width: Math.max(112, Math.min(240, chars * 7.6 + 24)), height: 44 };
  }

  // render(container, graph, {onSelect}) → {colour(states, executionStatus), select(name)}
  function render(container, graph, opts = {}) {
    dom.clear(container);
    if (typeof dagre === "undefined") {
      container.appendChild(dom.errorBox("the graph layout library did not load"));
      return { colour() {}, select() {} };
    }
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 22, ranksep: 40, edgesep: 10, marginx: 16, marginy: 16 });
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    for (const n of graph.nodes) {
      if (n.container) g.setNode(n.id, { label: n.name, clusterLabelPos: "top", paddingTop: 34 });
      else g.setNode(n.id, { ...size(n) });
    }
    for (const n of graph.nodes) if (n.parent && byId.has(n.parent)) g.setParent(n.id, n.parent);
    // dagre lays out no edge that ends on a box: such an edge ends on a small anchor inside it
    const anchor = (id, end) => {
      const n = byId.get(id);
      if (!n || !n.container) return id;
      const a = `${id}/__${end}`;
      if (!g.hasNode(a)) {
        g.setNode(a, { width: 12, height: 12, anchor: true });
        g.setParent(a, id);
      }
      return a;
    };
    graph.edges.forEach((e, i) => {
      const label = e.label || "";
      g.setEdge(anchor(e.from, "out"), anchor(e.to, "in"),
        { kind: e.kind, label, width: label ? label.length * 6.2 + 10 : 0, height: label ? 18 : 0, labelpos: "c" }, `e${i}`);
    });
    try {
      dagre.layout(g);
    } catch (err) {
      container.appendChild(dom.errorBox(`the graph could not be laid out: ${err.message}`));
      return { colour() {}, select() {} };
    }
    const { width, height } = g.graph();
    const svg = s("svg", { class: "graph", viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, width: Math.ceil(width), height: Math.ceil(height), role: "img", "aria-label": "state machine graph" });
    const defs = s("defs");
    for (const kind of ["plain", "catch"]) {
      const m = s("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      m.appendChild(s("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow arrow-${kind}` }));
      defs.appendChild(m);
    }
    svg.appendChild(defs);
    const boxes = s("g", { class: "boxes" });
    const edges = s("g", { class: "edges" });
    const nodes = s("g", { class: "nodes" });
    svg.append(boxes, edges, nodes);
    const elements = new Map();

    for (const id of g.nodes()) {
      const n = byId.get(id);
      const l = g.node(id);
      if (!n || l.anchor) continue;
      const x = l.x - l.width / 2, y = l.y - l.height / 2;
      if (n.container) {
        const grp = s("g", { class: `box kind-${n.kind.toLowerCase()}`, "data-state": n.name });
        grp.appendChild(s("rect", { x, y, width: l.width, height: l.height, rx: 8 }));
        grp.appendChild(s("text", { x: x + 12, y: y + 20, class: "box-title" }, n.kind === "Branch" ? n.name : `${n.kind}: ${n.name}`));
        boxes.appendChild(grp);
        if (n.kind !== "Branch") remember(elements, n.name, grp);
        continue;
      }
      const grp = s("g", { class: `node kind-${n.kind.toLowerCase()}`, "data-state": n.name, tabindex: 0 });
      if (n.kind === "Start" || n.kind === "End") {
        grp.appendChild(s("rect", { x, y, width: l.width, height: l.height, rx: l.height / 2 }));
        grp.appendChild(s("text", { x: l.x, y: l.y + 4, class: "label marker" }, n.name));
      } else {
        grp.appendChild(s("rect", { x, y, width: l.width, height: l.height, rx: 6 }));
        grp.appendChild(s("text", { x: l.x, y: l.y - 3, class: "label" }, n.name));
        grp.appendChild(s("text", { x: l.x, y: l.y + 13, class: "sublabel" }, n.kind));
        grp.addEventListener("click", () => opts.onSelect && opts.onSelect(n.name));
        grp.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && opts.onSelect) opts.onSelect(n.name); });
        remember(elements, n.name, grp);
      }
      nodes.appendChild(grp);
    }
    for (const e of g.edges()) {
      const l = g.edge(e);
      const pts = l.points || [];
      if (pts.length < 2) continue;
      const d = smooth(pts);
      const kind = l.kind === "catch" ? "catch" : "plain";
      edges.appendChild(s("path", { d, class: `edge edge-${l.kind}`, "marker-end": `url(#arrow-${kind})` }));
      if (l.label) {
        const tw = l.label.length * 6.2 + 10;
        const lg = s("g", { class: `edge-label edge-label-${l.kind}` });
        lg.appendChild(s("rect", { x: l.x - tw / 2, y: l.y - 9, width: tw, height: 18, rx: 4 }));
        lg.appendChild(s("text", { x: l.x, y: l.y + 4 }, l.label));
        edges.appendChild(lg);
      }
    }
    container.appendChild(svg);

    const STATUSES = ["succeeded", "failed", "caught", "in_progress", "aborted"];
    return {
      colour(states, executionStatus) {
        for (const [name, els] of elements) {
          const st = states && states[name] ? states[name].status : null;
          for (const el of els) {
            STATUSES.forEach((c) => el.classList.remove(`st-${c}`));
            if (st) el.classList.add(`st-${st}`);
          }
        }
        for (const el of svg.querySelectorAll(".kind-start")) el.classList.toggle("st-succeeded", !!executionStatus);
        for (const el of svg.querySelectorAll(".kind-end")) {
          STATUSES.forEach((c) => el.classList.remove(`st-${c}`));
          if (executionStatus === "SUCCEEDED") el.classList.add("st-succeeded");
          else if (executionStatus && executionStatus !== "RUNNING") el.classList.add(executionStatus === "ABORTED" ? "st-aborted" : "st-failed");
        }
      },
      select(name) {
        for (const [n, els] of elements) for (const el of els) el.classList.toggle("selected", n === name);
      },
    };
  }

  // a path through dagre's points with rounded bends: each inner point is a quadratic
  // control point between the midpoints of its two segments
  function smooth(pts) {
    const f = (p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    if (pts.length < 3) return `M${f(pts[0])} L${f(pts[pts.length - 1])}`;
    let d = `M${f(pts[0])}`;
    for (let i = 1; i < pts.length - 1; i++) {
      const mid = { x: (pts[i].x + pts[i + 1].x) / 2, y: (pts[i].y + pts[i + 1].y) / 2 };
      d += ` Q${f(pts[i])} ${i === pts.length - 2 ? f(pts[i + 1]) : f(mid)}`;
    }
    return d;
  }

  function remember(map, name, el) {
    if (!map.has(name)) map.set(name, []);
    map.get(name).push(el);
  }

  function legend() {
    const item = (cls, text) => dom.h("span", { class: "legend-item" }, dom.h("span", { class: `legend-swatch st-${cls}` }), text);
    return dom.h("div", { class: "legend" }, item("in_progress", "In progress"), item("succeeded", "Succeeded"),
      item("failed", "Failed"), item("caught", "Caught error"), item("aborted", "Aborted"),
      dom.h("span", { class: "legend-item" }, dom.h("span", { class: "legend-dash" }), "Catch"));
  }

  return { render, legend };
})();
