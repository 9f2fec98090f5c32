//! Function signatures (`<n-n?:s>`): parsing, and checking a call's arguments against one.
//!
//! A signature becomes a regular expression over one letter per argument (`s` string, `n`
//! number, `b` boolean, `l` null, `a` array, `o` object, `f` function, `m` missing), as the
//! reference implementation does it; matching fills in the context for `-` parameters and wraps
//! single values for array parameters.

use regex::Regex;

use crate::error::Error;
use crate::value::Value;

/// A parsed signature.
#[derive(Debug)]
pub struct Signature {
    params: Vec<Param>,
    regex: Regex,
    /// The text as written.
    pub definition: String,
}

#[derive(Debug, Clone, Default)]
struct Param {
    regex: String,
    kind: String,
    subtype: Option<String>,
    /// `-`: take the context when the argument is missing.
    context: Option<Regex>,
}

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

fn closing(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 1;
    let mut pos = start;
    while pos < chars.len() {
        pos += 1;
        match chars.get(pos) {
            Some(&c) if c == close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Some(&c) if c == open => depth += 1,
            _ => {}
        }
    }
    pos
}

impl Signature {
    /// Parses `<…>`. Errors carry the offset inside the signature as their position.
    pub fn parse(text: &str) -> Result<Signature, Error> {
        let chars: Vec<char> = text.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut pos = 1;
        while pos < chars.len() {
            let c = chars[pos];
            if c == ':' {
                break;
            }
            match c {
                's' | 'n' | 'b' | 'l' | 'o' => params.push(Param {
                    regex: format!("[{c}m]"),
                    kind: c.to_string(),
                    ..Param::default()
                }),
                'a' => params.push(Param {
                    regex: "[asnblfom]".to_owned(),
                    kind: "a".to_owned(),
                    ..Param::default()
                }),
                'f' => params.push(Param {
                    regex: "f".to_owned(),
                    kind: "f".to_owned(),
                    ..Param::default()
                }),
                'j' => params.push(Param {
                    regex: "[asnblom]".to_owned(),
                    kind: "j".to_owned(),
                    ..Param::default()
                }),
                'x' => params.push(Param {
                    regex: "[asnblfom]".to_owned(),
                    kind: "x".to_owned(),
                    ..Param::default()
                }),
                '-' => {
                    if let Some(p) = params.last_mut() {
                        p.context = Regex::new(&p.regex).ok();
                        p.regex.push('?');
                    }
                }
                '?' | '+' => {
                    if let Some(p) = params.last_mut() {
                        p.regex.push(c);
                    }
                }
                '(' => {
                    let end = closing(&chars, pos, '(', ')');
                    let choice: String = chars[pos + 1..end.min(chars.len())].iter().collect();
                    if choice.contains('<') {
                        return Err(Error::at("S0402", pos).with_value(choice));
                    }
                    params.push(Param {
                        regex: format!("[{}m]", regex::escape(&choice)),
                        kind: format!("({choice})"),
                        ..Param::default()
                    });
                    pos = end;
                }
                '<' => match params.last_mut() {
                    Some(p) if p.kind == "a" || p.kind == "f" => {
                        let end = closing(&chars, pos, '<', '>');
                        p.subtype = Some(chars[pos + 1..end.min(chars.len())].iter().collect());
                        pos = end;
                    }
                    other => {
                        let kind = other.map(|p| p.kind.clone()).unwrap_or_default();
                        return Err(Error::at("S0401", pos).with_value(kind));
                    }
                },
                _ => {}
            }
            pos += 1;
        }
        let pattern: String = params.iter().map(|p| format!("({})", p.regex)).collect();
        let regex = Regex::new(&format!("^{pattern}$")).map_err(|_| Error::at("S0401", 0))?;
        Ok(Signature {
            params,
            regex,
            definition: text.to_owned(),
        })
    }

    /// Number of declared parameters.
    pub fn param_count(&self) -> usize {
        self.params.len()
    }

    /// Checks `args` against the signature; returns them with the context filled in where a
    /// `-` parameter is missing and single values wrapped where an array is expected.
    pub fn validate(&self, args: &[Value], context: &Value) -> Result<Vec<Value>, Error> {
        let supplied: String = args.iter().map(symbol).collect();
        let Some(caps) = self.regex.captures(&supplied) else {
            return Err(self.mismatch(args, &supplied));
        };
        let mut out = Vec::with_capacity(self.params.len());
        let mut arg_index = 0;
        for (i, param) in self.params.iter().enumerate() {
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
                                            sub.starts_with(t)
                                                && a.items.iter().all(|v| symbol(v) == t)
                                        }
                                    },
                                    _ => true,
                                }
                            };
                            if !ok {
                                return Err(
                                    Error::new("T0412").with_value((arg_index + 1).to_string())
                                );
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
    fn mismatch(&self, _args: &[Value], supplied: &str) -> Error {
        let mut partial = String::from("^");
        let mut good_to = 0;
        for p in &self.params {
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
}
