//! Choice Rules of the JSONPath query language: parsing (with the definition's validation
//! messages) and evaluation with AWS's semantics.
//!
//! A comparison against a value of the wrong type is false, never an error; a `Variable` (or
//! `...Path` operand) that selects nothing is a `States.Runtime` error, except under
//! `IsPresent`, which exists to test exactly that.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::jsonpath::{JsonPath, JsonPathError, Scope, cmp_numbers};

/// One Choice Rule: a top-level element of `Choices` (with `Next` and optional `Assign`) or a
/// rule nested inside `And`, `Or` or `Not`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceRule {
    condition: Condition,
    next: Option<Box<str>>,
    assign: Option<Value>,
}

/// A Choice Rule that the definition states wrongly.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}{}", if pointer.is_empty() { String::new() } else { format!(" at {pointer}") })]
pub struct ChoiceParseError {
    /// JSON pointer relative to the rule, e.g. `/And/0/Variable` (empty for the rule itself).
    pub pointer: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Why a Choice Rule could not be evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ChoiceError {
    /// `Variable` or a `...Path` operand selects nothing (AWS raises States.Runtime).
    #[error(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    )]
    InvalidPath {
        /// The path text as written.
        path: String,
        /// The underlying resolution failure.
        source: JsonPathError,
    },
}

impl ChoiceError {
    /// The Step Functions error name this failure raises.
    pub fn error_name(&self) -> &'static str {
        "States.Runtime"
    }
}

/// Parses one Choice Rule from its JSON object.
pub fn parse_rule(value: &Value) -> Result<ChoiceRule, ChoiceParseError> {
    let obj = object(value, "")?;
    let next = match obj.get("Next") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str().into()),
        Some(_) => {
            return Err(error(
                "/Next",
                "The field 'Next' must be a non-empty string naming the state to go to",
            ));
        }
    };
    let assign = match obj.get("Assign") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(error(
                "/Assign",
                "The field 'Assign' must be an object of variable names to values",
            ));
        }
    };
    let condition = condition(obj, "", 0)?;
    Ok(ChoiceRule {
        condition,
        next,
        assign,
    })
}

impl ChoiceRule {
    /// Evaluates the rule against the scope.
    pub fn evaluate(&self, scope: &Scope) -> Result<bool, ChoiceError> {
        self.condition.evaluate(scope)
    }

    /// The state to go to when a top-level rule matches.
    pub fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// The rule's `Assign` block, applied when it matches.
    pub fn assign(&self) -> Option<&Value> {
        self.assign.as_ref()
    }

    /// Every JSONPath the rule reads, nested rules included (for validators).
    pub fn paths(&self) -> Vec<&JsonPath> {
        let mut out = Vec::new();
        self.condition.paths(&mut out);
        out
    }
}

/// Deepest nesting of `And`, `Or` and `Not`.
pub const MAX_NESTING: usize = 64;

// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Condition {
    And(Box<[Condition]>),
    Or(Box<[Condition]>),
    Not(Box<Condition>),
    Test { variable: JsonPath, test: Test },
}

#[derive(Clone, Debug, PartialEq)]
enum Test {
    String(Cmp, Operand<String>),
    Numeric(Cmp, Operand<serde_json::Number>),
    Boolean(Operand<bool>),
    Timestamp(Cmp, Operand<DateTime<FixedOffset>>),
    Matches(Vec<Glob>),
    IsNull(bool),
    IsPresent(bool),
    IsNumeric(bool),
    IsString(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
}

#[derive(Clone, Debug, PartialEq)]
enum Operand<T> {
    Literal(T),
    Path(JsonPath),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Glob {
    Literal(String),
    Star,
}

#[derive(Clone, Copy)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

const COMPARISONS: [(&str, Kind, Cmp); 17] = [
    ("StringEquals", Kind::String, Cmp::Eq),
    ("StringLessThan", Kind::String, Cmp::Lt),
    ("StringGreaterThan", Kind::String, Cmp::Gt),
    ("StringLessThanEquals", Kind::String, Cmp::Le),
    ("StringGreaterThanEquals", Kind::String, Cmp::Ge),
    ("NumericEquals", Kind::Numeric, Cmp::Eq),
    ("NumericLessThan", Kind::Numeric, Cmp::Lt),
    ("NumericGreaterThan", Kind::Numeric, Cmp::Gt),
    ("NumericLessThanEquals", Kind::Numeric, Cmp::Le),
    ("NumericGreaterThanEquals", Kind::Numeric, Cmp::Ge),
    ("BooleanEquals", Kind::Boolean, Cmp::Eq),
    ("TimestampEquals", Kind::Timestamp, Cmp::Eq),
    ("TimestampLessThan", Kind::Timestamp, Cmp::Lt),
    ("TimestampGreaterThan", Kind::Timestamp, Cmp::Gt),
    ("TimestampLessThanEquals", Kind::Timestamp, Cmp::Le),
    ("TimestampGreaterThanEquals", Kind::Timestamp, Cmp::Ge),
    ("StringMatches", Kind::String, Cmp::Eq),
];

const TYPE_TESTS: [&str; 6] = [
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

fn error(pointer: impl Into<String>, message: impl Into<String>) -> ChoiceParseError {
    ChoiceParseError {
        pointer: pointer.into(),
        message: message.into(),
    }
}

fn object<'v>(value: &'v Value, at: &str) -> Result<&'v Map<String, Value>, ChoiceParseError> {
    value
        .as_object()
        .ok_or_else(|| error(at, "A Choice Rule must be a JSON object"))
}

fn is_operator(key: &str) -> bool {
    let base = key.strip_suffix("Path").unwrap_or(key);
    COMPARISONS
        .iter()
        .any(|(n, _, _)| *n == base && (key == base || *n != "StringMatches"))
        || TYPE_TESTS.contains(&key)
}

fn condition(
    obj: &Map<String, Value>,
    at: &str,
    depth: usize,
) -> Result<Condition, ChoiceParseError> {
    if depth > MAX_NESTING {
        return Err(error(
            at,
            format!(
                "Choice Rules nest deeper than {MAX_NESTING} levels of And/Or/Not; flatten the condition"
            ),
        ));
    }
    for key in obj.keys() {
        let known = matches!(key.as_str(), "Variable" | "And" | "Or" | "Not" | "Comment")
            || is_operator(key)
            || (depth == 0 && matches!(key.as_str(), "Next" | "Assign"));
        if !known {
            let hint = if matches!(key.as_str(), "Next" | "Assign") {
                "; only top-level Choice Rules have Next and Assign"
            } else {
                ""
            };
            return Err(error(
                format!("{at}/{}", escape(key)),
                format!("The field '{key}' is not supported in a Choice Rule{hint}"),
            ));
        }
    }
    let combinators: Vec<&str> = ["And", "Or", "Not"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let operators: Vec<&String> = obj.keys().filter(|k| is_operator(k)).collect();
    if combinators.len() + usize::from(!operators.is_empty()) > 1 || operators.len() > 1 {
        let mut fields: Vec<&str> = combinators.clone();
        fields.extend(operators.iter().map(|s| s.as_str()));
        return Err(error(
            at,
            format!(
                "A Choice Rule must have exactly one of And, Or, Not or a comparison operator, but has {}",
                fields.join(", ")
            ),
        ));
    }
    if let Some(&combinator) = combinators.first() {
        if obj.contains_key("Variable") {
            return Err(error(
                format!("{at}/Variable"),
                format!(
                    "The field 'Variable' is not supported together with '{combinator}'; put it in the nested rules"
                ),
            ));
        }
        let at_c = format!("{at}/{combinator}");
        let value = &obj[combinator];
        if combinator == "Not" {
            let inner = object(value, &at_c)?;
            return Ok(Condition::Not(Box::new(condition(
                inner,
                &at_c,
                depth + 1,
            )?)));
        }
        let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
            return Err(error(
                at_c,
                format!("The field '{combinator}' must be a non-empty array of Choice Rules"),
            ));
        };
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at_i = format!("{at_c}/{i}");
            rules.push(condition(object(item, &at_i)?, &at_i, depth + 1)?);
        }
        return Ok(if combinator == "And" {
            Condition::And(rules.into())
        } else {
            Condition::Or(rules.into())
        });
    }
    let Some(operator) = operators.first() else {
        return Err(error(
            at,
            "A Choice Rule must have a comparison operator (e.g. StringEquals, NumericGreaterThan, IsPresent) with a Variable, or one of And, Or, Not",
        ));
    };
    let variable = match obj.get("Variable") {
        None => {
            return Err(error(
                at,
                format!("The field 'Variable' is required with '{operator}'"),
            ));
        }
        Some(v) => path(v, &format!("{at}/Variable"), "Variable")?,
    };
    let test = test(
        operator,
        &obj[operator.as_str()],
        &format!("{at}/{}", escape(operator)),
    )?;
    Ok(Condition::Test { variable, test })
}

fn path(value: &Value, at: &str, field: &str) -> Result<JsonPath, ChoiceParseError> {
    let Some(text) = value.as_str() else {
        return Err(error(
            at,
            format!("The field '{field}' must be a string holding a JSONPath"),
        ));
    };
    let path = JsonPath::parse(text).map_err(|e| {
        error(
            at,
            format!("The value for the field '{field}' must be a valid JSONPath: {e}"),
        )
    })?;
    if !path.is_definite() {
        return Err(error(
            at,
            format!(
                "The value for the field '{field}' must be a reference path selecting one value, but '{text}' uses wildcards, slices, unions, filters or '..'"
            ),
        ));
    }
    Ok(path)
}

fn test(operator: &str, value: &Value, at: &str) -> Result<Test, ChoiceParseError> {
    if let Some(i) = TYPE_TESTS.iter().position(|t| *t == operator) {
        let Some(b) = value.as_bool() else {
            return Err(error(
                at,
                format!("The value for the field '{operator}' must be a boolean (true or false)"),
            ));
        };
        return Ok([
            Test::IsNull,
            Test::IsPresent,
            Test::IsNumeric,
            Test::IsString,
            Test::IsBoolean,
            Test::IsTimestamp,
        ][i](b));
    }
    let (base, is_path) = match operator.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (operator, false),
    };
    let Some(&(_, kind, cmp)) = COMPARISONS.iter().find(|(n, _, _)| *n == base) else {
        return Err(error(
            at,
            format!("'{operator}' is not a Choice Rule operator"),
        ));
    };
    if is_path {
        let p = path(value, at, operator)?;
        return Ok(match kind {
            Kind::String => Test::String(cmp, Operand::Path(p)),
            Kind::Numeric => Test::Numeric(cmp, Operand::Path(p)),
            Kind::Boolean => Test::Boolean(Operand::Path(p)),
            Kind::Timestamp => Test::Timestamp(cmp, Operand::Path(p)),
        });
    }
    let wrong = |expected: &str| {
        error(
            at,
            format!("The value for the field '{operator}' must be {expected}"),
        )
    };
    Ok(match kind {
        Kind::String => {
            let s = value.as_str().ok_or_else(|| wrong("a string"))?;
            if base == "StringMatches" {
                Test::Matches(glob(s))
            } else {
                Test::String(cmp, Operand::Literal(s.to_string()))
            }
        }
        Kind::Numeric => match value {
            Value::Number(n) => Test::Numeric(cmp, Operand::Literal(n.clone())),
            _ => return Err(wrong("a number")),
        },
        Kind::Boolean => Test::Boolean(Operand::Literal(
            value
                .as_bool()
                .ok_or_else(|| wrong("a boolean (true or false)"))?,
        )),
        Kind::Timestamp => {
            let s = value
                .as_str()
                .ok_or_else(|| wrong("an RFC3339 timestamp string"))?;
            let t = parse_rfc3339(s)
                .ok_or_else(|| error(at, "String does not match RFC3339 timestamp"))?;
            Test::Timestamp(cmp, Operand::Literal(t))
        }
    })
}

/// JSON pointer escaping for a key.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Splits a StringMatches pattern: `*` matches any run of characters, `\*` a literal star and
/// `\\` a literal backslash.
fn glob(pattern: &str) -> Vec<Glob> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('*' | '\\')) => lit.push(n),
                Some(n) => {
                    lit.push('\\');
                    lit.push(n);
                }
                None => lit.push('\\'),
            },
            '*' => {
                if !lit.is_empty() {
                    parts.push(Glob::Literal(std::mem::take(&mut lit)));
                }
                if parts.last() != Some(&Glob::Star) {
                    parts.push(Glob::Star);
                }
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push(Glob::Literal(lit));
    }
    parts
}

/// Matches a whole string against a glob; greedy with backtracking to the last star, which is
/// linear for the patterns ASL allows (no character classes).
fn glob_matches(parts: &[Glob], text: &str) -> bool {
    let mut rest = text;
    let mut i = 0;
    // Literal prefix must match at the start.
    if let Some(Glob::Literal(l)) = parts.first() {
        match rest.strip_prefix(l.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
        i = 1;
    }
    let mut after_star = false;
    while i < parts.len() {
        match &parts[i] {
            Glob::Star => after_star = true,
            Glob::Literal(l) => {
                let last = i + 1 == parts.len();
                if last {
                    // The final literal must end the text.
                    return if after_star {
                        rest.ends_with(l.as_str())
                    } else {
                        rest == l
                    };
                }
                match rest.find(l.as_str()) {
                    Some(pos) if after_star || pos == 0 => rest = &rest[pos + l.len()..],
                    _ => return false,
                }
                after_star = false;
            }
        }
        i += 1;
    }
    after_star || rest.is_empty()
}

/// Parses a timestamp from the state's data the way AWS does at run time: Java's ISO-8601
/// extended offset date-time (`2016-03-14T01:59:00Z`, `2016-03-14T01:59+01:00`,
/// `2016-03-14t01:59:00.123456789z`): seconds and fraction optional, offset required.
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    // Hand-written because chrono's RFC 3339 parser accepts a space separator and requires
    // seconds, while AWS's Java parser does the opposite.
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let year = digits(0, 4)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
    {
        return None;
    }
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, digits(5, 2)?, digits(8, 2)?)?;
    let (hour, minute) = (digits(11, 2)?, digits(14, 2)?);
    let mut i = 16;
    let (mut second, mut nano) = (0, 0);
    if b.get(i) == Some(&b':') {
        second = digits(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let fraction = &s[start..i];
            if fraction.len() > 9 {
                return None;
            }
            nano = format!("{fraction:0<9}").parse().ok()?;
        }
    }
    let time =
        chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nano).filter(|_| second < 60)?;
    let offset = match &s[i..] {
        "Z" | "z" => FixedOffset::east_opt(0)?,
        rest => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.as_bytes();
            if !(o.len() == 6 || (o.len() == 9 && o[6] == b':')) || o[3] != b':' {
                return None;
            }
            let hh = digits(i + 1, 2)?;
            let mm = digits(i + 4, 2)?;
            let ss = if o.len() == 9 { digits(i + 7, 2)? } else { 0 };
            if hh > 18 || mm > 59 || ss > 59 {
                return None;
            }
            FixedOffset::east_opt(sign * i32::try_from(hh * 3600 + mm * 60 + ss).ok()?)?
        }
    };
    date.and_time(time).and_local_timezone(offset).single()
}

/// Checks a timestamp written in the definition: RFC 3339 as the ASL schema demands (uppercase
/// `T` and `Z`, seconds present).
fn parse_rfc3339(s: &str) -> Option<DateTime<FixedOffset>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[16] != b':' || s.ends_with('z') {
        return None;
    }
    parse_timestamp(s)
}

impl Condition {
    fn evaluate(&self, scope: &Scope) -> Result<bool, ChoiceError> {
        match self {
            Condition::And(rules) => {
                for r in rules.iter() {
                    if !r.evaluate(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for r in rules.iter() {
                    if r.evaluate(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(r) => Ok(!r.evaluate(scope)?),
            Condition::Test { variable, test } => {
                if let Test::IsPresent(expected) = test {
                    let present = match variable.resolve_ref(scope) {
                        Ok(_) => true,
                        Err(
                            JsonPathError::NotFound { .. }
                            | JsonPathError::UndefinedVariable { .. },
                        ) => false,
                        Err(source) => return Err(invalid(variable, source)),
                    };
                    return Ok(present == *expected);
                }
                let value = variable
                    .resolve_ref(scope)
                    .map_err(|e| invalid(variable, e))?;
                test.holds(&value, scope)
            }
        }
    }

    fn paths<'a>(&'a self, out: &mut Vec<&'a JsonPath>) {
        match self {
            Condition::And(rules) | Condition::Or(rules) => rules.iter().for_each(|r| r.paths(out)),
            Condition::Not(r) => r.paths(out),
            Condition::Test { variable, test } => {
                out.push(variable);
                match test {
                    Test::String(_, Operand::Path(p))
                    | Test::Numeric(_, Operand::Path(p))
                    | Test::Boolean(Operand::Path(p))
                    | Test::Timestamp(_, Operand::Path(p)) => out.push(p),
                    _ => {}
                }
            }
        }
    }
}

fn invalid(path: &JsonPath, source: JsonPathError) -> ChoiceError {
    ChoiceError::InvalidPath {
        path: path.as_str().to_string(),
        source,
    }
}

fn operand<'a, T: Clone>(
    operand: &'a Operand<T>,
    scope: &Scope,
    convert: impl Fn(&Value) -> Option<T>,
) -> Result<Option<std::borrow::Cow<'a, T>>, ChoiceError> {
    match operand {
        Operand::Literal(v) => Ok(Some(std::borrow::Cow::Borrowed(v))),
        Operand::Path(p) => {
            let v = p.resolve_ref(scope).map_err(|e| invalid(p, e))?;
            Ok(convert(&v).map(std::borrow::Cow::Owned))
        }
    }
}

/// Java's `String.compareTo`: UTF-16 code unit order.
fn compare_strings(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

impl Test {
    fn holds(&self, value: &Value, scope: &Scope) -> Result<bool, ChoiceError> {
        Ok(match self {
            Test::String(cmp, rhs) => {
                let Some(rhs) = operand(rhs, scope, |v| v.as_str().map(str::to_string))? else {
                    return Ok(false);
                };
                match value {
                    Value::String(s) => cmp.holds(compare_strings(s, &rhs)),
                    _ => false,
                }
            }
            Test::Numeric(cmp, rhs) => {
                let Some(rhs) = operand(rhs, scope, |v| v.as_number().cloned())? else {
                    return Ok(false);
                };
                match value {
                    Value::Number(n) => cmp_numbers(n, &rhs).is_some_and(|o| cmp.holds(o)),
                    _ => false,
                }
            }
            Test::Boolean(rhs) => {
                let Some(rhs) = operand(rhs, scope, Value::as_bool)? else {
                    return Ok(false);
                };
                value.as_bool() == Some(*rhs)
            }
            Test::Timestamp(cmp, rhs) => {
                let Some(rhs) = operand(rhs, scope, |v| v.as_str().and_then(parse_timestamp))?
                else {
                    return Ok(false);
                };
                match value.as_str().and_then(parse_timestamp) {
                    Some(t) => cmp.holds(t.cmp(&rhs)),
                    None => false,
                }
            }
            Test::Matches(glob) => value.as_str().is_some_and(|s| glob_matches(glob, s)),
            Test::IsNull(expected) => value.is_null() == *expected,
            Test::IsPresent(expected) => *expected,
            Test::IsNumeric(expected) => value.is_number() == *expected,
            Test::IsString(expected) => value.is_string() == *expected,
            Test::IsBoolean(expected) => value.is_boolean() == *expected,
            Test::IsTimestamp(expected) => {
                value.as_str().and_then(parse_timestamp).is_some() == *expected
            }
        })
    }
}
