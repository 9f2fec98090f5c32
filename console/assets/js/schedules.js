// Loaded schedules with their next fire times.
"use strict";

const schedulesPage = (() => {
  async function show(main) {
    const data = await api.get("schedules");
    main.append(dom.page("Schedules"));
    if (!data.source) {
      main.append(dom.h("div", { class: "card empty-card" },
        dom.h("p", {}, "No schedules are loaded."),
        dom.h("p", { class: "muted" }, "Start the console with `--schedules schedules.json` (the file `stepscore schedule` runs) to see each schedule's next fire times here.")));
      return;
    }
    main.append(dom.h("p", { class: "muted" }, `From ${data.source} · times shown in your browser's zone, computed at ${dom.when(data.now)}`),
      dom.h("div", { class: "card" }, dom.table([
        { title: "Schedule", cell: (s) => dom.h("b", {}, s.name) },
        { title: "Expression", cell: (s) => dom.h("code", {}, s.expression) },
        { title: "Time zone", cell: (s) => s.timezone },
        { title: "Next fire times", cell: (s) => (s.next.length ? dom.h("div", {}, s.next.map((t) => dom.h("div", { class: "mono" }, dom.when(t)))) : dom.h("span", { class: "muted" }, "never again")) },
        { title: "Description", cell: (s) => s.description },
        { title: "Template", cell: (s) => jsonView.view(s.template, { depth: 0 }) },
      ], data.schedules, { empty: "The file has no enabled schedules." })));
  }
  return { show };
})();
