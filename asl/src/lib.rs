//! Amazon States Language: parse a state machine definition into a validated, typed model,
//! then interpret it exactly as AWS Step Functions does.
//!
//! The interpreter does no IO of its own: Task resources, time and persistence come in through
//! traits the embedder implements.
//!
//! # Layout
//! - [`model`]: the typed state machine and the validator that builds it (AWS-style diagnostics).
//! - [`template`]: payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`).
//! - [`engine`]: the interpreter, history recording, snapshots for persistence/resume.
//! - [`env`]: the embedder's side: [`env::Clock`] (real and virtual) and [`env::TaskDispatcher`].
//! - [`history`]: execution history events in `GetExecutionHistory` shape.
//! - [`test_state`]: run one state alone with inspection data, like the TestState API.
//! - [`conformance`]: runner for the recorded-against-AWS conformance corpus.
//! - [`jsonpath`], [`intrinsics`], [`choice`]: the JSONPath language, intrinsic functions and
//!   Choice rules.
//!
//! # Entry points for a CLI
//! [`validate`] / [`validate_text`] return diagnostics, [`run`] runs a definition with an input
//! and returns the outcome and history, [`conformance::run_file`] runs a corpus file.

pub mod choice;
pub mod conformance;
pub mod engine;
pub mod env;
pub mod history;
pub mod intrinsics;
pub mod jsonpath;
pub mod model;
pub mod template;
pub mod test_state;

use serde_json::Value;

pub use engine::{Execution, ExecutionConfig, ExecutionOutcome, ExecutionSnapshot, ExecutionStatus};
pub use env::{Clock, NoTasks, SystemClock, TaskDispatcher, TaskOutcome, TaskRequest, VirtualClock};
pub use history::{History, HistoryEvent};
pub use model::{Diagnostic, MachineType, StateMachine, ValidationOptions, parse_definition};

/// Validates a parsed definition; an empty list means it is valid.
pub fn validate(definition: &Value, options: ValidationOptions) -> Vec<Diagnostic> {
    match parse_definition(definition, options) {
        Ok(_) => Vec::new(),
        Err(d) => d,
    }
}

/// Validates definition text, reporting JSON syntax errors as `INVALID_JSON_DESCRIPTION`.
pub fn validate_text(text: &str, options: ValidationOptions) -> Vec<Diagnostic> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => validate(&v, options),
        Err(e) => vec![Diagnostic {
            code: "INVALID_JSON_DESCRIPTION".into(),
            location: Some(format!("line: {}, column: {}", e.line(), e.column())),
            message: e.to_string(),
            severity: "ERROR".into(),
        }],
    }
}

/// Why [`run`] could not run a definition.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The definition is invalid.
    #[error("invalid state machine definition: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Diagnostic>),
    /// The engine refused to start (JSONata, input too large).
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
}

/// Outcome and history of a finished execution.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Status, output or error and cause.
    pub outcome: ExecutionOutcome,
    /// Every event recorded.
    pub history: History,
}

/// Validates and runs a definition to completion.
pub fn run(definition: &Value, input: Value, config: ExecutionConfig, clock: &dyn Clock, tasks: &dyn TaskDispatcher) -> Result<RunResult, RunError> {
    let machine = parse_definition(definition, ValidationOptions::default()).map_err(RunError::Invalid)?;
    let mut exec = Execution::start(&machine, input, config, clock)?;
    let outcome = exec.run(clock, tasks);
    Ok(RunResult { outcome, history: exec.history().clone() })
}
