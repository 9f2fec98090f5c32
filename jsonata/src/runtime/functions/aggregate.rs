//! `$sum`, `$count`, `$max`, `$min`, `$average` (signatures guarantee arrays of numbers).

use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

fn numbers(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Undefined => None,
        v => Some(
            v.member_slice()
                .iter()
                .filter_map(|n| match n {
                    Value::Number(x) => Some(*x),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// `$sum(array)`.
pub fn sum(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(match numbers(&arg(args, 0)) {
        Some(ns) => Value::Number(ns.iter().sum()),
        None => Value::Undefined,
    })
}

/// `$count(array)`.
pub fn count(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(Value::Number(arg(args, 0).member_slice().len() as f64))
}

/// `$max(array)`.
pub fn max(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(match numbers(&arg(args, 0)) {
        Some(ns) if !ns.is_empty() => {
            Value::Number(ns.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        }
        _ => Value::Undefined,
    })
}

/// `$min(array)`.
pub fn min(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(match numbers(&arg(args, 0)) {
        Some(ns) if !ns.is_empty() => {
            Value::Number(ns.iter().copied().fold(f64::INFINITY, f64::min))
        }
        _ => Value::Undefined,
    })
}

/// `$average(array)`.
pub fn average(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(match numbers(&arg(args, 0)) {
        Some(ns) if !ns.is_empty() => Value::Number(ns.iter().sum::<f64>() / ns.len() as f64),
        _ => Value::Undefined,
    })
}
