// Start a run: paste or upload a job config; it is checked as you type (the schema and
// stepscore's own parser, server-side, the same checks `stepscore validate` runs) and every
// problem is shown at its field; Start is enabled once there is none.
"use strict";

const startPage = (() => {
  const EXAMPLE = {
    name: "daily-scores",
    model: "s3://stepscore/models/model.json",
    input: "s3://stepscore/data/input.csv",
    output: "s3://stepscore/outputs/daily-scores/",
    capacity: "spot-then-on-demand",
    shards: 1,
  };

  async function show(main) {
    const schema = await api.get("config-schema");
    const fields = Object.keys(schema.properties || {});
    const editor = dom.h("textarea", { id: "config-editor", class: "editor", spellcheck: "false", "aria-label": "job config" });
    editor.value = JSON.stringify(EXAMPLE, null, 2);
    const upload = dom.h("input", { type: "file", accept: ".json,application/json", id: "config-file" });
    const submit = dom.h("button", { class: "button primary", id: "start-run", disabled: true }, "Start run");
    const status = dom.h("div", { class: "validation-status", id: "validation-status" });
    const fieldRows = new Map();
    const fieldTable = dom.h("div", { class: "field-list", id: "field-list" });
    const docProblems = dom.h("div", { id: "document-problems" });
    for (const f of fields) {
      const desc = (schema.properties[f] || {}).description || "";
      const value = dom.h("div", { class: "fl-value mono" });
      const problem = dom.h("div", { class: "fl-problem" });
      const row = dom.h("div", { class: "fl-row", "data-field": f },
        dom.h("div", { class: "fl-name" }, dom.h("code", {}, f), (schema.required || []).includes(f) ? dom.h("span", { class: "req" }, " required") : null),
        dom.h("div", { class: "fl-main" }, value, problem, dom.h("div", { class: "fl-desc muted small" }, desc)));
      fieldRows.set(f, { row, value, problem });
      fieldTable.appendChild(row);
    }
    const result = dom.h("div", {});
    main.append(
      dom.page("Start a run"),
      dom.h("p", { class: "muted" }, "The config is put at s3://<bucket>/jobs/<name>.json, exactly as `stepscore run` does; its S3 event starts the execution."),
      dom.h("div", { class: "split start" },
        dom.h("div", { class: "card" },
          dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Job config (JSON)"), dom.h("label", { class: "button small" }, "Upload…", upload)),
          editor, status, docProblems, dom.h("div", { class: "actions" }, submit), result),
        dom.h("div", { class: "card" }, dom.h("div", { class: "card-head" }, dom.h("h2", {}, "Fields")), fieldTable)));

    let seq = 0;
    let timer = null;
    const check = async () => {
      const mine = ++seq;
      let res;
      try {
        res = await api.post("validate", { config: editor.value });
      } catch (e) {
        if (mine === seq) { dom.clear(status).appendChild(dom.errorBox(e)); submit.disabled = true; }
        return;
      }
      if (mine !== seq) return;
      let parsed = null;
      try { parsed = JSON.parse(editor.value); } catch (_) { parsed = null; }
      showProblems(res.problems, parsed);
      submit.disabled = !res.valid;
    };

    const showProblems = (problems, parsed) => {
      const byField = new Map();
      const elsewhere = [];
      for (const p of problems) {
        const top = p.field.split(".")[0];
        if (fieldRows.has(top)) { if (!byField.has(top)) byField.set(top, []); byField.get(top).push(p); } else elsewhere.push(p);
      }
      for (const [f, { row, value, problem }] of fieldRows) {
        const present = parsed && typeof parsed === "object" && !Array.isArray(parsed) && Object.prototype.hasOwnProperty.call(parsed, f);
        dom.clear(value).append(present ? JSON.stringify(parsed[f]) : dom.h("span", { class: "muted" }, "(default)"));
        dom.clear(problem);
        const list = byField.get(f) || [];
        for (const p of list) problem.appendChild(dom.h("div", { class: "problem" }, `${p.field}: ${p.message}`));
        row.classList.toggle("has-problem", list.length > 0);
        row.classList.toggle("is-set", !!present && !list.length);
      }
      dom.clear(docProblems);
      for (const p of elsewhere) docProblems.appendChild(dom.h("div", { class: "problem", "data-field": p.field }, `${p.field}: ${p.message}`));
      editor.classList.toggle("invalid", problems.length > 0);
      dom.clear(status).appendChild(problems.length
        ? dom.h("span", { class: "error-text" }, `${problems.length} problem${problems.length > 1 ? "s" : ""}: fix each at its field before starting`)
        : dom.h("span", { class: "ok-text" }, "Valid job config"));
    };

    editor.addEventListener("input", () => {
      // a check still in flight is about older text: its answer is dropped
      seq += 1;
      clearTimeout(timer);
      submit.disabled = true;
      timer = setTimeout(check, 200);
    });
    upload.addEventListener("change", async () => {
      const f = upload.files && upload.files[0];
      if (!f) return;
      editor.value = await f.text();
      check();
    });
    submit.addEventListener("click", async () => {
      submit.disabled = true;
      dom.clear(result);
      try {
        const r = await api.post("runs", { config: editor.value });
        location.hash = dom.route("executions", r.execution_name);
      } catch (e) {
        if (e.problems) showProblems(e.problems, null);
        result.appendChild(dom.errorBox(e));
        submit.disabled = false;
      }
    });
    await check();
  }

  return { show };
})();
