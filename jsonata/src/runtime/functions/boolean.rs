//! `$boolean`, `$not`, `$exists`, and JSONata's truthiness.

use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

/// JSONata's effective boolean value (undefined is false): an array is true if any member is.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Undefined | Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => match a.items.len() {
            0 => false,
            1 => truthy(&a.items[0]),
            _ => a.items.iter().any(truthy),
        },
        Value::Object(o) => !o.is_empty(),
        Value::Function(_) => false,
    }
}

/// `$boolean(x)`.
pub fn boolean(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    Ok(if v.is_defined() {
        Value::Bool(truthy(&v))
    } else {
        Value::Undefined
    })
}

/// `$not(x)`.
pub fn not(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    Ok(if v.is_defined() {
        Value::Bool(!truthy(&v))
    } else {
        Value::Undefined
    })
}

/// `$exists(x)`.
pub fn exists(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(Value::Bool(arg(args, 0).is_defined()))
}
