//! The parser: a call's text (`States.Format('{}', $.name)`) to an [`IntrinsicCall`], with its
//! arguments (literals, strings, JSONPaths, nested calls).

use serde_json::Value;

use super::format_template::{split_template, unicode_escape};
use super::functions::{FUNCTIONS, Function};
use super::{Arg, IntrinsicCall, IntrinsicError, MAX_NESTING};
use crate::jsonpath::JsonPath;

/// Parses an intrinsic function call such as `States.Format('{}', $.name)`.
pub fn parse(text: &str) -> Result<IntrinsicCall, IntrinsicError> {
    let mut parser = Parser {
        text,
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let call = parser.call()?;
    parser.skip_ws();
    if parser.pos < parser.chars.len() {
        return Err(parser.err("unexpected text after the closing ')'; a field holds exactly one intrinsic function call"));
    }
    Ok(call)
}

struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, reason: impl Into<String>) -> IntrinsicError {
        IntrinsicError::Syntax {
            text: self.text.to_string(),
            position: self.pos,
            reason: reason.into(),
        }
    }

    fn found(&self, expected: &str) -> IntrinsicError {
        match self.chars.get(self.pos) {
            Some(c) => self.err(format!("expected {expected} but found '{c}'")),
            None => self.err(format!("expected {expected} but the text ended")),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn starts_with(&self, s: &str) -> bool {
        let n = s.chars().count();
        self.chars
            .get(self.pos..self.pos + n)
            .is_some_and(|w| w.iter().copied().eq(s.chars()))
    }

    fn call(&mut self) -> Result<IntrinsicCall, IntrinsicError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(IntrinsicError::TooDeep {
                text: self.text.to_string(),
                limit: MAX_NESTING,
            });
        }
        let start = self.pos;
        if !self.starts_with("States.") {
            return Err(self.err("an intrinsic function call must start with 'States.', e.g. States.Format('{}', $.name); a JSONPath must start with '$'"));
        }
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let Some(function) = FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f) else {
            self.pos = start;
            return Err(self.err(format!(
                "'{name}' is not an intrinsic function; use one of {}",
                FUNCTIONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.found(&format!("'(' after {name}")));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.found(&format!("',' or ')' in the arguments of {name}"))),
                }
            }
        }
        let template = match (function, args.first()) {
            (Function::Format, Some(Arg::String { raw, .. })) => {
                Some(split_template(raw).map(Vec::into_boxed_slice))
            }
            _ => None,
        };
        let text: String = self.chars[start..self.pos].iter().collect();
        self.depth -= 1;
        Ok(IntrinsicCall {
            text: text.into(),
            function,
            args: args.into(),
            template,
        })
    }

    fn arg(&mut self) -> Result<Arg, IntrinsicError> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some('S') if self.starts_with("States.") => Ok(Arg::Call(self.call()?)),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(char::is_alphanumeric) {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    _ => {
                        self.pos = start;
                        Err(self.err(format!(
                            "'{word}' is not a valid argument; quote strings in single quotes like '{word}'"
                        )))
                    }
                }
            }
            Some('"') => Err(self.err("string arguments use single quotes, like 'text'")),
            _ => Err(self.found("an argument (a 'string', a number, true, false, null, a JSONPath or an intrinsic function)")),
        }
    }

    fn string(&mut self) -> Result<Arg, IntrinsicError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut raw = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err(
                        "the string starting here is not closed; add the closing single quote",
                    ));
                }
                Some('\\') => {
                    raw.push('\\');
                    self.pos += 1;
                    match self.peek() {
                        Some('u') => {
                            let hex: String =
                                self.chars.iter().skip(self.pos + 1).take(4).collect();
                            let Some(c) = unicode_escape(&hex) else {
                                return Err(self.err(
                                    "'\\u' must be followed by four hex digits, like \\u00e9",
                                ));
                            };
                            raw.push('u');
                            raw.push_str(&hex);
                            value.push(c);
                            self.pos += 5;
                        }
                        Some(c) => {
                            raw.push(c);
                            value.push(c);
                            self.pos += 1;
                        }
                        None => {
                            self.pos = start;
                            return Err(self.err("the string starting here ends with a lone backslash; escape it as \\\\"));
                        }
                    }
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Arg::String {
                        value: Value::String(value),
                        raw,
                    });
                }
                Some(c) => {
                    raw.push(c);
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Arg, IntrinsicError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Number(_)) => Ok(Arg::Literal(v)),
            _ => {
                self.pos = start;
                Err(self.err(format!("'{text}' is not a valid number")))
            }
        }
    }

    fn path(&mut self) -> Result<Arg, IntrinsicError> {
        // The path runs to the next ',' or ')' outside brackets and quotes.
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match quote {
                Some(_) if c == '\\' => self.pos += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' if depth > 0 => quote = Some(c),
                    '[' | '(' => depth += 1,
                    ']' | ')' if depth > 0 => depth -= 1,
                    ',' | ')' => break,
                    c if c.is_whitespace() && depth == 0 => break,
                    _ => {}
                },
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.chars.len());
        let text: String = self.chars[start..self.pos].iter().collect();
        JsonPath::parse(&text)
            .map(Arg::Path)
            .map_err(|e| IntrinsicError::Syntax {
                text: self.text.to_string(),
                position: start,
                reason: e.to_string(),
            })
    }
}
