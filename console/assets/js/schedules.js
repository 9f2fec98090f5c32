// The schedules the embedded world loaded (`stepscore schedule`), with their next fire times
// while loaded and their last fire.
"use strict";

const schedulesPage = (() => {
  async function show(main) {
    const data = await api.get("schedules");
    main.append(dom.page("Schedules"));
    if (!data.schedules.length) {
      main.append(dom.h("div", { class: "card empty-card" },
        dom.h("p", {}, "No schedules have been loaded in this state directory."),
        dom.h("p", { class: "muted" }, "Run ", dom.h("code", {}, "stepscore schedule schedules.json"),
          " (the same file as Terraform's schedules variable): its schedules appear here with their next fire times while it runs.")));
      return;
    }
    const loaded = data.schedules.filter((s) => s.loaded).length;
    // loaded by a process that is gone: nobody serves the state directory, so nothing fires
    const orphaned = loaded > 0 && data.serving === "nobody";
    // dom.append skips the alert when there is none (Element.append would print "false")
    dom.append(main, [
      dom.h("p", { class: "muted" }, `${loaded} of ${data.schedules.length} loaded · times in your browser's zone, as of ${dom.when(data.now)}`),
      orphaned ? dom.h("div", { class: "alert alert-error" }, "These schedules were loaded by a process that is no longer running (nobody serves the state directory): they fire again once `stepscore schedule` runs.") : null,
      dom.h("div", { class: "card" }, dom.table([
        { title: "Schedule", cell: (s) => dom.h("b", {}, s.name) },
        { title: "State", cell: (s) => (s.loaded ? dom.h("span", { class: "badge badge-running" }, "LOADED") : dom.h("span", { class: "badge badge-aborted", title: `unloaded ${dom.when(s.unloaded_at)}` }, "NOT LOADED")) },
        { title: "Expression", cell: (s) => dom.h("code", {}, s.expression) },
        { title: "Time zone", cell: (s) => s.timezone },
        { title: "Next fire times", cell: (s) => (s.next.length ? dom.h("div", { class: "next-fires" }, s.next.map((t) => dom.h("div", { class: "mono" }, dom.when(t))))
          : dom.h("span", { class: "muted" }, s.loaded ? "never again" : "—")) },
        { title: "Last fire", cell: (s) => (s.last_fire ? dom.h("div", {}, dom.h("div", { class: "mono" }, dom.when(s.last_fire)), dom.h("div", { class: "muted small" }, `${dom.number(s.fires)} fire${s.fires === 1 ? "" : "s"}`)) : dom.h("span", { class: "muted" }, "never")) },
        { title: "Description", cell: (s) => s.description },
        { title: "Template", cell: (s) => jsonView.view(s.template, { depth: 0 }) },
      ], data.schedules, { rowClass: (s) => (s.loaded ? "schedule-row" : "schedule-row unloaded") }))]);
  }
  return { show };
})();
