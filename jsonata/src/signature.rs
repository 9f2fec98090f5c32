//! Function signatures (`<n-n?:s>`) parsed into a regular expression over one letter per
//! argument (`s` string, `n` number, `b` boolean, `l` null, `a` array, `o` object, `f` function,
//! `m` missing), as the reference implementation does it. Checking arguments against it is
//! `runtime::validate`.

use regex::Regex;

use crate::error::Error;

/// A parsed signature.
#[derive(Debug)]
pub struct Signature {
    pub(crate) params: Vec<Param>,
    pub(crate) regex: Regex,
    /// The text as written.
    pub definition: String,
}

/// One parameter: its letters as a regex fragment, its type, and what `-` and `<…>` add.
#[derive(Debug, Clone, Default)]
pub(crate) struct Param {
    pub(crate) regex: String,
    pub(crate) kind: String,
    pub(crate) subtype: Option<String>,
    /// `-`: take the context when the argument is missing.
    pub(crate) context: Option<Regex>,
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
}
