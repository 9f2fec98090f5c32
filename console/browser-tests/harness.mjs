// The browser tests' world: a state directory prepared with `stepscore demo` (a trained model,
// generated data, one finished job), a `stepscore console` on a free port, and headless
// Chromium (Debian's package) driven by playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const BIN = process.env.STEPSCORE_BIN || path.resolve("../../target/debug/stepscore");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const SCREENSHOTS = process.env.SCREENSHOTS || path.resolve("screenshots");

// runs `stepscore --state-dir <state> …` to its end; fails with its output unless it succeeds
export function stepscore(state, args, { allowFailure = false } = {}) {
  const r = spawnSync(BIN, ["--state-dir", state, ...args], { encoding: "utf8", timeout: 300_000 });
  if (!allowFailure && r.status !== 0) {
    throw new Error(`stepscore ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

export function prepareState() {
  const dir = mkdtempSync(path.join(tmpdir(), "stepscore-console-browser-"));
  const state = path.join(dir, "state");
  stepscore(state, ["--time-scale", "100", "demo", "--rows", "3000"]);
  return { dir, state };
}

// drops a config file into the bucket's jobs/ as `stepscore put` does
export function putConfig(dir, state, name, config) {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config));
  stepscore(state, ["put", file, `s3://stepscore/jobs/${name}.json`]);
}

// starts `stepscore console --port 0`; resolves to {url, child} once it printed its address
export function startConsole(state) {
  const child = spawn(BIN, ["--state-dir", state, "--time-scale", "20", "console", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the console printed no address within 30 s:\n${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/console: (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve({ url: m[1].replace(/\/$/, ""), child, stderr: () => stderr }); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`the console exited ${code}:\n${stderr}`)); });
  });
}

// a persistent context on a fresh profile directory: playwright passes it to Chromium as its
// --user-data-dir (it refuses the flag itself)
export async function launchBrowser(dir) {
  const profile = path.join(dir, "chromium-profile");
  mkdirSync(profile, { recursive: true });
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1480, height: 1000 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

export async function shot(page, name, { fullPage = true } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

export async function getJson(url) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}
