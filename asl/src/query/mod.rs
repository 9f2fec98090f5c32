//! JSONata templates (`QueryLanguage: JSONata`): JSON in which a string written `{% … %}` is a
//! JSONata expression, evaluated over `$states` (`input`, `result`, `errorOutput`, `context`),
//! the workflow variables and the functions AWS adds to JSONata.
//!
//! A template is compiled when the definition is loaded, so a syntax error is a definition
//! error. The evaluator's compiled tree is not thread-safe (it shares `Rc`s with the values it
//! makes), while a validated machine is shared between threads; so the model keeps each
//! expression's text and a unique id, and each thread compiles an expression once, at its first
//! evaluation there (`cache`). An evaluation binds only what the expression can read (`uses`):
//! the `$states` members it names, the variables it names, the AWS functions it calls.
//!
//! # Layout
//! - this file: [`QueryTemplate`], compiling and evaluating it, [`QueryScope`], [`QueryError`].
//! - `uses`: what an expression's text can read.
//! - `cache`: per-thread compiled expressions.
//! - `functions`: `$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`.

mod cache;
mod functions;
mod uses;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use crate::jsonpath::Variables;
use uses::Uses;

/// A compiled JSONata template.
#[derive(Debug, Clone)]
pub enum QueryTemplate {
    /// JSON without expressions.
    Literal(Value),
    /// One expression: the whole value is `{% … %}`.
    Expression(Arc<QueryExpression>),
    /// An object with an expression somewhere below.
    Object(Vec<(String, QueryTemplate)>),
    /// An array with an expression somewhere below.
    Array(Vec<QueryTemplate>),
}

/// One `{% … %}` expression of a definition.
#[derive(Debug)]
pub struct QueryExpression {
    /// The text between `{%` and `%}`, trimmed (as AWS quotes it in errors).
    text: Box<str>,
    /// Where it stands: the field and the keys or indices below it (`Output/result`).
    field: Box<str>,
    /// Unique in the process: the key of the per-thread compiled form.
    id: u64,
    /// What it can read.
    uses: Uses,
}

impl QueryExpression {
    /// The expression text (without `{%` and `%}`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The field it stands in (`Output/result`).
    pub fn field(&self) -> &str {
        &self.field
    }
}

/// A template that failed to compile; `pointer` is relative to the template's field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {pointer}")]
pub struct QueryCompileError {
    /// Relative JSON pointer of the bad value.
    pub pointer: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What an expression sees: `$states` and the workflow variables.
pub struct QueryScope<'a> {
    /// `$states.input`: the state's input.
    pub input: &'a Value,
    /// The same input, where the caller holds it shared: then its conversion is reused by the
    /// next evaluation over the same input.
    pub shared_input: Option<&'a Arc<Value>>,
    /// `$states.context`: the context object.
    pub context: &'a Value,
    /// `$states.result`: a Task's, Parallel's or Map's result, where there is one.
    pub result: Option<&'a Value>,
    /// `$states.errorOutput`: the error a Catch caught, where there is one.
    pub error_output: Option<&'a Value>,
    /// The workflow variables visible to the state.
    pub variables: &'a dyn Variables,
}

/// A JSONata template that could not be evaluated (`States.QueryEvaluationError`); the text is
/// AWS's, without the prefix naming the state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The expression returned undefined where a value is needed.
    #[error(
        "The JSONata expression '{expression}' specified for the field '{field}' returned nothing (undefined)."
    )]
    Undefined {
        /// Expression text.
        expression: String,
        /// Field path.
        field: String,
    },
    /// Evaluating the expression raised a JSONata error.
    #[error(
        "The JSONata expression '{expression}' specified for the field '{field}' threw an error during evaluation: {message}"
    )]
    Evaluation {
        /// Expression text.
        expression: String,
        /// Field path.
        field: String,
        /// The JSONata error.
        message: String,
    },
    /// The expression returned a value of the wrong type for its field.
    #[error(
        "The JSONata expression '{expression}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{actual}' for value: {value}"
    )]
    UnexpectedType {
        /// Expression text.
        expression: String,
        /// Field path.
        field: String,
        /// The type the field takes.
        expected: &'static str,
        /// The type returned.
        actual: &'static str,
        /// The value returned, as JSON.
        value: String,
    },
}

/// The type a field needs its template to evaluate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A JSON array (`Items`).
    Array,
    /// `true` or `false` (`Condition`).
    Boolean,
    /// A non-negative integer (`Seconds`, `MaxConcurrency`, `TimeoutSeconds`…).
    Integer,
    /// A number (`ToleratedFailurePercentage`).
    Number,
    /// A string (`Timestamp`, Fail's `Error` and `Cause`).
    String,
}

impl Expected {
    fn name(self) -> &'static str {
        match self {
            Expected::Array => "array",
            Expected::Boolean => "boolean",
            Expected::Integer => "integer",
            Expected::Number => "number",
            Expected::String => "string",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Expected::Array => v.is_array(),
            Expected::Boolean => v.is_boolean(),
            Expected::Integer => {
                v.as_u64().is_some()
                    || v.as_f64()
                        .is_some_and(|f| f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64)
            }
            Expected::Number => v.is_number(),
            Expected::String => v.is_string(),
        }
    }
}

/// True for a string that is a JSONata template: `{%` at the start, `%}` at the end.
pub fn is_expression(s: &str) -> bool {
    s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}")
}

/// True when JSONata text (a state's, scanned whole) may read `$states.context`.
pub fn reads_context(text: &str) -> bool {
    Uses::of(text).reads_context()
}

/// True when `value` holds a `{% … %}` string anywhere.
pub fn has_expression(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if is_expression(s) => return true,
            Value::Object(m) => stack.extend(m.values()),
            Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    false
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl QueryTemplate {
    /// Compiles the value of field `field` (its name as errors show it: `Output`, `Assign/x`).
    pub fn compile(value: &Value, field: &str) -> Result<QueryTemplate, QueryCompileError> {
        compile(value, &mut field.to_string(), &mut String::new())
    }

    /// The expression, when the whole template is one.
    pub fn expression(&self) -> Option<&QueryExpression> {
        match self {
            QueryTemplate::Expression(e) => Some(e),
            _ => None,
        }
    }

    /// True when the template has no expression.
    pub fn is_literal(&self) -> bool {
        matches!(self, QueryTemplate::Literal(_))
    }

    /// Evaluates the template; an expression inside it that returns undefined is an error.
    pub fn evaluate(&self, scope: &QueryScope) -> Result<Value, QueryError> {
        match self {
            QueryTemplate::Literal(v) => Ok(v.clone()),
            QueryTemplate::Expression(e) => evaluate(e, scope),
            QueryTemplate::Array(items) => items
                .iter()
                .map(|t| t.evaluate(scope))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            QueryTemplate::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    out.insert(k.clone(), t.evaluate(scope)?);
                }
                Ok(Value::Object(out))
            }
        }
    }

    /// Evaluates the template and checks the type of its value.
    pub fn evaluate_as(&self, scope: &QueryScope, expected: Expected) -> Result<Value, QueryError> {
        let v = self.evaluate(scope)?;
        if expected.accepts(&v) {
            return Ok(v);
        }
        let (expression, field) = match self {
            QueryTemplate::Expression(e) => (e.text.to_string(), e.field.to_string()),
            other => (other.source_text(), String::new()),
        };
        Err(QueryError::UnexpectedType {
            expression,
            field,
            expected: expected.name(),
            actual: crate::jsonpath::type_name(&v),
            value: v.to_string(),
        })
    }

    /// The template as written, for messages about a literal.
    fn source_text(&self) -> String {
        match self {
            QueryTemplate::Literal(v) => v.to_string(),
            QueryTemplate::Expression(e) => format!("{{% {} %}}", e.text),
            QueryTemplate::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(QueryTemplate::source_text)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            QueryTemplate::Object(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, t)| format!("{}:{}", Value::String(k.clone()), t.source_text()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

fn compile(
    value: &Value,
    field: &mut String,
    pointer: &mut String,
) -> Result<QueryTemplate, QueryCompileError> {
    if !has_expression(value) {
        return Ok(QueryTemplate::Literal(value.clone()));
    }
    match value {
        Value::String(s) => {
            let text = s[2..s.len() - 2].trim();
            if let Err(e) = cache::check(text) {
                return Err(QueryCompileError {
                    pointer: pointer.clone(),
                    message: format!(
                        "The JSONata expression '{text}' specified for the field '{field}' is not valid: {e}"
                    ),
                });
            }
            Ok(QueryTemplate::Expression(Arc::new(QueryExpression {
                text: text.into(),
                field: field.as_str().into(),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                uses: Uses::of(text),
            })))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let (flen, plen) = (field.len(), pointer.len());
                field.push_str(&format!("/{i}"));
                pointer.push_str(&format!("/{i}"));
                out.push(compile(item, field, pointer)?);
                field.truncate(flen);
                pointer.truncate(plen);
            }
            Ok(QueryTemplate::Array(out))
        }
        Value::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                let (flen, plen) = (field.len(), pointer.len());
                field.push('/');
                field.push_str(k);
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                out.push((k.clone(), compile(v, field, pointer)?));
                field.truncate(flen);
                pointer.truncate(plen);
            }
            Ok(QueryTemplate::Object(out))
        }
        other => Ok(QueryTemplate::Literal(other.clone())),
    }
}

/// Evaluates one expression with the bindings it can read.
fn evaluate(e: &QueryExpression, scope: &QueryScope) -> Result<Value, QueryError> {
    let fail = |message: String| QueryError::Evaluation {
        expression: e.text.to_string(),
        field: e.field.to_string(),
        message,
    };
    let compiled = cache::compiled(e.id, &e.text).map_err(|err| fail(error_text(&err)))?;
    let bindings = e.uses.bindings(scope);
    match compiled.evaluate_bound(None, &bindings, stepscore_jsonata::Limits::default()) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(QueryError::Undefined {
            expression: e.text.to_string(),
            field: e.field.to_string(),
        }),
        Err(err) => Err(fail(error_text(&err))),
    }
}

/// A JSONata error as the cause shows it: an embedder's message as it is, JSONata's own with
/// its code and position.
fn error_text(e: &stepscore_jsonata::Error) -> String {
    match &e.custom_message {
        Some(m) => m.clone(),
        None => e.to_string(),
    }
}
