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
        /// A directory of buckets (one folder per bucket) that a Distributed Map's ItemReader and
        /// ResultWriter use as S3
        #[arg(long)]
        store: Option<PathBuf>,
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
            store,
        } => run_definition(&definition, &input, history, store.as_deref()),
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

/// Tasks fail as with no resources bound; a Distributed Map reads and writes `--store`.
struct StoreTasks(stepscore_local::runtime::map_run::DirItemStore);

impl stepscore_asl::TaskDispatcher for StoreTasks {
    fn dispatch(
        &self,
        request: &stepscore_asl::TaskRequest<'_>,
        clock: &dyn stepscore_asl::Clock,
    ) -> stepscore_asl::TaskOutcome {
        stepscore_asl::TaskDispatcher::dispatch(&NoTasks, request, clock)
    }

    fn item_store(&self) -> Option<&dyn stepscore_asl::store::ItemStore> {
        Some(&self.0)
    }
}

fn run_definition(
    path: &Path,
    input: &str,
    history: bool,
    store: Option<&Path>,
) -> Result<(), Failure> {
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
    // the store's writes go through its async API, on a runtime of their own
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Invalid(anyhow!("cannot start the store's runtime: {e}")))?;
    let tasks: Box<dyn stepscore_asl::TaskDispatcher> = match store {
        None => Box::new(NoTasks),
        Some(dir) => {
            let dirstore = stepscore_local::DirStore::open(dir)
                .map_err(|e| Failure::Invalid(anyhow!("--store {}: {e}", dir.display())))?;
            Box::new(StoreTasks(
                stepscore_local::runtime::map_run::DirItemStore::new(
                    dirstore,
                    None,
                    tokio.handle().clone(),
                    std::env::temp_dir(),
                ),
            ))
        }
    };
    let result = stepscore_asl::run(&definition, input, config, &clock, &*tasks).map_err(|e| {
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
