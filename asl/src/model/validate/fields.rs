//! Checks of single fields, shared by every state type: the query language, unknown fields,
//! integers in range, strings, JSONPaths, payload templates, seconds given literally or by path,
//! and `Assign`.

use serde_json::{Map, Value};

use super::Validator;
use crate::jsonpath::JsonPath;
use crate::model::{PathField, QueryLanguage, SecondsField};
use crate::template::Template;

impl Validator {
    /// What the string `v` names among `choices`; anything else is refused at `loc` listing
    /// them in their order, as AWS words it ("Value \"X\" is not one of [A, B]").
    pub(super) fn one_of<T: Copy>(
        &mut self,
        v: &Value,
        loc: impl Into<String>,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let chosen = v
            .as_str()
            .and_then(|s| choices.iter().find(|(name, _)| *name == s));
        if chosen.is_none() {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            self.err(
                loc,
                format!("Value {v} is not one of [{}]", names.join(", ")),
            );
        }
        chosen.map(|(_, t)| *t)
    }

    pub(super) fn query_language(&mut self, v: &Value, loc: &str) -> Option<QueryLanguage> {
        self.one_of(
            v,
            loc,
            &[
                ("JSONPath", QueryLanguage::JsonPath),
                ("JSONata", QueryLanguage::Jsonata),
            ],
        )
    }

    pub(super) fn check_fields(
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

    pub(super) fn positive_int(&mut self, v: &Value, loc: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.err(loc, format!("Expected a positive integer but got {v}"));
                None
            }
        }
    }

    /// An integer from `min` to `max`, AWS's range for the field at `loc`.
    pub(super) fn int_in_range(&mut self, v: &Value, loc: &str, min: u64, max: u64) -> Option<u64> {
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

    pub(super) fn non_negative_int(&mut self, v: &Value, loc: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                self.err(loc, format!("Expected a non-negative integer but got {v}"));
                None
            }
        }
    }

    pub(super) fn string<'v>(&mut self, v: &'v Value, loc: &str) -> Option<&'v str> {
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.err(loc, format!("Expected value of type: String but got {v}"));
                None
            }
        }
    }

    pub(super) fn path(&mut self, v: &Value, loc: &str, reference_only: bool) -> Option<JsonPath> {
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

    pub(super) fn path_field(
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

    pub(super) fn template(&mut self, v: &Value, loc: &str) -> Option<Template> {
        match Template::compile(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(format!("{loc}{}", e.pointer), e.message);
                None
            }
        }
    }

    pub(super) fn seconds_field(
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

    pub(super) fn assign(&mut self, v: &Value, loc: &str) -> Option<Template> {
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
}

/// True for a legal `Assign` variable name.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => chars.all(|c| c.is_alphanumeric() || c == '_'),
        _ => false,
    }
}

pub(super) fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

pub(super) fn last_segment(loc: &str) -> &str {
    loc.rsplit('/').next().unwrap_or(loc)
}
