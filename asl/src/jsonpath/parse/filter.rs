//! The parser's filter expressions (`[?(...)]`): `||`, `&&`, `!`, comparisons, and their
//! operands (sub-paths, JSON literals, regular expressions).

use serde_json::Value;

use super::Parser;
use crate::jsonpath::JsonPathError;
use crate::jsonpath::ast::{CmpOp, Filter, Operand, Regex};

impl Parser<'_> {
    pub(super) fn filter_or(&mut self) -> Result<Filter, JsonPathError> {
        self.enter()?;
        let mut left = self.filter_and()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('|') && self.peek_at(1) == Some('|') {
                self.pos += 2;
                let right = self.filter_and()?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn filter_and(&mut self) -> Result<Filter, JsonPathError> {
        let mut left = self.filter_unary()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                self.pos += 2;
                let right = self.filter_unary()?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        Ok(left)
    }

    fn filter_unary(&mut self) -> Result<Filter, JsonPathError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            self.enter()?;
            let inner = self.filter_unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.eat('(') {
            let inner = self.filter_or()?;
            self.skip_ws();
            self.expect(')', "')'")?;
            return Ok(inner);
        }
        let left = self.operand()?;
        self.skip_ws();
        let Some(op) = self.cmp_op() else {
            return match left {
                Operand::Current(_) | Operand::Root(_) => Ok(Filter::Exists(left)),
                Operand::Literal(Value::Bool(_)) => Ok(Filter::Exists(left)),
                _ => Err(self.found("a comparison operator (==, !=, <, <=, >, >=, =~, in, nin, subsetof, anyof, noneof, size, empty, contains)")),
            };
        };
        self.skip_ws();
        let right = if op == CmpOp::Matches {
            self.regex()?
        } else {
            self.operand()?
        };
        Ok(Filter::Compare(left, op, right))
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        const OPS: [(&str, CmpOp); 15] = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=~", CmpOp::Matches),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
            ("subsetof", CmpOp::SubsetOf),
            ("anyof", CmpOp::AnyOf),
            ("noneof", CmpOp::NoneOf),
            ("contains", CmpOp::Contains),
            ("empty", CmpOp::Empty),
            ("size", CmpOp::Size),
            ("nin", CmpOp::Nin),
            ("in", CmpOp::In),
        ];
        for (text, op) in OPS {
            let n = text.chars().count();
            let matches = self
                .chars
                .get(self.pos..self.pos + n)
                .is_some_and(|s| s.iter().copied().eq(text.chars()));
            let word = text.chars().all(char::is_alphabetic);
            let boundary = !word || !self.peek_at(n).is_some_and(char::is_alphanumeric);
            if matches && boundary {
                self.pos += n;
                return Some(op);
            }
        }
        None
    }

    fn operand(&mut self) -> Result<Operand, JsonPathError> {
        self.enter()?;
        let result = self.operand_inner();
        self.depth -= 1;
        result
    }

    fn operand_inner(&mut self) -> Result<Operand, JsonPathError> {
        match self.peek() {
            Some('@') => {
                self.pos += 1;
                Ok(Operand::Current(self.parse_steps(true)?.into()))
            }
            Some('$') => {
                self.pos += 1;
                Ok(Operand::Root(self.parse_steps(true)?.into()))
            }
            Some('\'' | '"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some('[') => self.json_literal(']'),
            Some('{') => self.json_literal('}'),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Number(_)) => Ok(Operand::Literal(v)),
                    _ => Err(JsonPathError::Syntax {
                        path: self.text.to_string(),
                        position: start,
                        reason: format!("'{text}' is not a number"),
                    }),
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" => Ok(Operand::Literal(Value::Null)),
                    _ => {
                        self.pos = start;
                        Err(self.err(format!(
                            "'{word}' is not a value; quote strings like '{word}'"
                        )))
                    }
                }
            }
            _ => Err(self.found("'@', '$', a string, a number, true, false, null or a JSON array")),
        }
    }

    fn json_literal(&mut self, close: char) -> Result<Operand, JsonPathError> {
        // Find the matching bracket, skipping quoted text, then let serde_json parse it.
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match quote {
                // Skip the escaped character inside a quoted string.
                Some(_) if c == '\\' => self.pos += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '[' | '{' => depth += 1,
                    ']' | '}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                },
            }
        }
        let text: String = self.chars[start..self.pos.min(self.chars.len())]
            .iter()
            .collect();
        if !text.ends_with(close) {
            self.pos = start;
            return Err(self.err(format!(
                "the literal starting here is not closed; add '{close}'"
            )));
        }
        // Jayway accepts single-quoted strings inside literal lists.
        let json = text.replace('\'', "\"");
        match serde_json::from_str::<Value>(&json) {
            Ok(v) => Ok(Operand::Literal(v)),
            Err(e) => {
                self.pos = start;
                Err(self.err(format!("'{text}' is not a valid JSON literal: {e}")))
            }
        }
    }

    fn regex(&mut self) -> Result<Operand, JsonPathError> {
        let start = self.pos;
        self.expect('/', "a regular expression like /pattern/ after '=~'")?;
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(
                        self.err("the regular expression is not closed; add the closing '/'")
                    );
                }
                Some('\\') if self.peek_at(1) == Some('/') => {
                    pattern.push('/');
                    self.pos += 2;
                }
                Some('/') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    pattern.push(c);
                    self.pos += 1;
                }
            }
        }
        let mut flags = String::new();
        while let Some(c) = self.peek().filter(|c| "imsx".contains(*c)) {
            flags.push(c);
            self.pos += 1;
        }
        let full = if flags.is_empty() {
            pattern.clone()
        } else {
            format!("(?{flags}){pattern}")
        };
        // Jayway uses Matcher.matches(): the whole string must match.
        let anchored = format!("^(?:{full})$");
        regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 20)
            .build()
            .map(|r| Operand::Regex(Regex(r)))
            .map_err(|e| JsonPathError::Syntax {
                path: self.text.to_string(),
                position: start,
                reason: format!("/{pattern}/ is not a valid regular expression: {e}"),
            })
    }
}
