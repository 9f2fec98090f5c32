//! Object functions: `$keys`, `$lookup`, `$spread`, `$merge`, `$type`, `$clone`, and the
//! error raisers `$error` and `$assert`.

use std::rc::Rc;

use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::evaluator::lookup_field;
use crate::runtime::value::{Object, Value};

fn keys_of(v: &Value, out: &mut Vec<Rc<str>>) {
    match v {
        Value::Array(a) => {
            for item in &a.items {
                keys_of(item, out);
            }
        }
        Value::Object(o) => {
            for k in o.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
        _ => {}
    }
}

/// `$keys(object)`: of an array of objects, every key once.
pub fn keys(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let mut out = Vec::new();
    keys_of(&arg(args, 0), &mut out);
    Ok(Value::seq(out.into_iter().map(Value::String).collect()))
}

/// `$lookup(object, key)`.
pub fn lookup(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let key = arg(args, 1);
    Ok(lookup_field(
        &arg(args, 0),
        key.as_str().unwrap_or_default(),
    ))
}

fn spread_into(v: &Value, out: &mut Vec<Value>) -> Option<Value> {
    match v {
        Value::Array(a) => {
            for item in &a.items {
                if let Some(other) = spread_into(item, out) {
                    out.push(other);
                }
            }
            None
        }
        Value::Object(o) => {
            for (k, v) in o.iter() {
                let mut single = Object::default();
                single.insert(k.clone(), v.clone());
                out.push(Value::object(single));
            }
            None
        }
        other => Some(other.clone()),
    }
}

/// `$spread(object)`: one single-key object per key.
pub fn spread(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    if !matches!(v, Value::Array(_) | Value::Object(_)) {
        return Ok(v);
    }
    let mut out = Vec::new();
    if let Some(other) = spread_into(&v, &mut out) {
        return Ok(other);
    }
    // spreading an array appends per item, which yields a plain array (no singleton collapse)
    Ok(match &v {
        Value::Array(a) if !a.items.is_empty() => Value::array(out),
        _ => Value::seq(out),
    })
}

/// `$merge(objects)`.
pub fn merge(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    if !v.is_defined() {
        return Ok(Value::Undefined);
    }
    let mut out = Object::default();
    for item in v.members() {
        if let Value::Object(o) = item {
            for (k, v) in o.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::object(out))
}

/// `$type(x)`.
pub fn type_of(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(match arg(args, 0) {
        Value::Undefined => Value::Undefined,
        Value::Null => Value::string("null"),
        Value::Number(_) => Value::string("number"),
        Value::String(_) => Value::string("string"),
        Value::Bool(_) => Value::string("boolean"),
        Value::Array(_) => Value::string("array"),
        Value::Function(_) => Value::string("function"),
        Value::Object(_) => Value::string("object"),
    })
}

/// `$clone(x)`: a deep copy.
pub fn clone(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(crate::runtime::evaluator::transform::deep_clone(&arg(
        args, 0,
    )))
}

/// `$error(message)`.
pub fn error(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let message = arg(args, 0)
        .as_str()
        .filter(|m| !m.is_empty())
        .unwrap_or("$error() function evaluated")
        .to_owned();
    let mut e = Error::new("D3137").with_value(message.clone());
    e.custom_message = Some(message);
    Err(e)
}

/// `$assert(condition, message)`.
pub fn assert(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    if matches!(arg(args, 0), Value::Bool(true)) {
        return Ok(Value::Undefined);
    }
    let message = arg(args, 1)
        .as_str()
        .filter(|m| !m.is_empty())
        .unwrap_or("$assert() statement failed")
        .to_owned();
    let mut e = Error::new("D3141").with_value(message.clone());
    e.custom_message = Some(message);
    Err(e)
}
