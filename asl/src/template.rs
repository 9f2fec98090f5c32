//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`): JSON whose
//! `"key.$"` fields are evaluated as a JSONPath or an intrinsic function call.
//!
//! A template is compiled once at validation time; subtrees without any `.$` key are kept as
//! literal JSON so evaluation of a mostly-static payload is a single clone.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::intrinsics::{self, IntrinsicCall, IntrinsicError};
use crate::jsonpath::{JsonPath, JsonPathError, Scope};

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// JSON without dynamic fields.
    Literal(Value),
    /// An object with at least one dynamic field somewhere below.
    Object(Vec<(String, Field)>),
    /// An array with at least one dynamic field somewhere below.
    Array(Vec<Template>),
}

/// One field of a template object.
#[derive(Debug, Clone)]
pub enum Field {
    /// A nested template (key kept as written).
    Nested(Template),
    /// `"key.$": "$.path"` (key stored without `.$`).
    Path {
        /// The key as written, with `.$`, for error messages.
        written: String,
        /// The path.
        path: JsonPath,
    },
    /// `"key.$": "States.Format(...)"` (key stored without `.$`).
    Intrinsic {
        /// The key as written, with `.$`, for error messages.
        written: String,
        /// The call.
        call: Arc<IntrinsicCall>,
    },
}

/// A template that failed to compile; `pointer` is relative to the template root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {pointer}")]
pub struct TemplateCompileError {
    /// Relative JSON pointer of the bad field.
    pub pointer: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A template that failed to evaluate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateError {
    /// A `.$` path matched nothing.
    #[error("The JSONPath '{path}' specified for the field '{field}' could not be found")]
    PathNotFound {
        /// The path text.
        path: String,
        /// The key as written (with `.$`).
        field: String,
        /// True when the path reads a variable (different AWS message).
        variable: bool,
    },
    /// An intrinsic function failed.
    #[error("{0}")]
    Intrinsic(IntrinsicError),
    /// Any other path error (e.g. a variable that is not defined).
    #[error("{0}")]
    Path(JsonPathError),
}

impl Template {
    /// Compiles a template from its JSON form.
    pub fn compile(value: &Value) -> Result<Template, TemplateCompileError> {
        compile(value, &mut String::new())
    }

    /// True when the template has no dynamic fields.
    pub fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    /// Evaluates the template against a scope.
    pub fn evaluate(&self, scope: &Scope) -> Result<Value, TemplateError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Array(items) => items
                .iter()
                .map(|t| t.evaluate(scope))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, field) in fields {
                    let v = match field {
                        Field::Nested(t) => t.evaluate(scope)?,
                        Field::Path { written, path } => resolve_field(path, written, scope)?,
                        Field::Intrinsic { call, .. } => {
                            call.evaluate(scope).map_err(TemplateError::Intrinsic)?
                        }
                    };
                    out.insert(key.clone(), v);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

/// Resolves a `.$` path the way payload templates do, mapping "no match" to AWS's error.
pub fn resolve_field(
    path: &JsonPath,
    written: &str,
    scope: &Scope,
) -> Result<Value, TemplateError> {
    match path.resolve(scope) {
        Ok(v) => Ok(v),
        // An indefinite path (wildcard, slice, filter) that matches nothing is an empty list.
        Err(e) if is_not_found(&e) && !path.is_definite() => Ok(Value::Array(Vec::new())),
        Err(e) if is_not_found(&e) => Err(TemplateError::PathNotFound {
            path: path.as_str().to_string(),
            field: written.to_string(),
            variable: path.is_variable(),
        }),
        Err(e) => Err(TemplateError::Path(e)),
    }
}

/// True when a JSONPath error means "the path matched nothing".
pub fn is_not_found(e: &JsonPathError) -> bool {
    matches!(e, JsonPathError::NotFound { .. })
}

fn has_dynamic(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if m.keys().any(|k| k.ends_with(".$")) {
                    return true;
                }
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    false
}

fn compile(value: &Value, pointer: &mut String) -> Result<Template, TemplateCompileError> {
    if !has_dynamic(value) {
        return Ok(Template::Literal(value.clone()));
    }
    match value {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                out.push(compile(item, pointer)?);
                pointer.truncate(len);
            }
            Ok(Template::Array(out))
        }
        Value::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (key, v) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                if let Some(stripped) = key.strip_suffix(".$") {
                    let field =
                        compile_dynamic(key, v).map_err(|message| TemplateCompileError {
                            pointer: pointer.clone(),
                            message,
                        })?;
                    out.push((stripped.to_string(), field));
                } else {
                    out.push((key.clone(), Field::Nested(compile(v, pointer)?)));
                }
                pointer.truncate(len);
            }
            Ok(Template::Object(out))
        }
        other => Ok(Template::Literal(other.clone())),
    }
}

fn compile_dynamic(key: &str, v: &Value) -> Result<Field, String> {
    let Some(text) = v.as_str() else {
        return Err(format!(
            "The value for the field '{key}' must be a STRING that contains a JSONPath but was an {}",
            json_type(v)
        ));
    };
    if text.starts_with('$') {
        JsonPath::parse(text)
            .map(|path| Field::Path { written: key.to_string(), path })
            .map_err(|e| format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call: {text} ({e})"))
    } else {
        intrinsics::parse(text)
            .map(|call| Field::Intrinsic { written: key.to_string(), call: Arc::new(call) })
            .map_err(|e| format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call: {text} ({e})"))
    }
}

/// AWS's name for a JSON value's type in messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}
