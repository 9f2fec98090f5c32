//! Array functions: `$append`, `$reverse`, `$shuffle`, `$distinct`, `$sort`, `$zip`, and the
//! stable merge sort that `$sort` and `^(…)` share.

use super::{Ctx, arg, call};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::{Value, deep_equal, flags};

/// `$append`'s rule: undefined disappears, everything else concatenates into a plain array.
pub fn append(a: Value, b: Value) -> Value {
    if !a.is_defined() {
        return b;
    }
    if !b.is_defined() {
        return a;
    }
    let mut items = a.members();
    match &b {
        Value::Array(arr) => items.extend(arr.items.iter().cloned()),
        v => items.push(v.clone()),
    }
    Value::array(items)
}

/// `append` folded over `values` in one pass: the same value as appending them one by one,
/// without copying the growing array at every step (grouping a sequence of n items into a few
/// groups would otherwise cost n² copies).
pub fn append_all(values: Vec<Value>) -> Value {
    let mut defined = values.into_iter().filter(Value::is_defined);
    let Some(first) = defined.next() else {
        return Value::Undefined;
    };
    let Some(second) = defined.next() else {
        return first;
    };
    let mut items = Vec::new();
    for v in [first, second].into_iter().chain(defined) {
        match v {
            Value::Array(a) => items.extend(a.items.iter().cloned()),
            v => items.push(v),
        }
    }
    Value::array(items)
}

/// `$append(a, b)`.
pub fn append_fn(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(append(arg(args, 0), arg(args, 1)))
}

/// `$reverse(array)`.
pub fn reverse(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    match &v {
        Value::Array(a) if a.items.len() > 1 => {
            Ok(Value::array(a.items.iter().rev().cloned().collect()))
        }
        _ => Ok(v),
    }
}

/// `$shuffle(array)`.
pub fn shuffle(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    match &v {
        Value::Array(a) if a.items.len() > 1 => {
            let mut items = a.items.clone();
            fastrand::shuffle(&mut items);
            Ok(Value::array(items))
        }
        _ => Ok(v),
    }
}

/// `$distinct(array)`.
pub fn distinct(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    let Value::Array(a) = &v else {
        return Ok(v);
    };
    if a.items.len() <= 1 {
        return Ok(v);
    }
    let mut out: Vec<Value> = Vec::new();
    for item in &a.items {
        if !out.iter().any(|o| deep_equal(o, item)) {
            out.push(item.clone());
        }
    }
    let f = if a.has(flags::SEQUENCE) {
        flags::SEQUENCE
    } else {
        0
    };
    Ok(Value::array_with(out, f))
}

/// JavaScript truthiness (what a `$sort` comparator's result is tested with).
fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Undefined | Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// `$sort(array, comparator)`: the comparator returns true when its first argument must come
/// after the second.
pub fn sort(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    let Value::Array(a) = &v else {
        return Ok(v);
    };
    if a.items.len() <= 1 {
        return Ok(v);
    }
    let items = a.items.clone();
    let sorted = match args.get(1) {
        Some(f @ Value::Function(_)) => {
            let f = f.clone();
            merge_sort(items, &mut |x: &Value, y: &Value| {
                Ok(js_truthy(&call(ev, &f, vec![x.clone(), y.clone()], ctx)?))
            })?
        }
        _ => {
            let all_numbers = items.iter().all(|i| matches!(i, Value::Number(_)));
            let all_strings = items.iter().all(|i| matches!(i, Value::String(_)));
            if !all_numbers && !all_strings {
                return Err(Error::new("D3070").with_value("1"));
            }
            merge_sort(items, &mut |x: &Value, y: &Value| {
                Ok(match (x, y) {
                    (Value::Number(a), Value::Number(b)) => a > b,
                    (Value::String(a), Value::String(b)) => {
                        super::string::js_cmp(a, b) == std::cmp::Ordering::Greater
                    }
                    _ => false,
                })
            })?
        }
    };
    Ok(Value::array(sorted))
}

/// A stable merge sort whose comparator may fail; `swap(a, b)` is true when `a` goes after `b`.
pub fn merge_sort<T: Clone>(
    items: Vec<T>,
    swap: &mut dyn FnMut(&T, &T) -> Result<bool, Error>,
) -> Result<Vec<T>, Error> {
    if items.len() <= 1 {
        return Ok(items);
    }
    // bottom-up, so that the recursion depth does not grow with the input
    let mut runs: Vec<Vec<T>> = items.into_iter().map(|i| vec![i]).collect();
    while runs.len() > 1 {
        let mut next = Vec::with_capacity(runs.len().div_ceil(2));
        let mut it = runs.into_iter();
        while let Some(left) = it.next() {
            match it.next() {
                Some(right) => next.push(merge(left, right, swap)?),
                None => next.push(left),
            }
        }
        runs = next;
    }
    Ok(runs.pop().unwrap_or_default())
}

fn merge<T: Clone>(
    left: Vec<T>,
    right: Vec<T>,
    swap: &mut dyn FnMut(&T, &T) -> Result<bool, Error>,
) -> Result<Vec<T>, Error> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if swap(&left[i], &right[j])? {
            out.push(right[j].clone());
            j += 1;
        } else {
            out.push(left[i].clone());
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    Ok(out)
}

/// `$zip(array, …)`.
pub fn zip(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let arrays: Vec<Vec<Value>> = args
        .iter()
        .map(|a| match a {
            Value::Array(a) => a.items.clone(),
            _ => Vec::new(),
        })
        .collect();
    let len = arrays.iter().map(Vec::len).min().unwrap_or(0);
    let out = (0..len)
        .map(|i| Value::array(arrays.iter().map(|a| a[i].clone()).collect()))
        .collect();
    Ok(Value::array(out))
}
