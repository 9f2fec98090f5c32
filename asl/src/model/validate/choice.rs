//! The Choice state's own fields: the `Choices` rules with their targets and `Assign`, and the
//! `Default` target.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Validator;
use crate::choice;
use crate::model::{Diagnostic, StateKind};

impl Validator {
    pub(super) fn choice(
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
}
