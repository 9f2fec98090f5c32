//! One `Retry` element (which errors, how often, how long between attempts) and one `Catch`
//! element (which errors, where to, what to keep of the error).

use std::collections::HashMap;

use serde_json::Value;

use super::Validator;
use crate::model::{Catcher, Diagnostic, PathField, QueryFields, Retrier};

/// Largest Retry `IntervalSeconds` AWS accepts.
pub const MAX_INTERVAL_SECONDS: u64 = 99_999_999;
/// Largest Retry `MaxAttempts` AWS accepts.
pub const MAX_ATTEMPTS: u64 = 99_999_999;
/// Largest Retry `MaxDelaySeconds` AWS accepts (366 days and one second).
pub const MAX_DELAY_SECONDS: u64 = 31_622_401;
impl Validator {
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

    pub(super) fn retrier(&mut self, v: &Value, loc: &str) -> Option<Retrier> {
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
            Some(v) => self.backoff_rate(v, loc)?,
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
            Some(v) => self.jitter_full(v, loc)?,
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

    /// `BackoffRate`: a number of at least 1.0.
    fn backoff_rate(&mut self, v: &Value, loc: &str) -> Option<f64> {
        match v.as_f64() {
            Some(b) if b >= 1.0 => Some(b),
            _ => {
                self.err(
                    format!("{loc}/BackoffRate"),
                    format!(
                        "BackoffRate must be a number greater than or equal to 1.0 but got {v}"
                    ),
                );
                None
            }
        }
    }

    /// Whether `JitterStrategy` is `FULL` (else `NONE`).
    fn jitter_full(&mut self, v: &Value, loc: &str) -> Option<bool> {
        self.one_of(
            v,
            format!("{loc}/JitterStrategy"),
            &[("FULL", true), ("NONE", false)],
        )
    }

    pub(super) fn catcher(
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
        let refused = if jp { "Output" } else { "ResultPath" };
        if o.contains_key(refused) {
            self.err(
                format!("{loc}/{refused}"),
                format!("Field '{refused}' is not supported"),
            );
        }
        if !jp {
            let output = self.query_field(o, loc, "Output");
            let assign = o
                .get("Assign")
                .and_then(|a| self.query_assign(a, &format!("{loc}/Assign")));
            return Some(Catcher {
                error_equals,
                next,
                result_path: PathField::Default,
                assign: None,
                query: Some(Box::new(QueryFields {
                    arguments: None,
                    output,
                    assign,
                })),
            });
        }
        let result_path = self.path_field(o, "ResultPath", loc, true);
        let assign = o
            .get("Assign")
            .and_then(|a| self.assign(a, &format!("{loc}/Assign")));
        Some(Catcher {
            error_equals,
            next,
            result_path,
            assign,
            query: None,
        })
    }
}
