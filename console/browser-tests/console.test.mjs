// The console in a real browser: start a run from the page and watch it reach SUCCEEDED with
// the graph coloured; a failed job's reason; a job named like markup stays text; a
// cross-origin POST is refused. Screenshots go to $SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { prepareState, putConfig, startConsole, launchBrowser, shot, getJson } from "./harness.mjs";

const XSS_NAME = "<img src=x onerror=alert(1)>";
let world, consoleProc, browser, page;
const dialogs = [];

before(async () => {
  world = prepareState();
  // a config whose name is markup: admitted as a FAILED record naming its problems
  putConfig(world.dir, world.state, "xss", {
    name: XSS_NAME,
    model: "s3://stepscore/demo/models/forest.json",
    input: "s3://stepscore/demo/input/score.csv",
    output: "s3://stepscore/outputs/xss/",
  });
  consoleProc = await startConsole(world.state);
  browser = await launchBrowser(world.dir);
  page = await browser.newPage();
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
});

after(async () => {
  if (browser) await browser.close();
  if (consoleProc) consoleProc.child.kill("SIGINT");
});

async function typeConfig(config) {
  await page.goto(`${consoleProc.url}/#/start`);
  const editor = page.locator("#config-editor");
  await editor.waitFor();
  await editor.fill(typeof config === "string" ? config : JSON.stringify(config, null, 2));
}

async function startFromPage(config) {
  await typeConfig(config);
  await page.locator("#validation-status", { hasText: "Valid job config" }).waitFor({ timeout: 10_000 });
  await page.locator("#start-run").click();
  await page.waitForURL(/#\/executions\/[A-Za-z0-9_-]+$/, { timeout: 20_000 });
  return decodeURIComponent(page.url().split("/").pop());
}

test("every problem of a pasted config is shown at its field before submit", async () => {
  await typeConfig({ name: "bad name!", model: "s3://stepscore/models/", input: "s3://stepscore/demo/input/score.csv", output: "s3://stepscore/out/", shard: 3 });
  await page.locator('.fl-row.has-problem[data-field="name"]').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('.fl-row[data-field="name"] .fl-problem').innerText(), /1-64 characters/);
  assert.match(await page.locator('.fl-row[data-field="model"] .fl-problem').innerText(), /names a prefix/);
  assert.match(await page.locator("#document-problems").innerText(), /shard/);
  assert.equal(await page.locator("#start-run").isDisabled(), true);
  await shot(page, "start-problems");
  // a well-formed config naming an input that is not there: admit's own check, at its field
  await typeConfig({ name: "no-input", model: "s3://stepscore/demo/models/forest.json", input: "s3://stepscore/demo/input/missing.csv", output: "s3://stepscore/outputs/no-input/" });
  await page.locator('.fl-row.has-problem[data-field="input"]').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('.fl-row[data-field="input"] .fl-problem').innerText(), /missing\.csv.*upload the input CSV first/);
  assert.equal(await page.locator("#start-run").isDisabled(), true);
});

test("a run started from the page reaches SUCCEEDED with the graph coloured", async () => {
  const id = await startFromPage({
    name: "from-page",
    model: "s3://stepscore/demo/models/forest.json",
    input: "s3://stepscore/demo/input/score.csv",
    output: "s3://stepscore/outputs/from-page/",
    capacity: "on-demand",
    poll_interval_seconds: 1,
  });
  await page.locator("#execution-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: 180_000 });
  for (const s of ["Register", "Submit", "CheckStatus", "FinalizeSucceeded", "JobSucceeded"]) {
    assert.equal(await page.locator(`g.node.st-succeeded[data-state="${s}"]`).count(), 1, `${s} is green`);
  }
  assert.equal(await page.locator("g.node.kind-end.st-succeeded").count(), 1);
  assert.equal(await page.locator('g.node.st-failed, g.node.st-in_progress').count(), 0);
  assert.ok(await page.locator("table.table td", { hasText: "ExecutionSucceeded" }).count() >= 1);
  await page.locator('g.node[data-state="FinalizeSucceeded"]').click();
  await page.locator(".state-panel h2", { hasText: "FinalizeSucceeded" }).waitFor();
  await shot(page, "execution-succeeded");
  // the README's picture (docs/console.png): the first screenful
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "console", { fullPage: false });
  const job = await getJson(`${consoleProc.url}/api/jobs/${id}`);
  assert.equal(job.body.status, "SUCCEEDED");
  assert.equal(job.body.metrics.rows_scored, 3000);
});

test("a failed job shows its reason", async () => {
  const id = await startFromPage({
    name: "not-a-model",
    model: "s3://stepscore/demo/input/score.csv",
    input: "s3://stepscore/demo/input/score.csv",
    output: "s3://stepscore/outputs/not-a-model/",
    capacity: "on-demand",
    poll_interval_seconds: 1,
  });
  await page.locator("#execution-status", { hasText: "FAILED" }).waitFor({ timeout: 180_000 });
  assert.ok(await page.locator("g.node.st-failed").count() >= 1, "a state is red");
  await page.goto(`${consoleProc.url}/#/jobs/${encodeURIComponent(id)}`);
  const reason = page.locator("#job-reason");
  await reason.waitFor({ timeout: 20_000 });
  // the scorer's own message, from its failure report
  assert.match(await reason.innerText(), /exit code 65/);
  assert.match(await reason.innerText(), /score\.csv/);
  // the container's logs of that attempt, by job, Batch job and attempt
  await page.locator("button", { hasText: "stderr" }).first().click();
  await page.locator("#log-card pre.log").waitFor({ timeout: 10_000 });
  assert.match(await page.locator("#log-card pre.log").innerText(), /corrupt model artifact/);
  await shot(page, "job-failed");
});

test("a job named like markup stays text and no script runs", async () => {
  await page.goto(`${consoleProc.url}/#/jobs`);
  const cell = page.locator("table.table td", { hasText: XSS_NAME }).first();
  await cell.waitFor({ timeout: 30_000 });
  assert.equal(await cell.innerText(), XSS_NAME);
  await cell.locator("xpath=..").locator("a").first().click();
  await page.locator("#job-reason").waitFor({ timeout: 10_000 });
  assert.match(await page.locator("#job-reason").innerText(), /<img src=x onerror=alert\(1\)>/);
  await typeConfig({ name: XSS_NAME, model: "s3://stepscore/m.json", input: "s3://stepscore/i.csv", output: "s3://stepscore/o/" });
  await page.locator('.fl-row.has-problem[data-field="name"]').waitFor({ timeout: 10_000 });
  await page.waitForTimeout(500);
  assert.equal(await page.locator("img").count(), 0, "no element was made from the name");
  assert.deepEqual(dialogs, [], "no dialog fired");
  await page.goto(`${consoleProc.url}/#/jobs`);
  await page.locator("table.table td", { hasText: "SUCCEEDED" }).first().waitFor();
  await shot(page, "jobs");
});

test("a cross-origin POST is refused", async () => {
  const before = await getJson(`${consoleProc.url}/api/overview`);
  const config = JSON.stringify({ config: JSON.stringify({ name: "csrf", model: "s3://stepscore/demo/models/forest.json", input: "s3://stepscore/demo/input/score.csv", output: "s3://stepscore/outputs/csrf/" }) });
  const target = `${consoleProc.url}/api/runs`;
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><script>
      fetch(${JSON.stringify(target)}, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: ${JSON.stringify(config)}});
      fetch(${JSON.stringify(target)}, {method: "POST", headers: {"Content-Type": "application/json"}, body: ${JSON.stringify(config)}})
        .then(() => { document.title = "sent"; }, () => { document.title = "blocked"; });
    </script>`);
  });
  await new Promise((r) => evil.listen(0, "127.0.0.1", r));
  const statuses = [];
  page.on("response", (r) => { if (r.url() === target) statuses.push(r.status()); });
  try {
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    await page.waitForFunction(() => document.title === "blocked" || document.title === "sent", null, { timeout: 10_000 });
    assert.equal(await page.title(), "blocked");
    await page.waitForTimeout(500);
  } finally {
    evil.close();
  }
  assert.ok(statuses.length >= 1 && statuses.every((s) => s === 403), `responses: ${statuses}`);
  const after = await getJson(`${consoleProc.url}/api/overview`);
  assert.deepEqual(after.body.jobs, before.body.jobs, "no job was started");
});

test("the executions list and the Batch page render", async () => {
  await page.goto(`${consoleProc.url}/#/executions`);
  await page.locator("table.table td a").first().waitFor();
  await shot(page, "executions");
  await page.goto(`${consoleProc.url}/#/batch`);
  await page.locator(".queue h2", { hasText: "stepscore-spot" }).waitFor();
  await shot(page, "batch");
  await page.goto(`${consoleProc.url}/#/machine`);
  await page.locator('g.node[data-state="CheckStatus"]').waitFor();
  await shot(page, "machine");
});
