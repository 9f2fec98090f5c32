//! Measures state transitions per second (one core, full history recorded) for a definition
//! file and an input; prints `transitions=N seconds=S rate=R`.
//!
//! `cargo run --release -p stepscore-asl --example asl_bench -- bench/asl/loop.asl.json '{"count":0}'`
//! An input of the form `items:N` is expanded to `{"items":[0,1,...,N-1]}`.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};
use stepscore_asl::{
    Execution, ExecutionConfig, ExecutionStatus, NoTasks, ValidationOptions, VirtualClock,
    parse_definition,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench <definition.json> <input JSON | items:N> [repeats]");
        return ExitCode::from(2);
    }
    let text = match std::fs::read_to_string(&args[1]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args[1]);
            return ExitCode::from(2);
        }
    };
    let definition: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{} is not JSON: {e}", args[1]);
            return ExitCode::from(2);
        }
    };
    let input = match args[2].strip_prefix("items:") {
        Some(n) => json!({"items": (0..n.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>()}),
        None => serde_json::from_str(&args[2]).unwrap_or(Value::Null),
    };
    let repeats: u32 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    let machine = match parse_definition(&definition, ValidationOptions::default()) {
        Ok(m) => m,
        Err(d) => {
            eprintln!("invalid definition: {d:?}");
            return ExitCode::from(2);
        }
    };
    let mut best = f64::MAX;
    let mut transitions = 0usize;
    for _ in 0..repeats {
        let clock = VirtualClock::default();
        let started = Instant::now();
        let mut exec =
            match Execution::start(&machine, input.clone(), ExecutionConfig::default(), &clock) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    return ExitCode::from(2);
                }
            };
        let outcome = exec.run(&clock, &NoTasks);
        let secs = started.elapsed().as_secs_f64();
        if outcome.status != ExecutionStatus::Succeeded {
            eprintln!("execution did not succeed: {outcome:?}");
            return ExitCode::FAILURE;
        }
        transitions = exec
            .history()
            .events
            .iter()
            .filter(|e| e.kind.ends_with("StateEntered"))
            .count();
        best = best.min(secs);
    }
    println!(
        "transitions={transitions} seconds={best:.6} rate={:.0}",
        transitions as f64 / best
    );
    ExitCode::SUCCESS
}
