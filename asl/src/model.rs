//! The typed, validated state machine model and the validator that builds it from raw JSON.
//!
//! Validation collects every problem it finds as a [`Diagnostic`] (code, location as a JSON
//! pointer, AWS-style message) instead of stopping at the first, so a user sees all of them at once.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::choice::{self, ChoiceRule};
use crate::jsonpath::JsonPath;
use crate::template::Template;

/// Maximum nesting of a definition (objects, arrays, Parallel/Map branches) that is accepted.
pub const MAX_DEFINITION_DEPTH: usize = 128;

/// One problem found in a definition, shaped like ValidateStateMachineDefinition's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// AWS diagnostic code, e.g. `SCHEMA_VALIDATION_FAILED`.
    pub code: String,
    /// JSON pointer of the offending field, e.g. `/States/Foo/Next`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Human-readable message (AWS's text where known).
    pub message: String,
    /// `ERROR` or `WARNING`.
    pub severity: String,
}

impl Diagnostic {
    fn error(code: &str, location: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.to_string(),
            location: Some(location.into()),
            message: message.into(),
            severity: "ERROR".to_string(),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{}: {} at {}", self.code, self.message, loc),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

/// Query language of a state (only JSONPath is executed; JSONata is parsed and reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryLanguage {
    /// The classic JSONPath + intrinsic functions language.
    JsonPath,
    /// JSONata (`{% ... %}` expressions); not executed by this engine.
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
    /// True when any state selects JSONata (the engine refuses to run such machines).
    pub uses_jsonata: bool,
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
}

/// A seconds-like field that is either literal or read from the input.
#[derive(Debug, Clone)]
pub enum SecondsField {
    /// Literal value.
    Literal(u64),
    /// Read from the effective input with a path.
    Path(JsonPath),
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
    /// Effective query language of this state.
    pub query_language: QueryLanguage,
    /// True when the state reads the context object (`$$`), so the engine keeps `$$.State` current.
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
        /// Rules with their target state index and compiled `Assign`.
        choices: Vec<(ChoiceRule, usize, Option<Template>)>,
        /// `Default` target.
        default: Option<usize>,
    },
    /// Wait state.
    Wait(WaitSpec),
    /// Succeed state.
    Succeed,
    /// Fail state.
    Fail(FailSpec),
    /// Parallel state.
    Parallel {
        /// Branches, each a state machine.
        branches: Vec<StateMachine>,
    },
    /// Inline Map state.
    Map(Box<MapSpec>),
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
    /// `Items` (a literal array or a template producing one).
    pub items: Option<Template>,
    /// `ItemSelector` or legacy `Parameters`.
    pub item_selector: Option<Template>,
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
}

/// A percentage that is literal or read from the input.
#[derive(Debug, Clone)]
pub enum PercentField {
    /// Literal value.
    Literal(f64),
    /// Read from the input.
    Path(JsonPath),
}

/// Options for [`parse_definition`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationOptions {
    /// STANDARD or EXPRESS.
    pub machine_type: MachineType,
}

/// Parses and validates a definition; on failure returns every diagnostic found.
pub fn parse_definition(
    definition: &Value,
    options: ValidationOptions,
) -> Result<StateMachine, Vec<Diagnostic>> {
    let mut v = Validator {
        diags: Vec::new(),
        options,
        has_jsonata: false,
    };
    let Some(obj) = definition.as_object() else {
        return Err(vec![Diagnostic {
            code: "SCHEMA_VALIDATION_FAILED".into(),
            location: None,
            message: "Definition must be a valid JSON object".into(),
            severity: "ERROR".into(),
        }]);
    };
    if json_depth(definition) > MAX_DEFINITION_DEPTH {
        return Err(vec![Diagnostic::error(
            "SCHEMA_VALIDATION_FAILED",
            "/",
            format!(
                "The definition is nested deeper than {MAX_DEFINITION_DEPTH} levels; flatten it"
            ),
        )]);
    }
    let ql = match obj.get("QueryLanguage") {
        None => QueryLanguage::JsonPath,
        Some(q) => v
            .query_language(q, "/QueryLanguage")
            .unwrap_or(QueryLanguage::JsonPath),
    };
    v.check_fields(
        obj,
        "",
        &[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ],
        &[],
    );
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(t) => v.positive_int(t, "/TimeoutSeconds"),
    };
    let machine = v.machine(obj, "", ql, ql, 0);
    if v.diags.is_empty() {
        let mut m = machine.expect("machine is built whenever no diagnostic was recorded");
        m.timeout_seconds = timeout_seconds;
        m.uses_jsonata = v.has_jsonata;
        Ok(m)
    } else {
        Err(v.diags)
    }
}

/// True when any state of the definition (or the machine itself) selects JSONata.
pub fn uses_jsonata(definition: &Value) -> bool {
    fn walk(v: &Value, depth: usize) -> bool {
        if depth > MAX_DEFINITION_DEPTH {
            return false;
        }
        match v {
            Value::Object(m) => m
                .iter()
                .any(|(k, v)| (k == "QueryLanguage" && v == "JSONata") || walk(v, depth + 1)),
            Value::Array(a) => a.iter().any(|v| walk(v, depth + 1)),
            _ => false,
        }
    }
    walk(definition, 0)
}

/// Depth of a JSON value computed without recursion, so hostile input cannot overflow the stack.
pub fn json_depth(value: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, d + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    max
}

struct Validator {
    diags: Vec<Diagnostic>,
    options: ValidationOptions,
    has_jsonata: bool,
}

const COMMON_IO: &[&str] = &["InputPath", "OutputPath"];

impl Validator {
    fn err(&mut self, loc: impl Into<String>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error("SCHEMA_VALIDATION_FAILED", loc, msg));
    }

    fn loc(base: &str, field: &str) -> String {
        format!("{base}/{field}")
    }

    fn root(base: &str) -> String {
        if base.is_empty() {
            "/".to_string()
        } else {
            base.to_string()
        }
    }

    fn query_language(&mut self, v: &Value, loc: &str) -> Option<QueryLanguage> {
        match v.as_str() {
            Some("JSONPath") => Some(QueryLanguage::JsonPath),
            Some("JSONata") => {
                self.has_jsonata = true;
                Some(QueryLanguage::Jsonata)
            }
            _ => {
                self.err(loc, format!("Value {v} is not one of [JSONPath, JSONata]"));
                None
            }
        }
    }

    fn check_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        allowed: &[&str],
        allowed2: &[&str],
    ) {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) && !allowed2.contains(&k.as_str()) {
                self.err(Self::loc(base, k), format!("Field '{k}' is not supported"));
            }
        }
    }

    fn positive_int(&mut self, v: &Value, loc: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.err(loc, format!("Expected a positive integer but got {v}"));
                None
            }
        }
    }

    /// An integer from `min` to `max`, AWS's range for the field at `loc`.
    fn int_in_range(&mut self, v: &Value, loc: &str, min: u64, max: u64) -> Option<u64> {
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    loc,
                    format!(
                        "{} must be an integer from {min} to {max} but got {v}",
                        last_segment(loc)
                    ),
                );
                None
            }
        }
    }

    fn non_negative_int(&mut self, v: &Value, loc: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                self.err(loc, format!("Expected a non-negative integer but got {v}"));
                None
            }
        }
    }

    fn string<'v>(&mut self, v: &'v Value, loc: &str) -> Option<&'v str> {
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.err(loc, format!("Expected value of type: String but got {v}"));
                None
            }
        }
    }

    fn path(&mut self, v: &Value, loc: &str, reference_only: bool) -> Option<JsonPath> {
        let s = self.string(v, loc)?;
        match JsonPath::parse(s) {
            Ok(p) => {
                if reference_only && !p.is_reference() {
                    self.err(
                        loc,
                        format!(
                            "The value for the field '{}' must be a valid Reference Path: {s}",
                            last_segment(loc)
                        ),
                    );
                    None
                } else {
                    Some(p)
                }
            }
            Err(e) => {
                self.err(
                    loc,
                    format!(
                        "The value for the field '{}' must be a valid JSONPath: {s} ({e})",
                        last_segment(loc)
                    ),
                );
                None
            }
        }
    }

    fn path_field(
        &mut self,
        obj: &Map<String, Value>,
        field: &str,
        base: &str,
        reference_only: bool,
    ) -> PathField {
        match obj.get(field) {
            None => PathField::Default,
            Some(Value::Null) => PathField::Null,
            Some(v) => self
                .path(v, &Self::loc(base, field), reference_only)
                .map_or(PathField::Default, PathField::Path),
        }
    }

    fn template(&mut self, v: &Value, loc: &str) -> Option<Template> {
        match Template::compile(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(format!("{loc}{}", e.pointer), e.message);
                None
            }
        }
    }

    fn seconds_field(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        lit: &str,
        path: &str,
    ) -> Option<SecondsField> {
        match (obj.get(lit), obj.get(path)) {
            (Some(_), Some(_)) => {
                self.err(
                    Self::root(base),
                    format!("These fields are mutually exclusive: [{lit}, {path}]"),
                );
                None
            }
            (Some(v), None) => self
                .non_negative_int(v, &Self::loc(base, lit))
                .map(SecondsField::Literal),
            (None, Some(p)) => self
                .path(p, &Self::loc(base, path), true)
                .map(SecondsField::Path),
            (None, None) => None,
        }
    }

    fn error_equals(&mut self, v: Option<&Value>, loc: &str) -> Vec<String> {
        let Some(arr) = v.and_then(Value::as_array) else {
            self.err(loc.to_string(), "These fields are required: [ErrorEquals]");
            return Vec::new();
        };
        if arr.is_empty() {
            self.err(
                format!("{loc}/ErrorEquals"),
                "ErrorEquals must not be empty",
            );
        }
        let mut out = Vec::new();
        for (i, e) in arr.iter().enumerate() {
            if let Some(s) = self.string(e, &format!("{loc}/ErrorEquals/{i}")) {
                out.push(s.to_string());
            }
        }
        if out.iter().any(|e| e == "States.ALL") && out.len() > 1 {
            self.err(
                format!("{loc}/ErrorEquals"),
                "States.ALL must appear alone in ErrorEquals",
            );
        }
        out
    }

    fn machine(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        parent_ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Option<StateMachine> {
        if depth > 32 {
            self.err(
                Self::root(base),
                "Parallel/Map nesting is deeper than 32 levels",
            );
            return None;
        }
        let mut missing = Vec::new();
        if !obj.contains_key("States") {
            missing.push("States");
        }
        if !obj.contains_key("StartAt") {
            missing.push("StartAt");
        }
        if !missing.is_empty() {
            self.err(
                Self::root(base),
                format!("These fields are required: [{}]", missing.join(", ")),
            );
            return None;
        }
        let ql = match obj.get("QueryLanguage") {
            Some(q) if !base.is_empty() => self
                .query_language(q, &Self::loc(base, "QueryLanguage"))
                .unwrap_or(parent_ql),
            _ => parent_ql,
        };
        let Some(states_obj) = obj.get("States").and_then(Value::as_object) else {
            self.err(Self::loc(base, "States"), "Expected value of type: Object");
            return None;
        };
        let start = self
            .string(&obj["StartAt"], &Self::loc(base, "StartAt"))
            .map(str::to_string);
        let index: HashMap<String, usize> = states_obj
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        if states_obj.is_empty() {
            self.err(Self::loc(base, "States"), "States must not be empty");
        }
        let start_at = match &start {
            Some(s) => match index.get(s) {
                Some(i) => Some(*i),
                None => {
                    self.diags.push(Diagnostic::error(
                        "MISSING_TRANSITION_TARGET",
                        Self::loc(base, "StartAt"),
                        format!("Missing 'Next' target: {s}"),
                    ));
                    None
                }
            },
            None => None,
        };
        let mut states = Vec::with_capacity(states_obj.len());
        for (name, sv) in states_obj {
            let sbase = format!("{base}/States/{}", escape_pointer(name));
            if name.is_empty() || name.chars().count() > 80 {
                self.err(
                    &sbase,
                    format!("State name '{name}' must be 1 to 80 characters long"),
                );
            }
            let Some(sobj) = sv.as_object() else {
                self.err(
                    &sbase,
                    format!("Expected value of type: Object but got {sv}"),
                );
                continue;
            };
            if let Some(st) = self.state(name, sobj, &sbase, &index, ql, top_ql, depth) {
                states.push(st);
            }
        }
        let start_at = start_at?;
        if states.len() != states_obj.len() {
            return None;
        }
        // Unreachable states are a definition error on AWS.
        let mut seen = HashSet::new();
        let mut stack = vec![start_at];
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            let st: &State = &states[i];
            if let Transition::Next(n) = st.common.transition {
                stack.push(n);
            }
            stack.extend(st.common.catch.iter().map(|c| c.next));
            if let StateKind::Choice { choices, default } = &st.kind {
                stack.extend(choices.iter().map(|c| c.1));
                stack.extend(default.iter().copied());
            }
        }
        let mut ok = true;
        for (i, st) in states.iter().enumerate() {
            if !seen.contains(&i) {
                ok = false;
                self.diags.push(Diagnostic::error(
                    "UNREACHABLE_STATE",
                    format!("{base}/States/{}", escape_pointer(&st.name)),
                    format!("State \"{}\" is not reachable", st.name),
                ));
            }
        }
        if !ok {
            return None;
        }
        Some(StateMachine {
            start_at,
            states,
            index,
            timeout_seconds: None,
            query_language: ql,
            uses_jsonata: false,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        name: &str,
        obj: &Map<String, Value>,
        base: &str,
        index: &HashMap<String, usize>,
        parent_ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Option<State> {
        let Some(ty) = obj.get("Type") else {
            self.err(base, "These fields are required: [Type]");
            return None;
        };
        let Some(ty) = ty.as_str() else {
            self.err(
                Self::loc(base, "Type"),
                format!("Expected value of type: String but got {ty}"),
            );
            return None;
        };
        let ql = match obj.get("QueryLanguage") {
            Some(q) => {
                let q = self
                    .query_language(q, &Self::loc(base, "QueryLanguage"))
                    .unwrap_or(parent_ql);
                if q == QueryLanguage::JsonPath && top_ql == QueryLanguage::Jsonata {
                    self.err(base, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine");
                }
                q
            }
            None => parent_ql,
        };
        let (type_name, allowed): (&'static str, &[&str]) = match ty {
            "Pass" => (
                "Pass",
                &[
                    "Result",
                    "ResultPath",
                    "Parameters",
                    "Next",
                    "End",
                    "Assign",
                    "Output",
                ],
            ),
            "Task" => (
                "Task",
                &[
                    "Resource",
                    "Parameters",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                    "TimeoutSeconds",
                    "TimeoutSecondsPath",
                    "HeartbeatSeconds",
                    "HeartbeatSecondsPath",
                    "Next",
                    "End",
                    "Assign",
                    "Credentials",
                    "Arguments",
                    "Output",
                ],
            ),
            "Choice" => ("Choice", &["Choices", "Default", "Assign", "Output"]),
            "Wait" => (
                "Wait",
                &[
                    "Seconds",
                    "SecondsPath",
                    "Timestamp",
                    "TimestampPath",
                    "Next",
                    "End",
                    "Assign",
                    "Output",
                ],
            ),
            "Succeed" => ("Succeed", &["Output"]),
            "Fail" => ("Fail", &["Error", "Cause", "ErrorPath", "CausePath"]),
            "Parallel" => (
                "Parallel",
                &[
                    "Branches",
                    "Parameters",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                    "Next",
                    "End",
                    "Assign",
                    "Arguments",
                    "Output",
                ],
            ),
            "Map" => (
                "Map",
                &[
                    "Iterator",
                    "ItemProcessor",
                    "ItemsPath",
                    "Items",
                    "ItemSelector",
                    "Parameters",
                    "MaxConcurrency",
                    "MaxConcurrencyPath",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                    "Next",
                    "End",
                    "Assign",
                    "ToleratedFailureCount",
                    "ToleratedFailureCountPath",
                    "ToleratedFailurePercentage",
                    "ToleratedFailurePercentagePath",
                    "ItemReader",
                    "ResultWriter",
                    "ItemBatcher",
                    "Label",
                    "Output",
                    "Arguments",
                ],
            ),
            other => {
                self.err(Self::loc(base, "Type"), format!("Value '{other}' is not a valid state type; use one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map"));
                return None;
            }
        };
        let io: &[&str] = if matches!(type_name, "Fail") {
            &[]
        } else {
            COMMON_IO
        };
        let mut all: Vec<&str> = vec!["Type", "Comment", "QueryLanguage"];
        all.extend_from_slice(allowed);
        all.extend_from_slice(io);
        self.check_fields(obj, base, &all, &[]);
        if ql == QueryLanguage::Jsonata {
            // JSONata states are parsed for structure only; the engine reports them as unsupported.
            self.has_jsonata = true;
        }

        // Transition.
        let terminal = matches!(type_name, "Choice" | "Succeed" | "Fail");
        let transition = if terminal {
            Transition::End
        } else {
            match (obj.get("Next"), obj.get("End")) {
                (Some(_), Some(Value::Bool(true))) => {
                    self.err(base, "These fields are mutually exclusive: [Next, End]");
                    Transition::End
                }
                (Some(n), _) => match self.string(n, &Self::loc(base, "Next")) {
                    Some(n) => match index.get(n) {
                        Some(i) => Transition::Next(*i),
                        None => {
                            self.diags.push(Diagnostic::error(
                                "MISSING_TRANSITION_TARGET",
                                Self::loc(base, "Next"),
                                format!("Missing 'Next' target: {n}"),
                            ));
                            Transition::End
                        }
                    },
                    None => Transition::End,
                },
                (None, Some(Value::Bool(true))) => Transition::End,
                (None, Some(other)) if !other.is_boolean() => {
                    self.err(
                        Self::loc(base, "End"),
                        format!("Expected value of type: Boolean but got {other}"),
                    );
                    Transition::End
                }
                _ => {
                    self.diags.push(Diagnostic::error("MISSING_TRANSITION_TARGET", base, "State is not an end state and has no 'Next' field; add \"Next\" or \"End\": true"));
                    Transition::End
                }
            }
        };

        let jp = ql == QueryLanguage::JsonPath;
        let input_path = if jp {
            self.path_field(obj, "InputPath", base, false)
        } else {
            PathField::Default
        };
        let output_path = if jp {
            self.path_field(obj, "OutputPath", base, false)
        } else {
            PathField::Default
        };
        let result_path = if jp {
            self.path_field(obj, "ResultPath", base, true)
        } else {
            PathField::Default
        };
        let parameters = if jp && type_name != "Map" {
            obj.get("Parameters")
                .and_then(|p| self.template(p, &Self::loc(base, "Parameters")))
        } else {
            None
        };
        let result_selector = if jp {
            obj.get("ResultSelector")
                .and_then(|p| self.template(p, &Self::loc(base, "ResultSelector")))
        } else {
            None
        };
        let assign = if jp {
            obj.get("Assign")
                .and_then(|p| self.assign(p, &Self::loc(base, "Assign")))
        } else {
            None
        };
        if let Some(p) = obj.get("Parameters").filter(|_| jp)
            && !p.is_object()
        {
            self.err(
                Self::loc(base, "Parameters"),
                format!("Expected value of type: Object but got {p}"),
            );
        }

        let mut retry = Vec::new();
        if let Some(r) = obj.get("Retry") {
            match r.as_array() {
                Some(arr) => {
                    for (i, rv) in arr.iter().enumerate() {
                        if let Some(r) = self.retrier(rv, &format!("{base}/Retry/{i}")) {
                            retry.push(r);
                        }
                    }
                }
                None => self.err(Self::loc(base, "Retry"), "Expected value of type: Array"),
            }
        }
        let mut catch = Vec::new();
        if let Some(c) = obj.get("Catch") {
            match c.as_array() {
                Some(arr) => {
                    for (i, cv) in arr.iter().enumerate() {
                        if let Some(c) = self.catcher(cv, &format!("{base}/Catch/{i}"), index, jp) {
                            catch.push(c);
                        }
                    }
                }
                None => self.err(Self::loc(base, "Catch"), "Expected value of type: Array"),
            }
        }

        let kind = match type_name {
            "Pass" => StateKind::Pass {
                result: obj.get("Result").cloned(),
            },
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(self.fail(obj, base, jp)),
            "Task" => StateKind::Task(Box::new(self.task(obj, base)?)),
            "Wait" => StateKind::Wait(self.wait(obj, base, jp)?),
            "Choice" => self.choice(obj, base, index, jp)?,
            "Parallel" => {
                let Some(branches) = obj.get("Branches").and_then(Value::as_array) else {
                    self.err(base, "These fields are required: [Branches]");
                    return None;
                };
                let mut out = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    let bbase = format!("{base}/Branches/{i}");
                    match b.as_object() {
                        Some(bo) => {
                            self.check_fields(
                                bo,
                                &bbase,
                                &["StartAt", "States", "Comment", "QueryLanguage"],
                                &[],
                            );
                            if let Some(m) = self.machine(bo, &bbase, ql, top_ql, depth + 1) {
                                out.push(m);
                            }
                        }
                        None => self.err(bbase, "Expected value of type: Object"),
                    }
                }
                if out.len() != branches.len() {
                    return None;
                }
                StateKind::Parallel { branches: out }
            }
            "Map" => StateKind::Map(Box::new(self.map(obj, base, ql, top_ql, depth, jp)?)),
            _ => return None,
        };
        let uses_context = serde_json::to_string(obj).is_ok_and(|t| t.contains("$$"));
        Some(State {
            name: name.into(),
            type_name,
            common: Common {
                input_path,
                output_path,
                result_path,
                parameters,
                result_selector,
                assign,
                transition,
                retry,
                catch,
                query_language: ql,
                uses_context,
            },
            kind,
        })
    }

    fn assign(&mut self, v: &Value, loc: &str) -> Option<Template> {
        if !v.is_object() {
            self.err(loc, format!("Expected value of type: Object but got {v}"));
            return None;
        }
        let obj = v.as_object().expect("checked above");
        for k in obj.keys() {
            let name = k.strip_suffix(".$").unwrap_or(k);
            if !is_variable_name(name) {
                self.err(format!("{loc}/{}", escape_pointer(k)), format!("The variable name '{name}' is not valid; use letters, digits and underscores, not starting with a digit"));
            }
        }
        self.template(v, loc)
    }

    fn retrier(&mut self, v: &Value, loc: &str) -> Option<Retrier> {
        let Some(o) = v.as_object() else {
            self.err(loc, "Expected value of type: Object");
            return None;
        };
        self.check_fields(
            o,
            loc,
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ],
            &[],
        );
        let error_equals = self.error_equals(o.get("ErrorEquals"), loc);
        let interval_seconds = match o.get("IntervalSeconds") {
            None => 1.0,
            Some(v) => self.int_in_range(
                v,
                &format!("{loc}/IntervalSeconds"),
                1,
                MAX_INTERVAL_SECONDS,
            )? as f64,
        };
        let max_attempts = match o.get("MaxAttempts") {
            None => 3,
            Some(v) => u32::try_from(self.int_in_range(
                v,
                &format!("{loc}/MaxAttempts"),
                0,
                MAX_ATTEMPTS,
            )?)
            .unwrap_or(u32::MAX),
        };
        let backoff_rate = match o.get("BackoffRate") {
            None => 2.0,
            Some(v) => {
                match v.as_f64() {
                    Some(b) if b >= 1.0 => b,
                    _ => {
                        self.err(format!("{loc}/BackoffRate"), format!("BackoffRate must be a number greater than or equal to 1.0 but got {v}"));
                        return None;
                    }
                }
            }
        };
        let max_delay_seconds = match o.get("MaxDelaySeconds") {
            None => None,
            Some(v) => Some(self.int_in_range(
                v,
                &format!("{loc}/MaxDelaySeconds"),
                1,
                MAX_DELAY_SECONDS,
            )? as f64),
        };
        let jitter_full = match o.get("JitterStrategy") {
            None => false,
            Some(v) => match v.as_str() {
                Some("FULL") => true,
                Some("NONE") => false,
                _ => {
                    self.err(
                        format!("{loc}/JitterStrategy"),
                        format!("Value {v} is not one of [FULL, NONE]"),
                    );
                    return None;
                }
            },
        };
        Some(Retrier {
            error_equals,
            interval_seconds,
            max_attempts,
            backoff_rate,
            max_delay_seconds,
            jitter_full,
        })
    }

    fn catcher(
        &mut self,
        v: &Value,
        loc: &str,
        index: &HashMap<String, usize>,
        jp: bool,
    ) -> Option<Catcher> {
        let Some(o) = v.as_object() else {
            self.err(loc, "Expected value of type: Object");
            return None;
        };
        self.check_fields(
            o,
            loc,
            &[
                "ErrorEquals",
                "Next",
                "ResultPath",
                "Assign",
                "Comment",
                "Output",
            ],
            &[],
        );
        let error_equals = self.error_equals(o.get("ErrorEquals"), loc);
        let next = match o.get("Next").and_then(Value::as_str) {
            Some(n) => match index.get(n) {
                Some(i) => *i,
                None => {
                    self.diags.push(Diagnostic::error(
                        "MISSING_TRANSITION_TARGET",
                        format!("{loc}/Next"),
                        format!("Missing 'Next' target: {n}"),
                    ));
                    return None;
                }
            },
            None => {
                self.err(loc, "These fields are required: [Next]");
                return None;
            }
        };
        let result_path = if jp {
            self.path_field(o, "ResultPath", loc, true)
        } else {
            PathField::Default
        };
        let assign = if jp {
            o.get("Assign")
                .and_then(|a| self.assign(a, &format!("{loc}/Assign")))
        } else {
            None
        };
        Some(Catcher {
            error_equals,
            next,
            result_path,
            assign,
        })
    }

    fn dynamic_string(&mut self, v: &Value, loc: &str) -> Option<DynamicString> {
        let s = self.string(v, loc)?;
        if s.starts_with('$') {
            self.path(v, loc, false).map(DynamicString::Path)
        } else {
            match crate::intrinsics::parse(s) {
                Ok(c) => Some(DynamicString::Intrinsic(std::sync::Arc::new(c))),
                Err(e) => {
                    self.err(loc, format!("The value for the field '{}' must be a valid JSONPath or a valid intrinsic function call: {s} ({e})", last_segment(loc)));
                    None
                }
            }
        }
    }

    fn fail(&mut self, obj: &Map<String, Value>, base: &str, jp: bool) -> FailSpec {
        let mut f = FailSpec::default();
        if obj.contains_key("Error") && obj.contains_key("ErrorPath") {
            self.err(
                base,
                "These fields are mutually exclusive: [Error, ErrorPath]",
            );
        }
        if obj.contains_key("Cause") && obj.contains_key("CausePath") {
            self.err(
                base,
                "These fields are mutually exclusive: [Cause, CausePath]",
            );
        }
        if let Some(e) = obj.get("Error") {
            f.error = self
                .string(e, &Self::loc(base, "Error"))
                .map(str::to_string);
        }
        if let Some(c) = obj.get("Cause") {
            f.cause = self
                .string(c, &Self::loc(base, "Cause"))
                .map(str::to_string);
        }
        if jp {
            if let Some(e) = obj.get("ErrorPath") {
                f.error_path = self.dynamic_string(e, &Self::loc(base, "ErrorPath"));
            }
            if let Some(c) = obj.get("CausePath") {
                f.cause_path = self.dynamic_string(c, &Self::loc(base, "CausePath"));
            }
        }
        f
    }

    fn task(&mut self, obj: &Map<String, Value>, base: &str) -> Option<TaskSpec> {
        let Some(r) = obj.get("Resource") else {
            self.err(base, "These fields are required: [Resource]");
            return None;
        };
        let resource = self.string(r, &Self::loc(base, "Resource"))?.to_string();
        let wait_for_task_token = resource.ends_with(".waitForTaskToken");
        if wait_for_task_token && self.options.machine_type == MachineType::Express {
            self.err(
                Self::loc(base, "Resource"),
                "Express state machine does not support '.waitForTaskToken' service integration ",
            );
        }
        if !resource_is_known(&resource) {
            self.err(Self::loc(base, "Resource"), format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."));
        }
        if let Some(c) = obj.get("Credentials") {
            match c.as_object() {
                Some(co) if co.contains_key("RoleArn") || co.contains_key("RoleArn.$") => {}
                Some(_) => self.err(
                    Self::loc(base, "Credentials"),
                    "The field 'RoleArn' is required but was missing",
                ),
                None => self.err(
                    Self::loc(base, "Credentials"),
                    "Expected value of type: Object",
                ),
            }
        }
        let timeout = self.seconds_field(obj, base, "TimeoutSeconds", "TimeoutSecondsPath");
        let heartbeat = self.seconds_field(obj, base, "HeartbeatSeconds", "HeartbeatSecondsPath");
        if let (Some(SecondsField::Literal(t)), Some(SecondsField::Literal(h))) =
            (&timeout, &heartbeat)
            && h >= t
        {
            self.err(
                Self::loc(base, "HeartbeatSeconds"),
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            );
        }
        Some(TaskSpec {
            resource,
            timeout,
            heartbeat,
            wait_for_task_token,
        })
    }

    fn wait(&mut self, obj: &Map<String, Value>, base: &str, jp: bool) -> Option<WaitSpec> {
        let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        if present.len() != 1 {
            self.err(base, "Exactly one of these fields is required: [Seconds, SecondsPath, Timestamp, TimestampPath]");
            return None;
        }
        let field = present[0];
        let loc = Self::loc(base, field);
        let v = &obj[field];
        match field {
            "Seconds" => {
                if !jp && v.is_string() {
                    return Some(WaitSpec::Seconds(0));
                }
                self.int_in_range(v, &loc, 0, MAX_WAIT_SECONDS)
                    .map(WaitSpec::Seconds)
            }
            "Timestamp" => {
                let s = self.string(v, &loc)?;
                match parse_timestamp(s) {
                    Some(t) => Some(WaitSpec::Timestamp(t)),
                    None => {
                        self.err(loc, "String does not match RFC3339 timestamp");
                        None
                    }
                }
            }
            "SecondsPath" => self.path(v, &loc, false).map(WaitSpec::SecondsPath),
            _ => self.path(v, &loc, false).map(WaitSpec::TimestampPath),
        }
    }

    fn choice(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        index: &HashMap<String, usize>,
        jp: bool,
    ) -> Option<StateKind> {
        let Some(arr) = obj.get("Choices").and_then(Value::as_array) else {
            self.err(base, "These fields are required: [Choices]");
            return None;
        };
        if arr.is_empty() {
            self.err(Self::loc(base, "Choices"), "Choices must not be empty");
        }
        let mut choices = Vec::new();
        for (i, c) in arr.iter().enumerate() {
            let cloc = format!("{base}/Choices/{i}");
            if !jp {
                // JSONata rules are not executed; keep only their targets for reachability.
                if let Some(n) = c.get("Next").and_then(Value::as_str)
                    && let Some(ix) = index.get(n)
                    && let Ok(rule) = choice::parse_rule(
                        &serde_json::json!({"Variable": "$", "IsPresent": true, "Next": n}),
                    )
                {
                    choices.push((rule, *ix, None));
                }
                continue;
            }
            match choice::parse_rule(c) {
                Ok(rule) => match rule.next() {
                    Some(n) => match index.get(n) {
                        Some(ix) => {
                            let assign = rule
                                .assign()
                                .cloned()
                                .and_then(|a| self.assign(&a, &format!("{cloc}/Assign")));
                            choices.push((rule, *ix, assign))
                        }
                        None => self.diags.push(Diagnostic::error(
                            "MISSING_TRANSITION_TARGET",
                            format!("{cloc}/Next"),
                            format!("Missing 'Next' target: {n}"),
                        )),
                    },
                    None => self.err(cloc, "These fields are required: [Next]"),
                },
                Err(e) => self.err(format!("{cloc}{}", e.pointer), e.message),
            }
        }
        let default = match obj.get("Default") {
            None => None,
            Some(d) => match d.as_str().and_then(|n| index.get(n)) {
                Some(i) => Some(*i),
                None => {
                    self.diags.push(Diagnostic::error(
                        "MISSING_TRANSITION_TARGET",
                        Self::loc(base, "Default"),
                        format!("Missing 'Next' target: {d}"),
                    ));
                    None
                }
            },
        };
        Some(StateKind::Choice { choices, default })
    }

    fn map(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
        jp: bool,
    ) -> Option<MapSpec> {
        if obj.contains_key("ItemReader")
            || obj.contains_key("ResultWriter")
            || obj.contains_key("ItemBatcher")
        {
            self.diags.push(Diagnostic::error("UNSUPPORTED_FEATURE", base, "Distributed Map (ItemReader, ItemBatcher, ResultWriter) is not supported by the embedded engine; use an inline Map"));
        }
        let (proc_field, proc_val) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(i)) => ("Iterator", i),
            (Some(_), Some(_)) => {
                self.err(
                    base,
                    "These fields are mutually exclusive: [ItemProcessor, Iterator]",
                );
                return None;
            }
            (None, None) => {
                self.err(base, "These fields are required: [ItemProcessor]");
                return None;
            }
        };
        let ploc = Self::loc(base, proc_field);
        let Some(po) = proc_val.as_object() else {
            self.err(ploc, "Expected value of type: Object");
            return None;
        };
        self.check_fields(
            po,
            &ploc,
            &[
                "StartAt",
                "States",
                "Comment",
                "ProcessorConfig",
                "QueryLanguage",
            ],
            &[],
        );
        let mut distributed = false;
        if let Some(pc) = po.get("ProcessorConfig") {
            match pc.get("Mode").and_then(Value::as_str) {
                None | Some("INLINE") => {}
                // Without ItemReader/ResultWriter a distributed Map computes the same result as an
                // inline one, so the engine runs it inline.
                Some("DISTRIBUTED") => distributed = true,
                Some(m) => self.err(
                    format!("{ploc}/ProcessorConfig/Mode"),
                    format!("Value '{m}' is not one of [INLINE, DISTRIBUTED]"),
                ),
            }
        }
        let processor = self.machine(po, &ploc, ql, top_ql, depth + 1)?;
        if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
            self.err(
                base,
                "These fields are mutually exclusive: [ItemSelector, Parameters]",
            );
        }
        let item_selector = if jp {
            obj.get("ItemSelector")
                .map(|v| ("ItemSelector", v))
                .or(obj.get("Parameters").map(|v| ("Parameters", v)))
                .and_then(|(f, v)| self.template(v, &Self::loc(base, f)))
        } else {
            None
        };
        if obj.contains_key("Items") && obj.contains_key("ItemsPath") {
            self.err(
                base,
                "These fields are mutually exclusive: [Items, ItemsPath]",
            );
        }
        let items_path = if jp {
            self.path_field(obj, "ItemsPath", base, false)
        } else {
            PathField::Default
        };
        let items = if jp {
            obj.get("Items")
                .and_then(|v| self.template(v, &Self::loc(base, "Items")))
        } else {
            None
        };
        let max_concurrency = if jp {
            self.seconds_field(obj, base, "MaxConcurrency", "MaxConcurrencyPath")
        } else {
            None
        };
        let tolerated_failure_count = if jp {
            self.seconds_field(
                obj,
                base,
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
            )
        } else {
            None
        };
        let tolerated_failure_percentage = if jp {
            match (
                obj.get("ToleratedFailurePercentage"),
                obj.get("ToleratedFailurePercentagePath"),
            ) {
                (Some(v), None) => match v.as_f64() {
                    Some(p) if (0.0..=100.0).contains(&p) => Some(PercentField::Literal(p)),
                    _ => {
                        self.err(Self::loc(base, "ToleratedFailurePercentage"), format!("ToleratedFailurePercentage must be a number between 0 and 100 but got {v}"));
                        None
                    }
                },
                (None, Some(p)) => self
                    .path(p, &Self::loc(base, "ToleratedFailurePercentagePath"), true)
                    .map(PercentField::Path),
                (Some(_), Some(_)) => {
                    self.err(base, "These fields are mutually exclusive: [ToleratedFailurePercentage, ToleratedFailurePercentagePath]");
                    None
                }
                (None, None) => None,
            }
        } else {
            None
        };
        Some(MapSpec {
            items_path,
            items,
            item_selector,
            processor,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            distributed,
        })
    }
}

/// Largest Retry `IntervalSeconds` AWS accepts.
pub const MAX_INTERVAL_SECONDS: u64 = 99_999_999;
/// Largest Retry `MaxAttempts` AWS accepts.
pub const MAX_ATTEMPTS: u64 = 99_999_999;
/// Largest Retry `MaxDelaySeconds` AWS accepts (366 days and one second).
pub const MAX_DELAY_SECONDS: u64 = 31_622_401;
/// Largest Wait `Seconds` AWS accepts.
pub const MAX_WAIT_SECONDS: u64 = 99_999_999;

/// Parses an RFC 3339 timestamp the way the Wait state accepts it (a `T` separator and a zone are required).
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let bytes = s.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// True for a legal `Assign` variable name.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => chars.all(|c| c.is_alphanumeric() || c == '_'),
        _ => false,
    }
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn last_segment(loc: &str) -> &str {
    loc.rsplit('/').next().unwrap_or(loc)
}

/// Whether a Task `Resource` is an ARN the engine can accept: a Lambda function, an activity, or a
/// known optimized/SDK service integration (AWS rejects unknown `arn:aws:states:::` integrations).
fn resource_is_known(resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:") else {
        // Templated resources (`${...}`) are filled in later by the deployment.
        return resource.contains("${");
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() < 5 {
        return false;
    }
    if parts[1] != "states" || !parts[3].is_empty() {
        return true;
    }
    let api = parts[4];
    let api = api
        .strip_suffix(".waitForTaskToken")
        .or_else(|| api.strip_suffix(".sync:2"))
        .or_else(|| api.strip_suffix(".sync"))
        .unwrap_or(api);
    if api.starts_with("aws-sdk:") {
        return true;
    }
    const KNOWN: &[&str] = &[
        "lambda:invoke",
        "sns:publish",
        "sqs:sendMessage",
        "dynamodb:getItem",
        "dynamodb:putItem",
        "dynamodb:deleteItem",
        "dynamodb:updateItem",
        "batch:submitJob",
        "ecs:runTask",
        "glue:startJobRun",
        "states:startExecution",
        "events:putEvents",
        "apigateway:invoke",
        "athena:startQueryExecution",
        "athena:getQueryExecution",
        "athena:getQueryResults",
        "athena:stopQueryExecution",
        "athena:getQueryExecution",
        "codebuild:startBuild",
        "eks:runJob",
        "eks:call",
        "eks:createCluster",
        "eks:deleteCluster",
        "elasticmapreduce:createCluster",
        "elasticmapreduce:addStep",
        "sagemaker:createTrainingJob",
        "sagemaker:createTransformJob",
        "sagemaker:createEndpoint",
        "emr-serverless:startJobRun",
        "emr-containers:startJobRun",
        "http:invoke",
        "bedrock:invokeModel",
        "mediaconvert:createJob",
        "glue:startCrawler",
        "states:startExecution.sync",
    ];
    KNOWN.contains(&api)
}
