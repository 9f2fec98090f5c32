//! Data processing of a state: InputPath, Parameters, ResultPath, OutputPath, Assign, Fail
//! error and cause, Wait targets, and the runtime errors AWS words for them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::*;
use crate::jsonpath::{self, JsonPath, JsonPathError, Scope};
use crate::model::{
    DynamicString, FailSpec, PathField, PercentField, SecondsField, State, WaitSpec,
};
use crate::query::Expected;
use crate::template::{Template, TemplateError};

impl Runner<'_> {
    pub(super) fn fail(
        &mut self,
        st: &State,
        entered: u64,
        f: &FailSpec,
        input: &Value,
        vars: &Vars,
    ) -> Result<StateError, Fault> {
        let mut out = StateError {
            error: f.error.clone(),
            cause: f.cause.clone(),
        };
        let scope = Scope {
            input,
            context: self.ctx,
            variables: vars,
        };
        for (field, dynamic, slot) in [
            ("ErrorPath", &f.error_path, &mut out.error),
            ("CausePath", &f.cause_path, &mut out.cause),
        ] {
            let Some(d) = dynamic else { continue };
            let v = match d {
                DynamicString::Path(p) => match p.resolve(&scope) {
                    Ok(v) => v,
                    Err(e) if crate::template::is_not_found(&e) => {
                        return Err(self
                            .runtime(st, entered, format!("The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'", p.as_str(), input))
                            .into());
                    }
                    Err(e) => return Err(self.runtime(st, entered, e).into()),
                },
                DynamicString::Intrinsic(call) => call
                    .evaluate(&scope)
                    .map_err(|e| Fault::Error(StateError::new(e.error_name(), e.to_string())))?,
            };
            match v {
                Value::String(s) => *slot = Some(s),
                other => {
                    return Err(self.runtime(st, entered, format!("The {field} field must resolve to a string, but '{}' resolved to {other}", d_text(d))).into());
                }
            }
        }
        Ok(out)
    }

    pub(super) fn wait_until(
        &self,
        st: &State,
        entered: u64,
        w: &WaitSpec,
        eff: &Value,
        vars: &Vars,
    ) -> Result<DateTime<Utc>, Fault> {
        let now = self.now();
        let scope = Scope {
            input: eff,
            context: self.ctx,
            variables: vars,
        };
        let too_long = || -> Fault {
            self.runtime(st, entered, "Wait state delay is too long.")
                .into()
        };
        // AWS keeps wait delays in 32-bit seconds.
        let max = i64::from(i32::MAX);
        match self.wait_target(st, entered, w, &scope, vars)? {
            WaitFor::Seconds(s) if s > max as u64 => Err(too_long()),
            WaitFor::Seconds(s) => add_seconds(now, s).ok_or_else(too_long),
            WaitFor::Until(t) if (t - now).num_seconds() > max => Err(too_long()),
            WaitFor::Until(t) => Ok(t),
        }
    }

    pub(super) fn wait_target(
        &self,
        st: &State,
        entered: u64,
        w: &WaitSpec,
        scope: &Scope,
        vars: &Vars,
    ) -> Result<WaitFor, Fault> {
        let data = StatesData::input(scope.input);
        Ok(match w {
            WaitSpec::Seconds(s) => WaitFor::Seconds(*s),
            WaitSpec::SecondsQuery(t) => {
                let v = self.query(st, entered, t, data, vars, Some(Expected::Integer))?;
                WaitFor::Seconds(integer(&v))
            }
            WaitSpec::TimestampQuery(t) => {
                let v = self.query(st, entered, t, data, vars, Some(Expected::String))?;
                let s = v.as_str().unwrap_or_default();
                match crate::model::parse_timestamp(s) {
                    Some(t) => WaitFor::Until(t),
                    None => {
                        return Err(self
                            .state_error(QUERY_EVALUATION_ERROR, st, entered, format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {s}"))
                            .into());
                    }
                }
            }
            WaitSpec::Timestamp(t) => WaitFor::Until(*t),
            WaitSpec::SecondsPath(p) => {
                let v = p
                    .resolve(scope)
                    .map_err(|e| self.runtime(st, entered, path_error_text(p, &e)))?;
                match &v {
                    Value::Number(n) if n.is_u64() => WaitFor::Seconds(n.as_u64().unwrap_or(u64::MAX)),
                    Value::Number(n) if n.is_i64() => {
                        return Err(self
                            .runtime(
                                st,
                                entered,
                                format!(
                                    "The SecondsPath parameter references a negative value: {} == {}",
                                    p.as_str(),
                                    n
                                ),
                            )
                            .into());
                    }
                    _ => return Err(self.runtime(st, entered, format!("The SecondsPath parameter cannot be parsed as a long value: {} == {}", p.as_str(), value_text(&v))).into()),
                }
            }
            WaitSpec::TimestampPath(p) => {
                let v = p
                    .resolve(scope)
                    .map_err(|e| self.runtime(st, entered, path_error_text(p, &e)))?;
                match v.as_str().and_then(crate::model::parse_timestamp) {
                    Some(t) => WaitFor::Until(t),
                    None => {
                        return Err(self
                            .runtime(st, entered, format!("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}", p.as_str(), value_text(&v)))
                            .into());
                    }
                }
            }
        })
    }

    pub(crate) fn input_path(
        &self,
        st: &State,
        entered: u64,
        input: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        self.select_path(st, entered, &st.common.input_path, input, vars)
    }

    pub(crate) fn output_path(
        &self,
        st: &State,
        entered: u64,
        doc: Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        self.select_path(st, entered, &st.common.output_path, &doc, vars)
    }

    pub(super) fn select_path(
        &self,
        st: &State,
        entered: u64,
        field: &PathField,
        doc: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        match field {
            PathField::Default => Ok(doc.clone()),
            PathField::Null => Ok(Arc::new(Value::Object(Map::new()))),
            PathField::Path(p) => {
                if p.as_str() == "$" {
                    return Ok(doc.clone());
                }
                let scope = Scope {
                    input: doc,
                    context: self.ctx,
                    variables: vars,
                };
                match p.resolve(&scope) {
                    Ok(v) => Ok(Arc::new(v)),
                    Err(e) => Err(self.runtime(st, entered, path_error_text(p, &e)).into()),
                }
            }
        }
    }

    pub(crate) fn parameters(
        &self,
        st: &State,
        entered: u64,
        eff: Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        match &st.common.parameters {
            None => Ok(eff),
            Some(t) => {
                let scope = Scope {
                    input: &eff,
                    context: self.ctx,
                    variables: vars,
                };
                t.evaluate(&scope)
                    .map(Arc::new)
                    .map_err(|e| self.template_error(st, entered, e, &eff))
            }
        }
    }

    pub(super) fn template_error(
        &self,
        st: &State,
        entered: u64,
        e: TemplateError,
        input: &Value,
    ) -> Fault {
        match e {
            TemplateError::PathNotFound { path, field, .. } => {
                self.runtime(st, entered, format!("The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'")).into()
            }
            TemplateError::Intrinsic(ie) => StateError::new(ie.error_name(), ie.to_string()).into(),
            TemplateError::Path(pe) => self.runtime(st, entered, pe).into(),
        }
    }

    pub(crate) fn result_path(
        &self,
        st: &State,
        entered: u64,
        field: &PathField,
        input: &Arc<Value>,
        result: Arc<Value>,
    ) -> Result<Arc<Value>, Fault> {
        match field {
            PathField::Default => Ok(result),
            PathField::Null => Ok(input.clone()),
            PathField::Path(p) => {
                if p.as_str() == "$" {
                    return Ok(result);
                }
                let mut doc = (**input).clone();
                jsonpath::write_at(p, &mut doc, Arc::unwrap_or_clone(result))
                    .map_err(|e| self.runtime(st, entered, e))?;
                Ok(Arc::new(doc))
            }
        }
    }

    pub(crate) fn assign(
        &self,
        st: &State,
        entered: u64,
        t: &Template,
        doc: &Value,
        vars: &mut Vars,
    ) -> Result<(), Fault> {
        let scope = Scope {
            input: doc,
            context: self.ctx,
            variables: &*vars,
        };
        let v = t.evaluate(&scope).map_err(|e| match e {
            TemplateError::PathNotFound { path, field, .. } => {
                self.runtime(st, entered, format!("The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{doc}'")).into()
            }
            other => self.template_error(st, entered, other, doc),
        })?;
        if let Value::Object(m) = v {
            for (k, v) in m {
                vars.local.insert(k, v);
            }
        }
        Ok(())
    }

    /// A Map's `ToleratedFailurePercentage` (literal, JSONata, or `…Path`): a number from 0 to
    /// 100, else the error AWS gives for each form.
    pub(super) fn resolve_percentage(
        &self,
        st: &State,
        entered: u64,
        f: &Option<PercentField>,
        eff: &Value,
        vars: &Vars,
    ) -> Result<Option<f64>, BodyError> {
        let fatal = |e: StateError| BodyError::Fatal(Fault::Error(e));
        match f {
            None => Ok(None),
            Some(PercentField::Literal(p)) => Ok(Some(*p)),
            Some(PercentField::Query(t)) => {
                let v = self
                    .query(
                        st,
                        entered,
                        t,
                        StatesData::input(eff),
                        vars,
                        Some(Expected::Number),
                    )
                    .map_err(BodyError::Catchable)?;
                match v.as_f64().filter(|p| (0.0..=100.0).contains(p)) {
                    Some(p) => Ok(Some(p)),
                    None => Err(BodyError::Catchable(self.state_error(
                        QUERY_EVALUATION_ERROR,
                        st,
                        entered,
                        format!("The ToleratedFailurePercentage field must be a number from 0 to 100 but the JSONata expression returned {v}"),
                    ))),
                }
            }
            Some(PercentField::Path(p)) => {
                let scope = Scope {
                    input: eff,
                    context: self.ctx,
                    variables: vars,
                };
                let v = p
                    .resolve(&scope)
                    .map_err(|e| fatal(self.runtime(st, entered, e)))?;
                match v.as_f64().filter(|f| (0.0..=100.0).contains(f)) {
                    Some(f) => Ok(Some(f)),
                    None => Err(fatal(self.runtime(st, entered, format!("The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid percentage: {}", value_text(&v), p.as_str())))),
                }
            }
        }
    }

    pub(super) fn resolve_count(
        &self,
        st: &State,
        entered: u64,
        field: &str,
        f: &Option<SecondsField>,
        eff: &Value,
        vars: &Vars,
    ) -> Result<Option<u64>, BodyError> {
        match f {
            None => Ok(None),
            Some(SecondsField::Literal(n)) => Ok(Some(*n)),
            Some(SecondsField::Query(t)) => {
                let v = self
                    .query(
                        st,
                        entered,
                        t,
                        StatesData::input(eff),
                        vars,
                        Some(Expected::Integer),
                    )
                    .map_err(BodyError::Catchable)?;
                Ok(Some(integer(&v)))
            }
            Some(SecondsField::Path(p)) => {
                let scope = Scope {
                    input: eff,
                    context: self.ctx,
                    variables: vars,
                };
                let v = p
                    .resolve(&scope)
                    .map_err(|e| BodyError::Fatal(self.runtime(st, entered, e).into()))?;
                let n = match &v {
                    Value::Number(n) => n.as_u64(),
                    // AWS parses the referenced text as an integer, so "1" is accepted.
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) => Ok(Some(n)),
                    None => Err(BodyError::Fatal(
                        self.runtime(st, entered, format!("The {field}Path field refers to value \"{}\" which is not a valid integer: {}", value_text(&v), p.as_str())).into(),
                    )),
                }
            }
        }
    }
}

pub(super) fn d_text(d: &DynamicString) -> String {
    match d {
        DynamicString::Path(p) => p.as_str().to_string(),
        DynamicString::Intrinsic(_) => "intrinsic function".to_string(),
    }
}

/// Renders a value as AWS does inside `==` messages (strings without quotes).
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// AWS's cause detail for an InputPath/OutputPath/ItemsPath that cannot be applied.
pub(super) fn path_error_text(p: &JsonPath, e: &JsonPathError) -> String {
    match e {
        JsonPathError::NotFound { message, .. } => {
            format!("Invalid path '{}' : {message}", p.as_str())
        }
        other => format!("Invalid path '{}' : {other}", p.as_str()),
    }
}

/// A JSON number already checked to be a non-negative integer (`Expected::Integer`), as `u64`.
pub(super) fn integer(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| v.as_f64().map_or(0, |f| f as u64))
}

/// What a Wait state waits for.
pub(super) enum WaitFor {
    /// A delay from now.
    Seconds(u64),
    /// An instant.
    Until(DateTime<Utc>),
}

/// `t` plus `seconds`, or `None` past the last instant chrono can represent.
pub(super) fn add_seconds(t: DateTime<Utc>, seconds: u64) -> Option<DateTime<Utc>> {
    let d = chrono::Duration::try_seconds(i64::try_from(seconds).ok()?)?;
    t.checked_add_signed(d)
}
