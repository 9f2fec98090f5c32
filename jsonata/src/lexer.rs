//! The tokenizer: turns expression text into tokens one at a time, on demand.
//!
//! It is driven by the parser because `/` is ambiguous: after an operand it divides, before
//! one it opens a regular expression literal. Positions are character offsets.

use crate::error::Error;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An operator or punctuation (`.`, `:=`, `and`, …).
    Op(&'static str),
    /// A field name (bare or in backquotes).
    Name(String),
    /// A variable reference without its `$` (`$` alone is the empty name).
    Var(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// A number literal.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A regular expression literal: pattern and flags.
    Regex(String, String),
    /// End of the expression.
    End,
}

/// Single-character operators (also the characters that end a name).
const OPERATOR_CHARS: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";

const MULTI_CHAR: [&str; 9] = ["..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??"];

fn single(c: char) -> Option<&'static str> {
    Some(match c {
        '.' => ".",
        '[' => "[",
        ']' => "]",
        '{' => "{",
        '}' => "}",
        '(' => "(",
        ')' => ")",
        ',' => ",",
        '@' => "@",
        '#' => "#",
        ';' => ";",
        ':' => ":",
        '?' => "?",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        '|' => "|",
        '=' => "=",
        '<' => "<",
        '>' => ">",
        '^' => "^",
        '&' => "&",
        '!' => "!",
        '~' => "~",
        _ => return None,
    })
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}')
}

/// The tokenizer's state over one expression.
#[derive(Debug)]
pub struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    /// A lexer at the start of `source`.
    pub fn new(source: &str) -> Self {
        Lexer {
            chars: source.chars().collect(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// The next token and its start position. `infix` is true where an operator is expected
    /// (a `/` then divides instead of opening a regular expression).
    pub fn next(&mut self, infix: bool) -> Result<(Token, usize), Error> {
        loop {
            while self.at(self.pos).is_some_and(is_space) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let start = self.pos;
                self.pos += 2;
                loop {
                    match self.at(self.pos) {
                        None => return Err(Error::at("S0106", start)),
                        Some('*') if self.at(self.pos + 1) == Some('/') => {
                            self.pos += 2;
                            break;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                continue;
            }
            break;
        }
        let start = self.pos;
        let Some(c) = self.at(self.pos) else {
            return Ok((Token::End, start));
        };
        if !infix && c == '/' {
            self.pos += 1;
            return self.regex(start);
        }
        if let Some(next) = self.at(self.pos + 1) {
            for op in MULTI_CHAR {
                let mut it = op.chars();
                if it.next() == Some(c) && it.next() == Some(next) {
                    self.pos += 2;
                    return Ok((Token::Op(op), start));
                }
            }
        }
        if let Some(op) = single(c) {
            self.pos += 1;
            return Ok((Token::Op(op), start));
        }
        if c == '"' || c == '\'' {
            return self.string(c, start);
        }
        if c.is_ascii_digit() {
            return self.number(start);
        }
        if c == '`' {
            self.pos += 1;
            let rest = &self.chars[self.pos..];
            return match rest.iter().position(|&ch| ch == '`') {
                Some(end) => {
                    let name: String = rest[..end].iter().collect();
                    self.pos += end + 1;
                    Ok((Token::Name(name), start))
                }
                None => {
                    self.pos = self.chars.len();
                    Err(Error::at("S0105", self.pos))
                }
            };
        }
        let mut end = self.pos;
        while let Some(ch) = self.at(end) {
            if is_space(ch) || OPERATOR_CHARS.contains(ch) {
                break;
            }
            end += 1;
        }
        let word: String = self.chars[self.pos..end].iter().collect();
        self.pos = end;
        if let Some(var) = word.strip_prefix('$') {
            return Ok((Token::Var(var.to_owned()), start));
        }
        let token = match word.as_str() {
            "and" => Token::Op("and"),
            "or" => Token::Op("or"),
            "in" => Token::Op("in"),
            "true" => Token::Bool(true),
            "false" => Token::Bool(false),
            "null" => Token::Null,
            _ => Token::Name(word),
        };
        Ok((token, start))
    }

    fn string(&mut self, quote: char, start: usize) -> Result<(Token, usize), Error> {
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.at(self.pos) {
            if c == '\\' {
                self.pos += 1;
                let Some(e) = self.at(self.pos) else { break };
                match e {
                    '"' | '\\' | '/' => out.push(e),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let unit = self.hex4(self.pos + 1)?;
                        self.pos += 4;
                        // A surrogate pair written as two escapes is one character; a lone
                        // surrogate cannot be held in a Rust string and becomes U+FFFD.
                        if (0xD800..0xDC00).contains(&unit)
                            && self.at(self.pos + 1) == Some('\\')
                            && self.at(self.pos + 2) == Some('u')
                            && let Ok(low) = self.hex4(self.pos + 3)
                            && (0xDC00..0xE000).contains(&low)
                        {
                            let cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            // past both escapes (the loop's own step adds the last one)
                            self.pos += 6;
                            self.pos += 1;
                            continue;
                        }
                        out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                    }
                    other => {
                        return Err(Error::at("S0103", self.pos).with_token(other.to_string()));
                    }
                }
            } else if c == quote {
                self.pos += 1;
                return Ok((Token::Str(out), start));
            } else {
                out.push(c);
            }
            self.pos += 1;
        }
        Err(Error::at("S0101", self.pos))
    }

    fn hex4(&self, from: usize) -> Result<u32, Error> {
        let digits: String = (from..from + 4).filter_map(|i| self.at(i)).collect();
        if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&digits, 16).map_err(|_| Error::at("S0104", from))
        } else {
            Err(Error::at("S0104", from))
        }
    }

    fn number(&mut self, start: usize) -> Result<(Token, usize), Error> {
        // JSON number syntax: 0 | [1-9][0-9]*, optional fraction, optional exponent.
        let mut end = self.pos;
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        if self.at(end) == Some('0') {
            end += 1;
        } else {
            while digit(end) {
                end += 1;
            }
        }
        if self.at(end) == Some('.') && digit(end + 1) {
            end += 1;
            while digit(end) {
                end += 1;
            }
        }
        if matches!(self.at(end), Some('e' | 'E')) {
            let mut e = end + 1;
            if matches!(self.at(e), Some('+' | '-')) {
                e += 1;
            }
            if digit(e) {
                while digit(e) {
                    e += 1;
                }
                end = e;
            }
        }
        let text: String = self.chars[self.pos..end].iter().collect();
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.pos = end;
                Ok((Token::Num(n), start))
            }
            _ => Err(Error::at("S0102", start).with_token(text)),
        }
    }

    fn regex(&mut self, start: usize) -> Result<(Token, usize), Error> {
        // Find the closing '/', skipping escaped ones and any inside brackets or groups.
        let body_start = self.pos;
        let mut depth: i64 = 0;
        while let Some(c) = self.at(self.pos) {
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while self.pos > backslashes && self.at(self.pos - backslashes - 1) == Some('\\') {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    let pattern: String = self.chars[body_start..self.pos].iter().collect();
                    if pattern.is_empty() {
                        return Err(Error::at("S0301", self.pos));
                    }
                    self.pos += 1;
                    let flags_start = self.pos;
                    while matches!(self.at(self.pos), Some('i' | 'm')) {
                        self.pos += 1;
                    }
                    let flags: String = self.chars[flags_start..self.pos].iter().collect();
                    return Ok((Token::Regex(pattern, flags), start));
                }
            }
            let escaped = self.pos > 0 && self.at(self.pos - 1) == Some('\\');
            if matches!(c, '(' | '[' | '{') && !escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !escaped {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(Error::at("S0302", self.pos))
    }
}
