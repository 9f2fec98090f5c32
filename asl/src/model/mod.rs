//! The typed, validated state machine model and the validator that builds it from raw JSON.
//!
//! Validation collects every problem it finds as a [`Diagnostic`] (code, location as a JSON
//! pointer, AWS-style message) instead of stopping at the first, so a user sees all of them at once.
//!
//! # Layout
//! - this file: the typed model, [`StateMachine`] down to the fields of each state type.
//! - [`distributed`]: the fields only a Distributed Map has.
//! - `diagnostic`: [`Diagnostic`], one problem found in a definition.
//! - [`integrations`]: the Task resources AWS recognises (optimized integrations and their
//!   patterns, as AWS documents them).
//! - `validate`: [`parse_definition`], the validator that builds the model from JSON, one file
//!   per concern.

mod diagnostic;
pub mod distributed;
pub mod integrations;
mod validate;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::choice::ChoiceRule;
use crate::jsonpath::JsonPath;
use crate::query::QueryTemplate;
use crate::template::Template;

pub use diagnostic::Diagnostic;
pub use validate::{
    MAX_ATTEMPTS, MAX_BATCH_BYTES, MAX_DELAY_SECONDS, MAX_INTERVAL_SECONDS, MAX_ITEMS,
    MAX_LABEL_CHARS, MAX_WAIT_SECONDS, is_variable_name, json_depth, parse_definition,
    parse_timestamp,
};

/// Maximum nesting of a definition (objects, arrays, Parallel/Map branches) that is accepted.
pub const MAX_DEFINITION_DEPTH: usize = 128;

/// Query language of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryLanguage {
    /// The classic JSONPath + intrinsic functions language.
    JsonPath,
    /// JSONata (`{% ... %}` expressions, `Arguments`/`Output`, `$states`).
    Jsonata,
}

/// STANDARD or EXPRESS workflow (affects what the validator allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MachineType {
    /// Standard workflow.
    #[default]
    Standard,
    /// Express workflow (no `.waitForTaskToken`).
    Express,
}

/// A validated state machine (or a Parallel branch / Map item processor).
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// Index of the `StartAt` state in `states`.
    pub start_at: usize,
    /// States in definition order; transitions are indices into this vector.
    pub states: Vec<State>,
    /// State name to index.
    pub index: HashMap<String, usize>,
    /// The machine's `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// Default query language for states that do not set one.
    pub query_language: QueryLanguage,
}

/// Where control goes after a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Go to the state with this index.
    Next(usize),
    /// The (sub-)machine ends here.
    End,
}

/// `InputPath` / `OutputPath` / `ResultPath`: absent (default `$`), explicit `null`, or a path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathField {
    /// Field absent: behaves as `$`.
    Default,
    /// Field is JSON `null`.
    Null,
    /// A JSONPath.
    Path(JsonPath),
}

/// One `Retry` element.
#[derive(Debug, Clone)]
pub struct Retrier {
    /// Error names this retrier matches.
    pub error_equals: Vec<String>,
    /// Seconds before the first retry.
    pub interval_seconds: f64,
    /// Maximum retries (0 means never retry).
    pub max_attempts: u32,
    /// Multiplier of the interval per attempt.
    pub backoff_rate: f64,
    /// Cap on the interval.
    pub max_delay_seconds: Option<f64>,
    /// `FULL` jitter randomises each interval in `[0, interval)`.
    pub jitter_full: bool,
}

/// One `Catch` element.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// Error names this catcher matches.
    pub error_equals: Vec<String>,
    /// Index of the fallback state.
    pub next: usize,
    /// Where the error output goes in the state input.
    pub result_path: PathField,
    /// Variables assigned when the catcher fires (`$` is the error output).
    pub assign: Option<Template>,
    /// JSONata: `Output` (default `$states.errorOutput`) and `Assign`.
    pub query: Option<Box<QueryFields>>,
}

/// The JSONata fields of a state, a Choice rule or a Catch (`QueryLanguage: JSONata`).
#[derive(Debug, Clone, Default)]
pub struct QueryFields {
    /// `Arguments` (Task, Parallel): their input; the state input when absent.
    pub arguments: Option<QueryTemplate>,
    /// `Output`: the state output; when absent, the result (or the input where there is none).
    pub output: Option<QueryTemplate>,
    /// `Assign`: variables set from templates.
    pub assign: Option<QueryTemplate>,
}

/// A seconds-like field that is either literal or read from the input.
#[derive(Debug, Clone)]
pub enum SecondsField {
    /// Literal value.
    Literal(u64),
    /// Read from the effective input with a path.
    Path(JsonPath),
    /// A JSONata template.
    Query(QueryTemplate),
}

/// Fields shared by the states that process data.
#[derive(Debug, Clone)]
pub struct Common {
    /// `InputPath`.
    pub input_path: PathField,
    /// `OutputPath`.
    pub output_path: PathField,
    /// `ResultPath`.
    pub result_path: PathField,
    /// `Parameters` (or Map's `ItemSelector` is kept on the Map itself).
    pub parameters: Option<Template>,
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `Assign`.
    pub assign: Option<Template>,
    /// `Next`/`End`.
    pub transition: Transition,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
    /// JSONata fields (`Arguments`, `Output`, `Assign`) of a JSONata state.
    pub query: Option<Box<QueryFields>>,
    /// Effective query language of this state.
    pub query_language: QueryLanguage,
    /// True when the state reads the context object (`$$`, `$states`), so the engine keeps
    /// `$$.State` current.
    pub uses_context: bool,
}

/// A validated state.
#[derive(Debug, Clone)]
pub struct State {
    /// Name as written in the definition.
    pub name: std::sync::Arc<str>,
    /// AWS type name (`Pass`, `Task`, ...), used in history event names.
    pub type_name: &'static str,
    /// Shared fields.
    pub common: Common,
    /// Type-specific part.
    pub kind: StateKind,
}

/// Type-specific part of a state.
#[derive(Debug, Clone)]
pub enum StateKind {
    /// Pass state; `Result` replaces the effective input when present.
    Pass {
        /// `Result`.
        result: Option<Value>,
    },
    /// Task state.
    Task(Box<TaskSpec>),
    /// Choice state.
    Choice {
        /// Rules in order.
        choices: Vec<ChoiceBranch>,
        /// `Default` target.
        default: Option<usize>,
    },
    /// Wait state.
    Wait(WaitSpec),
    /// Succeed state.
    Succeed,
    /// Fail state.
    Fail(Box<FailSpec>),
    /// Parallel state.
    Parallel {
        /// Branches, each a state machine.
        branches: Vec<StateMachine>,
    },
    /// Inline Map state.
    Map(Box<MapSpec>),
}

/// One Choice rule: its test, target and variables.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    /// What decides the branch.
    pub test: ChoiceTest,
    /// Index of the target state.
    pub next: usize,
    /// JSONPath: the rule's `Assign`.
    pub assign: Option<Template>,
    /// JSONata: the rule's `Assign` and `Output`.
    pub query: Option<Box<QueryFields>>,
}

/// A Choice rule's test.
#[derive(Debug, Clone)]
pub enum ChoiceTest {
    /// JSONPath: a `Variable` comparison or a boolean combination.
    Rule(ChoiceRule),
    /// JSONata: a `Condition` template that evaluates to a boolean.
    Condition(QueryTemplate),
}

/// Task-specific fields.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// `Resource` ARN.
    pub resource: String,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout: Option<SecondsField>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat: Option<SecondsField>,
    /// True when the resource ends with `.waitForTaskToken`.
    pub wait_for_task_token: bool,
}

/// How long a Wait state waits.
#[derive(Debug, Clone)]
pub enum WaitSpec {
    /// `Seconds`.
    Seconds(u64),
    /// `SecondsPath`.
    SecondsPath(JsonPath),
    /// `Timestamp` (already validated RFC 3339).
    Timestamp(chrono::DateTime<chrono::Utc>),
    /// `TimestampPath`.
    TimestampPath(JsonPath),
    /// JSONata `Seconds` template.
    SecondsQuery(QueryTemplate),
    /// JSONata `Timestamp` template.
    TimestampQuery(QueryTemplate),
}

/// Fail-specific fields.
#[derive(Debug, Clone, Default)]
pub struct FailSpec {
    /// `Error`.
    pub error: Option<String>,
    /// `Cause`.
    pub cause: Option<String>,
    /// `ErrorPath` (a path or an intrinsic).
    pub error_path: Option<DynamicString>,
    /// `CausePath` (a path or an intrinsic).
    pub cause_path: Option<DynamicString>,
    /// JSONata `Error` template.
    pub error_query: Option<QueryTemplate>,
    /// JSONata `Cause` template.
    pub cause_query: Option<QueryTemplate>,
}

/// A string computed from a path or an intrinsic function (Fail's ErrorPath/CausePath).
#[derive(Debug, Clone)]
pub enum DynamicString {
    /// A JSONPath.
    Path(JsonPath),
    /// An intrinsic function call.
    Intrinsic(std::sync::Arc<crate::intrinsics::IntrinsicCall>),
}

/// Map-specific fields.
#[derive(Debug, Clone)]
pub struct MapSpec {
    /// `ItemsPath` (default `$`).
    pub items_path: PathField,
    /// JSONata `Items` (a literal array or a template producing one).
    pub items: Option<QueryTemplate>,
    /// `ItemSelector` or legacy `Parameters`.
    pub item_selector: Option<Template>,
    /// JSONata `ItemSelector`.
    pub query_item_selector: Option<QueryTemplate>,
    /// `ItemProcessor` or legacy `Iterator`.
    pub processor: StateMachine,
    /// `MaxConcurrency` / `MaxConcurrencyPath`.
    pub max_concurrency: Option<SecondsField>,
    /// `ToleratedFailureCount` / `...Path`.
    pub tolerated_failure_count: Option<SecondsField>,
    /// `ToleratedFailurePercentage` / `...Path`.
    pub tolerated_failure_percentage: Option<PercentField>,
    /// `ProcessorConfig.Mode` is `DISTRIBUTED`: on AWS each iteration is a child execution with a
    /// history of its own.
    pub distributed: bool,
    /// A distributed Map's own fields (`ItemReader`, `ItemBatcher`, `ResultWriter`, ...); the
    /// engine runs such a Map as a Map Run of child executions.
    pub dist: Option<Box<distributed::DistributedSpec>>,
}

/// A percentage that is literal or read from the input.
#[derive(Debug, Clone)]
pub enum PercentField {
    /// Literal value.
    Literal(f64),
    /// Read from the input.
    Path(JsonPath),
    /// A JSONata template.
    Query(QueryTemplate),
}

/// Options for [`parse_definition`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationOptions {
    /// STANDARD or EXPRESS.
    pub machine_type: MachineType,
    /// Building a state for TestState, which may be given a Map's `ItemReader` data instead of
    /// reading it, so a Map with an `ItemReader` is accepted.
    pub test_state: bool,
}
