// The local Batch: jobs per queue and status, and spot-reclaim injection for a running job.
"use strict";

const batchPage = (() => {
  let timer = null;
  function leave() { clearTimeout(timer); timer = null; }

  async function show(main) {
    leave();
    const queues = dom.h("div", { class: "queues" });
    const body = dom.h("div", { class: "card" });
    const note = dom.h("div", {});
    main.append(dom.page("Batch"), queues, note, body);
    const load = async () => {
      let data;
      try {
        data = await api.get("batch");
      } catch (e) {
        dom.clear(body).appendChild(dom.errorBox(e));
        return;
      }
      const spotQueues = new Set(data.queues.filter((q) => q.spot).map((q) => q.name));
      dom.clear(queues);
      for (const q of data.queues) {
        const counts = Object.entries(q.counts || {});
        queues.append(dom.h("div", { class: "card queue" },
          dom.h("div", { class: "queue-head" }, dom.h("h2", {}, q.name), dom.h("span", { class: `pill ${q.spot ? "pill-spot" : "pill-od"}` }, q.spot ? "spot" : "on-demand")),
          dom.h("div", { class: "muted small" }, `${q.compute_environment} · ${q.vcpus || "?"} vCPUs · priority ${q.priority}`),
          dom.h("div", { class: "queue-counts" }, counts.length ? counts.map(([s, n]) => dom.h("span", { class: "count" }, dom.badge(s), " ", dom.number(n))) : dom.h("span", { class: "muted" }, "no jobs"))));
      }
      dom.clear(body).appendChild(dom.table([
        { title: "Batch job", cell: (j) => dom.h("span", { class: "mono" }, j.job_id) },
        { title: "Name", cell: (j) => j.job_name },
        { title: "Queue", cell: (j) => j.job_queue },
        { title: "Status", cell: (j) => dom.badge(j.status) },
        { title: "Attempts", cell: (j) => String(j.attempts), class: "num" },
        { title: "Exit code", cell: (j) => (j.exit_code === null ? "" : String(j.exit_code)), class: "num" },
        { title: "Status reason", cell: (j) => dom.h("span", { class: j.status === "FAILED" ? "reason" : "muted" }, j.status_reason || "") },
        { title: "", cell: (j) => (j.status === "RUNNING" && spotQueues.has(j.job_queue) && !j.parent_id
          ? dom.h("button", { class: "button small warn", onclick: (ev) => reclaim(ev.target, j, note) }, "Reclaim spot")
          : "") },
      ], data.jobs, { empty: "No Batch jobs yet." }));
      if (location.hash.startsWith("#/batch")) timer = setTimeout(load, 2000);
    };
    await load();
  }

  async function reclaim(button, job, note) {
    button.disabled = true;
    dom.clear(note);
    try {
      await api.post(`batch/jobs/${api.seg(job.job_id)}/reclaim`, {});
      note.appendChild(dom.h("div", { class: "alert alert-info" }, `Spot capacity under ${job.job_id} is being reclaimed: the attempt ends with "Host EC2 … terminated." and the retry strategy takes over.`));
    } catch (e) {
      note.appendChild(dom.errorBox(e));
      button.disabled = false;
    }
  }

  return { show, leave };
})();
