//! Runner for the conformance corpus recorded against real AWS Step Functions
//! (`testdata/conformance/*.jsonl`, one case per line).
//!
//! Each line is detected by its `api` field: executions (no `api`, `StartExecution`,
//! `StartSyncExecution`), validation (`CreateStateMachine`, `ValidateStateMachineDefinition`)
//! and `TestState`. Expected values may contain snapshot placeholders (`<uuid:1>`, `date`, ...)
//! that match any text.

use std::fmt::Write as _;
use std::path::Path;

use regex::Regex;
use serde_json::{Value, json};

use crate::engine::{Execution, ExecutionConfig, ExecutionStatus};
use crate::env::{NoTasks, VirtualClock};
use crate::model::{self, MachineType, ValidationOptions};
use crate::test_state::{InspectionLevel, Mock, StateConfiguration, TestStateRequest, test_state};

/// Result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Matched AWS's recorded result.
    Pass,
    /// Did not match; the text explains where.
    Fail(String),
    /// Not run (an API the runner does not know).
    Skip(String),
}

/// One case's name and verdict.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's `name`.
    pub name: String,
    /// What happened.
    pub verdict: Verdict,
}

/// Results of a whole file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per-case results in file order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Number of passing cases.
    pub fn passed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.verdict == Verdict::Pass)
            .count()
    }

    /// Number of failing cases.
    pub fn failed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Fail(_)))
            .count()
    }

    /// Number of skipped cases.
    pub fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Skip(_)))
            .count()
    }

    /// The final line: `N passed, N failed` (`, N skipped` when any were skipped).
    pub fn summary(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            let _ = write!(s, ", {} skipped", self.skipped());
        }
        s
    }

    /// Per-case lines (`ok`, `FAIL` with an indented diff, `skip`) followed by the summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            match &c.verdict {
                Verdict::Pass => {
                    let _ = writeln!(out, "ok   {}", c.name);
                }
                Verdict::Fail(diff) => {
                    let _ = writeln!(out, "FAIL {}", c.name);
                    for line in diff.lines() {
                        let _ = writeln!(out, "     {line}");
                    }
                }
                Verdict::Skip(why) => {
                    let _ = writeln!(out, "skip {} ({why})", c.name);
                }
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// Why a corpus file could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The file could not be read.
    #[error("cannot read conformance file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A line is not a JSON object.
    #[error("line {line} of {path} is not a JSON case object: {message}")]
    BadLine {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Parser message.
        message: String,
    },
}

/// Runs every case of a corpus file.
pub fn run_file(path: &Path) -> Result<Report, ConformanceError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConformanceError::Read {
        path: path.display().to_string(),
        source,
    })?;
    run_text(&text, &path.display().to_string())
}

/// Runs every case in JSON Lines text; `origin` names the source in errors.
pub fn run_text(text: &str, origin: &str) -> Result<Report, ConformanceError> {
    let mut report = Report::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = serde_json::from_str(line).map_err(|e| ConformanceError::BadLine {
            path: origin.to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if !case.is_object() {
            return Err(ConformanceError::BadLine {
                path: origin.to_string(),
                line: i + 1,
                message: "expected an object".into(),
            });
        }
        report.cases.push(run_case(&case));
    }
    Ok(report)
}

/// Runs one case object.
pub fn run_case(case: &Value) -> CaseResult {
    let name = case
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let verdict = match case.get("api").and_then(Value::as_str) {
        None | Some("StartExecution") | Some("StartSyncExecution") => execution_case(case),
        Some("CreateStateMachine") => create_case(case),
        Some("ValidateStateMachineDefinition") => validate_case(case),
        Some("TestState") => test_state_case(case),
        Some(other) => Verdict::Skip(format!("unknown api {other}")),
    };
    CaseResult { name, verdict }
}

fn options_for(case: &Value) -> ValidationOptions {
    let machine_type = match case.get("state_machine_type").and_then(Value::as_str) {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    ValidationOptions {
        machine_type,
        ..ValidationOptions::default()
    }
}

fn execution_case(case: &Value) -> Verdict {
    let definition = &case["definition"];
    let expected = &case["expected"];
    let machine = match model::parse_definition(definition, options_for(case)) {
        Ok(m) => m,
        Err(d) => {
            return Verdict::Fail(format!(
                "definition rejected: {}",
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    };
    let clock = VirtualClock::default();
    let config = ExecutionConfig {
        state_machine_name: "ConformanceMachine".into(),
        execution_name: "conformance-execution".into(),
        machine_type: options_for(case).machine_type,
        ..ExecutionConfig::default()
    };
    let input = case.get("input").cloned().unwrap_or(json!({}));
    let mut exec = match Execution::start(&machine, input, config, &clock) {
        Ok(e) => e,
        Err(e) => return Verdict::Fail(format!("execution did not start: {e}")),
    };
    let outcome = exec.run(&clock, &NoTasks);
    let status = match outcome.status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
        ExecutionStatus::Running => "RUNNING",
    };
    let mut actual = serde_json::Map::new();
    actual.insert("status".into(), json!(status));
    if let Some(o) = outcome.output {
        actual.insert("output".into(), o);
    }
    if let Some(e) = outcome.error {
        actual.insert("error".into(), json!(e));
    }
    if let Some(c) = outcome.cause {
        actual.insert("cause".into(), json!(c));
    }
    compare_result(case, expected, &Value::Object(actual))
}

/// Compares an actual result object against the expected one (status, output, error, cause, ...).
pub(crate) fn compare_result(case: &Value, expected: &Value, actual: &Value) -> Verdict {
    let matcher = Matcher::new(case);
    let mut actual = actual.clone();
    if expected.get("cause_is_json") == Some(&Value::Bool(true))
        && let Some(Value::String(c)) = actual.get("cause")
        && let Ok(parsed) = serde_json::from_str::<Value>(c)
    {
        actual["cause"] = parsed;
    }
    let mut expected = expected.clone();
    if let Value::Object(m) = &mut expected {
        m.remove("cause_is_json");
    }
    let mut diffs = Vec::new();
    matcher.compare(&expected, &actual, "", &mut diffs);
    if diffs.is_empty() {
        return Verdict::Pass;
    }
    if matcher.nondeterministic_values {
        // Values come from UUIDs/random numbers/real times: require the same shape instead.
        let mut shape_diffs = Vec::new();
        shape(&expected, &actual, "", &mut shape_diffs);
        if shape_diffs.is_empty() {
            return Verdict::Pass;
        }
    }
    let mut text = diffs.join("\n");
    let _ = write!(text, "\nexpected: {expected}\nactual:   {actual}");
    Verdict::Fail(text)
}

fn create_case(case: &Value) -> Verdict {
    let expected = &case["expected"];
    let definition = case.get("definition").cloned().unwrap_or(Value::Null);
    let diags = crate::validate(&definition, options_for(case));
    let actual = if diags.is_empty() {
        json!({"status": "CREATED"})
    } else {
        let joined = diags
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        json!({"status": "INVALID_DEFINITION", "error": "InvalidDefinition", "message": format!("Invalid State Machine Definition: '{joined}'")})
    };
    compare_result(case, expected, &actual)
}

fn validate_case(case: &Value) -> Verdict {
    let expected = &case["expected"];
    let diags = match case.get("definition_text").and_then(Value::as_str) {
        Some(text) => crate::validate_text(text, options_for(case)),
        None => crate::validate(
            &case.get("definition").cloned().unwrap_or(Value::Null),
            options_for(case),
        ),
    };
    let ok = diags.is_empty();
    let actual = json!({
        "status": if ok { "VALID" } else { "INVALID" },
        "result": if ok { "OK" } else { "FAIL" },
        "diagnostics": diags,
    });
    compare_result(case, expected, &actual)
}

struct Matcher {
    placeholder: Option<Regex>,
    date: Regex,
    nondeterministic_values: bool,
}

impl Matcher {
    fn new(case: &Value) -> Self {
        let mut words: Vec<String> = case
            .get("placeholders")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let mut alts: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
        // `<name:N>` / `<name_Nidx>` tokens are placeholders even when not listed.
        alts.push(r"<[A-Za-z0-9_\-]+(?::[0-9]+|_[0-9]+idx)>".to_string());
        let placeholder = Regex::new(&format!("(?:{})", alts.join("|"))).ok();
        let reasons: Vec<&str> = case
            .get("nondeterministic_reasons")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let nondeterministic_values = case.get("nondeterministic") == Some(&Value::Bool(true))
            && reasons
                .iter()
                .any(|r| *r != "expected value contains snapshot placeholders");
        Matcher {
            placeholder,
            date: Regex::new(
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})",
            )
            .expect("static regex"),
            nondeterministic_values,
        }
    }

    fn string_matches(&self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        let actual = self.date.replace_all(actual, "date");
        if expected == actual {
            return true;
        }
        let Some(ph) = &self.placeholder else {
            return false;
        };
        if !ph.is_match(expected) {
            return false;
        }
        let mut pattern = String::from("^");
        let mut last = 0;
        for m in ph.find_iter(expected) {
            pattern.push_str(&regex::escape(&expected[last..m.start()]));
            pattern.push_str("(?s:.*)");
            last = m.end();
        }
        pattern.push_str(&regex::escape(&expected[last..]));
        pattern.push('$');
        Regex::new(&pattern).is_ok_and(|r| r.is_match(&actual))
    }

    fn compare(&self, expected: &Value, actual: &Value, at: &str, diffs: &mut Vec<String>) {
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    let p = format!("{at}/{k}");
                    match a.get(k) {
                        Some(av) => self.compare(ev, av, &p, diffs),
                        None => {
                            diffs.push(format!("at {p}: expected {ev}, but the key is missing"))
                        }
                    }
                }
                for k in a.keys() {
                    if !e.contains_key(k) {
                        diffs.push(format!("at {at}/{k}: unexpected key with value {}", a[k]));
                    }
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                if e.len() != a.len() {
                    diffs.push(format!(
                        "at {at}: expected {} elements, got {}",
                        e.len(),
                        a.len()
                    ));
                    return;
                }
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    self.compare(ev, av, &format!("{at}/{i}"), diffs);
                }
            }
            (Value::String(e), Value::String(a)) => {
                if !self.string_matches(e, a) {
                    diffs.push(format!("at {at}: expected {expected}, got {actual}"));
                }
            }
            (Value::String(e), other)
                if self.placeholder.as_ref().is_some_and(|p| {
                    p.find(e)
                        .is_some_and(|m| m.start() == 0 && m.end() == e.len())
                }) =>
            {
                // A whole-value placeholder may stand for a non-string (e.g. a number).
                let _ = other;
            }
            (Value::Number(e), Value::Number(a)) => {
                if e != a && e.as_f64() != a.as_f64() {
                    diffs.push(format!("at {at}: expected {expected}, got {actual}"));
                }
            }
            (e, a) => {
                if e != a {
                    diffs.push(format!("at {at}: expected {e}, got {a}"));
                }
            }
        }
    }
}

fn shape(expected: &Value, actual: &Value, at: &str, diffs: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            if e.len() != a.len() {
                diffs.push(format!("at {at}: different keys"));
            }
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => shape(ev, av, &format!("{at}/{k}"), diffs),
                    None => diffs.push(format!("at {at}/{k}: missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                diffs.push(format!("at {at}: different lengths"));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                shape(ev, av, &format!("{at}/{i}"), diffs);
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        (e, a) => diffs.push(format!("at {at}: expected {e}, got {a}")),
    }
}

/// TestState's `stateConfiguration` from a case's arguments (`mapItemReaderData` is JSON text).
fn state_configuration(v: Option<&Value>) -> StateConfiguration {
    let Some(v) = v else {
        return StateConfiguration::default();
    };
    let count = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    StateConfiguration {
        retrier_retry_count: u32::try_from(count("retrierRetryCount")).unwrap_or(u32::MAX),
        map_iteration_failure_count: count("mapIterationFailureCount"),
        map_item_reader_data: v
            .get("mapItemReaderData")
            .and_then(Value::as_str)
            .and_then(|t| serde_json::from_str::<Vec<Value>>(t).ok()),
    }
}

/// Runs a `TestState` conformance case.
fn test_state_case(case: &Value) -> Verdict {
    let args = case.get("test_state_args").cloned().unwrap_or(json!({}));
    let parse_text = |v: Option<&Value>| -> Option<Value> {
        match v? {
            Value::String(s) => serde_json::from_str(s)
                .ok()
                .or(Some(Value::String(s.clone()))),
            other => Some(other.clone()),
        }
    };
    let mock = args.get("mock").and_then(|m| {
        if let Some(r) = parse_text(m.get("result")) {
            Some(Mock::Result(r))
        } else {
            m.get("errorOutput").map(|e| Mock::Error {
                error: e
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                cause: e.get("cause").and_then(Value::as_str).map(str::to_string),
            })
        }
    });
    let req = TestStateRequest {
        definition: case.get("definition").cloned().unwrap_or(Value::Null),
        state_name: args
            .get("stateName")
            .and_then(Value::as_str)
            .map(str::to_string),
        input: case.get("input").cloned().unwrap_or(json!({})),
        inspection_level: match args.get("inspectionLevel").and_then(Value::as_str) {
            Some("DEBUG") => InspectionLevel::Debug,
            Some("TRACE") => InspectionLevel::Trace,
            _ => InspectionLevel::Info,
        },
        variables: parse_text(args.get("variables"))
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
        mock,
        context: parse_text(args.get("context")),
        configuration: state_configuration(args.get("stateConfiguration")),
    };
    let result = match test_state(&req) {
        Ok(r) => r,
        Err(e) => return Verdict::Fail(format!("TestState did not run: {e}")),
    };
    let mut actual = serde_json::Map::new();
    actual.insert("status".into(), json!(result.status.as_str()));
    if let Some(o) = result.output {
        actual.insert("output".into(), o);
    }
    if let Some(e) = result.error {
        actual.insert("error".into(), json!(e));
    }
    if let Some(c) = result.cause {
        actual.insert("cause".into(), json!(c));
    }
    if let Some(n) = result.next_state {
        actual.insert("nextState".into(), json!(n));
    }
    if let Some(i) = result.inspection_data {
        actual.insert("inspectionData".into(), i);
    }
    compare_result(case, &case["expected"], &Value::Object(actual))
}
