//! String functions. Lengths and positions count characters (code points), as the reference
//! implementation does for `$length`, `$substring` and `$pad`.

use std::cmp::Ordering;

use super::{Ctx, arg};
use crate::error::Error;
use crate::number::js_to_string;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::{Value, stringify};

/// Longest string `$pad` builds (characters): past it the result would exhaust memory.
pub const MAX_PAD: f64 = 100_000_000.0;

/// `$string`'s conversion: strings as they are, functions as `""`, anything else as JSON
/// (numbers to 15 significant digits); `None` for undefined. Infinity and NaN are D3001.
pub fn to_string(v: &Value) -> Result<Option<String>, Error> {
    to_string_pretty(v, false)
}

fn to_string_pretty(v: &Value, pretty: bool) -> Result<Option<String>, Error> {
    Ok(Some(match v {
        Value::Undefined => return Ok(None),
        Value::String(s) => s.to_string(),
        Value::Function(_) => String::new(),
        Value::Number(n) if !n.is_finite() => {
            return Err(Error::new("D3001").with_value(js_to_string(*n)));
        }
        Value::Array(a) if a.has(crate::runtime::value::flags::OUTER_WRAPPER) => {
            stringify(a.items.first().unwrap_or(&Value::Undefined), pretty)
        }
        v => {
            crate::check_finite(v)?;
            stringify(v, pretty)
        }
    }))
}

/// Compares as JavaScript compares strings: by UTF-16 code units.
pub fn js_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn str_arg(args: &[Value], i: usize) -> Option<&str> {
    match args.get(i) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn num_arg(args: &[Value], i: usize) -> Option<f64> {
    match args.get(i) {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    }
}

fn opt(s: Option<String>) -> Value {
    s.map_or(Value::Undefined, Value::string)
}

/// `$string(x, prettify)`.
pub fn string(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let pretty = matches!(args.get(1), Some(Value::Bool(true)));
    Ok(opt(to_string_pretty(&arg(args, 0), pretty)?))
}

/// `Array.prototype.slice` bounds over `len` items.
fn slice_bounds(len: usize, start: f64, end: Option<f64>) -> (usize, usize) {
    let len_f = len as f64;
    let norm = |x: f64| -> usize {
        let x = if x.is_nan() { 0.0 } else { x.trunc() };
        let x = if x < 0.0 {
            (len_f + x).max(0.0)
        } else {
            x.min(len_f)
        };
        x as usize
    };
    let s = norm(start);
    let e = end.map_or(len, norm);
    (s, e.max(s))
}

/// `$substring(str, start, length)`.
pub fn substring(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as f64;
    let mut start = num_arg(args, 1).unwrap_or(0.0);
    if len + start < 0.0 {
        start = 0.0;
    }
    let (from, to) = match num_arg(args, 2) {
        Some(length) => {
            if length <= 0.0 {
                return Ok(Value::string(""));
            }
            let end = if start >= 0.0 {
                start + length
            } else {
                len + start + length
            };
            slice_bounds(chars.len(), start, Some(end))
        }
        None => slice_bounds(chars.len(), start, None),
    };
    Ok(Value::string(chars[from..to].iter().collect::<String>()))
}

/// `$substringBefore(str, chars)`.
pub fn substring_before(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let sep = str_arg(args, 1).unwrap_or("");
    Ok(Value::string(match s.find(sep) {
        Some(i) => &s[..i],
        None => s,
    }))
}

/// `$substringAfter(str, chars)`.
pub fn substring_after(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let sep = str_arg(args, 1).unwrap_or("");
    Ok(Value::string(match s.find(sep) {
        Some(i) => &s[i + sep.len()..],
        None => s,
    }))
}

/// `$lowercase(str)`.
pub fn lowercase(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(opt(str_arg(args, 0).map(str::to_lowercase)))
}

/// `$uppercase(str)`.
pub fn uppercase(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(opt(str_arg(args, 0).map(str::to_uppercase)))
}

/// `$length(str)`.
pub fn length(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(match str_arg(args, 0) {
        Some(s) => Value::Number(s.chars().count() as f64),
        None => Value::Undefined,
    })
}

/// `$trim(str)`: runs of whitespace become one space; leading and trailing space goes.
pub fn trim(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    let out = out.strip_prefix(' ').unwrap_or(&out);
    let out = out.strip_suffix(' ').unwrap_or(out);
    Ok(Value::string(out))
}

/// `$pad(str, width, char)`: positive width pads on the right, negative on the left.
pub fn pad(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let width = num_arg(args, 1).unwrap_or(0.0).trunc();
    let fill: Vec<char> = match str_arg(args, 2) {
        Some(c) if !c.is_empty() => c.chars().collect(),
        _ => vec![' '],
    };
    let pad_len = width.abs() - s.chars().count() as f64;
    if pad_len <= 0.0 || pad_len.is_nan() {
        return Ok(Value::string(s));
    }
    if pad_len > MAX_PAD {
        return Err(Error::new("D3141").with_value(format!(
            "$pad would build a string of {} characters (at most {MAX_PAD} are allowed)",
            js_to_string(pad_len)
        )));
    }
    let padding: String = fill.iter().cycle().take(pad_len as usize).collect();
    Ok(Value::string(if width > 0.0 {
        format!("{s}{padding}")
    } else {
        format!("{padding}{s}")
    }))
}

/// `$join(strings, separator)`.
pub fn join(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let v = arg(args, 0);
    if !v.is_defined() {
        return Ok(Value::Undefined);
    }
    let sep = str_arg(args, 1).unwrap_or("");
    let parts: Vec<String> = v
        .members()
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect();
    Ok(Value::string(parts.join(sep)))
}
