//! `stepscore asl …`: validate and run any state machine, and run the conformance corpus.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::Value;
use stepscore_asl::{ExecutionConfig, ExecutionStatus, NoTasks, ValidationOptions, VirtualClock};

use crate::exit::Failure;

/// The `asl` subcommands.
#[derive(Debug, Subcommand)]
pub enum AslCommand {
    /// Validate a state machine definition; prints each problem with its location
    Validate {
        /// The definition (.asl.json)
        definition: PathBuf,
        /// Print diagnostics as JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a definition on a virtual clock (Wait states take no time); Task states fail with
    /// States.TaskFailed since no resources are bound
    Run {
        /// The definition (.asl.json)
        definition: PathBuf,
        /// Execution input: JSON text, or @file to read it from a file
        #[arg(long, default_value = "{}")]
        input: String,
        /// Print the execution history events (like GetExecutionHistory)
        #[arg(long)]
        history: bool,
    },
    /// Run the JSONata reference test suite (a folder with groups/ and datasets/): prints each
    /// failure with expression, expected and actual, then `N passed, N failed`
    JsonataSuite {
        /// The suite folder (e.g. jsonata/testdata/jsonata-suite)
        dir: PathBuf,
    },
    /// Run a conformance corpus file (cases, TestState or validation JSON Lines)
    Conformance {
        /// The .jsonl file
        cases: PathBuf,
        /// Print only failures and the summary line
        #[arg(long, short)]
        quiet: bool,
    },
}

/// Runs an `asl` subcommand.
pub fn run(cmd: AslCommand) -> Result<(), Failure> {
    match cmd {
        AslCommand::Validate { definition, json } => validate(&definition, json),
        AslCommand::Run {
            definition,
            input,
            history,
        } => run_definition(&definition, &input, history),
        AslCommand::Conformance { cases, quiet } => conformance(&cases, quiet),
        AslCommand::JsonataSuite { dir } => jsonata_suite(&dir),
    }
}

fn jsonata_suite(dir: &Path) -> Result<(), Failure> {
    let report = stepscore_jsonata::suite::run_dir(dir).map_err(|e| Failure::Invalid(e.into()))?;
    print!("{}", report.render());
    if report.failed() == 0 {
        Ok(())
    } else {
        Err(Failure::Outcome)
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        let err = anyhow!("cannot read {}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound(err)
        } else {
            Failure::Environment(err)
        }
    })
}

fn validate(path: &Path, json: bool) -> Result<(), Failure> {
    let text = read(path)?;
    let diagnostics = stepscore_asl::validate_text(&text, ValidationOptions::default());
    if json {
        let list: Vec<Value> = diagnostics
            .iter()
            .map(|d| serde_json::json!({"code": d.code, "location": d.location, "message": d.message, "severity": d.severity}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"file": path.display().to_string(), "valid": diagnostics.is_empty(), "diagnostics": list})
        );
    } else if diagnostics.is_empty() {
        println!("{}: valid", path.display());
    } else {
        for d in &diagnostics {
            println!("{}: {d}", path.display());
        }
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(Failure::Invalid(anyhow!(
            "{} has {} problem(s)",
            path.display(),
            diagnostics.len()
        )))
    }
}

fn run_definition(path: &Path, input: &str, history: bool) -> Result<(), Failure> {
    let definition: Value = serde_json::from_str(&read(path)?)
        .map_err(|e| Failure::Invalid(anyhow!("{} is not valid JSON: {e}", path.display())))?;
    let input_text = match input.strip_prefix('@') {
        Some(file) => read(Path::new(file))?,
        None => input.to_owned(),
    };
    let input: Value = serde_json::from_str(&input_text)
        .map_err(|e| Failure::Invalid(anyhow!("--input is not valid JSON: {e}")))?;
    let clock = VirtualClock::new(chrono::Utc::now());
    let config = ExecutionConfig {
        record_history: history,
        ..ExecutionConfig::default()
    };
    let result = stepscore_asl::run(&definition, input, config, &clock, &NoTasks).map_err(|e| {
        Failure::Invalid(anyhow::Error::new(e).context(format!("cannot run {}", path.display())))
    })?;
    if history {
        for event in &result.history.events {
            println!("{}", event.to_aws_json());
        }
    }
    let outcome = result.outcome;
    match outcome.status {
        ExecutionStatus::Succeeded => {
            println!("{}", outcome.output.unwrap_or(Value::Null));
            Ok(())
        }
        status => {
            println!(
                "{}",
                serde_json::json!({"status": status, "error": outcome.error, "cause": outcome.cause})
            );
            Err(Failure::Outcome)
        }
    }
}

fn conformance(path: &Path, quiet: bool) -> Result<(), Failure> {
    let report =
        stepscore_asl::conformance::run_file(path).map_err(|e| Failure::Invalid(e.into()))?;
    let rendered = report.render();
    for line in rendered.lines() {
        if quiet && (line.starts_with("ok   ") || line.starts_with("skip ")) {
            continue;
        }
        println!("{line}");
    }
    if report.failed() == 0 {
        Ok(())
    } else {
        Err(Failure::Outcome)
    }
}
