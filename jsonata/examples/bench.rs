//! stepscore's JSONata evaluator on `bench/jsonata`'s cases: each expression compiled once, then
//! evaluated repeatedly over the same document for at least `seconds`. Prints one JSON line per
//! case (name, evaluations per second, result), the same shape as the jsonata-js runner, so that
//! `bench/jsonata/run.sh` can compare speeds and check that both give the same result.
//!
//! Usage: cargo run --release -p stepscore-jsonata --example bench -- <cases.json> <data.json> [seconds [case name]]

use std::time::Instant;

use serde_json::{Value, json};
use stepscore_jsonata::{Bindings, Document, Expression, Limits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cases_path, data_path, rest @ ..] = args.as_slice() else {
        return Err("usage: bench <cases.json> <data.json> [seconds [case name]]".into());
    };
    let seconds: f64 = rest.first().map_or(Ok(2.0), |s| s.parse())?;
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(cases_path)?)?;
    let data: Value = serde_json::from_str(&std::fs::read_to_string(data_path)?)?;
    // converted once, as jsonata-js evaluates over a document parsed once
    let document = Document::new(Some(&data));
    let bindings = Bindings::new();
    let only = rest.get(1);
    for case in &cases {
        let name = case["name"].as_str().ok_or("a case without a name")?;
        let text = case["expression"]
            .as_str()
            .ok_or("a case without an expression")?;
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let expr = Expression::compile(text).map_err(|e| format!("{name}: {e}"))?;
        let evaluate = || expr.evaluate_document(&document, &bindings, Limits::default());
        let result = evaluate().map_err(|e| format!("{name}: {e}"))?;
        for _ in 0..20 {
            evaluate()?;
        }
        let start = Instant::now();
        let mut runs = 0u64;
        let mut elapsed = 0.0;
        while elapsed < seconds {
            std::hint::black_box(evaluate()?);
            runs += 1;
            elapsed = start.elapsed().as_secs_f64();
        }
        let line = json!({"name": name, "per_second": runs as f64 / elapsed, "runs": runs, "result": result});
        println!("{line}");
    }
    Ok(())
}
