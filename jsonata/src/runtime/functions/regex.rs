//! Regular expressions and the functions that take a matcher: `$match`, `$contains`, `$replace`,
//! `$split`.
//!
//! A matcher is any function returning `{match, start, end, groups, next}`: regex literals
//! (`crate::jsregex`) are one, and users may write their own. Positions count characters.

use std::rc::Rc;

use super::{Ctx, arg, call};
use crate::error::Error;
use crate::jsregex::Matcher;
use crate::number::js_to_string;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::{Function, Object, Value, stringify};

/// One match: text, character positions and groups.
#[derive(Debug, Clone)]
struct MatchInfo {
    matched: String,
    start: usize,
    end: usize,
    groups: Vec<Value>,
}

fn char_index(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].chars().count()
}

fn find(m: &Matcher, text: &str, from: usize) -> Option<(MatchInfo, usize)> {
    if from > text.len() || !text.is_char_boundary(from) {
        return None;
    }
    let caps = m.regex.captures_at(text, from)?;
    let whole = caps.get(0)?;
    let groups = (1..caps.len())
        .map(|i| {
            caps.get(i)
                .map_or(Value::string(""), |g| Value::string(g.as_str()))
        })
        .collect();
    Some((
        MatchInfo {
            matched: whole.as_str().to_owned(),
            start: char_index(text, whole.start()),
            end: char_index(text, whole.end()),
            groups,
        },
        whole.end(),
    ))
}

fn info_object(info: &MatchInfo, next: Option<Value>) -> Value {
    let mut o = Object::default();
    o.insert(Rc::from("match"), Value::string(info.matched.as_str()));
    o.insert(Rc::from("start"), Value::Number(info.start as f64));
    o.insert(Rc::from("end"), Value::Number(info.end as f64));
    o.insert(Rc::from("groups"), Value::array(info.groups.clone()));
    if let Some(next) = next {
        o.insert(Rc::from("next"), next);
    }
    Value::object(o)
}

/// The match object a regex returns when called on `text` from byte `from`.
pub fn match_object(m: &Rc<Matcher>, text: &Rc<str>, from: usize) -> Value {
    match find(m, text, from) {
        Some((info, end)) => {
            let next = Value::Function(Rc::new(Function::RegexNext {
                matcher: m.clone(),
                text: text.clone(),
                from: end,
            }));
            info_object(&info, Some(next))
        }
        None => Value::Undefined,
    }
}

/// A match object's `next()`: the following match; a later empty match is D1004.
pub fn next_match(m: &Rc<Matcher>, text: &Rc<str>, from: usize) -> Result<Value, Error> {
    if from >= text.len() {
        return Ok(Value::Undefined);
    }
    let next = match_object(m, text, from);
    if let Value::Object(o) = &next
        && matches!(o.get("match"), Some(Value::String(s)) if s.is_empty())
    {
        return Err(Error::new("D1004").with_value(m.source.clone()));
    }
    Ok(next)
}

/// Successive matches of a matcher over a string.
enum Matches {
    Native {
        matcher: Rc<Matcher>,
        text: Rc<str>,
        from: usize,
        first: bool,
    },
    Custom {
        next: Option<Value>,
    },
    Done,
}

impl Matches {
    fn start(
        ev: &mut Evaluator,
        matcher: &Value,
        text: &Rc<str>,
        ctx: &Ctx,
    ) -> Result<Matches, Error> {
        if let Value::Function(f) = matcher
            && let Function::Regex(m) = &**f
        {
            return Ok(Matches::Native {
                matcher: m.clone(),
                text: text.clone(),
                from: 0,
                first: true,
            });
        }
        let first = call(ev, matcher, vec![Value::String(text.clone())], ctx)?;
        Ok(Matches::Custom { next: Some(first) })
    }

    fn next(&mut self, ev: &mut Evaluator, ctx: &Ctx) -> Result<Option<(MatchInfo, Value)>, Error> {
        match self {
            Matches::Done => Ok(None),
            Matches::Native {
                matcher,
                text,
                from,
                first,
            } => {
                if !*first && *from >= text.len() {
                    return Ok(None);
                }
                match find(matcher, text, *from) {
                    Some((info, end)) => {
                        if !*first && info.matched.is_empty() {
                            return Err(Error::new("D1004").with_value(matcher.source.clone()));
                        }
                        *first = false;
                        *from = end;
                        let obj = info_object(&info, None);
                        Ok(Some((info, obj)))
                    }
                    None => {
                        *self = Matches::Done;
                        Ok(None)
                    }
                }
            }
            Matches::Custom { next } => {
                let Some(result) = next.take() else {
                    return Ok(None);
                };
                let Value::Object(o) = &result else {
                    if result.is_defined() {
                        return Err(Error::new("T1010"));
                    }
                    return Ok(None);
                };
                let valid = matches!(o.get("start"), Some(Value::Number(_)))
                    || matches!(o.get("groups"), Some(Value::Array(_)))
                    || matches!(o.get("next"), Some(Value::Function(_)));
                if !valid {
                    return Err(Error::new("T1010"));
                }
                let num = |k: &str| match o.get(k) {
                    Some(Value::Number(n)) if *n >= 0.0 => *n as usize,
                    _ => 0,
                };
                let info = MatchInfo {
                    matched: o
                        .get("match")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    start: num("start"),
                    end: num("end"),
                    groups: o.get("groups").map(Value::members).unwrap_or_default(),
                };
                let follow = o.get("next").cloned().unwrap_or(Value::Undefined);
                if follow.is_function() {
                    *next = Some(call(ev, &follow, Vec::new(), ctx)?);
                }
                Ok(Some((info, result)))
            }
        }
    }
}

fn limit_arg(args: &[Value], i: usize, code: &'static str) -> Result<Option<usize>, Error> {
    match args.get(i) {
        Some(Value::Number(n)) if *n < 0.0 => Err(Error::new(code).with_value(js_to_string(*n))),
        Some(Value::Number(n)) => Ok(Some(*n as usize)),
        _ => Ok(None),
    }
}

fn string_arg(args: &[Value], i: usize) -> Option<Rc<str>> {
    match args.get(i) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `$match(str, pattern, limit)`.
pub fn match_fn(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let Some(text) = string_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let limit = limit_arg(args, 2, "D3040")?;
    let mut out = Vec::new();
    if limit != Some(0) {
        let mut matches = Matches::start(ev, &arg(args, 1), &text, ctx)?;
        while limit.is_none_or(|l| out.len() < l) {
            let Some((info, _)) = matches.next(ev, ctx)? else {
                break;
            };
            let mut o = Object::default();
            o.insert(Rc::from("match"), Value::string(info.matched.as_str()));
            o.insert(Rc::from("index"), Value::Number(info.start as f64));
            o.insert(Rc::from("groups"), Value::array(info.groups));
            out.push(Value::object(o));
        }
    }
    Ok(Value::seq(out))
}

/// `$contains(str, pattern)`.
pub fn contains(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let Some(text) = string_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    match arg(args, 1) {
        Value::String(token) => Ok(Value::Bool(text.contains(&*token))),
        Value::Undefined => Ok(Value::Undefined),
        matcher => {
            let mut matches = Matches::start(ev, &matcher, &text, ctx)?;
            Ok(Value::Bool(matches.next(ev, ctx)?.is_some()))
        }
    }
}

/// `$n` references in a replacement string (`$0` the match, `$$` a dollar).
fn substitute(replacement: &str, info: &MatchInfo) -> String {
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    while pos < chars.len() {
        let c = chars[pos];
        if c != '$' {
            out.push(c);
            pos += 1;
            continue;
        }
        pos += 1;
        match chars.get(pos) {
            Some('$') => {
                out.push('$');
                pos += 1;
            }
            Some('0') => {
                out.push_str(&info.matched);
                pos += 1;
            }
            _ => {
                let count = info.groups.len();
                let max_digits = if count == 0 {
                    1
                } else {
                    (count as f64).log10().floor() as usize + 1
                };
                let parse = |n: usize| -> Option<usize> {
                    let digits: String = chars[pos..(pos + n).min(chars.len())]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .collect();
                    digits.parse().ok()
                };
                let mut index = parse(max_digits);
                if max_digits > 1 && index.is_some_and(|i| i > count) {
                    index = parse(max_digits - 1);
                }
                match index {
                    Some(i) => {
                        if count > 0
                            && i >= 1
                            && let Some(Value::String(g)) = info.groups.get(i - 1)
                        {
                            out.push_str(g);
                        }
                        pos += i.to_string().len();
                    }
                    None => out.push('$'),
                }
            }
        }
    }
    out
}

fn char_slice(chars: &[char], from: usize, to: usize) -> String {
    let to = to.min(chars.len());
    let from = from.min(to);
    chars[from..to].iter().collect()
}

/// `$replace(str, pattern, replacement, limit)`.
pub fn replace(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let Some(text) = string_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let pattern = arg(args, 1);
    if matches!(&pattern, Value::String(s) if s.is_empty()) {
        return Err(Error::new("D3010").with_value("\"\""));
    }
    let limit = limit_arg(args, 3, "D3011")?;
    let replacement = arg(args, 2);
    if limit == Some(0) {
        return Ok(Value::String(text));
    }
    if let Value::String(p) = &pattern {
        let with = replacement.as_str().unwrap_or_default();
        let mut out = String::new();
        let mut rest: &str = &text;
        let mut count = 0;
        while limit.is_none_or(|l| count < l) {
            let Some(i) = rest.find(&**p) else { break };
            out.push_str(&rest[..i]);
            out.push_str(with);
            rest = &rest[i + p.len()..];
            count += 1;
        }
        out.push_str(rest);
        return Ok(Value::string(out));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut matches = Matches::start(ev, &pattern, &text, ctx)?;
    let mut out = String::new();
    let mut position = 0;
    let mut count = 0;
    while limit.is_none_or(|l| count < l) {
        let Some((info, obj)) = matches.next(ev, ctx)? else {
            break;
        };
        out.push_str(&char_slice(&chars, position, info.start));
        match &replacement {
            Value::String(r) => out.push_str(&substitute(r, &info)),
            f @ Value::Function(_) => match call(ev, f, vec![obj], ctx)? {
                Value::String(s) => out.push_str(&s),
                other => {
                    return Err(Error::new("D3012").with_value(stringify(&other, false)));
                }
            },
            _ => {}
        }
        position = info.start + info.matched.chars().count();
        count += 1;
    }
    out.push_str(&char_slice(&chars, position, chars.len()));
    Ok(Value::string(out))
}

/// `$split(str, separator, limit)`.
pub fn split(ev: &mut Evaluator, args: &[Value], ctx: &Ctx) -> Result<Value, Error> {
    let Some(text) = string_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let limit = limit_arg(args, 2, "D3020")?;
    let mut out: Vec<Value> = Vec::new();
    if limit == Some(0) {
        return Ok(Value::array(out));
    }
    match arg(args, 1) {
        Value::String(sep) => {
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::string(c.to_string())).collect()
            } else {
                text.split(&*sep).map(Value::string).collect()
            };
            out = parts;
            if let Some(l) = limit {
                out.truncate(l);
            }
        }
        matcher => {
            let chars: Vec<char> = text.chars().collect();
            let mut matches = Matches::start(ev, &matcher, &text, ctx)?;
            let mut start = 0;
            let mut count = 0;
            while limit.is_none_or(|l| count < l) {
                let Some((info, _)) = matches.next(ev, ctx)? else {
                    break;
                };
                out.push(Value::string(char_slice(&chars, start, info.start)));
                start = info.end;
                count += 1;
            }
            if limit.is_none_or(|l| count < l) {
                out.push(Value::string(char_slice(&chars, start, chars.len())));
            }
        }
    }
    Ok(Value::array(out))
}
