//! Checking a call's arguments against a function signature: the context fills in for a
//! missing `-` parameter, a single value becomes an array for an array parameter, and the first
//! argument that does not fit is T0410 (T0411 for the context, T0412 for array contents).

use regex::Regex;

use super::value::Value;
use crate::error::Error;
use crate::signature::Signature;

/// The letter for a value's type.
pub fn symbol(v: &Value) -> char {
    match v {
        Value::Undefined => 'm',
        Value::Null => 'l',
        Value::Bool(_) => 'b',
        Value::Number(_) => 'n',
        Value::String(_) => 's',
        Value::Array(_) => 'a',
        Value::Object(_) => 'o',
        Value::Function(_) => 'f',
    }
}

/// Checks `args` against the signature; returns them with the context filled in where a
/// `-` parameter is missing and single values wrapped where an array is expected.
pub fn validate(sig: &Signature, args: &[Value], context: &Value) -> Result<Vec<Value>, Error> {
    let supplied: String = args.iter().map(symbol).collect();
    let Some(caps) = sig.regex.captures(&supplied) else {
        return Err(mismatch(sig, &supplied));
    };
    let mut out = Vec::with_capacity(sig.params.len());
    let mut arg_index = 0;
    for (i, param) in sig.params.iter().enumerate() {
        let matched = caps.get(i + 1).map_or("", |m| m.as_str());
        if matched.is_empty() {
            if let Some(ctx_regex) = &param.context {
                let ctx_symbol = symbol(context);
                let ok = ctx_regex.is_match(ctx_symbol.encode_utf8(&mut [0; 4]));
                if ok {
                    out.push(context.clone());
                } else {
                    return Err(Error::new("T0411").with_value((arg_index + 1).to_string()));
                }
            } else {
                out.push(args.get(arg_index).cloned().unwrap_or(Value::Undefined));
                arg_index += 1;
            }
            continue;
        }
        for single in matched.chars() {
            let arg = args.get(arg_index).cloned().unwrap_or(Value::Undefined);
            if param.kind == "a" {
                if single == 'm' {
                    out.push(Value::Undefined);
                } else {
                    if let Some(sub) = &param.subtype {
                        let ok = if single != 'a' {
                            matched == sub
                        } else {
                            match &arg {
                                Value::Array(a) => match a.items.first() {
                                    None => true,
                                    Some(first) => {
                                        let t = symbol(first);
                                        sub.starts_with(t) && a.items.iter().all(|v| symbol(v) == t)
                                    }
                                },
                                _ => true,
                            }
                        };
                        if !ok {
                            return Err(Error::new("T0412").with_value((arg_index + 1).to_string()));
                        }
                    }
                    if single == 'a' {
                        out.push(arg);
                    } else {
                        out.push(Value::array(vec![arg]));
                    }
                }
            } else {
                out.push(arg);
            }
            arg_index += 1;
        }
    }
    Ok(out)
}

/// Finds the first argument that does not fit, for T0410.
fn mismatch(sig: &Signature, supplied: &str) -> Error {
    let mut partial = String::from("^");
    let mut good_to = 0;
    for p in &sig.params {
        partial.push('(');
        partial.push_str(&p.regex);
        partial.push(')');
        match Regex::new(&partial).ok().and_then(|r| r.find(supplied)) {
            Some(m) => good_to = m.end(),
            None => break,
        }
    }
    Error::new("T0410").with_value((good_to + 1).to_string())
}
