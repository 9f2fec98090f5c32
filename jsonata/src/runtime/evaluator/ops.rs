//! Binary operators: arithmetic, comparison, equality, `&`, `and`/`or` (short-circuit), `in`
//! and the range `..`.

use super::Evaluator;
use super::frame::Env;
use crate::ast::{BinOp, Node};
use crate::error::Error;
use crate::runtime::functions::boolean::truthy;
use crate::runtime::value::{Value, deep_equal, strict_equal, stringify};

/// Largest sequence the range operator builds (the reference implementation's limit).
pub const MAX_RANGE: f64 = 1e7;

fn render(v: &Value) -> String {
    stringify(v, false)
}

/// A number operand: undefined passes, NaN/non-numbers are type errors, infinities range errors.
fn numeric(v: &Value, code: &'static str) -> Result<Option<f64>, Error> {
    match v {
        Value::Undefined => Ok(None),
        Value::Number(n) if n.is_nan() => Err(Error::new(code).with_value("NaN")),
        Value::Number(n) if n.is_infinite() => {
            Err(Error::new("D1001").with_value(crate::number::js_to_string(*n)))
        }
        Value::Number(n) => Ok(Some(*n)),
        other => Err(Error::new(code).with_value(render(other))),
    }
}

impl Evaluator {
    #[inline(never)]
    pub(super) fn binary(
        &mut self,
        op: BinOp,
        lhs: &Node,
        rhs: &Node,
        position: usize,
        input: &Value,
        env: &Env,
    ) -> Result<Value, Error> {
        let l = self.eval(lhs, input, env)?;
        if matches!(op, BinOp::And | BinOp::Or) {
            let lb = truthy(&l);
            let result = match op {
                BinOp::And => lb && truthy(&self.eval(rhs, input, env)?),
                _ => lb || truthy(&self.eval(rhs, input, env)?),
            };
            return Ok(Value::Bool(result));
        }
        let r = self.eval(rhs, input, env)?;
        let result = match op {
            // up to 10^7 items: the time limit is checked while they are made
            BinOp::Range => range(&l, &r, || self.check_time()),
            _ => binary_values(op, &l, &r),
        };
        result.map_err(|e| e.or_position(position).with_token(op.symbol()))
    }
}

/// Applies a (non-short-circuit) operator to two values.
pub fn binary_values(op: BinOp, l: &Value, r: &Value) -> Result<Value, Error> {
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
            let a = numeric(l, "T2001")?;
            let b = numeric(r, "T2002")?;
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(Value::Undefined);
            };
            let n = match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                _ => a % b,
            };
            Ok(Value::Number(n))
        }
        BinOp::Eq | BinOp::Ne => {
            if !l.is_defined() || !r.is_defined() {
                return Ok(Value::Bool(false));
            }
            let eq = deep_equal(l, r);
            Ok(Value::Bool(if op == BinOp::Eq { eq } else { !eq }))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare(op, l, r),
        BinOp::Concat => {
            let a = crate::runtime::functions::string::to_string(l)?.unwrap_or_default();
            let b = crate::runtime::functions::string::to_string(r)?.unwrap_or_default();
            Ok(Value::string(format!("{a}{b}")))
        }
        BinOp::In => {
            if !l.is_defined() || !r.is_defined() {
                return Ok(Value::Bool(false));
            }
            let found = match r {
                Value::Array(a) => a.items.iter().any(|item| strict_equal(item, l)),
                v => strict_equal(v, l),
            };
            Ok(Value::Bool(found))
        }
        BinOp::Range => range(l, r, || Ok(())),
        BinOp::And => Ok(Value::Bool(truthy(l) && truthy(r))),
        BinOp::Or => Ok(Value::Bool(truthy(l) || truthy(r))),
    }
}

fn compare(op: BinOp, l: &Value, r: &Value) -> Result<Value, Error> {
    let comparable =
        |v: &Value| matches!(v, Value::Undefined | Value::String(_) | Value::Number(_));
    if !comparable(l) || !comparable(r) {
        let bad = if matches!(l, Value::String(_) | Value::Number(_)) {
            r
        } else {
            l
        };
        return Err(Error::new("T2010").with_value(render(bad)));
    }
    if !l.is_defined() || !r.is_defined() {
        return Ok(Value::Undefined);
    }
    let ord = match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => {
            Some(crate::runtime::functions::string::js_cmp(a, b))
        }
        _ => {
            return Err(Error::new("T2009").with_value(format!("{} and {}", render(l), render(r))));
        }
    };
    use std::cmp::Ordering::*;
    let result = match (op, ord) {
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Less,
        (BinOp::Le, Some(o)) => o != Greater,
        (BinOp::Gt, Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    };
    Ok(Value::Bool(result))
}

/// `a..b`; `check` runs between chunks of items (the evaluator's time limit).
fn range(
    l: &Value,
    r: &Value,
    mut check: impl FnMut() -> Result<(), Error>,
) -> Result<Value, Error> {
    let int = |v: &Value, code: &'static str| -> Result<Option<f64>, Error> {
        match v {
            Value::Undefined => Ok(None),
            Value::Number(n) if n.is_finite() && n.fract() == 0.0 => Ok(Some(*n)),
            other => Err(Error::new(code).with_value(render(other))),
        }
    };
    let a = int(l, "T2003")?;
    let b = int(r, "T2004")?;
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(Value::Undefined);
    };
    if a > b {
        return Ok(Value::Undefined);
    }
    let size = b - a + 1.0;
    if size > MAX_RANGE {
        return Err(Error::new("D2014").with_value(crate::number::js_to_string(size)));
    }
    const CHUNK: u64 = 1 << 16;
    let size = size as u64;
    let mut items = Vec::with_capacity(size as usize);
    for start in (0..size).step_by(CHUNK as usize) {
        check()?;
        let end = (start + CHUNK).min(size);
        items.extend((start..end).map(|i| Value::Number(a + i as f64)));
    }
    Ok(Value::seq(items))
}
