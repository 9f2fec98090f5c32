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
//! - [`store`]: the object store port a Distributed Map reads items from and writes results to.
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
pub mod query;
pub mod store;
pub mod template;
pub mod test_state;

use serde_json::Value;

pub use engine::{
    Execution, ExecutionConfig, ExecutionOutcome, ExecutionSnapshot, ExecutionStatus,
};
pub use env::{
    Clock, NoTasks, SystemClock, TaskDispatcher, TaskOutcome, TaskRequest, VirtualClock,
};
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
    if text.trim().is_empty() {
        return validate(&Value::Null, options);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => validate(&v, options),
        Err(e) => vec![json_syntax_diagnostic(text, &e)],
    }
}

/// A JSON syntax error worded like AWS's (Jackson's) parser: the offending token and
/// `[Source: (String)"..."; line: L, column: C]`.
fn json_syntax_diagnostic(text: &str, e: &serde_json::Error) -> Diagnostic {
    let line_text = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    let chars: Vec<char> = line_text.chars().collect();
    let at = e.column().saturating_sub(1).min(chars.len());
    let is_word = |c: &char| c.is_alphanumeric() || *c == '_';
    let start = (0..=at)
        .rev()
        .take_while(|i| *i < chars.len() && is_word(&chars[*i]))
        .last();
    let (message, column) = match start {
        Some(start) => {
            let end = (start..chars.len())
                .take_while(|i| is_word(&chars[*i]))
                .last()
                .map_or(start, |i| i + 1);
            let token: String = chars[start..end].iter().collect();
            (
                format!(
                    "Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
                ),
                end + 1,
            )
        }
        None => (e.to_string(), e.column()),
    };
    let location = format!(
        "[Source: (String){}; line: {}, column: {column}]",
        serde_json::to_string(text).unwrap_or_default(),
        e.line()
    );
    Diagnostic {
        code: "INVALID_JSON_DESCRIPTION".into(),
        message: format!("{message}\n at {location}"),
        location: Some(location),
        severity: "ERROR".into(),
    }
}

/// Why [`run`] could not run a definition.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The definition is invalid.
    #[error("invalid state machine definition: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Diagnostic>),
    /// The engine refused to start (input too large).
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
pub fn run(
    definition: &Value,
    input: Value,
    config: ExecutionConfig,
    clock: &dyn Clock,
    tasks: &dyn TaskDispatcher,
) -> Result<RunResult, RunError> {
    let machine = parse_definition(
        definition,
        ValidationOptions {
            machine_type: config.machine_type,
            ..ValidationOptions::default()
        },
    )
    .map_err(RunError::Invalid)?;
    let mut exec = Execution::start(&machine, input, config, clock)?;
    let outcome = exec.run(clock, tasks);
    Ok(RunResult {
        outcome,
        history: exec.into_history(),
    })
}
