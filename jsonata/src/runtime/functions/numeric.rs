//! Numeric functions: `$number`, `$floor`, `$ceil`, `$round` (half to even), `$abs`, `$sqrt`,
//! `$power`, `$random`, `$formatBase`.

use super::{Ctx, arg};
use crate::error::Error;
use crate::number::js_to_string;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::{Value, stringify};

fn num(args: &[Value], i: usize) -> Option<f64> {
    match args.get(i) {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    }
}

/// `$number(x)`: numbers, numeric strings (decimal, 0x, 0o, 0b) and booleans.
pub fn number(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    let fail = |v: &Value| Error::new("D3030").with_value(stringify(v, false));
    Ok(match &v {
        Value::Undefined => Value::Undefined,
        Value::Number(n) => Value::Number(*n),
        Value::Bool(b) => Value::Number(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => Value::Number(parse_number(s).ok_or_else(|| fail(&v))?),
        other => return Err(fail(other)),
    })
}

/// A string `$number` accepts, as a number.
pub fn parse_number(s: &str) -> Option<f64> {
    let radix = |prefix: [&str; 2], radix: u32| -> Option<f64> {
        let digits = prefix.iter().find_map(|p| s.strip_prefix(p))?;
        if digits.is_empty() {
            return None;
        }
        u64::from_str_radix(digits, radix).ok().map(|n| n as f64)
    };
    if let Some(n) = radix(["0x", "0X"], 16)
        .or_else(|| radix(["0o", "0O"], 8))
        .or_else(|| radix(["0b", "0B"], 2))
    {
        return Some(n);
    }
    // -?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn unary(args: &[Value], f: impl Fn(f64) -> f64) -> Result<Value, Error> {
    Ok(match num(args, 0) {
        Some(n) => Value::Number(f(n)),
        None => Value::Undefined,
    })
}

/// `$floor(n)`.
pub fn floor(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    unary(args, f64::floor)
}

/// `$ceil(n)`.
pub fn ceil(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    unary(args, f64::ceil)
}

/// `$abs(n)`.
pub fn abs(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    unary(args, f64::abs)
}

/// `$sqrt(n)`.
pub fn sqrt(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    match num(args, 0) {
        Some(n) if n < 0.0 => Err(Error::new("D3060").with_value(js_to_string(n))),
        Some(n) => Ok(Value::Number(n.sqrt())),
        None => Ok(Value::Undefined),
    }
}

/// `$power(base, exponent)`.
pub fn power(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(base) = num(args, 0) else {
        return Ok(Value::Undefined);
    };
    let exp = num(args, 1).unwrap_or(f64::NAN);
    let r = base.powf(exp);
    if !r.is_finite() {
        return Err(Error::new("D3061")
            .with_value(js_to_string(base))
            .with_token(js_to_string(exp)));
    }
    Ok(Value::Number(r))
}

/// `$random()`.
pub fn random(_: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(Value::Number(fastrand::f64()))
}

/// JavaScript's `Math.round`: halves go up.
fn js_round(x: f64) -> f64 {
    let r = x.floor();
    if x - r >= 0.5 { r + 1.0 } else { r }
}

/// Rounds half to even at `precision` decimal places (negative: to tens, hundreds…), shifting
/// the decimal point in the text so that binary fractions do not skew the result.
pub fn round(x: f64, precision: i64) -> f64 {
    let shift = |v: f64, by: i64| -> f64 {
        let text = js_to_string(v);
        let (mantissa, exp) = match text.split_once('e') {
            Some((m, e)) => (m.to_owned(), e.parse::<i64>().unwrap_or(0)),
            None => (text, 0),
        };
        format!("{mantissa}e{}", exp + by).parse().unwrap_or(v)
    };
    let shifted = if precision != 0 {
        shift(x, precision)
    } else {
        x
    };
    let mut result = js_round(shifted);
    if (result - shifted).abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    if precision != 0 {
        result = shift(result, -precision);
    }
    if result == 0.0 { 0.0 } else { result }
}

/// `$round(n, precision)`.
pub fn round_fn(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(x) = num(args, 0) else {
        return Ok(Value::Undefined);
    };
    // beyond ±400 places every f64 rounds to itself (or to zero): no need to shift further
    let precision = num(args, 1).map_or(0, |p| p.trunc().clamp(-400.0, 400.0) as i64);
    Ok(Value::Number(round(x, precision)))
}

/// `$formatBase(n, radix)`.
pub fn format_base(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(x) = num(args, 0) else {
        return Ok(Value::Undefined);
    };
    let value = round(x, 0);
    let radix = num(args, 1).map_or(10.0, |r| round(r, 0));
    if !(2.0..=36.0).contains(&radix) {
        return Err(Error::new("D3100").with_value(js_to_string(radix)));
    }
    Ok(Value::string(integer_to_radix(value, radix as u32)))
}

/// An integral number in base `radix` (lowercase digits), as `Number.prototype.toString(radix)`.
pub fn integer_to_radix(value: f64, radix: u32) -> String {
    if !value.is_finite() {
        return js_to_string(value);
    }
    let negative = value < 0.0;
    let mut n = value.abs();
    let mut digits = Vec::new();
    if n < 1.0 {
        digits.push('0');
    }
    while n >= 1.0 {
        let d = (n % radix as f64) as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('0'));
        n = (n / radix as f64).floor();
    }
    if negative {
        digits.push('-');
    }
    digits.iter().rev().collect()
}
