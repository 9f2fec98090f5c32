//! The validator: a definition's JSON checked field by field and built into the typed
//! [model](super), every problem recorded as a [`Diagnostic`] in the order AWS reports them.
//!
//! # Layout
//! - this file: the entry point [`parse_definition`] and the validator's state.
//! - `fields`: checks of single fields shared by every state type (strings, integers, paths,
//!   templates, `Assign`).
//! - `machine`: a machine, branch or item processor: `StartAt`, `States`, reachability.
//! - `state`: one state: its type and allowed fields, its transition, its input/output fields,
//!   its `Retry` and `Catch` lists, then its type's own fields from:
//! - `task`, `choice`, `wait`, `fail`, `parallel`, `map`: the fields of each state type.
//! - `distributed`: a Distributed Map's `ItemReader`, `ItemBatcher`, `ResultWriter`, `Label`.
//! - `retry_catch`: one `Retry` or `Catch` element.
//! - `query`: JSONata templates and the fields only one query language has.

mod choice;
mod distributed;
mod fail;
mod fields;
mod machine;
mod map;
mod parallel;
mod query;
mod retry_catch;
mod state;
mod task;
mod wait;

use serde_json::Value;

use super::{Diagnostic, MAX_DEFINITION_DEPTH, QueryLanguage, StateMachine, ValidationOptions};

pub use distributed::{MAX_BATCH_BYTES, MAX_ITEMS, MAX_LABEL_CHARS};
pub use fields::is_variable_name;
pub use retry_catch::{MAX_ATTEMPTS, MAX_DELAY_SECONDS, MAX_INTERVAL_SECONDS};
pub use wait::{MAX_WAIT_SECONDS, parse_timestamp};

/// Parses and validates a definition; on failure returns every diagnostic found.
pub fn parse_definition(
    definition: &Value,
    options: ValidationOptions,
) -> Result<StateMachine, Vec<Diagnostic>> {
    let mut v = Validator {
        diags: Vec::new(),
        options,
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
        Ok(m)
    } else {
        Err(v.diags)
    }
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
}

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
}
