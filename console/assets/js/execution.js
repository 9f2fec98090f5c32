// One execution: the graph coloured per state, the selected state's input, output, error and
// cause, the event table (GetExecutionHistory's columns), live over server-sent events.
"use strict";

const executionPage = (() => {
  let source = null;

  function leave() {
    if (source) { source.close(); source = null; }
  }

  async function show(main, name) {
    leave();
    const [machine, first] = await Promise.all([api.get("state-machine"), waitForExecution(main, name)]);
    if (!first) return;
    const view = { detail: first, events: first.events.slice(), selected: null };
    const head = dom.h("div", { class: "exec-head" });
    const graphBox = dom.h("div", { class: "graph-box" });
    const panel = dom.h("div", { class: "state-panel" });
    const eventsBox = dom.h("div", {});
    dom.clear(main).append(
      dom.h("div", { class: "crumbs" }, dom.h("a", { href: "#/executions" }, "Executions"), " / ", dom.h("span", { class: "mono" }, name)),
      head,
      dom.h("div", { class: "split" },
        dom.h("div", { class: "card graph-card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Graph view"), graphView.legend()), graphBox),
        dom.h("div", { class: "card panel-card" }, panel)),
      dom.h("div", { class: "card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Events")), eventsBox));
    const graph = graphView.render(graphBox, machine.graph, { onSelect: (n) => { view.selected = n; graph.select(n); renderPanel(panel, view); } });

    const refresh = () => {
      renderHead(head, view.detail);
      graph.colour(view.detail.states, view.detail.execution.status);
      if (!view.selected) view.selected = currentState(view.detail.states, view.events);
      graph.select(view.selected);
      renderPanel(panel, view);
      renderEvents(eventsBox, view.events);
    };
    refresh();
    if (first.execution.status === "RUNNING") follow(name, view, refresh);
  }

  // the execution a run just started from the page appears once admit has run: wait for it
  async function waitForExecution(main, name) {
    dom.clear(main).appendChild(dom.h("div", { class: "loading" }, `Waiting for execution ${name} to start…`));
    for (let i = 0; i < 120; i++) {
      try {
        return await api.get(`executions/${api.seg(name)}`);
      } catch (e) {
        if (e.status !== 404 || location.hash !== dom.route("executions", name)) {
          dom.clear(main).appendChild(dom.errorBox(e));
          return null;
        }
        // a config admit rejected has a FAILED record and no execution: show the record
        const job = await api.get(`jobs/${api.seg(name)}`).catch(() => null);
        if (job && job.status === "FAILED" && !job.execution_arn) {
          location.hash = dom.route("jobs", name);
          return null;
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    dom.clear(main).appendChild(dom.errorBox(`no execution named ${name} started within a minute: is a process serving the state directory?`));
    return null;
  }

  function follow(name, view, refresh) {
    source = new EventSource(`/api/executions/${api.seg(name)}/stream`);
    source.addEventListener("update", (ev) => {
      const d = JSON.parse(ev.data);
      const known = new Set(view.events.map((e) => e.id));
      for (const e of d.events) if (!known.has(e.id)) view.events.push(e);
      view.detail = d;
      refresh();
    });
    const close = () => leave();
    source.addEventListener("end", close);
    source.addEventListener("error", close);
  }

  function currentState(states, events) {
    for (let i = events.length - 1; i >= 0; i--) {
      const d = events[i].stateEnteredEventDetails;
      if (d && states[d.name]) return d.name;
    }
    return null;
  }

  function renderHead(el, d) {
    const x = d.execution;
    const running = x.status === "RUNNING";
    const stop = running && d.job_id ? dom.h("button", { class: "button danger", id: "stop-execution", onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await api.post(`jobs/${api.seg(d.job_id)}/stop`, {});
      } catch (e) {
        el.appendChild(dom.errorBox(e));
        ev.target.disabled = false;
      }
    } }, "Stop execution") : null;
    const field = (k, v) => dom.h("div", { class: "field" }, dom.h("div", { class: "field-k" }, k), dom.h("div", { class: "field-v" }, v));
    dom.clear(el).append(
      dom.page(x.name, stop),
      dom.h("div", { class: "card fields" },
        field("Execution status", dom.h("span", { id: "execution-status" }, dom.badge(x.status))),
        field("Job", d.job_id ? dom.h("a", { href: dom.route("jobs", d.job_id), class: "mono" }, d.job_id) : "—"),
        field("Start time", dom.when(x.start_date)),
        field("End time", dom.when(x.stop_date)),
        field("Duration", dom.duration(x.start_date, x.stop_date)),
        field("Events", dom.number(d.event_count)),
        x.error ? field("Error", dom.h("span", { class: "error-text" }, x.error)) : null,
        x.cause ? field("Cause", dom.h("span", { class: "error-text" }, x.cause)) : null));
  }

  function renderPanel(el, view) {
    dom.clear(el);
    const name = view.selected;
    const run = name ? view.detail.states[name] : null;
    if (!name) {
      el.append(dom.h("h2", {}, "Execution input"), jsonView.view(view.detail.execution.input),
        view.detail.execution.output !== null ? dom.h("h2", {}, "Execution output") : null,
        view.detail.execution.output !== null ? jsonView.view(view.detail.execution.output) : null);
      return;
    }
    el.append(dom.h("div", { class: "panel-title" }, dom.h("h2", {}, name), run ? dom.badge(run.status.toUpperCase()) : dom.h("span", { class: "muted" }, "not entered")));
    if (!run) return;
    el.append(dom.h("div", { class: "muted small" }, `entered ${run.entered}× · last ${dom.when(run.entered_at)}`));
    if (run.error || run.cause) {
      el.append(dom.h("div", { class: "alert alert-error" }, dom.h("b", {}, run.error || "Error"), dom.h("div", { class: "cause" }, run.cause || "")));
    }
    el.append(dom.h("h3", {}, "Input"), jsonView.view(run.input, { none: "—" }),
      dom.h("h3", {}, "Output"), jsonView.view(run.output === null ? undefined : run.output, { none: run.status === "in_progress" ? "running…" : "—" }));
  }

  // "Started after" counts from the execution's first event, on the interpreter's clock (which
  // runs faster than the wall clock under --time-scale)
  function renderEvents(el, events) {
    const first = events.find((e) => e.id === 1) || events[0];
    const t0 = first ? new Date(first.timestamp) : null;
    const detailsOf = (e) => Object.entries(e).find(([k]) => k.endsWith("EventDetails"));
    const rows = events.slice().sort((a, b) => a.id - b.id);
    const expanded = new Set();
    const tbl = dom.table([
      { title: "ID", cell: (e) => String(e.id), class: "num" },
      { title: "Type", cell: (e) => dom.h("span", { class: /Failed|TimedOut|Aborted/.test(e.type) ? "error-text" : "" }, e.type) },
      { title: "Step", cell: (e) => { const d = detailsOf(e); return d && d[1].name ? d[1].name : ""; } },
      { title: "Resource", cell: (e) => { const d = detailsOf(e); return d && d[1].resource ? String(d[1].resource).split(":").pop() : ""; } },
      { title: "Started after", cell: (e) => (t0 ? dom.seconds((new Date(e.timestamp) - t0) / 1000) : ""), class: "num" },
      { title: "Date and time", cell: (e) => dom.when(e.timestamp) },
    ], rows, {
      onRow: (e) => {
        const tr = [...tbl.tBodies[0].rows].find((r) => r.cells[0].textContent === String(e.id));
        if (!tr) return;
        if (expanded.has(e.id)) { expanded.delete(e.id); tr.nextSibling.remove(); return; }
        expanded.add(e.id);
        const d = detailsOf(e);
        tr.after(dom.h("tr", { class: "event-details" }, dom.h("td", { colspan: 6 }, jsonView.view(d ? d[1] : {}, { depth: 3 }))));
      },
      rowClass: () => "clickable",
    });
    dom.clear(el).appendChild(tbl);
  }

  return { show, leave };
})();
