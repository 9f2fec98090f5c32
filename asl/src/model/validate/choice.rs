//! The Choice state's own fields: the `Choices` rules (JSONPath comparisons, or JSONata
//! `Condition`s) with their targets, `Assign` and `Output`, and the `Default` target.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Validator;
use super::query::JSONATA_RULE_FIELDS;
use crate::choice;
use crate::model::{ChoiceBranch, ChoiceTest, Diagnostic, QueryFields, StateKind};

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
            let branch = if jp {
                self.jsonpath_rule(c, &cloc, index)
            } else {
                self.condition_rule(c, &cloc, index)
            };
            choices.extend(branch);
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

    /// A JSONPath rule: a comparison or boolean combination, its target and `Assign`.
    fn jsonpath_rule(
        &mut self,
        c: &Value,
        cloc: &str,
        index: &HashMap<String, usize>,
    ) -> Option<ChoiceBranch> {
        let rule = match choice::parse_rule(c) {
            Ok(rule) => rule,
            Err(e) => {
                self.err(format!("{cloc}{}", e.pointer), e.message);
                return None;
            }
        };
        let Some(n) = rule.next() else {
            self.err(cloc, "These fields are required: [Next]");
            return None;
        };
        let Some(next) = index.get(n).copied() else {
            self.diags.push(Diagnostic::error(
                "MISSING_TRANSITION_TARGET",
                format!("{cloc}/Next"),
                format!("Missing 'Next' target: {n}"),
            ));
            return None;
        };
        let assign = rule
            .assign()
            .cloned()
            .and_then(|a| self.assign(&a, &format!("{cloc}/Assign")));
        Some(ChoiceBranch {
            test: ChoiceTest::Rule(rule),
            next,
            assign,
            query: None,
        })
    }

    /// A JSONata rule: a `Condition` template, its target, `Assign` and `Output`.
    fn condition_rule(
        &mut self,
        c: &Value,
        cloc: &str,
        index: &HashMap<String, usize>,
    ) -> Option<ChoiceBranch> {
        let Some(o) = c.as_object() else {
            self.err(cloc, format!("Expected value of type: Object but got {c}"));
            return None;
        };
        self.check_fields(o, cloc, JSONATA_RULE_FIELDS, &[]);
        let mut missing = Vec::new();
        for k in ["Condition", "Next"] {
            if !o.contains_key(k) {
                missing.push(k);
            }
        }
        if !missing.is_empty() {
            self.err(
                cloc,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
            return None;
        }
        let condition = match &o["Condition"] {
            v @ Value::String(s) if crate::query::is_expression(s) => {
                self.query_template(v, &format!("{cloc}/Condition"), "Condition")?
            }
            v @ Value::Bool(_) => crate::query::QueryTemplate::Literal(v.clone()),
            v => {
                self.err(
                    format!("{cloc}/Condition"),
                    format!("The value for the field 'Condition' must be a JSONata expression '{{% ... %}}' or a boolean but was {v}"),
                );
                return None;
            }
        };
        let n = self.string(&o["Next"], &format!("{cloc}/Next"))?;
        let Some(next) = index.get(n).copied() else {
            self.diags.push(Diagnostic::error(
                "MISSING_TRANSITION_TARGET",
                format!("{cloc}/Next"),
                format!("Missing 'Next' target: {n}"),
            ));
            return None;
        };
        let output = self.query_field(o, cloc, "Output");
        let assign = o
            .get("Assign")
            .and_then(|a| self.query_assign(a, &format!("{cloc}/Assign")));
        let query = (output.is_some() || assign.is_some()).then(|| {
            Box::new(QueryFields {
                arguments: None,
                output,
                assign,
            })
        });
        Some(ChoiceBranch {
            test: ChoiceTest::Condition(condition),
            next,
            assign: None,
            query,
        })
    }
}
