// DOM helpers. Every value from the state directory (names, configs, logs, state input and
// output) reaches the page as a text node: nothing here ever sets innerHTML.
"use strict";

const dom = (() => {
  // h("a", {class: "x", href: "#/jobs"}, "text", child, [more]) → element
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = String(v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "href") el.setAttribute("href", safeHref(v));
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // only the console's own hash routes are links
  function safeHref(v) {
    const s = String(v);
    return s.startsWith("#/") ? s : "#/";
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function route(...parts) {
    return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function duration(startIso, stopIso) {
    if (!startIso) return "—";
    const ms = (stopIso ? new Date(stopIso) : new Date()) - new Date(startIso);
    return seconds(ms / 1000);
  }

  function seconds(s) {
    if (s === null || s === undefined || !isFinite(s)) return "—";
    if (s < 1) return `${Math.round(s * 1000)} ms`;
    if (s < 60) return `${s.toFixed(1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function number(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  }

  // a status badge: SUCCEEDED, FAILED, RUNNING, …
  function badge(status) {
    const s = String(status || "UNKNOWN");
    return h("span", { class: `badge badge-${s.toLowerCase().replace(/[^a-z_]/g, "")}` }, s.replace("_", " "));
  }

  function errorBox(err) {
    return h("div", { class: "alert alert-error", role: "alert" }, String(err && err.message ? err.message : err));
  }

  function page(title, ...actions) {
    return h("div", { class: "page-head" }, h("h1", {}, title), h("div", { class: "page-actions" }, actions));
  }

  // a table from column specs [{title, cell(row) → node|text, class}]
  function table(columns, rows, opts = {}) {
    const head = h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.title)));
    const body = rows.map((r) =>
      h("tr", { class: opts.rowClass ? opts.rowClass(r) : null, onclick: opts.onRow ? () => opts.onRow(r) : null },
        columns.map((c) => h("td", { class: c.class }, c.cell(r)))));
    const empty = rows.length ? null : h("tr", {}, h("td", { class: "empty", colspan: columns.length }, opts.empty || "Nothing here yet."));
    return h("table", { class: "table" }, h("thead", {}, head), h("tbody", {}, body, empty));
  }

  function progressBar(fraction, label) {
    const pct = Math.max(0, Math.min(1, fraction || 0)) * 100;
    const fill = h("div", { class: "bar-fill" });
    fill.style.width = `${pct.toFixed(1)}%`;
    return h("div", { class: "bar", title: label || "" }, fill, h("span", { class: "bar-label" }, label || `${pct.toFixed(0)}%`));
  }

  return { h, append, clear, route, when, duration, seconds, number, badge, errorBox, page, table, progressBar };
})();
