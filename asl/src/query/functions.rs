//! The functions AWS Step Functions adds to JSONata, as native functions of the evaluator:
//! `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse`. They share their rules
//! (limits, hash algorithms, Java's seeded random numbers) with the intrinsic functions of
//! JSONPath states.

use std::rc::Rc;

use serde_json::Value;
use stepscore_jsonata::{Error, NativeFunction};

use crate::intrinsics::{self, JavaRandom};

/// The names, without `$`.
pub(super) const NAMES: [&str; 6] = ["partition", "range", "hash", "random", "uuid", "parse"];

/// The error code AWS's functions raise with their own messages (JSONata's code for a
/// function-raised error, as `$error` raises it).
const CODE: &str = "D3137";

thread_local! {
    static NATIVES: Vec<Rc<NativeFunction>> = build();
}

/// The native function called `name`, built once per thread.
pub(super) fn native(name: &str) -> Option<Rc<NativeFunction>> {
    NATIVES.with(|n| n.iter().find(|f| f.name() == name).cloned())
}

/// How each function computes its value from its (checked) arguments.
type Implementation = fn(&[Option<Value>]) -> Result<Option<Value>, Error>;

fn build() -> Vec<Rc<NativeFunction>> {
    let defs: [(&str, &str, Implementation); 6] = [
        ("partition", "<an:a>", partition),
        ("range", "<nnn:a<n>>", range),
        ("hash", "<js:s>", hash),
        ("random", "<n?:n>", random),
        ("uuid", "<:s>", uuid),
        ("parse", "<s:j>", parse),
    ];
    defs.into_iter()
        .filter_map(|(name, sig, f)| {
            // The signatures are literals; a unit test checks that each one parses.
            NativeFunction::new(name, sig, f).ok().map(|n| {
                Rc::new(if name == "range" {
                    n.returning_sequence()
                } else {
                    n
                })
            })
        })
        .collect()
}

fn fail(function: &str, message: impl std::fmt::Display) -> Error {
    Error::custom(CODE, format!("${function}: {message}"))
}

/// An integer argument (JSONata numbers are doubles).
fn integer(function: &str, what: &str, v: Option<&Value>) -> Result<Option<i64>, Error> {
    let Some(v) = v else { return Ok(None) };
    match v.as_i64() {
        Some(i) => Ok(Some(i)),
        None => match v.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            _ => Err(fail(
                function,
                format!("the {what} must be an integer but was {v}"),
            )),
        },
    }
}

/// `$partition(array, size)`: the array cut into chunks of `size` items (the last one shorter).
fn partition(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let (Some(Some(Value::Array(items))), Some(size)) = (
        args.first(),
        integer(
            "partition",
            "chunk size",
            args.get(1).and_then(Option::as_ref),
        )?,
    ) else {
        return Ok(None);
    };
    if size <= 0 {
        return Err(fail(
            "partition",
            format!("the chunk size must be a positive integer but was {size}"),
        ));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Some(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    )))
}

/// `$range(start, end, step)`: integers from `start` to `end` inclusive, `step` apart.
fn range(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let arg = |i: usize, what: &str| integer("range", what, args.get(i).and_then(Option::as_ref));
    let (Some(start), Some(end), Some(step)) = (arg(0, "start")?, arg(1, "end")?, arg(2, "step")?)
    else {
        return Ok(None);
    };
    if step == 0 {
        return Err(fail("range", "the step must not be 0"));
    }
    let span = (i128::from(end) - i128::from(start)) / i128::from(step);
    let count = if span < 0 { 0 } else { span + 1 };
    if count > intrinsics::MAX_RANGE_ITEMS as i128 {
        return Err(fail(
            "range",
            format!(
                "the range from {start} to {end} with step {step} has {count} items but at most {} are allowed",
                intrinsics::MAX_RANGE_ITEMS
            ),
        ));
    }
    Ok(Some(Value::Array(
        (0..count)
            .map(|i| Value::from(start + i as i64 * step))
            .collect(),
    )))
}

/// `$hash(data, algorithm)`: the hex digest of a string (other values: of their JSON text).
fn hash(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let (Some(Some(data)), Some(Some(Value::String(algorithm)))) = (args.first(), args.get(1))
    else {
        return Ok(None);
    };
    let text = match data {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    intrinsics::hash_hex(&text, algorithm)
        .map(|h| Some(Value::String(h)))
        .map_err(|reason| fail("hash", reason))
}

/// `$random()`: a number in [0, 1); `$random(seed)`: the same number for the same seed (Java's
/// `new Random(seed).nextDouble()`).
fn random(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let n = match integer("random", "seed", args.first().and_then(Option::as_ref))? {
        Some(seed) => JavaRandom::new(seed).next_double(),
        None => rand::random::<f64>(),
    };
    Ok(Some(Value::from(n)))
}

/// `$uuid()`: a random (version 4) UUID.
fn uuid(_: &[Option<Value>]) -> Result<Option<Value>, Error> {
    Ok(Some(Value::String(uuid::Uuid::new_v4().to_string())))
}

/// `$parse(text)`: the JSON value a string holds.
fn parse(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let Some(Some(Value::String(text))) = args.first() else {
        return Ok(None);
    };
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        fail(
            "parse",
            format!(
                "the string {} is not valid JSON: {e}",
                Value::String(text.clone())
            ),
        )
    })?;
    intrinsics::integer_zero(&mut value);
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_function_is_built() {
        let built = super::build();
        assert_eq!(built.len(), super::NAMES.len());
    }
}
