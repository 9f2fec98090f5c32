//! The Fail state's own fields: `Error` and `Cause`, given literally or computed by a path or an
//! intrinsic function (`ErrorPath`, `CausePath`).

use serde_json::{Map, Value};

use super::Validator;
use super::fields::last_segment;
use crate::model::{DynamicString, FailSpec};

impl Validator {
    pub(super) fn fail(&mut self, obj: &Map<String, Value>, base: &str, jp: bool) -> FailSpec {
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
        if !jp {
            for (field, slot, query) in [
                ("Error", &mut f.error, &mut f.error_query),
                ("Cause", &mut f.cause, &mut f.cause_query),
            ] {
                if slot.as_deref().is_some_and(crate::query::is_expression) {
                    *slot = None;
                    *query = self.query_string(obj, base, field);
                }
            }
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
}
