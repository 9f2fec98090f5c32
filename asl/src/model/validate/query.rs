//! JSONata states: `{% … %}` templates compiled where the definition is loaded, the fields that
//! only one query language has (refused in a state of the other), and the values JSONata
//! fields may take literally.

use serde_json::{Map, Value};

use super::Validator;
use super::fields::{escape_pointer, is_variable_name};
use crate::model::{QueryLanguage, SecondsField};
use crate::query::{self, QueryTemplate};

/// Fields of JSONPath states that JSONata states do not have, in any state type.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ItemsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
];

/// Fields of JSONata states that JSONPath states do not have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

/// The fields of a Choice rule in a JSONata state.
pub(super) const JSONATA_RULE_FIELDS: &[&str] =
    &["Condition", "Next", "Assign", "Output", "Comment"];

impl Validator {
    /// Refuses the fields of the other query language (AWS's schema message for a field a state
    /// does not have, at the field).
    pub(super) fn language_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ql: QueryLanguage,
    ) {
        let refused = match ql {
            QueryLanguage::JsonPath => JSONATA_ONLY,
            QueryLanguage::Jsonata => JSONPATH_ONLY,
        };
        for k in obj.keys().filter(|k| refused.contains(&k.as_str())) {
            self.err(Self::loc(base, k), format!("Field '{k}' is not supported"));
        }
    }

    /// A JSONata template in field `field` (its name as errors show it) at `loc`.
    pub(super) fn query_template(
        &mut self,
        v: &Value,
        loc: &str,
        field: &str,
    ) -> Option<QueryTemplate> {
        match QueryTemplate::compile(v, field) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(format!("{loc}{}", e.pointer), e.message);
                None
            }
        }
    }

    /// A JSONata field `field` of `obj`, if present.
    pub(super) fn query_field(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        field: &str,
    ) -> Option<QueryTemplate> {
        let v = obj.get(field)?;
        self.query_template(v, &Self::loc(base, field), field)
    }

    /// A JSONata `Assign`: an object of variable names, each value a template.
    pub(super) fn query_assign(&mut self, v: &Value, loc: &str) -> Option<QueryTemplate> {
        let Some(obj) = v.as_object() else {
            self.err(loc, format!("Expected value of type: Object but got {v}"));
            return None;
        };
        let mut ok = true;
        for k in obj.keys() {
            if !is_variable_name(k) {
                ok = false;
                self.err(
                    format!("{loc}/{}", escape_pointer(k)),
                    format!("The variable name '{k}' is not valid; use letters, digits and underscores, not starting with a digit"),
                );
            }
        }
        let t = self.query_template(v, loc, "Assign")?;
        ok.then_some(t)
    }

    /// A JSONata field that is a non-negative integer (at most `max`) or a template (`Seconds`,
    /// `MaxConcurrency`, `TimeoutSeconds`…).
    pub(super) fn query_count(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        field: &str,
        max: Option<u64>,
    ) -> Option<SecondsField> {
        let v = obj.get(field)?;
        let loc = Self::loc(base, field);
        match v {
            Value::String(s) if query::is_expression(s) => {
                self.query_template(v, &loc, field).map(SecondsField::Query)
            }
            _ => match max {
                Some(max) => self.int_in_range(v, &loc, 0, max),
                None => self.non_negative_int(v, &loc),
            }
            .map(SecondsField::Literal),
        }
    }

    /// A JSONata field that is a string: literal, or a template.
    pub(super) fn query_string(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        field: &str,
    ) -> Option<QueryTemplate> {
        let v = obj.get(field)?;
        let loc = Self::loc(base, field);
        self.string(v, &loc)?;
        self.query_template(v, &loc, field)
    }
}
