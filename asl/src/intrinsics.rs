//! Intrinsic functions of the JSONPath query language (`States.Format(...)` and friends):
//! parsed once into a call tree, evaluated against a [`Scope`].
//!
//! Behaviour follows AWS Step Functions, including its quirks: `States.Format` renders objects
//! the way Java's `Map.toString` does, `States.MathAdd` rounds each argument half up like Java's
//! `Math.round`, `States.StringSplit` splits on any of the delimiter's characters and drops
//! empty parts like Java's `StringTokenizer`, and `States.StringToJson` of a blank string is null.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use rand::Rng as _;
use serde_json::Value;
use sha1::Digest as _;
use thiserror::Error;

use crate::jsonpath::{JsonPath, JsonPathError, Scope, json_equal};

/// A parsed intrinsic function call, ready to evaluate many times.
#[derive(Clone, Debug, PartialEq)]
pub struct IntrinsicCall {
    text: Box<str>,
    function: Function,
    args: Box<[Arg]>,
    /// `States.Format` with a literal template: the template split once at parse time (or
    /// why it is malformed, which AWS reports only when the call runs).
    template: Option<Result<Box<[Piece]>, String>>,
}

/// Why an intrinsic function could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IntrinsicError {
    /// The text is not a well-formed intrinsic function call.
    #[error("Invalid intrinsic function '{text}': {reason} (at character {position})")]
    Syntax {
        /// The call text as written.
        text: String,
        /// Zero-based character offset of the problem.
        position: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Calls nest deeper than AWS allows.
    #[error(
        "Invalid intrinsic function '{text}': calls nest deeper than {limit} levels; Step Functions allows at most {limit} nested intrinsic functions in a field"
    )]
    TooDeep {
        /// The call text as written.
        text: String,
        /// The nesting limit.
        limit: usize,
    },
    /// A function was called with the wrong number of arguments. AWS accepts such a definition
    /// and fails when the call runs, so this is a run-time error too.
    #[error("Invalid arguments in {function}")]
    ArgumentCount {
        /// The function's name, e.g. `States.Hash`.
        function: &'static str,
        /// What the function accepts, e.g. "takes exactly 2 arguments".
        expected: &'static str,
        /// How many arguments the call has.
        given: usize,
    },
    /// A path argument selects nothing. AWS words this like a missing `.$` path and names the
    /// field, which only the caller knows: see [`IntrinsicError::cause_for_field`].
    #[error("The JSONPath '{path}' used by {function} could not be found in the input '{input}'")]
    Path {
        /// The function's name.
        function: &'static str,
        /// The path text.
        path: String,
        /// The JSON text of the state input the call ran against.
        input: String,
        /// Why it could not be resolved.
        source: JsonPathError,
    },
    /// An argument had the wrong type or value, or the function failed on it. The text is
    /// AWS's cause; [`IntrinsicError::detail`] says what exactly is wrong.
    #[error("Invalid arguments in {function}")]
    Invalid {
        /// The function's name.
        function: &'static str,
        /// What is wrong with the arguments.
        reason: String,
    },
}

impl IntrinsicError {
    /// The Step Functions error name this failure raises, which Retry/Catch match.
    pub fn error_name(&self) -> &'static str {
        // AWS raises States.Runtime (not States.IntrinsicFailure) for failing intrinsics.
        "States.Runtime"
    }

    /// AWS's cause when this error comes from the payload field `field` (e.g. `value.$`):
    /// a missing path argument reads "The JSONPath '$.x' specified for the field 'value.$' could
    /// not be found in the input '{...}'"; other errors read as their `Display`.
    pub fn cause_for_field(&self, field: &str) -> String {
        match self {
            IntrinsicError::Path {
                path,
                input,
                source: JsonPathError::NotFound { .. } | JsonPathError::UndefinedVariable { .. },
                ..
            } => {
                format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'"
                )
            }
            other => other.to_string(),
        }
    }

    /// A diagnostic beyond AWS's terse cause: which argument is wrong and how to fix it.
    pub fn detail(&self) -> String {
        match self {
            IntrinsicError::ArgumentCount {
                function,
                expected,
                given,
            } => {
                format!(
                    "{function} {expected}, but {given} {} given",
                    if *given == 1 { "was" } else { "were" }
                )
            }
            IntrinsicError::Invalid { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

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

impl IntrinsicCall {
    /// Evaluates the call (and its nested calls) against the scope.
    pub fn evaluate(&self, scope: &Scope) -> Result<Value, IntrinsicError> {
        let (min, max, expected) = self.function.arity();
        if self.args.len() < min || self.args.len() > max {
            return Err(IntrinsicError::ArgumentCount {
                function: self.function.name(),
                expected,
                given: self.args.len(),
            });
        }
        // Arguments borrow from the call and the documents where they can; only results are built.
        let mut args: Vec<Cow<'_, Value>> = Vec::with_capacity(self.args.len());
        for arg in self.args.iter() {
            args.push(match arg {
                Arg::Literal(v) | Arg::String { value: v, .. } => Cow::Borrowed(v),
                Arg::Path(path) => {
                    path.resolve_ref(scope)
                        .map_err(|source| IntrinsicError::Path {
                            function: self.function.name(),
                            path: path.as_str().to_string(),
                            input: scope.input.to_string(),
                            source,
                        })?
                }
                Arg::Call(call) => Cow::Owned(call.evaluate(scope)?),
            });
        }
        self.apply(args)
    }

    /// The call text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The function's name, e.g. `States.Format`.
    pub fn function_name(&self) -> &'static str {
        self.function.name()
    }

    /// Every JSONPath argument, nested calls included (for validators checking variables).
    pub fn paths(&self) -> Vec<&JsonPath> {
        let mut out = Vec::new();
        for arg in self.args.iter() {
            match arg {
                Arg::Path(p) => out.push(p),
                Arg::Call(c) => out.extend(c.paths()),
                _ => {}
            }
        }
        out
    }

    fn invalid(&self, reason: impl Into<String>) -> IntrinsicError {
        IntrinsicError::Invalid {
            function: self.function.name(),
            reason: reason.into(),
        }
    }

    fn apply(&self, mut args: Vec<Cow<'_, Value>>) -> Result<Value, IntrinsicError> {
        use Function as F;
        match self.function {
            F::Format => self.format(&args),
            F::StringToJson => {
                let s = self.string_arg(&args, 0)?;
                if s.trim().is_empty() {
                    return Ok(Value::Null);
                }
                let mut value: Value = serde_json::from_str(s).map_err(|e| {
                    self.invalid(format!(
                        "the string {} is not valid JSON: {e}",
                        Value::String(s.to_string())
                    ))
                })?;
                integer_zero(&mut value);
                Ok(value)
            }
            F::JsonToString => Ok(Value::String(args[0].to_string())),
            F::Array => Ok(Value::Array(
                args.into_iter().map(Cow::into_owned).collect(),
            )),
            F::ArrayPartition => {
                let size = self.int_arg(&args, 1, "chunk size")?;
                if size <= 0 {
                    return Err(self.invalid(format!(
                        "the chunk size must be a positive integer but was {size}"
                    )));
                }
                let items = self.array_arg(&args, 0)?;
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                Ok(Value::Array(
                    items
                        .chunks(size)
                        .map(|c| Value::Array(c.to_vec()))
                        .collect(),
                ))
            }
            F::ArrayContains => {
                let items = self.array_arg(&args, 0)?;
                Ok(Value::Bool(items.iter().any(|v| json_equal(v, &args[1]))))
            }
            F::ArrayRange => self.array_range(&args),
            F::ArrayGetItem => {
                let index = self.int_arg(&args, 1, "index")?;
                let items = self.array_arg(&args, 0)?;
                if items.is_empty() {
                    // Observed on AWS: any index into an empty array yields null.
                    return Ok(Value::Null);
                }
                usize::try_from(index)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| self.invalid(format!(
                        "the index {index} is out of bounds for an array of {} items; use an index from 0 to {}",
                        items.len(),
                        items.len() as i64 - 1
                    )))
            }
            F::ArrayLength => Ok(Value::from(self.array_arg(&args, 0)?.len())),
            F::ArrayUnique => {
                let items = self.array_arg(&args, 0)?;
                let mut unique: Vec<Value> = Vec::with_capacity(items.len());
                for item in items {
                    if !unique.iter().any(|u| json_equal(u, item)) {
                        unique.push(item.clone());
                    }
                }
                Ok(Value::Array(unique))
            }
            F::Base64Encode => {
                let s = self.string_arg(&args, 0)?;
                self.check_length(s, "input string")?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                ))
            }
            F::Base64Decode => {
                let s = self.string_arg(&args, 0)?;
                self.check_length(s, "input string")?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .or_else(|_| {
                        base64::engine::general_purpose::STANDARD_NO_PAD
                            .decode(s.trim_end_matches('='))
                    })
                    .map_err(|e| {
                        self.invalid(format!(
                            "{} is not valid base64: {e}",
                            Value::String(s.to_string())
                        ))
                    })?;
                // Java's `new String(bytes, UTF_8)` replaces malformed sequences rather than failing.
                Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            }
            F::Hash => self.hash(&args),
            F::JsonMerge => {
                match &*args[2] {
                    Value::Bool(false) => {}
                    Value::Bool(true) => {
                        return Err(self.invalid("deep merge is not supported; pass false as the third argument for a shallow merge"));
                    }
                    other => {
                        return Err(self.invalid(format!(
                            "the third argument must be the boolean false but was {}",
                            describe(other)
                        )));
                    }
                }
                let second = args.swap_remove(1).into_owned();
                let first = args.swap_remove(0).into_owned();
                match (first, second) {
                    (Value::Object(mut a), Value::Object(b)) => {
                        a.extend(b);
                        Ok(Value::Object(a))
                    }
                    (a, b) => {
                        let bad = if a.is_object() { (2, b) } else { (1, a) };
                        Err(self.invalid(format!(
                            "argument {} must be a JSON object but was {}",
                            bad.0,
                            describe(&bad.1)
                        )))
                    }
                }
            }
            F::MathRandom => {
                let start = self.int_arg(&args, 0, "start")?;
                let end = self.int_arg(&args, 1, "end")?;
                if start >= end {
                    return Err(self.invalid(format!(
                        "the start {start} must be less than the end {end} (the end is exclusive)"
                    )));
                }
                // The width must fit a Java int, as AWS computes `end - start` in one.
                let Ok(bound) = i32::try_from(end - start) else {
                    return Err(self.invalid(format!(
                        "the range from {start} to {end} is wider than {}",
                        i32::MAX
                    )));
                };
                let offset = match args.get(2) {
                    Some(_) => {
                        let seed = self.int_arg(&args, 2, "seed")?;
                        JavaRandom::new(seed).next_int(bound)
                    }
                    None => rand::rng().random_range(0..bound),
                };
                Ok(Value::from(start + i64::from(offset)))
            }
            F::MathAdd => {
                let a = self.rounded_arg(&args, 0)?;
                let b = self.rounded_arg(&args, 1)?;
                Ok(Value::from(a + b))
            }
            F::StringSplit => {
                let s = self.string_arg(&args, 0)?;
                let delimiters = self.string_arg(&args, 1)?;
                let parts = s
                    .split(|c| delimiters.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect();
                Ok(Value::Array(parts))
            }
            F::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }

    fn format(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let parsed;
        let pieces: &[Piece] = match &self.template {
            Some(Ok(t)) => t,
            Some(Err(reason)) => return Err(self.invalid(reason.clone())),
            None => match &*args[0] {
                Value::String(s) => {
                    parsed = split_template(s).map_err(|reason| self.invalid(reason))?;
                    &parsed
                }
                other => {
                    return Err(self.invalid(format!(
                        "the format template (argument 1) must be a string but was {}",
                        describe(other)
                    )));
                }
            },
        };
        let placeholders = pieces.iter().filter(|p| matches!(p, Piece::Hole)).count();
        let values = &args[1..];
        if placeholders != values.len() {
            return Err(self.invalid(format!(
                "the template has {placeholders} '{{}}' placeholders but {} values were given; pass one value per placeholder",
                values.len()
            )));
        }
        let mut out = String::new();
        let mut next = values.iter();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Hole => {
                    if let Some(v) = next.next() {
                        java_string(v, &mut out);
                    }
                }
            }
        }
        Ok(Value::String(out))
    }

    fn array_range(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let start = self.int_arg(args, 0, "start")?;
        let end = self.int_arg(args, 1, "end")?;
        let step = self.int_arg(args, 2, "step")?;
        if step == 0 {
            return Err(self.invalid("the step must not be 0"));
        }
        let span = (i128::from(end) - i128::from(start)) / i128::from(step);
        let count = if span < 0 { 0 } else { span + 1 };
        if count > MAX_RANGE_ITEMS as i128 {
            return Err(self.invalid(format!(
                "the range from {start} to {end} with step {step} has {count} items but at most {MAX_RANGE_ITEMS} are allowed"
            )));
        }
        let items = (0..count)
            .map(|i| Value::from(i128::from(start) as i64 + i as i64 * step))
            .collect();
        Ok(Value::Array(items))
    }

    fn hash(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        // Observed on AWS: data that is not a string is hashed as its JSON text.
        let data: Cow<'_, str> = match &*args[0] {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        };
        self.check_length(&data, "data to hash")?;
        let algorithm = self.string_arg(args, 1)?;
        let bytes = data.as_bytes();
        let digest = match algorithm {
            "MD5" => hex::encode(md5::Md5::digest(bytes)),
            "SHA-1" => hex::encode(sha1::Sha1::digest(bytes)),
            "SHA-256" => hex::encode(sha2::Sha256::digest(bytes)),
            "SHA-384" => hex::encode(sha2::Sha384::digest(bytes)),
            "SHA-512" => hex::encode(sha2::Sha512::digest(bytes)),
            other => {
                return Err(self.invalid(format!(
                    "the hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                )));
            }
        };
        Ok(Value::String(digest))
    }

    fn check_length(&self, s: &str, what: &str) -> Result<(), IntrinsicError> {
        let n = s.chars().count();
        if n > MAX_STRING_CHARS {
            return Err(self.invalid(format!(
                "the {what} has {n} characters but at most {MAX_STRING_CHARS} are allowed"
            )));
        }
        Ok(())
    }

    fn string_arg<'v>(
        &self,
        args: &'v [Cow<'_, Value>],
        i: usize,
    ) -> Result<&'v str, IntrinsicError> {
        match &*args[i] {
            Value::String(s) => Ok(s),
            other => Err(self.invalid(format!(
                "argument {} must be a string but was {}",
                i + 1,
                describe(other)
            ))),
        }
    }

    fn array_arg<'v>(
        &self,
        args: &'v [Cow<'_, Value>],
        i: usize,
    ) -> Result<&'v Vec<Value>, IntrinsicError> {
        match &*args[i] {
            Value::Array(a) => Ok(a),
            other => Err(self.invalid(format!(
                "argument {} must be an array but was {}",
                i + 1,
                describe(other)
            ))),
        }
    }

    fn int_arg(
        &self,
        args: &[Cow<'_, Value>],
        i: usize,
        what: &str,
    ) -> Result<i64, IntrinsicError> {
        let v: &Value = &args[i];
        // AWS truncates fractional integer arguments toward zero (a Java `(int)` cast).
        let n = match v {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.abs() < 9.0e15)
                    .map(|f| f.trunc() as i64)
            }),
            _ => None,
        };
        n.filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| {
            self.invalid(format!(
                "the {what} (argument {}) must be an integer between {} and {} but was {}",
                i + 1,
                i32::MIN,
                i32::MAX,
                describe(v)
            ))
        })
    }

    /// A number rounded half up (Java `Math.round`), as `States.MathAdd` does to each operand.
    fn rounded_arg(&self, args: &[Cow<'_, Value>], i: usize) -> Result<i64, IntrinsicError> {
        let v: &Value = &args[i];
        let rounded = match v {
            Value::Number(n) => match n.as_i64() {
                Some(n) => Some(n),
                None => n
                    .as_f64()
                    .map(|f| (f + 0.5).floor())
                    .filter(|f| f.abs() < 9.0e15)
                    .map(|f| f as i64),
            },
            _ => None,
        };
        rounded
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| {
                self.invalid(format!(
                    "argument {} must be a number between {} and {} but was {}",
                    i + 1,
                    i32::MIN,
                    i32::MAX,
                    describe(v)
                ))
            })
    }
}

impl fmt::Display for IntrinsicCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Most items `States.ArrayRange` may produce.
pub const MAX_RANGE_ITEMS: usize = 1000;
/// Longest string `States.Base64Encode`, `States.Base64Decode` and `States.Hash` accept.
pub const MAX_STRING_CHARS: usize = 10_000;
/// Deepest nesting of intrinsic calls within one field.
pub const MAX_NESTING: usize = 10;

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::JavaRandom;

    #[test]
    fn java_random_reproduces_javas_sequence() {
        // Well-known values of `new Random(0).nextInt()` and `new Random(42).nextInt()`.
        assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        let mut r = JavaRandom::new(7);
        assert!((0..1000).all(|_| (0..10).contains(&r.next_int(10))));
        assert!((0..1000).all(|_| (0..16).contains(&r.next_int(16))));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

const FUNCTIONS: [(&str, Function); 18] = [
    ("States.Format", Function::Format),
    ("States.StringToJson", Function::StringToJson),
    ("States.JsonToString", Function::JsonToString),
    ("States.Array", Function::Array),
    ("States.ArrayPartition", Function::ArrayPartition),
    ("States.ArrayContains", Function::ArrayContains),
    ("States.ArrayRange", Function::ArrayRange),
    ("States.ArrayGetItem", Function::ArrayGetItem),
    ("States.ArrayLength", Function::ArrayLength),
    ("States.ArrayUnique", Function::ArrayUnique),
    ("States.Base64Encode", Function::Base64Encode),
    ("States.Base64Decode", Function::Base64Decode),
    ("States.Hash", Function::Hash),
    ("States.JsonMerge", Function::JsonMerge),
    ("States.MathRandom", Function::MathRandom),
    ("States.MathAdd", Function::MathAdd),
    ("States.StringSplit", Function::StringSplit),
    ("States.UUID", Function::Uuid),
];

impl Function {
    fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("States", |(n, _)| n)
    }

    /// Accepted argument counts (inclusive) and their description for error messages.
    fn arity(self) -> (usize, usize, &'static str) {
        use Function as F;
        match self {
            F::Format => (
                1,
                usize::MAX,
                "takes a template string followed by one value per '{}'",
            ),
            F::Array => (0, usize::MAX, "takes any number of arguments"),
            F::Uuid => (0, 0, "takes no arguments"),
            F::StringToJson
            | F::JsonToString
            | F::ArrayLength
            | F::ArrayUnique
            | F::Base64Encode
            | F::Base64Decode => (1, 1, "takes exactly 1 argument"),
            F::ArrayPartition
            | F::ArrayContains
            | F::ArrayGetItem
            | F::Hash
            | F::MathAdd
            | F::StringSplit => (2, 2, "takes exactly 2 arguments"),
            F::ArrayRange | F::JsonMerge => (3, 3, "takes exactly 3 arguments"),
            F::MathRandom => (
                2,
                3,
                "takes 2 or 3 arguments (start, end and an optional seed)",
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Literal(Value),
    /// A quoted string literal; `raw` keeps its escapes for `States.Format` templates.
    String {
        value: Value,
        raw: String,
    },
    Path(JsonPath),
    Call(IntrinsicCall),
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Hole,
}

/// Splits a `States.Format` template into text and `{}` holes; `\{`, `\}`, `\'` and `\\`
/// stand for the character itself.
fn split_template(raw: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('u') => {
                    let hex: String = chars.clone().take(4).collect();
                    match unicode_escape(&hex) {
                        Some(c) => {
                            text.push(c);
                            chars.nth(3);
                        }
                        None => text.push('u'),
                    }
                }
                Some(n) => text.push(n),
                None => text.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Hole);
            }
            '{' | '}' => {
                return Err(format!(
                    "the template {} has an unescaped '{c}' that is not part of a '{{}}' placeholder; write \\{c} for a literal brace",
                    Value::String(raw.to_string())
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The character a `\uXXXX` escape names, if `hex` is four hex digits of a scalar value.
fn unicode_escape(hex: &str) -> Option<char> {
    if hex.len() != 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
}

/// `java.util.Random`, so that a seeded `States.MathRandom` gives the number AWS's Java
/// service gives for the same seed (a seed's sequence is part of Java's documented contract).
struct JavaRandom {
    state: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom {
            state: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.state = (self.state.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.state >> (48 - bits)) as i32
    }

    /// `Random.nextInt(bound)` for a positive bound.
    fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}

/// serde_json reads `-0` as the float -0.0; AWS (Jackson) reads it as the integer 0.
fn integer_zero(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n)
                if n.is_f64()
                    && n.as_f64() == Some(0.0)
                    && n.as_f64().is_some_and(f64::is_sign_negative) =>
            {
                *v = Value::from(0);
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

/// Renders a value as Java's `toString` does, which is how AWS fills `States.Format` holes.
fn java_string(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&java_double(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_string(v, out);
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString`: plain notation in [1e-3, 1e7), otherwise `d.dddE±n`.
fn java_double(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut text = v.to_string();
    if text.len() > 100 {
        let cut = (0..=100)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    format!("the {kind} {text}")
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
