//! JSONPath as Amazon States Language uses it: input paths (`$...`), context object paths
//! (`$$...`) and variable paths (`$name...`), evaluated with the semantics of Jayway JsonPath,
//! the library behind AWS Step Functions.
//!
//! A path is parsed once into a compact list of steps; resolving walks the document by
//! reference and clones only the result. Error texts follow Jayway's wording ("No results for
//! path: $['a']", "Missing property in path $['a']") because AWS embeds them in its causes.
//!
//! Written by hand rather than with a JSONPath crate: the available crates implement RFC 9535
//! or Goessner semantics, which differ from Jayway on definite paths, missing properties,
//! multi-property selection and filters on objects, and none report Jayway's messages.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};
use thiserror::Error;

/// Where a path's roots point when it is resolved: state input, context object, variables.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The document `$` refers to (the state's effective input).
    pub input: &'a Value,
    /// The context object `$$` refers to.
    pub context: &'a Value,
    /// Workflow variables that `$name` refers to.
    pub variables: &'a dyn Variables,
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("input", self.input)
            .field("context", self.context)
            .finish_non_exhaustive()
    }
}

/// Read access to workflow variables (`Assign`), looked up by name without the `$`.
pub trait Variables {
    /// The value of variable `name`, or `None` when it was never assigned.
    fn get(&self, name: &str) -> Option<Value>;

    /// Like [`Variables::get`], but may borrow; stores that hold values override it so that
    /// reading `$var.field` does not copy the whole variable.
    fn get_ref(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.get(name).map(Cow::Owned)
    }
}

impl Variables for Map<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        Map::get(self, name).cloned()
    }

    fn get_ref(&self, name: &str) -> Option<Cow<'_, Value>> {
        Map::get(self, name).map(Cow::Borrowed)
    }
}

impl Variables for HashMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        HashMap::get(self, name).cloned()
    }

    fn get_ref(&self, name: &str) -> Option<Cow<'_, Value>> {
        HashMap::get(self, name).map(Cow::Borrowed)
    }
}

/// A parsed, validated JSONPath expression.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    text: Box<str>,
    root: Root,
    steps: Box<[Step]>,
    definite: bool,
}

/// Why a path could not be parsed, resolved or written.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum JsonPathError {
    /// The text is not a valid JSONPath.
    #[error("Invalid JSONPath '{path}': {reason} (at character {position})")]
    Syntax {
        /// The path text as written.
        path: String,
        /// Zero-based character offset of the problem.
        position: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Filters or sub-paths nest deeper than the parser allows.
    #[error(
        "Invalid JSONPath '{path}': nesting is deeper than {limit} levels; flatten the filter expression"
    )]
    TooDeep {
        /// The path text as written.
        path: String,
        /// The nesting limit.
        limit: usize,
    },
    /// A definite path selected nothing; `message` is Jayway's text, which AWS quotes.
    #[error("{message}")]
    NotFound {
        /// The path text as written.
        path: String,
        /// Jayway's explanation, e.g. "No results for path: $['a']".
        message: String,
    },
    /// A variable path names a variable that has no value.
    #[error(
        "The variable '${name}' referenced by '{path}' is not defined; assign it in an earlier state"
    )]
    UndefinedVariable {
        /// The path text as written.
        path: String,
        /// The variable name without `$`.
        name: String,
    },
    /// A ResultPath cannot be applied to the value it should write into.
    #[error("Unable to apply ReferencePath {path} to input {input}")]
    ResultPathMatch {
        /// The path text as written.
        path: String,
        /// The JSON text of the value the path was applied to.
        input: String,
    },
    /// The path cannot be used to write a value (it is not a plain input reference path).
    #[error("The path '{path}' cannot be written to: {reason}")]
    NotWritable {
        /// The path text as written.
        path: String,
        /// Why, and what would work instead.
        reason: String,
    },
}

impl JsonPathError {
    /// The Step Functions error name this failure raises at run time.
    pub fn error_name(&self) -> &'static str {
        match self {
            JsonPathError::ResultPathMatch { .. } => "States.ResultPathMatchFailure",
            _ => "States.Runtime",
        }
    }
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

    fn resolve_definite<'v>(&self, document: &'v Value) -> Result<&'v Value, JsonPathError> {
        let mut node = document;
        let last = self.steps.len().saturating_sub(1);
        for (i, step) in self.steps.iter().enumerate() {
            let next = match step {
                Step::Field(name) => match node {
                    Value::Object(map) => match map.get(&**name) {
                        Some(v) => Some(v),
                        None if i == last => None,
                        None => {
                            return Err(self.not_found(format!(
                                "Missing property in path {}",
                                render(&self.root, &self.steps[..=i])
                            )));
                        }
                    },
                    other => {
                        return Err(self.not_found(format!(
                            "Expected to find an object with property ['{}'] in path {} but found '{}'",
                            name,
                            render(&self.root, &self.steps[..i]),
                            type_name(other)
                        )));
                    }
                },
                Step::Index(index) => match node {
                    Value::Array(items) => effective_index(*index, items.len()).map(|i| &items[i]),
                    other => return Err(self.not_array(i, other)),
                },
                // `is_definite` admits only fields and single indexes.
                _ => None,
            };
            match next {
                Some(v) => node = v,
                None => return Err(self.no_results()),
            }
        }
        Ok(node)
    }

    fn evaluator<'a>(&'a self, document: &'a Value) -> Evaluator<'a> {
        Evaluator {
            steps: &self.steps,
            definite: self.definite,
            text: &self.text,
            root_kind: &self.root,
            root: document,
        }
    }

    fn no_results(&self) -> JsonPathError {
        self.not_found(format!("No results for path: {}", self.normalized()))
    }

    fn not_array(&self, i: usize, found: &Value) -> JsonPathError {
        if found.is_null() {
            self.not_found(format!(
                "The path {} is null",
                render(&self.root, &self.steps[..i])
            ))
        } else {
            self.not_found(format!(
                "Filter: {} can only be applied to arrays. Current context is: {}",
                render_step(&self.steps[i]),
                found
            ))
        }
    }

    fn not_found(&self, message: String) -> JsonPathError {
        JsonPathError::NotFound {
            path: self.text.to_string(),
            message,
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Writes `value` at `path` inside `target` with ResultPath semantics: `$` replaces the whole
/// target, missing intermediate fields become objects, and a step through a value that is not
/// an object (or an array, for an index step) fails with AWS's ResultPathMatchFailure text.
pub fn write_at(path: &JsonPath, target: &mut Value, value: Value) -> Result<(), JsonPathError> {
    if !matches!(path.root, Root::Input) {
        return Err(JsonPathError::NotWritable {
            path: path.text.to_string(),
            reason: "only input paths starting with '$.' can be written; context ('$$') and variable paths are read-only".into(),
        });
    }
    if !path.is_reference() {
        return Err(JsonPathError::NotWritable {
            path: path.text.to_string(),
            reason: "a ResultPath must be a reference path of field names and non-negative indexes, without wildcards, slices, unions, filters or '..'".into(),
        });
    }
    if path.steps.is_empty() {
        *target = value;
        return Ok(());
    }
    // Checked before mutating so that a failing write leaves the target untouched.
    if !writable(&path.steps, target) {
        return Err(JsonPathError::ResultPathMatch {
            path: path.text.to_string(),
            input: target.to_string(),
        });
    }
    let mut node = target;
    let last = path.steps.len() - 1;
    for (i, step) in path.steps.iter().enumerate() {
        node = match (step, node) {
            (Step::Field(name), Value::Object(map)) => {
                if i == last {
                    map.insert(name.to_string(), value);
                    return Ok(());
                }
                map.entry(name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            (Step::Index(index), Value::Array(items)) => {
                let slot = usize::try_from(*index).ok().filter(|&k| k < items.len());
                let Some(slot) = slot else { break };
                if i == last {
                    items[slot] = value;
                    return Ok(());
                }
                &mut items[slot]
            }
            _ => break,
        };
    }
    // `writable` accepted the shape above, so the loop returns before getting here.
    Err(JsonPathError::NotWritable {
        path: path.text.to_string(),
        reason: "the target does not have the shape the path needs".into(),
    })
}

fn writable(steps: &[Step], target: &Value) -> bool {
    let mut node = Some(target);
    for step in steps {
        node = match (step, node) {
            // A missing intermediate field is created as an object, so everything after it fits.
            (_, None) => return matches!(step, Step::Field(_)),
            (Step::Field(name), Some(Value::Object(map))) => map.get(&**name),
            (Step::Index(index), Some(Value::Array(items))) => {
                match usize::try_from(*index).ok().and_then(|i| items.get(i)) {
                    Some(v) => Some(v),
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Representation

#[derive(Clone, Debug, PartialEq)]
enum Root {
    Input,
    Context,
    Variable(Box<str>),
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(Box<str>),
    Index(i64),
    Wildcard,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
    },
    Indexes(Box<[i64]>),
    Fields(Box<[Box<str>]>),
    /// `..`: the next step applies to every node of the subtree, the node itself first.
    Descend,
    Filter(Box<Filter>),
    /// A function call such as `length()`. AWS accepts it in a definition but its paths do not
    /// support functions ("Functions such as length() aren't supported"), so it selects nothing.
    Function(Box<str>),
}

#[derive(Clone, Debug, PartialEq)]
enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Compare(Operand, CmpOp, Operand),
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Current(Box<[Step]>),
    Root(Box<[Step]>),
    Literal(Value),
    Regex(Regex),
}

#[derive(Clone, Debug)]
struct Regex(regex::Regex);

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Matches,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
    Contains,
}

fn step_is_definite(step: &Step) -> bool {
    matches!(step, Step::Field(_) | Step::Index(_) | Step::Function(_))
}

fn effective_index(index: i64, len: usize) -> Option<usize> {
    let len_i = i64::try_from(len).ok()?;
    let i = if index < 0 {
        len_i.checked_add(index)?
    } else {
        index
    };
    if (0..len_i).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn render(root: &Root, steps: &[Step]) -> String {
    let mut out = match root {
        Root::Input | Root::Context => String::from("$"),
        Root::Variable(name) => format!("${name}"),
    };
    for step in steps {
        out.push_str(&render_step(step));
    }
    out
}

fn render_step(step: &Step) -> String {
    fn opt(v: Option<i64>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    match step {
        Step::Field(name) => format!("['{name}']"),
        Step::Index(i) => format!("[{i}]"),
        Step::Wildcard => "[*]".into(),
        Step::Slice {
            start,
            end,
            step: 1,
        } => format!("[{}:{}]", opt(*start), opt(*end)),
        Step::Slice { start, end, step } => format!("[{}:{}:{step}]", opt(*start), opt(*end)),
        Step::Indexes(list) => {
            format!(
                "[{}]",
                list.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        Step::Fields(list) => format!(
            "[{}]",
            list.iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Step::Descend => "..".into(),
        Step::Filter(_) => "[?]".into(),
        Step::Function(name) => format!(".{name}()"),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation of indefinite paths

/// One lifetime for path and document: filters hand out borrowed literals and nodes alike.
struct Evaluator<'v> {
    steps: &'v [Step],
    /// Whether the whole path is definite.
    definite: bool,
    text: &'v str,
    root_kind: &'v Root,
    root: &'v Value,
}

impl<'v> Evaluator<'v> {
    /// Applies steps `i..` to `node`, pushing matches to `out`. Like Jayway, a missing
    /// property or a type mismatch is an error only while every step so far was definite.
    fn eval(
        &self,
        i: usize,
        node: &'v Value,
        upstream_definite: bool,
        out: &mut Vec<Cow<'v, Value>>,
    ) -> Result<(), JsonPathError> {
        let steps = self.steps;
        let Some(step) = steps.get(i) else {
            out.push(Cow::Borrowed(node));
            return Ok(());
        };
        let leaf = i + 1 == steps.len();
        let definite_after = upstream_definite && step_is_definite(step);
        match step {
            Step::Field(name) => match node {
                Value::Object(map) => match map.get(&**name) {
                    Some(v) => self.eval(i + 1, v, definite_after, out)?,
                    // Jayway ignores a missing property when any step of the path is indefinite.
                    None if !leaf && upstream_definite && self.definite => {
                        return Err(self.not_found(format!(
                            "Missing property in path {}",
                            render(self.root_kind, &steps[..=i])
                        )));
                    }
                    None => {}
                },
                other if upstream_definite => {
                    return Err(self.not_found(format!(
                        "Expected to find an object with property ['{}'] in path {} but found '{}'",
                        name,
                        render(self.root_kind, &steps[..i]),
                        type_name(other)
                    )));
                }
                _ => {}
            },
            Step::Index(index) => match node {
                Value::Array(items) => {
                    if let Some(k) = effective_index(*index, items.len()) {
                        self.eval(i + 1, &items[k], definite_after, out)?;
                    }
                }
                other if upstream_definite => return Err(self.not_array(i, other)),
                _ => {}
            },
            Step::Wildcard => match node {
                Value::Object(map) => {
                    for v in map.values() {
                        self.eval(i + 1, v, false, out)?;
                    }
                }
                Value::Array(items) => {
                    for v in items {
                        self.eval(i + 1, v, false, out)?;
                    }
                }
                _ => {}
            },
            Step::Slice { start, end, step } => match node {
                Value::Array(items) => {
                    for k in slice_indexes(*start, *end, *step, items.len()) {
                        self.eval(i + 1, &items[k], false, out)?;
                    }
                }
                other if upstream_definite => return Err(self.not_array(i, other)),
                _ => {}
            },
            Step::Indexes(list) => match node {
                Value::Array(items) => {
                    for index in list.iter() {
                        if let Some(k) = effective_index(*index, items.len()) {
                            self.eval(i + 1, &items[k], false, out)?;
                        }
                    }
                }
                other if upstream_definite => return Err(self.not_array(i, other)),
                _ => {}
            },
            Step::Fields(names) => match node {
                // Jayway merges a multi-property leaf into one object of the present fields.
                Value::Object(map) if leaf => {
                    let merged: Map<String, Value> = names
                        .iter()
                        .filter_map(|n| map.get(&**n).map(|v| (n.to_string(), v.clone())))
                        .collect();
                    out.push(Cow::Owned(Value::Object(merged)));
                }
                Value::Object(map) => {
                    for name in names.iter() {
                        if let Some(v) = map.get(&**name) {
                            self.eval(i + 1, v, false, out)?;
                        }
                    }
                }
                other if upstream_definite => {
                    return Err(self.not_found(format!(
                        "Expected to find an object with property {} in path {} but found '{}'",
                        render_step(step),
                        render(self.root_kind, &steps[..i]),
                        type_name(other)
                    )));
                }
                _ => {}
            },
            Step::Descend => {
                // An explicit stack: documents built in memory may nest deeper than the call
                // stack allows.
                let mut stack = vec![node];
                while let Some(n) = stack.pop() {
                    self.eval(i + 1, n, false, out)?;
                    match n {
                        Value::Object(map) => stack.extend(map.values().rev()),
                        Value::Array(items) => stack.extend(items.iter().rev()),
                        _ => {}
                    }
                }
            }
            Step::Filter(filter) => match node {
                Value::Array(items) => {
                    for item in items {
                        if self.test(filter, item) {
                            self.eval(i + 1, item, false, out)?;
                        }
                    }
                }
                // Jayway applies a filter on an object to the object itself.
                Value::Object(_) if self.test(filter, node) => {
                    self.eval(i + 1, node, false, out)?;
                }
                Value::Object(_) => {}
                other if upstream_definite => {
                    return Err(self.not_found(format!(
                        "Filter: [?] can not be applied to primitives. Current context is: {other}"
                    )));
                }
                _ => {}
            },
            // Unsupported on AWS: matches nothing, so a definite path reports "No results".
            Step::Function(_) => {}
        }
        Ok(())
    }

    fn not_found(&self, message: String) -> JsonPathError {
        JsonPathError::NotFound {
            path: self.text.to_string(),
            message,
        }
    }

    fn not_array(&self, i: usize, found: &Value) -> JsonPathError {
        if found.is_null() {
            self.not_found(format!(
                "The path {} is null",
                render(self.root_kind, &self.steps[..i])
            ))
        } else {
            self.not_found(format!(
                "Filter: {} can only be applied to arrays. Current context is: {}",
                render_step(&self.steps[i]),
                found
            ))
        }
    }

    fn test(&self, filter: &'v Filter, item: &'v Value) -> bool {
        match filter {
            Filter::Or(a, b) => self.test(a, item) || self.test(b, item),
            Filter::And(a, b) => self.test(a, item) && self.test(b, item),
            Filter::Not(f) => !self.test(f, item),
            Filter::Exists(Operand::Literal(v)) => v.as_bool() == Some(true),
            Filter::Exists(operand) => match self.operand(operand, item) {
                Some((value, definite)) => {
                    definite || value.as_array().is_some_and(|a| !a.is_empty())
                }
                None => false,
            },
            Filter::Compare(left, op, right) => {
                let l = self.operand(left, item).map(|(v, _)| v);
                if *op == CmpOp::Matches {
                    return match (l.as_deref(), right) {
                        (Some(Value::String(s)), Operand::Regex(re)) => re.0.is_match(s),
                        _ => false,
                    };
                }
                let r = self.operand(right, item).map(|(v, _)| v);
                match (l, r) {
                    (Some(l), Some(r)) => compare(&l, *op, &r),
                    // Jayway treats an absent operand as undefined: only `!=` can hold.
                    (l, r) => *op == CmpOp::Ne && l.is_some() != r.is_some(),
                }
            }
        }
    }

    /// The operand's value and whether it came from a definite path (or a literal).
    fn operand(&self, operand: &'v Operand, item: &'v Value) -> Option<(Cow<'v, Value>, bool)> {
        let (steps, start) = match operand {
            Operand::Literal(v) => return Some((Cow::Borrowed(v), true)),
            Operand::Regex(_) => return None,
            Operand::Current(steps) => (steps, item),
            Operand::Root(steps) => (steps, self.root),
        };
        if steps
            .iter()
            .all(|s| matches!(s, Step::Field(_) | Step::Index(_)))
        {
            // The common `@.field` case: walk without collecting.
            return walk(steps, start).map(|v| (Cow::Borrowed(v), true));
        }
        let sub = Evaluator {
            steps,
            definite: false,
            text: self.text,
            root_kind: self.root_kind,
            root: self.root,
        };
        let mut out = Vec::new();
        sub.eval(0, start, false, &mut out).ok()?;
        if steps.iter().all(step_is_definite) {
            out.pop().map(|v| (v, true))
        } else {
            Some((
                Cow::Owned(Value::Array(out.into_iter().map(Cow::into_owned).collect())),
                false,
            ))
        }
    }
}

/// Follows plain field and index steps; `None` when any of them selects nothing.
fn walk<'v>(steps: &[Step], start: &'v Value) -> Option<&'v Value> {
    steps
        .iter()
        .try_fold(start, |node, step| match (step, node) {
            (Step::Field(name), Value::Object(map)) => map.get(&**name),
            (Step::Index(i), Value::Array(items)) => {
                effective_index(*i, items.len()).map(|k| &items[k])
            }
            _ => None,
        })
}

fn slice_indexes(start: Option<i64>, end: Option<i64>, step: i64, len: usize) -> Vec<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
    let from = start.map_or(0, clamp);
    let to = end.map_or(len, clamp);
    let mut out = Vec::new();
    let mut k = from;
    while k < to {
        out.push(usize::try_from(k).unwrap_or(usize::MAX));
        k = match k.checked_add(step) {
            Some(v) => v,
            None => break,
        };
    }
    out
}

fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Numeric order without losing precision on large integers.
pub(crate) fn cmp_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn compare(l: &Value, op: CmpOp, r: &Value) -> bool {
    let contains = |list: &Value, v: &Value| match list {
        Value::Array(items) => items.iter().any(|x| json_equal(x, v)),
        _ => false,
    };
    match op {
        CmpOp::Eq => json_equal(l, r),
        CmpOp::Ne => !json_equal(l, r),
        CmpOp::Lt => cmp_values(l, r) == Some(Ordering::Less),
        CmpOp::Le => matches!(cmp_values(l, r), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => cmp_values(l, r) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(cmp_values(l, r), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Matches => false,
        CmpOp::In => contains(r, l),
        CmpOp::Nin => !contains(r, l),
        CmpOp::SubsetOf => match l {
            Value::Array(items) => items.iter().all(|x| contains(r, x)),
            _ => false,
        },
        CmpOp::AnyOf => match l {
            Value::Array(items) => items.iter().any(|x| contains(r, x)),
            _ => false,
        },
        CmpOp::NoneOf => match l {
            Value::Array(items) => !items.iter().any(|x| contains(r, x)),
            _ => false,
        },
        CmpOp::Size => {
            let size = match l {
                Value::Array(items) => items.len(),
                Value::String(s) => s.chars().count(),
                _ => return false,
            };
            r.as_u64()
                .is_some_and(|n| usize::try_from(n).is_ok_and(|n| n == size))
        }
        CmpOp::Empty => {
            let empty = match l {
                Value::Array(items) => items.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return false,
            };
            r.as_bool() == Some(empty)
        }
        CmpOp::Contains => match (l, r) {
            (Value::String(s), Value::String(t)) => s.contains(t.as_str()),
            (Value::Array(_), v) => contains(l, v),
            _ => false,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Deepest nesting of parentheses, `!` and sub-paths inside filters.
pub const MAX_NESTING: usize = 32;
/// Longest accepted path text, in bytes.
pub const MAX_PATH_LEN: usize = 16 * 1024;

struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, reason: impl Into<String>) -> JsonPathError {
        JsonPathError::Syntax {
            path: self.text.to_string(),
            position: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), JsonPathError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.found(what))
        }
    }

    fn found(&self, expected: &str) -> JsonPathError {
        match self.peek() {
            Some(c) => self.err(format!("expected {expected} but found '{c}'")),
            None => self.err(format!("expected {expected} but the path ended")),
        }
    }

    fn parse_path(mut self) -> Result<JsonPath, JsonPathError> {
        if self.text.len() > MAX_PATH_LEN {
            return Err(self.err(format!("the path is longer than {MAX_PATH_LEN} bytes")));
        }
        if !self.eat('$') {
            return Err(self.err(
                "a path must start with '$' (input), '$$' (context object) or '$name' (variable)",
            ));
        }
        let root = if self.eat('$') {
            Root::Context
        } else if self.peek().is_some_and(is_variable_start) {
            let start = self.pos;
            while self.peek().is_some_and(is_variable_char) {
                self.pos += 1;
            }
            Root::Variable(
                self.chars[start..self.pos]
                    .iter()
                    .collect::<String>()
                    .into(),
            )
        } else {
            Root::Input
        };
        let steps = self.parse_steps(false)?;
        if self.pos < self.chars.len() {
            return Err(self.found("'.', '[' or the end of the path"));
        }
        let definite = steps.iter().all(step_is_definite);
        Ok(JsonPath {
            text: self.text.into(),
            root,
            steps: steps.into(),
            definite,
        })
    }

    /// Parses steps until the end or, inside a filter, a character that ends an operand.
    fn parse_steps(&mut self, in_filter: bool) -> Result<Vec<Step>, JsonPathError> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    steps.push(Step::Descend);
                    match self.peek() {
                        Some('[') => steps.push(self.parse_bracket()?),
                        Some('*') => {
                            self.pos += 1;
                            steps.push(Step::Wildcard);
                        }
                        _ => {
                            let name = self.dot_name(in_filter)?;
                            steps.push(Step::Field(name.into()));
                        }
                    }
                }
                Some('.') => {
                    self.pos += 1;
                    if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else if self.peek() == Some('[') {
                        // Jayway accepts `$.['a']` as `$['a']`.
                        steps.push(self.parse_bracket()?);
                    } else {
                        let name = self.dot_name(in_filter)?;
                        if self.peek() == Some('(') {
                            steps.push(self.function(&name)?);
                        } else {
                            steps.push(Step::Field(name.into()));
                        }
                    }
                }
                Some('[') => steps.push(self.parse_bracket()?),
                _ => break,
            }
            if steps.len() > 1024 {
                return Err(self.err("the path has more than 1024 steps"));
            }
        }
        Ok(steps)
    }

    fn function(&mut self, name: &str) -> Result<Step, JsonPathError> {
        self.expect('(', "'('")?;
        self.skip_ws();
        if !self.eat(')') {
            return Err(self.err(format!(
                "path functions take no arguments here; write {name}() (note that Step Functions paths do not evaluate functions)"
            )));
        }
        if !matches!(self.peek(), None | Some('.' | '['))
            && !matches!(self.peek(), Some(c) if c.is_whitespace() || ")]&|=!<>,".contains(c))
        {
            return Err(self.found("'.', '[' or the end of the path after a function call"));
        }
        Ok(Step::Function(name.into()))
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<String, JsonPathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let stop = c == '.'
                || c == '['
                || c == '('
                || c.is_whitespace()
                || (in_filter && "()]=!<>&|,".contains(c));
            if stop {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(match self.peek() {
                Some(c) if c.is_whitespace() => self.err("a property name cannot contain blanks in dot notation; use bracket notation like ['my prop']"),
                Some(_) => self.found("a property name after '.'"),
                None => self.err("the path must not end with '.' or '..'; add a property name"),
            });
        }
        if !in_filter && self.peek().is_some_and(char::is_whitespace) {
            return Err(self.err("a property name cannot contain blanks in dot notation; use bracket notation like ['my prop']"));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn parse_bracket(&mut self) -> Result<Step, JsonPathError> {
        self.expect('[', "'['")?;
        self.skip_ws();
        let step = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Step::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_ws();
                self.expect(
                    '(',
                    "'(' after '[?' (filters are written [?(<expression>)])",
                )?;
                let filter = self.filter_or()?;
                self.skip_ws();
                self.expect(')', "')' closing the filter expression")?;
                Step::Filter(Box::new(filter))
            }
            Some('\'' | '"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if !self.eat(',') {
                        break;
                    }
                    self.skip_ws();
                    if !matches!(self.peek(), Some('\'' | '"')) {
                        return Err(self.found("a quoted property name after ','"));
                    }
                    names.push(self.quoted()?);
                }
                if names.len() == 1 {
                    Step::Field(names.remove(0).into())
                } else {
                    Step::Fields(names.into_iter().map(Into::into).collect())
                }
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.index_or_slice()?,
            Some(']') => return Err(self.err(
                "empty brackets '[]'; put an index, a quoted name, '*', a slice or a filter inside",
            )),
            _ => {
                return Err(
                    self.found("an index, a quoted name, '*', a slice or a filter after '['")
                );
            }
        };
        self.skip_ws();
        self.expect(']', "']'")?;
        Ok(step)
    }

    fn index_or_slice(&mut self) -> Result<Step, JsonPathError> {
        let first = self.opt_int()?;
        self.skip_ws();
        if self.peek() == Some(':') {
            self.pos += 1;
            self.skip_ws();
            let end = self.opt_int()?;
            self.skip_ws();
            let mut step = 1;
            if self.eat(':') {
                self.skip_ws();
                if let Some(s) = self.opt_int()? {
                    if s <= 0 {
                        return Err(self.err(format!("slice step {s} must be a positive number")));
                    }
                    step = s;
                }
            }
            return Ok(Step::Slice {
                start: first,
                end,
                step,
            });
        }
        let Some(first) = first else {
            return Err(self.found("an array index"));
        };
        let mut list = vec![first];
        loop {
            self.skip_ws();
            if !self.eat(',') {
                break;
            }
            self.skip_ws();
            match self.opt_int()? {
                Some(i) => list.push(i),
                None => return Err(self.found("an array index after ','")),
            }
        }
        Ok(if list.len() == 1 {
            Step::Index(first)
        } else {
            Step::Indexes(list.into())
        })
    }

    fn opt_int(&mut self) -> Result<Option<i64>, JsonPathError> {
        let start = self.pos;
        self.eat('-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        if digits.is_empty() {
            return Ok(None);
        }
        digits.parse().map(Some).map_err(|_| JsonPathError::Syntax {
            path: self.text.to_string(),
            position: start,
            reason: format!(
                "'{digits}' is not a valid array index (a whole number within 64 bits)"
            ),
        })
    }

    fn quoted(&mut self) -> Result<String, JsonPathError> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(self.found("a quote"));
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err(format!(
                        "the string starting here is not closed; add the closing {quote}"
                    )));
                }
                Some('\\') => {
                    // Like AWS, only the enclosing quote and the backslash itself are escapes;
                    // any other backslash is kept as written.
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c == quote || c == '\\' => out.push(c),
                        Some(c) => {
                            out.push('\\');
                            out.push(c);
                        }
                        None => continue,
                    }
                    self.pos += 1;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn enter(&mut self) -> Result<(), JsonPathError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(JsonPathError::TooDeep {
                path: self.text.to_string(),
                limit: MAX_NESTING,
            });
        }
        Ok(())
    }

    fn filter_or(&mut self) -> Result<Filter, JsonPathError> {
        self.enter()?;
        let mut left = self.filter_and()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('|') && self.peek_at(1) == Some('|') {
                self.pos += 2;
                let right = self.filter_and()?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn filter_and(&mut self) -> Result<Filter, JsonPathError> {
        let mut left = self.filter_unary()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                self.pos += 2;
                let right = self.filter_unary()?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        Ok(left)
    }

    fn filter_unary(&mut self) -> Result<Filter, JsonPathError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            self.enter()?;
            let inner = self.filter_unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.eat('(') {
            let inner = self.filter_or()?;
            self.skip_ws();
            self.expect(')', "')'")?;
            return Ok(inner);
        }
        let left = self.operand()?;
        self.skip_ws();
        let Some(op) = self.cmp_op() else {
            return match left {
                Operand::Current(_) | Operand::Root(_) => Ok(Filter::Exists(left)),
                Operand::Literal(Value::Bool(_)) => Ok(Filter::Exists(left)),
                _ => Err(self.found("a comparison operator (==, !=, <, <=, >, >=, =~, in, nin, subsetof, anyof, noneof, size, empty, contains)")),
            };
        };
        self.skip_ws();
        let right = if op == CmpOp::Matches {
            self.regex()?
        } else {
            self.operand()?
        };
        Ok(Filter::Compare(left, op, right))
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        const OPS: [(&str, CmpOp); 15] = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=~", CmpOp::Matches),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
            ("subsetof", CmpOp::SubsetOf),
            ("anyof", CmpOp::AnyOf),
            ("noneof", CmpOp::NoneOf),
            ("contains", CmpOp::Contains),
            ("empty", CmpOp::Empty),
            ("size", CmpOp::Size),
            ("nin", CmpOp::Nin),
            ("in", CmpOp::In),
        ];
        for (text, op) in OPS {
            let n = text.chars().count();
            let matches = self
                .chars
                .get(self.pos..self.pos + n)
                .is_some_and(|s| s.iter().copied().eq(text.chars()));
            let word = text.chars().all(char::is_alphabetic);
            let boundary = !word || !self.peek_at(n).is_some_and(char::is_alphanumeric);
            if matches && boundary {
                self.pos += n;
                return Some(op);
            }
        }
        None
    }

    fn operand(&mut self) -> Result<Operand, JsonPathError> {
        self.enter()?;
        let result = self.operand_inner();
        self.depth -= 1;
        result
    }

    fn operand_inner(&mut self) -> Result<Operand, JsonPathError> {
        match self.peek() {
            Some('@') => {
                self.pos += 1;
                Ok(Operand::Current(self.parse_steps(true)?.into()))
            }
            Some('$') => {
                self.pos += 1;
                Ok(Operand::Root(self.parse_steps(true)?.into()))
            }
            Some('\'' | '"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some('[') => self.json_literal(']'),
            Some('{') => self.json_literal('}'),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Number(_)) => Ok(Operand::Literal(v)),
                    _ => Err(JsonPathError::Syntax {
                        path: self.text.to_string(),
                        position: start,
                        reason: format!("'{text}' is not a number"),
                    }),
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" => Ok(Operand::Literal(Value::Null)),
                    _ => {
                        self.pos = start;
                        Err(self.err(format!(
                            "'{word}' is not a value; quote strings like '{word}'"
                        )))
                    }
                }
            }
            _ => Err(self.found("'@', '$', a string, a number, true, false, null or a JSON array")),
        }
    }

    fn json_literal(&mut self, close: char) -> Result<Operand, JsonPathError> {
        // Find the matching bracket, skipping quoted text, then let serde_json parse it.
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match quote {
                // Skip the escaped character inside a quoted string.
                Some(_) if c == '\\' => self.pos += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '[' | '{' => depth += 1,
                    ']' | '}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                },
            }
        }
        let text: String = self.chars[start..self.pos.min(self.chars.len())]
            .iter()
            .collect();
        if !text.ends_with(close) {
            self.pos = start;
            return Err(self.err(format!(
                "the literal starting here is not closed; add '{close}'"
            )));
        }
        // Jayway accepts single-quoted strings inside literal lists.
        let json = text.replace('\'', "\"");
        match serde_json::from_str::<Value>(&json) {
            Ok(v) => Ok(Operand::Literal(v)),
            Err(e) => {
                self.pos = start;
                Err(self.err(format!("'{text}' is not a valid JSON literal: {e}")))
            }
        }
    }

    fn regex(&mut self) -> Result<Operand, JsonPathError> {
        let start = self.pos;
        self.expect('/', "a regular expression like /pattern/ after '=~'")?;
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(
                        self.err("the regular expression is not closed; add the closing '/'")
                    );
                }
                Some('\\') if self.peek_at(1) == Some('/') => {
                    pattern.push('/');
                    self.pos += 2;
                }
                Some('/') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    pattern.push(c);
                    self.pos += 1;
                }
            }
        }
        let mut flags = String::new();
        while let Some(c) = self.peek().filter(|c| "imsx".contains(*c)) {
            flags.push(c);
            self.pos += 1;
        }
        let full = if flags.is_empty() {
            pattern.clone()
        } else {
            format!("(?{flags}){pattern}")
        };
        // Jayway uses Matcher.matches(): the whole string must match.
        let anchored = format!("^(?:{full})$");
        regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 20)
            .build()
            .map(|r| Operand::Regex(Regex(r)))
            .map_err(|e| JsonPathError::Syntax {
                path: self.text.to_string(),
                position: start,
                reason: format!("/{pattern}/ is not a valid regular expression: {e}"),
            })
    }
}

fn is_variable_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_variable_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}
