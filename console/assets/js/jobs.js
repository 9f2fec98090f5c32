// The job table (status, attempts, queue, progress, rows, reason) and one job: its record,
// reason, outputs, Batch attempts and their container logs.
"use strict";

const jobsPage = (() => {
  const STATUSES = ["", "PENDING", "SUBMITTED", "RUNNING", "SUCCEEDED", "FAILED"];
  let timer = null;

  function leave() {
    clearTimeout(timer);
    timer = null;
  }

  // the bar: the scorer's progress while it runs, the record's metrics once it ended
  function progressCell(j) {
    if (j.progress) {
      const p = j.progress;
      const eta = p.eta_seconds !== null && !p.done ? ` · ETA ${dom.seconds(p.eta_seconds)}` : "";
      return dom.h("div", { class: "progress-cell" }, dom.progressBar(p.fraction, `${Math.round((p.fraction || 0) * 100)}%`),
        dom.h("div", { class: "muted small" }, `${dom.number(Math.round(p.rows_per_second))} rows/s${eta}`));
    }
    if (j.status === "SUCCEEDED") return dom.progressBar(1, "100%");
    if (j.status === "FAILED") return dom.h("span", { class: "muted" }, "—");
    return dom.progressBar(0, "waiting");
  }

  function rows(j) {
    const m = j.metrics || j.progress;
    if (!m) return "—";
    return dom.h("span", {}, dom.number(m.rows_scored), m.rows_rejected ? dom.h("span", { class: "muted" }, ` (${dom.number(m.rows_rejected)} rejected)`) : null);
  }

  async function show(main, params) {
    leave();
    const state = { status: params.get("status") || "" };
    const status = dom.h("select", { "aria-label": "status" },
      STATUSES.map((s) => { const o = dom.h("option", { value: s }, s || "All statuses"); if (s === state.status) o.selected = true; return o; }));
    const body = dom.h("div", { class: "card" });
    main.append(dom.page("Jobs", dom.h("a", { class: "button primary", href: "#/start" }, "Start a run")), dom.h("div", { class: "toolbar" }, status), body);
    const load = async () => {
      try {
        const data = await api.get("jobs", { status: state.status, limit: 200 });
        dom.clear(body).appendChild(dom.table([
          { title: "Job", cell: (j) => dom.h("a", { href: dom.route("jobs", j.id), class: "mono" }, j.id) },
          { title: "Name", cell: (j) => (j.config && typeof j.config.name === "string" ? j.config.name : "—") },
          { title: "Status", cell: (j) => dom.badge(j.status) },
          { title: "Attempts", cell: (j) => String((j.attempts || []).length), class: "num" },
          { title: "Queue", cell: (j) => { const a = (j.attempts || []).slice(-1)[0]; return a ? a.queue : "—"; } },
          { title: "Progress", cell: progressCell },
          { title: "Rows scored", cell: rows, class: "num" },
          { title: "Reason", cell: (j) => dom.h("span", { class: "reason" }, j.failure_reason || "") },
          { title: "Updated", cell: (j) => dom.when(j.updated_at) },
        ], data.jobs, { empty: "No jobs yet." }));
      } catch (e) {
        dom.clear(body).appendChild(dom.errorBox(e));
      }
      if (location.hash.startsWith("#/jobs") && !location.hash.startsWith("#/jobs/")) timer = setTimeout(load, 2000);
    };
    status.addEventListener("change", () => { state.status = status.value; leave(); load(); });
    await load();
  }

  async function showJob(main, id) {
    leave();
    const box = dom.h("div", {});
    main.append(dom.h("div", { class: "crumbs" }, dom.h("a", { href: "#/jobs" }, "Jobs"), " / ", dom.h("span", { class: "mono" }, id)), box);
    const logBox = dom.h("div", { class: "card log-card", id: "log-card" });
    const load = async () => {
      let j;
      try {
        j = await api.get(`jobs/${api.seg(id)}`);
      } catch (e) {
        dom.clear(box).appendChild(dom.errorBox(e));
        return;
      }
      const field = (k, v) => dom.h("div", { class: "field" }, dom.h("div", { class: "field-k" }, k), dom.h("div", { class: "field-v" }, v));
      const terminal = j.status === "SUCCEEDED" || j.status === "FAILED";
      const stop = terminal ? null : dom.h("button", { class: "button danger", onclick: async (ev) => {
        ev.target.disabled = true;
        try { await api.post(`jobs/${api.seg(id)}/stop`, {}); } catch (e) { box.prepend(dom.errorBox(e)); }
      } }, "Stop job");
      const execName = j.execution_arn ? String(j.execution_arn).split(":").pop() : null;
      const output = j.config && typeof j.config.output === "string" ? j.config.output : null;
      dom.clear(box).append(
        dom.page(j.config && typeof j.config.name === "string" ? j.config.name : j.id, stop),
        j.failure_reason ? dom.h("div", { class: "alert alert-error", id: "job-reason" }, dom.h("b", {}, "Reason"), dom.h("div", { class: "cause" }, j.failure_reason)) : null,
        dom.h("div", { class: "card fields" },
          field("Status", dom.badge(j.status)),
          field("Job id", dom.h("span", { class: "mono" }, j.id)),
          field("Execution", execName ? dom.h("a", { href: dom.route("executions", execName), class: "mono" }, execName) : "—"),
          field("Source", j.source),
          field("Progress", progressCell(j)),
          field("Rows", j.metrics ? `${dom.number(j.metrics.rows_scored)} scored of ${dom.number(j.metrics.rows_read)} read, ${dom.number(j.metrics.rows_rejected)} rejected, ${j.metrics.parts} part(s), ${dom.seconds(j.metrics.duration_seconds)}` : rows(j)),
          field("Outputs", output ? dom.h("span", { class: "mono" }, output) : "—"),
          field("Created", dom.when(j.created_at)),
          field("Updated", dom.when(j.updated_at))),
        dom.h("div", { class: "card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Batch attempts")),
          dom.table([
            { title: "#", cell: (a) => String(a.record_attempt), class: "num" },
            { title: "Queue", cell: (a) => a.queue },
            { title: "Batch job", cell: (a) => dom.h("span", { class: "mono" }, a.batch_job_id) },
            { title: "Attempt", cell: (a) => String(a.attempt), class: "num" },
            { title: "Logs", cell: (a) => dom.h("span", { class: "log-links" },
              a.stdout ? dom.h("button", { class: "button small", onclick: () => showLog(logBox, id, a, "stdout") }, "stdout") : null,
              a.stderr ? dom.h("button", { class: "button small", onclick: () => showLog(logBox, id, a, "stderr") }, "stderr") : null) },
          ], j.logs || [], { empty: "No Batch attempt has run yet." })),
        logBox,
        dom.h("div", { class: "card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Config")), jsonView.view(j.config, { depth: 1 })));
      if (!terminal && location.hash === dom.route("jobs", id)) timer = setTimeout(load, 2000);
    };
    await load();
  }

  async function showLog(el, id, a, stream) {
    dom.clear(el).append(dom.h("div", { class: "card-head" }, dom.h("h2", {}, `${stream} of ${a.batch_job_id}, attempt ${a.attempt}`)), dom.h("div", { class: "loading" }, "Loading…"));
    try {
      const log = await api.get(`jobs/${api.seg(id)}/logs`, { batch_job: a.batch_job_id, attempt: a.attempt, stream });
      el.lastChild.remove();
      el.append(log.truncated ? dom.h("div", { class: "muted small" }, "the last 256 KiB") : null,
        dom.h("pre", { class: "log" }, log.text || "(empty)"));
    } catch (e) {
      el.lastChild.replaceWith(dom.errorBox(e));
    }
  }

  return { show, showJob, leave };
})();
