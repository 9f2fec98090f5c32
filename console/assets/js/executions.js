// The executions list: filter by status, search by job id (prefix), keyset pages.
"use strict";

const executionsPage = (() => {
  const STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

  async function show(main, params) {
    const state = { status: params.get("status") || "", search: params.get("search") || "", cursors: [""], page: 0 };
    const body = dom.h("div", { class: "card" });
    const status = dom.h("select", { "aria-label": "status", id: "exec-status" },
      STATUSES.map((s) => { const o = dom.h("option", { value: s }, s ? s.replace("_", " ") : "All statuses"); if (s === state.status) o.selected = true; return o; }));
    const search = dom.h("input", { type: "search", placeholder: "Search by job id (or its beginning)", id: "exec-search", value: state.search, spellcheck: "false" });
    const counts = dom.h("div", { class: "counts" });
    const pager = dom.h("div", { class: "pager" });
    main.append(dom.page("Executions", dom.h("a", { class: "button primary", href: "#/start" }, "Start a run")),
      counts, dom.h("div", { class: "toolbar" }, status, search), body, pager);

    const load = async () => {
      dom.clear(body);
      body.appendChild(dom.h("div", { class: "loading" }, "Loading…"));
      try {
        const [data, overview] = await Promise.all([
          api.get("executions", { status: state.status, search: state.search, after: state.cursors[state.page], limit: 50 }),
          api.get("overview"),
        ]);
        renderCounts(counts, overview.executions || {});
        dom.clear(body);
        body.appendChild(dom.table([
          { title: "Name", cell: (r) => dom.h("a", { href: dom.route("executions", r.name), class: "mono" }, r.name) },
          { title: "Status", cell: (r) => dom.badge(r.status) },
          { title: "Started", cell: (r) => dom.when(r.start_date) },
          { title: "Ended", cell: (r) => dom.when(r.stop_date) },
          { title: "Duration", cell: (r) => dom.duration(r.start_date, r.stop_date), class: "num" },
          { title: "Error", cell: (r) => r.error || "" },
        ], data.executions, { empty: state.search || state.status ? "No execution matches." : "No executions yet: start a run." }));
        state.cursors[state.page + 1] = data.next || null;
        dom.clear(pager);
        pager.append(
          dom.h("button", { class: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); } }, "‹ Newer"),
          dom.h("span", { class: "muted" }, `Page ${state.page + 1}`),
          dom.h("button", { class: "button", id: "exec-next", disabled: !data.next, onclick: () => { state.page += 1; load(); } }, "Older ›"));
      } catch (e) {
        dom.clear(body).appendChild(dom.errorBox(e));
      }
    };
    const restart = () => { state.cursors = [""]; state.page = 0; load(); };
    status.addEventListener("change", () => { state.status = status.value; restart(); });
    let timer = null;
    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.search = search.value.trim(); restart(); }, 250); });
    await load();
  }

  function renderCounts(el, counts) {
    dom.clear(el);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    el.append(dom.h("div", { class: "count" }, dom.h("b", {}, dom.number(total)), " executions"));
    for (const s of STATUSES.slice(1)) {
      if (counts[s]) el.append(dom.h("div", { class: "count" }, dom.badge(s), " ", dom.number(counts[s])));
    }
  }

  return { show };
})();
