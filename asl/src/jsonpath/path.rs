//! [`JsonPath`]: a parsed path, what it selects, and resolving it against a [`Scope`].

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use super::ast::{Root, Step, render};
use super::parse::Parser;
use super::{JsonPathError, Scope};

/// A parsed, validated JSONPath expression.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    pub(super) text: Box<str>,
    pub(super) root: Root,
    pub(super) steps: Box<[Step]>,
    pub(super) definite: bool,
}

impl JsonPath {
    /// Parses `$...` (input), `$$...` (context object) or `$name...` (variable) paths.
    pub fn parse(text: &str) -> Result<JsonPath, JsonPathError> {
        Parser::new(text).parse_path()
    }

    /// The path text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for `$$...` paths into the context object.
    pub fn is_context(&self) -> bool {
        matches!(self.root, Root::Context)
    }

    /// True for `$name...` paths into a workflow variable.
    pub fn is_variable(&self) -> bool {
        matches!(self.root, Root::Variable(_))
    }

    /// The variable a `$name...` path reads, without `$`.
    pub fn variable_name(&self) -> Option<&str> {
        match &self.root {
            Root::Variable(name) => Some(name),
            _ => None,
        }
    }

    /// True when the path selects at most one node by plain field names and non-negative
    /// indexes only: what ResultPath, ItemsPath and Choice variables require.
    pub fn is_reference(&self) -> bool {
        self.steps
            .iter()
            .all(|step| matches!(step, Step::Field(_)) || matches!(step, Step::Index(i) if *i >= 0))
    }

    /// True when the path can select at most one node; indefinite paths resolve to an array.
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// Resolves the path: a definite path yields its value or `NotFound`; an indefinite path
    /// (wildcard, slice, union, filter, recursive descent) yields the array of its matches.
    pub fn resolve(&self, scope: &Scope) -> Result<Value, JsonPathError> {
        match &self.root {
            Root::Input => self.resolve_in(scope.input),
            Root::Context => self.resolve_in(scope.context),
            Root::Variable(name) => match scope.variables.get_ref(name) {
                Some(value) => self.resolve_in(&value),
                None => Err(JsonPathError::UndefinedVariable {
                    path: self.text.to_string(),
                    name: name.to_string(),
                }),
            },
        }
    }

    /// Like [`JsonPath::resolve`], but borrows the value from the scope's documents when the
    /// path is definite, so reading a large value costs nothing.
    pub fn resolve_ref<'s>(&self, scope: &Scope<'s>) -> Result<Cow<'s, Value>, JsonPathError> {
        let document = match &self.root {
            Root::Input => scope.input,
            Root::Context => scope.context,
            Root::Variable(name) => match scope.variables.get_ref(name) {
                Some(Cow::Borrowed(value)) => value,
                Some(Cow::Owned(value)) => return self.resolve_in(&value).map(Cow::Owned),
                None => return self.resolve(scope).map(Cow::Owned),
            },
        };
        if self.definite {
            return self.resolve_definite(document).map(Cow::Borrowed);
        }
        self.resolve_in(document).map(Cow::Owned)
    }

    /// Resolves the path's steps against `document`, ignoring which root the path names.
    pub fn resolve_in(&self, document: &Value) -> Result<Value, JsonPathError> {
        if self.definite {
            return self.resolve_definite(document).cloned();
        }
        let mut out = Vec::new();
        self.evaluator(document).eval(0, document, true, &mut out)?;
        Ok(Value::Array(out.into_iter().map(Cow::into_owned).collect()))
    }

    /// Jayway's rendering of the path, e.g. `$['a'][0]`, used in its error messages.
    pub fn normalized(&self) -> String {
        render(&self.root, &self.steps)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
