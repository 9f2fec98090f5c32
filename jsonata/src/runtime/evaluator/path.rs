//! Paths: each step maps over the sequence the previous one produced, results flatten into one
//! sequence. Steps that bind `@`, `#` or are the target of a `%` turn the path into a stream of
//! tuples (the context plus the bindings), which later steps and predicates see as variables.

use std::rc::Rc;

use super::Evaluator;
use super::frame::{Env, Frame};
use crate::ast::{Group, Kind, Node, SortTerm, Stage};
use crate::error::Error;
use crate::runtime::value::{Obj, Object, Value, flags};

/// A tuple: the context (`@`) and the variables bound along the path.
type Tuple = Rc<Obj>;

fn tuple(map: Object) -> Tuple {
    let height = 1 + map.values().map(Value::height).max().unwrap_or(0);
    Rc::new(Obj { map, height })
}

fn tuple_context(t: &Tuple) -> Value {
    t.get("@").cloned().unwrap_or(Value::Undefined)
}

fn frame_from_tuple(env: &Env, t: &Object) -> Env {
    let frame = Frame::child(env);
    for (k, v) in t {
        frame.bind_rc(k, v.clone());
    }
    frame
}

fn as_tuples(v: &Value) -> Vec<Tuple> {
    v.members()
        .into_iter()
        .map(|t| match t {
            Value::Object(o) => o,
            other => {
                let mut o = Object::default();
                o.insert(Rc::from("@"), other);
                tuple(o)
            }
        })
        .collect()
}

fn tuple_stream(tuples: Vec<Tuple>) -> Value {
    Value::array_with(
        tuples.into_iter().map(Value::Object).collect(),
        flags::SEQUENCE | flags::TUPLE_STREAM,
    )
}

impl Evaluator {
    #[inline(never)]
    pub(super) fn path(
        &mut self,
        node: &Node,
        steps: &[Node],
        input: &Value,
        env: &Env,
    ) -> Result<Value, Error> {
        if let Some(v) = self.plain_lookup(node, steps, env) {
            return Ok(v);
        }
        // One field of one object (`age` in a predicate, the commonest path there is): the
        // field's value itself. The general walk below gives the same value through a one-item
        // sequence that `eval` collapses, at the cost of two allocations per object.
        if let [step] = steps
            && let Kind::Name(name) = &step.kind
            && is_plain_step(step)
            && !node.keep_array
            && !node.keep_singleton_array
            && node.group.is_none()
            && let Value::Object(o) = input
        {
            match o.get(name) {
                None => return Ok(Value::Undefined),
                Some(v) if !matches!(v, Value::Array(_)) => return Ok(v.clone()),
                Some(_) => {}
            }
        }
        // Plain field names down through single objects (`a.b.c` over a document): descend
        // directly. The loop below gives the same, building a one-item sequence at each level.
        let mut start = 0;
        let mut descended = input;
        while start + 1 < steps.len()
            && let Kind::Name(name) = &steps[start].kind
            && is_plain_step(&steps[start])
            && let Value::Object(o) = descended
            && let Some(field @ Value::Object(_)) = o.get(name)
        {
            descended = field;
            start += 1;
        }
        let first_is_variable = matches!(steps.first().map(|s| &s.kind), Some(Kind::Variable(_)));
        let mut input_seq = match input {
            _ if start > 0 => {
                self.check_limits(node.position)?;
                Value::seq(vec![descended.clone()])
            }
            Value::Array(_) if !first_is_variable => input.clone(),
            // an undefined context is still one (undefined) item: `$x.a` must evaluate `$x`
            v => Value::seq(vec![v.clone()]),
        };
        let mut result = Value::Undefined;
        let mut is_tuple = false;
        let mut tuples: Option<Vec<Tuple>> = None;
        for (i, step) in steps.iter().enumerate().skip(start) {
            if step.tuple {
                is_tuple = true;
            }
            if i == 0 && step.consarray {
                result = self.eval(step, &input_seq, env)?;
            } else if is_tuple {
                tuples = Some(self.tuple_step(step, &input_seq, tuples.take(), env)?);
            } else {
                result = self.step(step, &input_seq, env, i == steps.len() - 1)?;
            }
            if !is_tuple {
                let empty = match &result {
                    Value::Undefined => true,
                    Value::Array(a) => a.items.is_empty(),
                    _ => false,
                };
                if empty {
                    break;
                }
            }
            if step.focus.is_none() {
                input_seq = result.clone();
            }
        }
        let mut stream = None;
        if is_tuple {
            let tuples = tuples.unwrap_or_default();
            if node.tuple {
                result = tuple_stream(tuples);
            } else {
                result = Value::seq(tuples.iter().map(tuple_context).collect());
                stream = Some(tuple_stream(tuples));
            }
        }
        if node.keep_singleton_array {
            let is_plain_cons =
                matches!(&result, Value::Array(a) if a.has(flags::CONS) && !a.has(flags::SEQUENCE));
            if is_plain_cons {
                result = Value::seq(vec![result]);
            }
            result = match result {
                Value::Array(_) => result.with_flag(flags::KEEP_SINGLETON),
                Value::Undefined => Value::Undefined,
                // the reference implementation sets the flag on a non-array, which has no effect
                other => other,
            };
        }
        if let Some(group) = &node.group {
            // grouping sees the tuples, so that the bound variables are in scope
            let grouped = stream.unwrap_or(result);
            result = self.group(group, grouped, env)?;
        }
        Ok(result)
    }

    /// `$var.a.b` through objects only: the value plain lookups find, without the sequences the
    /// general rules build (the commonest path of a host's bindings, `$states.input.x`). `None`
    /// when a step or a value needs the general rules (arrays map, predicates filter…).
    fn plain_lookup(&self, node: &Node, steps: &[Node], env: &Env) -> Option<Value> {
        if node.group.is_some() || node.keep_singleton_array || node.tuple {
            return None;
        }
        let (first, rest) = steps.split_first()?;
        let Kind::Variable(name) = &first.kind else {
            return None;
        };
        if name.is_empty() || rest.is_empty() || !is_plain_step(first) {
            return None;
        }
        let mut value = self.lookup(env, name);
        for step in rest {
            let Kind::Name(field) = &step.kind else {
                return None;
            };
            if !is_plain_step(step) {
                return None;
            }
            value = match &value {
                Value::Object(o) => o.get(&**field).cloned().unwrap_or(Value::Undefined),
                Value::Undefined => return Some(Value::Undefined),
                _ => return None,
            };
        }
        match &value {
            Value::Array(a) if a.flags != 0 => None,
            _ => Some(value),
        }
    }

    #[inline(never)]
    fn step(&mut self, step: &Node, input: &Value, env: &Env, last: bool) -> Result<Value, Error> {
        if matches!(step.kind, Kind::Sort(_)) {
            let mut result = self.sort(step, input, env)?;
            if !step.stages.is_empty() {
                result = self.stages(&step.stages, result, env)?;
            }
            return Ok(result);
        }
        // A plain field name over objects is the commonest step: read the field directly
        // rather than through `eval` and its bookkeeping for every item.
        let plain_name = match &step.kind {
            Kind::Name(name) if is_plain_step(step) => {
                self.check_limits(step.position)?;
                Some(name)
            }
            _ => None,
        };
        let mut results = Vec::new();
        for item in input.member_slice() {
            let mut res = match (plain_name, item) {
                (Some(name), Value::Object(o)) => match o.get(name) {
                    Some(v) => super::collapse_sequence(v.clone(), false),
                    None => Value::Undefined,
                },
                _ => self.eval(step, item, env)?,
            };
            for stage in &step.stages {
                if let Stage::Filter(p) = stage {
                    res = self.filter(p, res, env)?;
                }
            }
            if res.is_defined() {
                results.push(res);
            }
        }
        if last
            && results.len() == 1
            && let Value::Array(a) = &results[0]
            && !a.has(flags::SEQUENCE)
        {
            return Ok(results.pop().unwrap_or(Value::Undefined));
        }
        let mut out = Vec::new();
        for res in results {
            match res {
                Value::Array(a) if !a.has(flags::CONS) => out.extend(a.items.iter().cloned()),
                v => out.push(v),
            }
        }
        Ok(Value::seq(out))
    }

    #[inline(never)]
    fn stages(&mut self, stages: &[Stage], input: Value, env: &Env) -> Result<Value, Error> {
        let mut result = input;
        for stage in stages {
            match stage {
                Stage::Filter(p) => result = self.filter(p, result, env)?,
                Stage::Index(name) => {
                    let tuples: Vec<Tuple> = as_tuples(&result)
                        .into_iter()
                        .enumerate()
                        .map(|(i, t)| {
                            let mut t = t.map.clone();
                            t.insert(name.clone(), Value::Number(i as f64));
                            tuple(t)
                        })
                        .collect();
                    result = tuple_stream(tuples);
                }
            }
        }
        Ok(result)
    }

    #[inline(never)]
    fn tuple_step(
        &mut self,
        step: &Node,
        input: &Value,
        tuples: Option<Vec<Tuple>>,
        env: &Env,
    ) -> Result<Vec<Tuple>, Error> {
        if matches!(step.kind, Kind::Sort(_)) {
            let sorted = match tuples {
                Some(t) => self.sort(step, &tuple_stream(t), env)?,
                None => {
                    let sorted = self.sort(step, input, env)?;
                    let stream = sorted
                        .members()
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let mut t = Object::default();
                            t.insert(Rc::from("@"), v);
                            if let Some(index) = &step.index {
                                t.insert(index.clone(), Value::Number(i as f64));
                            }
                            tuple(t)
                        })
                        .collect();
                    tuple_stream(stream)
                }
            };
            let result = if step.stages.is_empty() {
                sorted
            } else {
                self.stages(&step.stages, sorted, env)?
            };
            return Ok(as_tuples(&result));
        }
        let tuples = tuples.unwrap_or_else(|| {
            input
                .members()
                .into_iter()
                .map(|item| {
                    let mut t = Object::default();
                    t.insert(Rc::from("@"), item);
                    tuple(t)
                })
                .collect()
        });
        let mut out: Vec<Tuple> = Vec::new();
        for parent in &tuples {
            let step_env = frame_from_tuple(env, &parent.map);
            let context = tuple_context(parent);
            let res = self.eval(step, &context, &step_env)?;
            if !res.is_defined() {
                continue;
            }
            let res_is_tuples = res.has_flag(flags::TUPLE_STREAM);
            let items = match &res {
                Value::Array(a) => a.items.clone(),
                v => vec![v.clone()],
            };
            for (bb, item) in items.into_iter().enumerate() {
                let mut t: Object = parent.map.clone();
                if res_is_tuples {
                    if let Value::Object(o) = &item {
                        for (k, v) in o.iter() {
                            t.insert(k.clone(), v.clone());
                        }
                    }
                } else {
                    if let Some(focus) = &step.focus {
                        t.insert(focus.clone(), item);
                        t.insert(Rc::from("@"), context.clone());
                    } else {
                        t.insert(Rc::from("@"), item);
                    }
                    if let Some(index) = &step.index {
                        t.insert(index.clone(), Value::Number(bb as f64));
                    }
                    if let Some(ancestor) = &step.ancestor {
                        t.insert(ancestor.clone(), context.clone());
                    }
                }
                out.push(tuple(t));
            }
        }
        if step.stages.is_empty() {
            Ok(out)
        } else {
            let result = self.stages(&step.stages, tuple_stream(out), env)?;
            Ok(as_tuples(&result))
        }
    }

    /// `[predicate]`: a number selects by index (negative from the end), anything else filters.
    #[inline(never)]
    pub(super) fn filter(
        &mut self,
        predicate: &Node,
        input: Value,
        env: &Env,
    ) -> Result<Value, Error> {
        let is_tuples = input.has_flag(flags::TUPLE_STREAM);
        let result_flags = if is_tuples {
            flags::SEQUENCE | flags::TUPLE_STREAM
        } else {
            flags::SEQUENCE
        };
        let items = match &input {
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        if let Kind::Num(n) = predicate.kind {
            let mut index = n.floor();
            if index < 0.0 {
                index += items.len() as f64;
            }
            let mut out = Vec::new();
            if index >= 0.0 && (index as usize) < items.len() && items[index as usize].is_defined()
            {
                let item = items[index as usize].clone();
                if let Value::Array(_) = item {
                    return Ok(item);
                }
                out.push(item);
            }
            return Ok(Value::array_with(out, result_flags));
        }
        // A predicate that reads neither the item nor a variable (`[[0..999]]`, `[true]`) has the
        // same value for every item: evaluated once, it selects in one pass. Evaluated per item,
        // as the general loop does, `[[0..999]]` over 10,000 items builds 10,000 ranges.
        if !items.is_empty() && is_constant(predicate) {
            let res = self.eval(predicate, &Value::Undefined, env)?;
            return Ok(Value::array_with(
                select_by_constant(&items, &res),
                result_flags,
            ));
        }
        let mut out = Vec::new();
        let len = items.len() as f64;
        for (index, item) in items.iter().enumerate() {
            let (context, env2) = match (is_tuples, item) {
                (true, Value::Object(t)) => (tuple_context(t), frame_from_tuple(env, &t.map)),
                _ => (item.clone(), env.clone()),
            };
            let res = self.eval(predicate, &context, &env2)?;
            match predicate_indexes(&res) {
                Some(ns) => {
                    for n in ns {
                        let mut i = n.floor();
                        if i < 0.0 {
                            i += len;
                        }
                        if i == index as f64 {
                            out.push(item.clone());
                        }
                    }
                }
                None => {
                    if crate::runtime::functions::boolean::truthy(&res) {
                        out.push(item.clone());
                    }
                }
            }
        }
        Ok(Value::array_with(out, result_flags))
    }

    /// `^(…)`: a stable merge sort on the terms; undefined keys sort last.
    #[inline(never)]
    pub(super) fn sort(&mut self, node: &Node, input: &Value, env: &Env) -> Result<Value, Error> {
        let Kind::Sort(terms) = &node.kind else {
            return Ok(input.clone());
        };
        let is_tuples = input.has_flag(flags::TUPLE_STREAM);
        let items = input.members();
        if items.len() <= 1 {
            return Ok(input.clone());
        }
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            let (context, env2) = match (is_tuples, &item) {
                (true, Value::Object(t)) => (tuple_context(t), frame_from_tuple(env, &t.map)),
                _ => (item.clone(), env.clone()),
            };
            let mut keys = Vec::with_capacity(terms.len());
            for term in terms {
                keys.push(self.eval(&term.expression, &context, &env2)?);
            }
            keyed.push((keys, item));
        }
        let position = node.position;
        let sorted = crate::runtime::functions::array::merge_sort(keyed, &mut |a, b| {
            order_swaps(terms, &a.0, &b.0, position)
        })?;
        let out = sorted.into_iter().map(|(_, v)| v).collect();
        // the merge builds a plain array, as the reference implementation's does
        let f = if is_tuples { flags::TUPLE_STREAM } else { 0 };
        Ok(Value::array_with(out, f))
    }

    /// `{key: value}` grouping over a sequence (also the object constructor over one value).
    #[inline(never)]
    pub(super) fn group(&mut self, group: &Group, input: Value, env: &Env) -> Result<Value, Error> {
        let reduce = input.has_flag(flags::TUPLE_STREAM);
        let mut items = match &input {
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        if items.is_empty() {
            items.push(Value::Undefined);
        }
        // key -> (data, index of the pair that produced it)
        let mut groups: indexmap::IndexMap<
            Rc<str>,
            (Vec<Value>, usize),
            foldhash::fast::RandomState,
        > = indexmap::IndexMap::default();
        for item in &items {
            let (context, env2) = match (reduce, item) {
                (true, Value::Object(t)) => (tuple_context(t), frame_from_tuple(env, &t.map)),
                _ => (item.clone(), env.clone()),
            };
            for (pair_index, (key_expr, _)) in group.pairs.iter().enumerate() {
                let key = self.eval(key_expr, &context, &env2)?;
                let key = match key {
                    Value::String(s) => s,
                    Value::Undefined => continue,
                    other => {
                        return Err(Error::at("T1003", group.position)
                            .with_value(crate::runtime::value::stringify(&other, false)));
                    }
                };
                match groups.get_mut(&key) {
                    Some((data, idx)) => {
                        if *idx != pair_index {
                            return Err(Error::at("D1009", group.position).with_value(&*key));
                        }
                        data.push(item.clone());
                    }
                    None => {
                        groups.insert(key, (vec![item.clone()], pair_index));
                    }
                }
            }
        }
        let mut result = crate::runtime::value::Object::default();
        for (key, (members, pair_index)) in groups {
            let data = crate::runtime::functions::array::append_all(members);
            let (context, env2) = if reduce {
                let tuple = reduce_tuple_stream(&data);
                let context = tuple.get("@").cloned().unwrap_or(Value::Undefined);
                let mut rest = tuple;
                rest.shift_remove("@");
                (context, frame_from_tuple(env, &rest))
            } else {
                (data, env.clone())
            };
            let value = self.eval(&group.pairs[pair_index].1, &context, &env2)?;
            if value.is_defined() {
                result.insert(key, value);
            }
        }
        Ok(Value::object(result))
    }
}

/// The numbers a predicate's value selects by position (`None`: it is a condition instead).
fn predicate_indexes(res: &Value) -> Option<Vec<f64>> {
    match res {
        Value::Number(n) => Some(vec![*n]),
        Value::Array(a) if !a.items.is_empty() => a.items.iter().map(Value::as_number).collect(),
        _ => None,
    }
}

/// The items a predicate with one value for all of them selects: by position (each time a
/// position is named, negative ones from the end) or all or none by its truth.
fn select_by_constant(items: &[Value], res: &Value) -> Vec<Value> {
    let Some(numbers) = predicate_indexes(res) else {
        return if crate::runtime::functions::boolean::truthy(res) {
            items.to_vec()
        } else {
            Vec::new()
        };
    };
    let len = items.len() as f64;
    let mut times = vec![0u32; items.len()];
    for n in numbers {
        let mut i = n.floor();
        if i < 0.0 {
            i += len;
        }
        if i >= 0.0 && i < len {
            times[i as usize] += 1;
        }
    }
    let mut out = Vec::new();
    for (item, &n) in items.iter().zip(&times) {
        out.extend(std::iter::repeat_n(item, n as usize).cloned());
    }
    out
}

/// True when `node`'s value depends on nothing but itself: literals, and array constructors,
/// ranges and operators over literals.
fn is_constant(node: &Node) -> bool {
    let plain = node.predicate.is_empty() && node.stages.is_empty() && node.group.is_none();
    plain
        && match &node.kind {
            Kind::Num(_) | Kind::Str(_) | Kind::Bool(_) | Kind::Null => true,
            Kind::Array(items) => items.iter().all(is_constant),
            Kind::Binary(_, a, b) => is_constant(a) && is_constant(b),
            Kind::Negate(a) => is_constant(a),
            _ => false,
        }
}

/// A step with nothing on it but its own expression: no filter, binding, grouping or flag.
fn is_plain_step(step: &Node) -> bool {
    !step.keep_array
        && step.predicate.is_empty()
        && step.stages.is_empty()
        && step.group.is_none()
        && step.focus.is_none()
        && step.index.is_none()
        && !step.tuple
        && step.ancestor.is_none()
        && !step.consarray
        && !step.keep_singleton_array
        && step.seeking_parent.is_empty()
}

/// Merges the tuples of one group: each variable becomes the sequence of its values.
fn reduce_tuple_stream(data: &Value) -> Object {
    match data {
        Value::Object(o) => o.map.clone(),
        Value::Array(a) => {
            // each variable's values in tuple order, appended once at the end
            let mut values: indexmap::IndexMap<Rc<str>, Vec<Value>, foldhash::fast::RandomState> =
                indexmap::IndexMap::default();
            for t in &a.items {
                let Value::Object(t) = t else { continue };
                for (k, v) in t.iter() {
                    values.entry(k.clone()).or_default().push(v.clone());
                }
            }
            let result: Object = values
                .into_iter()
                .map(|(k, vs)| (k, crate::runtime::functions::array::append_all(vs)))
                .collect();
            result
        }
        _ => Object::default(),
    }
}

/// The order-by comparator: true when `a` must come after `b`.
fn order_swaps(
    terms: &[SortTerm],
    a: &[Value],
    b: &[Value],
    position: usize,
) -> Result<bool, Error> {
    let mut comp = 0;
    for (i, term) in terms.iter().enumerate() {
        let (aa, bb) = (&a[i], &b[i]);
        comp = match (aa, bb) {
            (Value::Undefined, Value::Undefined) => 0,
            (Value::Undefined, _) => 1,
            (_, Value::Undefined) => -1,
            _ => {
                let comparable = |v: &Value| matches!(v, Value::Number(_) | Value::String(_));
                if !comparable(aa) || !comparable(bb) {
                    let bad = if comparable(aa) { bb } else { aa };
                    return Err(Error::at("T2008", position)
                        .with_value(crate::runtime::value::stringify(bad, false)));
                }
                let c = match (aa, bb) {
                    (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
                    (Value::String(x), Value::String(y)) => {
                        Some(crate::runtime::functions::string::js_cmp(x, y))
                    }
                    _ => {
                        return Err(Error::at("T2007", position).with_value(format!(
                            "{} and {}",
                            crate::runtime::value::stringify(aa, false),
                            crate::runtime::value::stringify(bb, false)
                        )));
                    }
                };
                let c = match c {
                    Some(std::cmp::Ordering::Less) => -1,
                    Some(std::cmp::Ordering::Greater) => 1,
                    _ => 0,
                };
                if term.descending { -c } else { c }
            }
        };
        if comp != 0 {
            break;
        }
    }
    Ok(comp == 1)
}
