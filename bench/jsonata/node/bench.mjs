// jsonata-js (the reference implementation) on the benchmark's cases: each expression compiled
// once, then evaluated repeatedly over the same parsed document for at least `seconds`.
// Prints one JSON line per case: name, evaluations per second, and the result (for the
// cross-check with stepscore's evaluator in run.sh).
// Usage: node bench.mjs <cases.json> <data.json> [seconds]
import { readFileSync } from "node:fs";
import jsonata from "jsonata";

const [casesPath, dataPath, secondsArg] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const data = JSON.parse(readFileSync(dataPath, "utf8"));
const seconds = Number(secondsArg ?? "2");

for (const c of cases) {
  const expr = jsonata(c.expression);
  const result = await expr.evaluate(data);
  for (let i = 0; i < 20; i++) await expr.evaluate(data); // warm-up: let V8 optimise
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    await expr.evaluate(data);
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(JSON.stringify({ name: c.name, per_second: runs / elapsed, runs, result }));
}
