//! The intrinsic functions: their names, their argument counts, and what each computes from
//! its evaluated arguments.

use std::borrow::Cow;

use base64::Engine as _;
use rand::Rng as _;
use serde_json::Value;
use sha1::Digest as _;

use super::format_template::{Piece, split_template};
use super::java::{JavaRandom, integer_zero, java_string};
use super::{IntrinsicCall, IntrinsicError, MAX_RANGE_ITEMS, MAX_STRING_CHARS};
use crate::jsonpath::json_equal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Function {
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

pub(super) const FUNCTIONS: [(&str, Function); 18] = [
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
    pub(super) fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("States", |(n, _)| n)
    }

    /// Accepted argument counts (inclusive) and their description for error messages.
    pub(super) fn arity(self) -> (usize, usize, &'static str) {
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

impl IntrinsicCall {
    fn invalid(&self, reason: impl Into<String>) -> IntrinsicError {
        IntrinsicError::Invalid {
            function: self.function.name(),
            reason: reason.into(),
        }
    }

    pub(super) fn apply(&self, args: Vec<Cow<'_, Value>>) -> Result<Value, IntrinsicError> {
        use Function as F;
        match self.function {
            F::Format => self.format(&args),
            F::StringToJson => self.string_to_json(&args),
            F::JsonToString => Ok(Value::String(args[0].to_string())),
            F::Array => Ok(Value::Array(
                args.into_iter().map(Cow::into_owned).collect(),
            )),
            F::ArrayPartition => self.array_partition(&args),
            F::ArrayContains => {
                let items = self.array_arg(&args, 0)?;
                Ok(Value::Bool(items.iter().any(|v| json_equal(v, &args[1]))))
            }
            F::ArrayRange => self.array_range(&args),
            F::ArrayGetItem => self.array_get_item(&args),
            F::ArrayLength => Ok(Value::from(self.array_arg(&args, 0)?.len())),
            F::ArrayUnique => self.array_unique(&args),
            F::Base64Encode => {
                let s = self.string_arg(&args, 0)?;
                self.check_length(s, "input string")?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                ))
            }
            F::Base64Decode => self.base64_decode(&args),
            F::Hash => self.hash(&args),
            F::JsonMerge => self.json_merge(args),
            F::MathRandom => self.math_random(&args),
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

    /// `States.StringToJson`: a blank string is null, as on AWS.
    fn string_to_json(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let s = self.string_arg(args, 0)?;
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

    /// `States.ArrayPartition`: the array cut into chunks of the given size.
    fn array_partition(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let size = self.int_arg(args, 1, "chunk size")?;
        if size <= 0 {
            return Err(self.invalid(format!(
                "the chunk size must be a positive integer but was {size}"
            )));
        }
        let items = self.array_arg(args, 0)?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Ok(Value::Array(
            items
                .chunks(size)
                .map(|c| Value::Array(c.to_vec()))
                .collect(),
        ))
    }

    /// `States.ArrayGetItem`: the item at an index (null for any index into an empty array).
    fn array_get_item(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let index = self.int_arg(args, 1, "index")?;
        let items = self.array_arg(args, 0)?;
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

    /// `States.ArrayUnique`: the items without repeats, first occurrences kept.
    fn array_unique(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let items = self.array_arg(args, 0)?;
        let mut unique: Vec<Value> = Vec::with_capacity(items.len());
        for item in items {
            if !unique.iter().any(|u| json_equal(u, item)) {
                unique.push(item.clone());
            }
        }
        Ok(Value::Array(unique))
    }

    /// `States.Base64Decode`, with or without padding.
    fn base64_decode(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let s = self.string_arg(args, 0)?;
        self.check_length(s, "input string")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim_end_matches('='))
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

    /// `States.JsonMerge`: a shallow merge of two objects (the only kind AWS offers).
    fn json_merge(&self, mut args: Vec<Cow<'_, Value>>) -> Result<Value, IntrinsicError> {
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

    /// `States.MathRandom`: a random integer in `[start, end)`, Java's sequence when seeded.
    fn math_random(&self, args: &[Cow<'_, Value>]) -> Result<Value, IntrinsicError> {
        let start = self.int_arg(args, 0, "start")?;
        let end = self.int_arg(args, 1, "end")?;
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
                let seed = self.int_arg(args, 2, "seed")?;
                JavaRandom::new(seed).next_int(bound)
            }
            None => rand::rng().random_range(0..bound),
        };
        Ok(Value::from(start + i64::from(offset)))
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
        hash_hex(&data, algorithm)
            .map(Value::String)
            .map_err(|reason| self.invalid(reason))
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

/// The hex digest of `data` by `algorithm` (`MD5`, `SHA-1`, `SHA-256`, `SHA-384`, `SHA-512`), or
/// why the algorithm is refused. Shared by `States.Hash` and JSONata's `$hash`.
pub(crate) fn hash_hex(data: &str, algorithm: &str) -> Result<String, String> {
    let bytes = data.as_bytes();
    Ok(match algorithm {
        "MD5" => hex::encode(md5::Md5::digest(bytes)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(bytes)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(bytes)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(bytes)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(bytes)),
        other => {
            return Err(format!(
                "the hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            ));
        }
    })
}
