//! The Wait state's own fields: exactly one of `Seconds`, `SecondsPath`, `Timestamp` and
//! `TimestampPath`.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::WaitSpec;
use crate::query;

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

impl Validator {
    pub(super) fn wait(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        jp: bool,
    ) -> Option<WaitSpec> {
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
        if !jp && v.as_str().is_some_and(query::is_expression) {
            let t = self.query_template(v, &loc, field)?;
            return match field {
                "Seconds" => Some(WaitSpec::SecondsQuery(t)),
                "Timestamp" => Some(WaitSpec::TimestampQuery(t)),
                // SecondsPath and TimestampPath are JSONPath fields, refused already.
                _ => None,
            };
        }
        match field {
            "Seconds" => self
                .int_in_range(v, &loc, 0, MAX_WAIT_SECONDS)
                .map(WaitSpec::Seconds),
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
}
