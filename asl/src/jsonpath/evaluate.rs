//! Evaluation: a document walked along a definite path by reference, and the evaluator of
//! indefinite paths (wildcards, slices, unions, filters, recursive descent), with Jayway's rules
//! for when a missing property is an error.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::ast::{CmpOp, Filter, Operand, Root, Step, render, render_step, step_is_definite};
use super::compare::compare;
use super::{JsonPath, JsonPathError};

impl JsonPath {
    pub(super) fn resolve_definite<'v>(
        &self,
        document: &'v Value,
    ) -> Result<&'v Value, JsonPathError> {
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

    pub(super) fn evaluator<'a>(&'a self, document: &'a Value) -> Evaluator<'a> {
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

/// One lifetime for path and document: filters hand out borrowed literals and nodes alike.
pub(super) struct Evaluator<'v> {
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
    pub(super) fn eval(
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

/// A JSON value's type as AWS's messages name it in lower case (`number`, `object`, …).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
