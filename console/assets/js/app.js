// The router (hash routes), the navigation and the header's live overview.
"use strict";

(() => {
  const main = document.getElementById("main");

  function leaveAll() {
    executionPage.leave();
    jobsPage.leave();
    batchPage.leave();
  }

  async function render() {
    leaveAll();
    const hash = location.hash || "#/executions";
    const [path, query] = hash.slice(2).split("?");
    const parts = path.split("/").map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
    const params = new URLSearchParams(query || "");
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === parts[0]);
    dom.clear(main);
    try {
      switch (parts[0]) {
        case "machine": await machinePage.show(main); break;
        case "executions": parts[1] ? await executionPage.show(main, parts[1]) : await executionsPage.show(main, params); break;
        case "jobs": parts[1] ? await jobsPage.showJob(main, parts[1]) : await jobsPage.show(main, params); break;
        case "batch": await batchPage.show(main); break;
        case "start": await startPage.show(main); break;
        case "schedules": await schedulesPage.show(main); break;
        default: location.hash = "#/executions";
      }
    } catch (e) {
      main.appendChild(dom.errorBox(e));
    }
  }

  async function overview() {
    try {
      const o = await api.get("overview");
      document.getElementById("state-dir").textContent = o.state_dir;
      const serving = document.getElementById("serving");
      const text = { console: "pipeline served by this console", elsewhere: "pipeline served by another process", nobody: "pipeline idle (nobody serves)" };
      serving.textContent = text[o.serving] || String(o.serving);
      serving.className = `pill pill-${o.serving}`;
    } catch (_) {
      document.getElementById("serving").textContent = "console unreachable";
    }
  }

  window.addEventListener("hashchange", render);
  render();
  overview();
  setInterval(overview, 3000);
})();
