//! The parser: path text to a [`JsonPath`] (root and steps); filter expressions are in
//! `filter`.

mod filter;

use super::ast::{Root, Step, step_is_definite};
use super::{JsonPath, JsonPathError};

/// Deepest nesting of parentheses, `!` and sub-paths inside filters.
pub const MAX_NESTING: usize = 32;
/// Longest accepted path text, in bytes.
pub const MAX_PATH_LEN: usize = 16 * 1024;

pub(super) struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, reason: impl Into<String>) -> JsonPathError {
        JsonPathError::Syntax {
            path: self.text.to_string(),
            position: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), JsonPathError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.found(what))
        }
    }

    fn found(&self, expected: &str) -> JsonPathError {
        match self.peek() {
            Some(c) => self.err(format!("expected {expected} but found '{c}'")),
            None => self.err(format!("expected {expected} but the path ended")),
        }
    }

    pub(super) fn parse_path(mut self) -> Result<JsonPath, JsonPathError> {
        if self.text.len() > MAX_PATH_LEN {
            return Err(self.err(format!("the path is longer than {MAX_PATH_LEN} bytes")));
        }
        if !self.eat('$') {
            return Err(self.err(
                "a path must start with '$' (input), '$$' (context object) or '$name' (variable)",
            ));
        }
        let root = if self.eat('$') {
            Root::Context
        } else if self.peek().is_some_and(is_variable_start) {
            let start = self.pos;
            while self.peek().is_some_and(is_variable_char) {
                self.pos += 1;
            }
            Root::Variable(
                self.chars[start..self.pos]
                    .iter()
                    .collect::<String>()
                    .into(),
            )
        } else {
            Root::Input
        };
        let steps = self.parse_steps(false)?;
        if self.pos < self.chars.len() {
            return Err(self.found("'.', '[' or the end of the path"));
        }
        let definite = steps.iter().all(step_is_definite);
        Ok(JsonPath {
            text: self.text.into(),
            root,
            steps: steps.into(),
            definite,
        })
    }

    /// Parses steps until the end or, inside a filter, a character that ends an operand.
    fn parse_steps(&mut self, in_filter: bool) -> Result<Vec<Step>, JsonPathError> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    steps.push(Step::Descend);
                    match self.peek() {
                        Some('[') => steps.push(self.parse_bracket()?),
                        Some('*') => {
                            self.pos += 1;
                            steps.push(Step::Wildcard);
                        }
                        _ => {
                            let name = self.dot_name(in_filter)?;
                            steps.push(Step::Field(name.into()));
                        }
                    }
                }
                Some('.') => {
                    self.pos += 1;
                    if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else if self.peek() == Some('[') {
                        // Jayway accepts `$.['a']` as `$['a']`.
                        steps.push(self.parse_bracket()?);
                    } else {
                        let name = self.dot_name(in_filter)?;
                        if self.peek() == Some('(') {
                            steps.push(self.function(&name)?);
                        } else {
                            steps.push(Step::Field(name.into()));
                        }
                    }
                }
                Some('[') => steps.push(self.parse_bracket()?),
                _ => break,
            }
            if steps.len() > 1024 {
                return Err(self.err("the path has more than 1024 steps"));
            }
        }
        Ok(steps)
    }

    fn function(&mut self, name: &str) -> Result<Step, JsonPathError> {
        self.expect('(', "'('")?;
        self.skip_ws();
        if !self.eat(')') {
            return Err(self.err(format!(
                "path functions take no arguments here; write {name}() (note that Step Functions paths do not evaluate functions)"
            )));
        }
        if !matches!(self.peek(), None | Some('.' | '['))
            && !matches!(self.peek(), Some(c) if c.is_whitespace() || ")]&|=!<>,".contains(c))
        {
            return Err(self.found("'.', '[' or the end of the path after a function call"));
        }
        Ok(Step::Function(name.into()))
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<String, JsonPathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let stop = c == '.'
                || c == '['
                || c == '('
                || c.is_whitespace()
                || (in_filter && "()]=!<>&|,".contains(c));
            if stop {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(match self.peek() {
                Some(c) if c.is_whitespace() => self.err("a property name cannot contain blanks in dot notation; use bracket notation like ['my prop']"),
                Some(_) => self.found("a property name after '.'"),
                None => self.err("the path must not end with '.' or '..'; add a property name"),
            });
        }
        if !in_filter && self.peek().is_some_and(char::is_whitespace) {
            return Err(self.err("a property name cannot contain blanks in dot notation; use bracket notation like ['my prop']"));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn parse_bracket(&mut self) -> Result<Step, JsonPathError> {
        self.expect('[', "'['")?;
        self.skip_ws();
        let step = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Step::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_ws();
                self.expect(
                    '(',
                    "'(' after '[?' (filters are written [?(<expression>)])",
                )?;
                let filter = self.filter_or()?;
                self.skip_ws();
                self.expect(')', "')' closing the filter expression")?;
                Step::Filter(Box::new(filter))
            }
            Some('\'' | '"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if !self.eat(',') {
                        break;
                    }
                    self.skip_ws();
                    if !matches!(self.peek(), Some('\'' | '"')) {
                        return Err(self.found("a quoted property name after ','"));
                    }
                    names.push(self.quoted()?);
                }
                if names.len() == 1 {
                    Step::Field(names.remove(0).into())
                } else {
                    Step::Fields(names.into_iter().map(Into::into).collect())
                }
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.index_or_slice()?,
            Some(']') => return Err(self.err(
                "empty brackets '[]'; put an index, a quoted name, '*', a slice or a filter inside",
            )),
            _ => {
                return Err(
                    self.found("an index, a quoted name, '*', a slice or a filter after '['")
                );
            }
        };
        self.skip_ws();
        self.expect(']', "']'")?;
        Ok(step)
    }

    fn index_or_slice(&mut self) -> Result<Step, JsonPathError> {
        let first = self.opt_int()?;
        self.skip_ws();
        if self.peek() == Some(':') {
            self.pos += 1;
            self.skip_ws();
            let end = self.opt_int()?;
            self.skip_ws();
            let mut step = 1;
            if self.eat(':') {
                self.skip_ws();
                if let Some(s) = self.opt_int()? {
                    if s <= 0 {
                        return Err(self.err(format!("slice step {s} must be a positive number")));
                    }
                    step = s;
                }
            }
            return Ok(Step::Slice {
                start: first,
                end,
                step,
            });
        }
        let Some(first) = first else {
            return Err(self.found("an array index"));
        };
        let mut list = vec![first];
        loop {
            self.skip_ws();
            if !self.eat(',') {
                break;
            }
            self.skip_ws();
            match self.opt_int()? {
                Some(i) => list.push(i),
                None => return Err(self.found("an array index after ','")),
            }
        }
        Ok(if list.len() == 1 {
            Step::Index(first)
        } else {
            Step::Indexes(list.into())
        })
    }

    fn opt_int(&mut self) -> Result<Option<i64>, JsonPathError> {
        let start = self.pos;
        self.eat('-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        if digits.is_empty() {
            return Ok(None);
        }
        digits.parse().map(Some).map_err(|_| JsonPathError::Syntax {
            path: self.text.to_string(),
            position: start,
            reason: format!(
                "'{digits}' is not a valid array index (a whole number within 64 bits)"
            ),
        })
    }

    fn quoted(&mut self) -> Result<String, JsonPathError> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(self.found("a quote"));
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err(format!(
                        "the string starting here is not closed; add the closing {quote}"
                    )));
                }
                Some('\\') => {
                    // Like AWS, only the enclosing quote and the backslash itself are escapes;
                    // any other backslash is kept as written.
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c == quote || c == '\\' => out.push(c),
                        Some(c) => {
                            out.push('\\');
                            out.push(c);
                        }
                        None => continue,
                    }
                    self.pos += 1;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn enter(&mut self) -> Result<(), JsonPathError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(JsonPathError::TooDeep {
                path: self.text.to_string(),
                limit: MAX_NESTING,
            });
        }
        Ok(())
    }
}

fn is_variable_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_variable_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}
