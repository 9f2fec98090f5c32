//! The parser: a Pratt (top-down operator precedence) parser producing the raw parse tree,
//! which `process` then turns into the evaluator's [`Node`](crate::ast::Node) tree.
//!
//! Binding powers, and which tokens may start an operand, are JSONata's; so are the syntax error
//! codes (`S02xx`). Nesting is limited so that a hostile expression ends in an error, not in a
//! stack overflow.

use std::rc::Rc;

use crate::error::Error;
use crate::lexer::{Lexer, Token};
use crate::signature::Signature;
use crate::stack::StackGuard;

/// Deepest nesting of sub-expressions the parser accepts.
pub const MAX_NESTING: usize = 1000;

/// A node of the raw parse tree.
#[derive(Debug, Clone)]
pub struct Raw {
    pub kind: RawKind,
    pub pos: usize,
    /// `[]` followed this node.
    pub keep_array: bool,
}

/// Raw node kinds: the operators as written, before paths are flattened.
#[derive(Debug, Clone)]
pub enum RawKind {
    Binary(&'static str, Box<Raw>, Box<Raw>),
    Group(Box<Raw>, Vec<(Raw, Raw)>),
    Sort(Box<Raw>, Vec<(bool, Raw)>),
    Negate(Box<Raw>),
    Array(Vec<Raw>),
    Object(Vec<(Raw, Raw)>),
    Name(String),
    Var(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(String, String),
    Wildcard,
    Descendant,
    Parent,
    /// `and`, `or`, `in` standing where an operand is expected: a field name.
    OperatorName(&'static str),
    Call(Box<Raw>, Vec<Raw>),
    Partial(Box<Raw>, Vec<Option<Raw>>),
    Lambda(Vec<String>, Option<Rc<Signature>>, Box<Raw>),
    Condition(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
    Block(Vec<Raw>),
    Transform(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
}

impl Raw {
    fn new(kind: RawKind, pos: usize) -> Self {
        Raw {
            kind,
            pos,
            keep_array: false,
        }
    }
}

/// Parses `source` into the raw tree.
pub fn parse(source: &str) -> Result<Raw, Error> {
    let mut p = Parser {
        lexer: Lexer::new(source),
        token: Token::End,
        pos: 0,
        depth: 0,
        stack: StackGuard::new(PARSE_STACK),
    };
    p.advance(None, false)?;
    let expr = p.expression(0)?;
    if p.token != Token::End {
        return Err(Error::at("S0201", p.pos).with_token(p.token_text()));
    }
    Ok(expr)
}

struct Parser {
    lexer: Lexer,
    token: Token,
    pos: usize,
    depth: usize,
    stack: StackGuard,
}

/// Native stack the parser may use (bytes): nesting ends in an error well before it runs out.
pub const PARSE_STACK: usize = 512 << 10;

/// Left binding power of a token in operator position.
fn lbp(token: &Token) -> u8 {
    match token {
        Token::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "?" => 20,
            "+" | "-" | "&" => 50,
            "*" | "/" | "%" => 60,
            "=" | "<" | ">" | "!=" | "<=" | ">=" | "^" | "~>" | "?:" | "??" | "in" => 40,
            "and" => 30,
            "or" => 25,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

impl Parser {
    /// The token's identity for `advance`'s check, as the reference parser names symbols.
    fn id(&self) -> &str {
        match &self.token {
            Token::Op(op) => op,
            Token::Name(_) | Token::Var(_) => "(name)",
            Token::Str(_) | Token::Num(_) | Token::Bool(_) | Token::Null => "(literal)",
            Token::Regex(..) => "(regex)",
            Token::End => "(end)",
        }
    }

    fn token_text(&self) -> String {
        match &self.token {
            Token::Op(op) => (*op).to_owned(),
            Token::Name(n) => n.clone(),
            Token::Var(v) => format!("${v}"),
            Token::Str(s) => s.clone(),
            Token::Num(n) => crate::number::js_to_string(*n),
            Token::Bool(b) => b.to_string(),
            Token::Null => "null".to_owned(),
            Token::Regex(p, _) => format!("/{p}/"),
            Token::End => "(end)".to_owned(),
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.token, Token::Op(o) if *o == op)
    }

    /// Checks the current token is `expected` (if given), then reads the next one.
    fn advance(&mut self, expected: Option<&'static str>, infix: bool) -> Result<(), Error> {
        if let Some(id) = expected
            && self.id() != id
        {
            let code = if self.token == Token::End {
                "S0203"
            } else {
                "S0202"
            };
            return Err(Error::at(code, self.pos)
                .with_token(self.token_text())
                .with_value(id));
        }
        let (token, pos) = self.lexer.next(infix)?;
        if let Token::Op(op @ ("!" | "~")) = token {
            return Err(Error::at("S0204", pos).with_token(op));
        }
        self.token = token;
        self.pos = pos;
        Ok(())
    }

    /// Counts one more level of tree depth; a chain of left-associative operators deepens the
    /// tree as much as nesting does, so each one counts too.
    fn deeper(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING || self.stack.exceeded() {
            return Err(Error::at("U1001", self.pos).with_value(format!(
                "Expression nested more than {MAX_NESTING} levels deep"
            )));
        }
        Ok(())
    }

    fn expression(&mut self, rbp: u8) -> Result<Raw, Error> {
        let saved = self.depth;
        self.deeper()?;
        let token = std::mem::replace(&mut self.token, Token::End);
        let pos = self.pos;
        self.advance(None, true)?;
        let mut left = self.nud(token, pos)?;
        while rbp < lbp(&self.token) {
            let Token::Op(op) = self.token else { break };
            let pos = self.pos;
            self.deeper()?;
            self.advance(None, false)?;
            left = self.led(op, pos, left)?;
        }
        self.depth = saved;
        Ok(left)
    }

    fn nud(&mut self, token: Token, pos: usize) -> Result<Raw, Error> {
        let kind = match token {
            Token::Name(n) => RawKind::Name(n),
            Token::Var(v) => RawKind::Var(v),
            Token::Str(s) => RawKind::Str(s),
            Token::Num(n) => RawKind::Num(n),
            Token::Bool(b) => RawKind::Bool(b),
            Token::Null => RawKind::Null,
            Token::Regex(p, f) => RawKind::Regex(p, f),
            Token::End => return Err(Error::at("S0207", pos).with_token("(end)")),
            Token::Op(op) => match op {
                "and" | "or" | "in" => RawKind::OperatorName(op),
                "-" => RawKind::Negate(Box::new(self.expression(70)?)),
                "*" => RawKind::Wildcard,
                "**" => RawKind::Descendant,
                "%" => RawKind::Parent,
                "(" => {
                    let mut exprs = Vec::new();
                    while !self.is_op(")") {
                        exprs.push(self.expression(0)?);
                        if !self.is_op(";") {
                            break;
                        }
                        self.advance(Some(";"), false)?;
                    }
                    self.advance(Some(")"), true)?;
                    RawKind::Block(exprs)
                }
                "[" => {
                    let mut items = Vec::new();
                    if !self.is_op("]") {
                        loop {
                            let mut item = self.expression(0)?;
                            if self.is_op("..") {
                                let range_pos = self.pos;
                                self.advance(Some(".."), false)?;
                                let rhs = self.expression(0)?;
                                item = Raw::new(
                                    RawKind::Binary("..", Box::new(item), Box::new(rhs)),
                                    range_pos,
                                );
                            }
                            items.push(item);
                            if !self.is_op(",") {
                                break;
                            }
                            self.advance(Some(","), false)?;
                        }
                    }
                    self.advance(Some("]"), true)?;
                    RawKind::Array(items)
                }
                "{" => RawKind::Object(self.object_pairs()?),
                "|" => {
                    let pattern = self.expression(0)?;
                    self.advance(Some("|"), false)?;
                    let update = self.expression(0)?;
                    let delete = if self.is_op(",") {
                        self.advance(Some(","), false)?;
                        Some(Box::new(self.expression(0)?))
                    } else {
                        None
                    };
                    self.advance(Some("|"), false)?;
                    RawKind::Transform(Box::new(pattern), Box::new(update), delete)
                }
                _ => return Err(Error::at("S0211", pos).with_token(op)),
            },
        };
        Ok(Raw::new(kind, pos))
    }

    fn object_pairs(&mut self) -> Result<Vec<(Raw, Raw)>, Error> {
        let mut pairs = Vec::new();
        if !self.is_op("}") {
            loop {
                let key = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let value = self.expression(0)?;
                pairs.push((key, value));
                if !self.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        Ok(pairs)
    }

    fn led(&mut self, op: &'static str, pos: usize, left: Raw) -> Result<Raw, Error> {
        let kind = match op {
            "(" => return self.call(pos, left),
            "[" => {
                if self.is_op("]") {
                    // `[]`: keep singleton arrays; it applies to the step under any predicates
                    let mut left = left;
                    mark_keep_array(&mut left);
                    self.advance(Some("]"), false)?;
                    return Ok(left);
                }
                let rhs = self.expression(0)?;
                self.advance(Some("]"), true)?;
                RawKind::Binary("[", Box::new(left), Box::new(rhs))
            }
            "^" => {
                self.advance(Some("("), false)?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.is_op("<") {
                        self.advance(Some("<"), false)?;
                    } else if self.is_op(">") {
                        descending = true;
                        self.advance(Some(">"), false)?;
                    }
                    terms.push((descending, self.expression(0)?));
                    if !self.is_op(",") {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), false)?;
                RawKind::Sort(Box::new(left), terms)
            }
            "{" => RawKind::Group(Box::new(left), self.object_pairs()?),
            ":=" => {
                if !matches!(left.kind, RawKind::Var(_)) {
                    return Err(Error::at("S0212", left.pos).with_token(raw_token(&left)));
                }
                let rhs = self.expression(9)?;
                RawKind::Binary(":=", Box::new(left), Box::new(rhs))
            }
            "@" | "#" => {
                let rhs = self.expression(80)?;
                if !matches!(rhs.kind, RawKind::Var(_)) {
                    return Err(Error::at("S0214", rhs.pos).with_token(op));
                }
                RawKind::Binary(op, Box::new(left), Box::new(rhs))
            }
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.is_op(":") {
                    self.advance(Some(":"), false)?;
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                RawKind::Condition(Box::new(left), Box::new(then), otherwise)
            }
            "?:" => {
                let otherwise = self.expression(0)?;
                RawKind::Condition(
                    Box::new(left.clone()),
                    Box::new(left),
                    Some(Box::new(otherwise)),
                )
            }
            "??" => {
                let otherwise = self.expression(0)?;
                let exists = Raw::new(
                    RawKind::Call(
                        Box::new(Raw::new(RawKind::Var("exists".to_owned()), pos)),
                        vec![left.clone()],
                    ),
                    pos,
                );
                RawKind::Condition(Box::new(exists), Box::new(left), Some(Box::new(otherwise)))
            }
            _ => {
                let rhs = self.expression(lbp(&Token::Op(op)))?;
                RawKind::Binary(op, Box::new(left), Box::new(rhs))
            }
        };
        Ok(Raw::new(kind, pos))
    }

    fn call(&mut self, pos: usize, procedure: Raw) -> Result<Raw, Error> {
        let mut args: Vec<Option<Raw>> = Vec::new();
        let mut partial = false;
        if !self.is_op(")") {
            loop {
                if self.is_op("?") {
                    partial = true;
                    args.push(None);
                    self.advance(Some("?"), false)?;
                } else {
                    args.push(Some(self.expression(0)?));
                }
                if !self.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        let is_lambda =
            matches!(&procedure.kind, RawKind::Name(n) if n == "function" || n == "\u{3bb}");
        if !is_lambda {
            let kind = if partial {
                RawKind::Partial(Box::new(procedure), args)
            } else {
                RawKind::Call(Box::new(procedure), args.into_iter().flatten().collect())
            };
            return Ok(Raw::new(kind, pos));
        }
        let mut params = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            match arg {
                Some(Raw {
                    kind: RawKind::Var(v),
                    ..
                }) => params.push(v.clone()),
                Some(other) => {
                    return Err(Error::at("S0208", other.pos)
                        .with_token(raw_token(other))
                        .with_value((i + 1).to_string()));
                }
                None => {
                    return Err(Error::at("S0208", pos)
                        .with_token("?")
                        .with_value((i + 1).to_string()));
                }
            }
        }
        let mut signature = None;
        if self.is_op("<") {
            let sig_pos = self.pos;
            let mut depth = 1;
            let mut text = String::from("<");
            while depth > 0 && !self.is_op("{") && self.token != Token::End {
                self.advance(None, false)?;
                if self.is_op(">") {
                    depth -= 1;
                } else if self.is_op("<") {
                    depth += 1;
                }
                text.push_str(&self.token_text());
            }
            self.advance(Some(">"), false)?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::at(e.code, sig_pos + e.position.unwrap_or(0)))?;
            signature = Some(Rc::new(sig));
        }
        self.advance(Some("{"), false)?;
        let body = self.expression(0)?;
        self.advance(Some("}"), false)?;
        Ok(Raw::new(
            RawKind::Lambda(params, signature, Box::new(body)),
            pos,
        ))
    }
}

fn mark_keep_array(node: &mut Raw) {
    match &mut node.kind {
        RawKind::Binary("[", lhs, _) => mark_keep_array(lhs),
        _ => node.keep_array = true,
    }
}

fn raw_token(node: &Raw) -> String {
    match &node.kind {
        RawKind::Name(n) | RawKind::Str(n) => n.clone(),
        RawKind::Var(v) => format!("${v}"),
        RawKind::Num(n) => crate::number::js_to_string(*n),
        RawKind::Binary(op, ..) => (*op).to_owned(),
        _ => String::new(),
    }
}
