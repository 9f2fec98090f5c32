// A collapsible JSON viewer built from DOM nodes (text only).
"use strict";

const jsonView = (() => {
  function view(value, opts = {}) {
    const root = dom.h("div", { class: "json" });
    if (value === undefined) {
      root.appendChild(dom.h("span", { class: "json-none" }, opts.none || "—"));
      return root;
    }
    root.appendChild(node(value, 0, opts.depth === undefined ? 2 : opts.depth));
    return root;
  }

  function node(v, depth, openDepth) {
    if (v === null) return dom.h("span", { class: "json-null" }, "null");
    if (Array.isArray(v) || typeof v === "object") {
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
      if (!entries.length) return dom.h("span", { class: "json-punct" }, open + close);
      const details = dom.h("details", { class: "json-node" });
      if (depth < openDepth) details.open = true;
      const summary = dom.h("summary", {}, dom.h("span", { class: "json-punct" }, open),
        dom.h("span", { class: "json-count" }, ` ${entries.length} ${Array.isArray(v) ? "items" : "keys"} `),
        dom.h("span", { class: "json-punct json-close-inline" }, close));
      details.appendChild(summary);
      const list = dom.h("div", { class: "json-children" });
      for (const [k, x] of entries) {
        list.appendChild(dom.h("div", { class: "json-row" },
          Array.isArray(v) ? null : dom.h("span", { class: "json-key" }, JSON.stringify(k)),
          Array.isArray(v) ? null : dom.h("span", { class: "json-punct" }, ": "),
          node(x, depth + 1, openDepth)));
      }
      details.appendChild(list);
      details.appendChild(dom.h("span", { class: "json-punct" }, close));
      return details;
    }
    const kind = typeof v === "string" ? "string" : typeof v === "number" ? "number" : "bool";
    return dom.h("span", { class: `json-${kind}` }, typeof v === "string" ? JSON.stringify(v) : String(v));
  }

  return { view };
})();
