//! Intrinsic functions of the JSONPath query language (`States.Format(...)` and friends):
//! parsed once into a call tree, evaluated against a [`Scope`].
//!
//! Behaviour follows AWS Step Functions, including its quirks: `States.Format` renders objects
//! the way Java's `Map.toString` does, `States.MathAdd` rounds each argument half up like Java's
//! `Math.round`, `States.StringSplit` splits on any of the delimiter's characters and drops
//! empty parts like Java's `StringTokenizer`, and `States.StringToJson` of a blank string is null.
//!
//! # Layout
//! - this file: [`IntrinsicCall`], a parsed call, and evaluating its arguments.
//! - `error`: [`IntrinsicError`].
//! - `parse`: [`parse`], the text of a call to an [`IntrinsicCall`].
//! - `functions`: the functions themselves, their names and argument counts.
//! - `format_template`: `States.Format` templates split into text and `{}` holes.
//! - `java`: what AWS's Java service does that the functions must do alike (`Random`,
//!   `toString`, `Double.toString`, Jackson's `-0`).

mod error;
mod format_template;
mod functions;
mod java;
mod parse;

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::jsonpath::{JsonPath, Scope};
use format_template::Piece;
use functions::Function;

pub use error::IntrinsicError;
pub(crate) use functions::hash_hex;
pub(crate) use java::{JavaRandom, integer_zero};
pub use parse::parse;

/// A parsed intrinsic function call, ready to evaluate many times.
#[derive(Clone, Debug, PartialEq)]
pub struct IntrinsicCall {
    text: Box<str>,
    function: Function,
    args: Box<[Arg]>,
    /// `States.Format` with a literal template: the template split once at parse time (or
    /// why it is malformed, which AWS reports only when the call runs).
    template: Option<Result<Box<[Piece]>, String>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Literal(Value),
    /// A quoted string literal; `raw` keeps its escapes for `States.Format` templates.
    String {
        value: Value,
        raw: String,
    },
    Path(JsonPath),
    Call(IntrinsicCall),
}

impl IntrinsicCall {
    /// Evaluates the call (and its nested calls) against the scope.
    pub fn evaluate(&self, scope: &Scope) -> Result<Value, IntrinsicError> {
        let (min, max, expected) = self.function.arity();
        if self.args.len() < min || self.args.len() > max {
            return Err(IntrinsicError::ArgumentCount {
                function: self.function.name(),
                expected,
                given: self.args.len(),
            });
        }
        // Arguments borrow from the call and the documents where they can; only results are built.
        let mut args: Vec<Cow<'_, Value>> = Vec::with_capacity(self.args.len());
        for arg in self.args.iter() {
            args.push(match arg {
                Arg::Literal(v) | Arg::String { value: v, .. } => Cow::Borrowed(v),
                Arg::Path(path) => {
                    path.resolve_ref(scope)
                        .map_err(|source| IntrinsicError::Path {
                            function: self.function.name(),
                            path: path.as_str().to_string(),
                            input: scope.input.to_string(),
                            source,
                        })?
                }
                Arg::Call(call) => Cow::Owned(call.evaluate(scope)?),
            });
        }
        self.apply(args)
    }

    /// The call text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The function's name, e.g. `States.Format`.
    pub fn function_name(&self) -> &'static str {
        self.function.name()
    }

    /// Every JSONPath argument, nested calls included (for validators checking variables).
    pub fn paths(&self) -> Vec<&JsonPath> {
        let mut out = Vec::new();
        for arg in self.args.iter() {
            match arg {
                Arg::Path(p) => out.push(p),
                Arg::Call(c) => out.extend(c.paths()),
                _ => {}
            }
        }
        out
    }
}

impl fmt::Display for IntrinsicCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Most items `States.ArrayRange` may produce.
pub const MAX_RANGE_ITEMS: usize = 1000;
/// Longest string `States.Base64Encode`, `States.Base64Decode` and `States.Hash` accept.
pub const MAX_STRING_CHARS: usize = 10_000;
/// Deepest nesting of intrinsic calls within one field.
pub const MAX_NESTING: usize = 10;
