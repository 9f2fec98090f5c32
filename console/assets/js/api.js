// The console's JSON API. A failed call throws an Error carrying the server's message (and,
// for a refused config, its problems).
"use strict";

const api = (() => {
  async function call(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    try {
      res = await fetch(`/api/${path}`, init);
    } catch (e) {
      throw new Error(`the console does not answer (${e.message}): is \`stepscore console\` still running?`);
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (!res.ok) {
      const err = new Error((data && data.message) || `${res.status} ${res.statusText}`);
      err.status = res.status;
      err.problems = data && data.problems;
      throw err;
    }
    return data;
  }

  const q = (params) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, v);
    const t = s.toString();
    return t ? `?${t}` : "";
  };

  return {
    get: (path, params) => call("GET", path + q(params || {})),
    post: (path, body) => call("POST", path, body),
    seg: encodeURIComponent,
  };
})();
