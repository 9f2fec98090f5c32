// State machines: the list (the pipeline's and every definition recorded by `stepscore asl
// run`), and one state machine: its graph (of the version asked for, else the latest), its
// recent executions and its definition.
"use strict";

const machinePage = (() => {
  const PIPELINE = "stepscore-scoring-pipeline";

  const kindPill = (m) => (m.kind === "pipeline"
    ? dom.h("span", { class: "pill pill-od" }, "pipeline")
    : dom.h("span", { class: "pill pill-recorded" }, "asl run"));

  async function list(main) {
    const data = await api.get("state-machines");
    main.append(
      dom.page("State machines"),
      dom.h("p", { class: "muted" }, "The pipeline's state machine, and every definition run with ",
        dom.h("code", {}, "stepscore asl run"), " in this state directory (a version per changed text)."),
      dom.h("div", { class: "card" }, dom.table([
        { title: "Name", cell: (m) => dom.h("a", { href: dom.route("machines", m.name), class: "mono machine-link" }, m.name) },
        { title: "Kind", cell: kindPill },
        { title: "Version", cell: (m) => (m.version ? `v${m.version}` : "—"), class: "num" },
        { title: "Executions", cell: (m) => dom.h("a", { href: `#/executions?machine=${encodeURIComponent(m.name)}` }, dom.number(m.executions)), class: "num" },
        { title: "Last started", cell: (m) => dom.when(m.last_start) },
        { title: "Definition file", cell: (m) => dom.h("code", { class: "muted small" }, m.file) },
      ], data.state_machines, { empty: "No state machines." })));
  }

  // show(main, name, version): one state machine; `version` null for the latest
  async function show(main, name, version) {
    const [m, runs] = await Promise.all([
      api.get(`state-machines/${api.seg(name)}`, { version }),
      api.get("executions", { state_machine: name, limit: 10 }),
    ]);
    const graphBox = dom.h("div", { class: "graph-box", id: "machine-graph" });
    const versions = m.kind === "recorded" && m.latest_version > 1
      ? dom.h("div", { class: "versions" }, "Versions: ",
        Array.from({ length: m.latest_version }, (_, i) => i + 1).reverse().map((v) => (v === m.version
          ? dom.h("b", { class: "version current" }, `v${v}`)
          : dom.h("a", { class: "version", href: `${dom.route("machines", name)}?version=${v}` }, `v${v}`))))
      : null;
    const field = (k, v) => dom.h("div", { class: "field" }, dom.h("div", { class: "field-k" }, k), dom.h("div", { class: "field-v" }, v));
    main.append(
      dom.h("div", { class: "crumbs" }, dom.h("a", { href: "#/machines" }, "State machines"), " / ", dom.h("span", { class: "mono" }, name)),
      dom.page(name, kindPill(m)),
      dom.h("div", { class: "card fields" },
        field("ARN", dom.h("code", {}, m.arn)),
        field("Version", m.version ? `v${m.version}${m.latest_version === m.version ? " (latest)" : ` of ${m.latest_version}`}` : "—"),
        field("Definition file", dom.h("code", {}, m.file || "state-machines/scoring-pipeline.asl.json")),
        field("Recorded", m.created_at ? dom.when(m.created_at) : "built in")),
      dom.h("div", { class: "split machine-split" },
        dom.h("div", { class: "card graph-card" },
          dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Graph view"), versions), graphBox),
        dom.h("div", { class: "card panel-card" },
          dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Recent executions"),
            dom.h("a", { href: `#/executions?machine=${encodeURIComponent(name)}` }, "All ›")),
          dom.table([
            { title: "Name", cell: (r) => dom.h("a", { href: dom.route("executions", r.name), class: "mono" }, r.name) },
            { title: "Status", cell: (r) => dom.badge(r.status) },
            { title: "Started", cell: (r) => dom.when(r.start_date) },
          ], runs.executions, { empty: m.kind === "pipeline" ? "No runs yet: start one." : "No executions." }))),
      dom.h("div", { class: "card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Definition"),
        dom.h("span", { class: "muted" }, m.kind === "pipeline" ? "placeholders filled with the embedded world's names" : `as ${m.file} held it when version ${m.version} was recorded`)),
        jsonView.view(m.definition, { depth: 1 })));
    graphView.render(graphBox, m.graph, {});
  }

  return { list, show, PIPELINE };
})();
