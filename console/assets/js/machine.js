// The state machine page: the pipeline's graph and its definition.
"use strict";

const machinePage = (() => {
  async function show(main) {
    const data = await api.get("state-machine");
    const graphBox = dom.h("div", { class: "graph-box" });
    main.append(
      dom.page("State machine"),
      dom.h("div", { class: "card" },
        dom.h("div", { class: "card-head" }, dom.h("h2", {}, data.name), dom.h("code", { class: "muted" }, data.arn)),
        graphBox),
      dom.h("div", { class: "card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Definition"),
        dom.h("span", { class: "muted" }, "placeholders filled with the embedded world's names")),
        jsonView.view(data.definition, { depth: 1 })));
    graphView.render(graphBox, data.graph, {});
  }
  return { show };
})();
