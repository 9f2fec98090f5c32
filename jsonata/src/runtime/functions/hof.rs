//! Higher-order functions: `$map`, `$filter`, `$single`, `$reduce`, `$sift`, `$each`, and
//! `$eval` (which parses and evaluates an expression at run time).

use super::boolean::truthy;
use super::{Ctx, arg, call, hof_args};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::{Object, Value, flags};

/// `$map(array, function)`.
pub fn map(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let arr = arg(args, 0);
    if !arr.is_defined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1);
    let mut out = Vec::new();
    for (i, item) in arr.members().into_iter().enumerate() {
        let r = call(
            ev,
            &f,
            hof_args(&f, item, Value::Number(i as f64), &arr),
            ctx,
        )?;
        if r.is_defined() {
            out.push(r);
        }
    }
    Ok(Value::seq(out))
}

/// `$filter(array, function)`.
pub fn filter(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let arr = arg(args, 0);
    if !arr.is_defined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1);
    let mut out = Vec::new();
    for (i, item) in arr.members().into_iter().enumerate() {
        let r = call(
            ev,
            &f,
            hof_args(&f, item.clone(), Value::Number(i as f64), &arr),
            ctx,
        )?;
        if truthy(&r) {
            out.push(item);
        }
    }
    Ok(Value::seq(out))
}

/// `$single(array, function)`: exactly one match, else D3138/D3139.
pub fn single(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let arr = arg(args, 0);
    if !arr.is_defined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1);
    let mut found: Option<Value> = None;
    for (i, item) in arr.members().into_iter().enumerate() {
        let positive = if f.is_defined() {
            truthy(&call(
                ev,
                &f,
                hof_args(&f, item.clone(), Value::Number(i as f64), &arr),
                ctx,
            )?)
        } else {
            true
        };
        if positive {
            if found.is_some() {
                return Err(Error::new("D3138").with_value(i.to_string()));
            }
            found = Some(item);
        }
    }
    found.ok_or_else(|| Error::new("D3139"))
}

/// `$reduce(array, function, init)`.
pub fn reduce(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let arr = arg(args, 0);
    if !arr.is_defined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1);
    let arity = match &f {
        Value::Function(func) => func.arity(),
        _ => 0,
    };
    if arity < 2 {
        return Err(Error::new("D3050").with_value("1"));
    }
    let items = arr.members();
    let init = arg(args, 2);
    let (mut acc, start) = if !init.is_defined() && !items.is_empty() {
        (items[0].clone(), 1)
    } else {
        (init, 0)
    };
    for (i, item) in items.iter().enumerate().skip(start) {
        let mut call_args = vec![acc, item.clone()];
        if arity >= 3 {
            call_args.push(Value::Number(i as f64));
        }
        if arity >= 4 {
            call_args.push(arr.clone());
        }
        acc = call(ev, &f, call_args, ctx)?;
    }
    Ok(acc)
}

/// `$sift(object, function)`: the entries the function accepts; undefined if none.
pub fn sift(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let obj = arg(args, 0);
    let f = arg(args, 1);
    let mut out = Object::default();
    if let Value::Object(o) = &obj {
        for (k, v) in o.iter() {
            let r = call(
                ev,
                &f,
                hof_args(&f, v.clone(), Value::String(k.clone()), &obj),
                ctx,
            )?;
            if truthy(&r) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(if out.is_empty() {
        Value::Undefined
    } else {
        Value::object(out)
    })
}

/// `$each(object, function)`.
pub fn each(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let obj = arg(args, 0);
    let f = arg(args, 1);
    let mut out = Vec::new();
    if let Value::Object(o) = &obj {
        for (k, v) in o.iter() {
            let r = call(
                ev,
                &f,
                hof_args(&f, v.clone(), Value::String(k.clone()), &obj),
                ctx,
            )?;
            if r.is_defined() {
                out.push(r);
            }
        }
    }
    Ok(Value::seq(out))
}

/// `$eval(expression, context)`: parse errors are D3120, evaluation errors D3121.
pub fn eval(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let Value::String(text) = arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let mut input = ctx.input.clone();
    let focus = arg(args, 1);
    if focus.is_defined() {
        input = match focus {
            Value::Array(a) if !a.has(flags::SEQUENCE) => Value::array_with(
                vec![Value::Array(a)],
                flags::SEQUENCE | flags::OUTER_WRAPPER,
            ),
            v => v,
        };
    }
    let node =
        crate::compile_node(&text).map_err(|e| Error::new("D3120").with_value(e.message()))?;
    ev.eval(&node, &input, &ctx.env).map_err(|e| {
        // running out of depth or time ends the whole evaluation, not just this expression
        if e.code == "U1001" {
            e
        } else {
            Error::new("D3121").with_value(e.message())
        }
    })
}
