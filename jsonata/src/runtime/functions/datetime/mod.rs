//! Date/time functions: `$now`, `$millis`, `$fromMillis`, `$toMillis`, with XPath F&O 3.1
//! picture strings (`[Y0001]-[M01]-[D01]`, `[FNn]`, `[h]:[m01][P]`, `[Z01:01t]`…) for both
//! formatting and parsing. Times are UTC; a timezone argument (`+hhmm`) shifts the output.
//!
//! The calendar arithmetic is the proleptic Gregorian calendar on epoch milliseconds, as
//! JavaScript's `Date` computes it.

mod calendar;
mod parse;
mod picture;

use self::parse::{parse_date_time, parse_iso};
use self::picture::format_date_time;
use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

fn str_arg(args: &[Value], i: usize) -> Option<String> {
    match args.get(i) {
        Some(Value::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// `$toMillis(timestamp, picture)`.
pub fn to_millis(ev: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(ts) = str_arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    match str_arg(args, 1) {
        None => match parse_iso(&ts) {
            Some(m) if m.is_nan() => Ok(Value::Undefined),
            Some(m) => Ok(Value::Number(m)),
            None => Err(Error::new("D3110").with_value(ts)),
        },
        Some(picture) => Ok(match parse_date_time(&ts, &picture, ev.now_millis())? {
            Some(m) => Value::Number(m),
            None => Value::Undefined,
        }),
    }
}

/// `$fromMillis(millis, picture, timezone)`.
pub fn from_millis(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Value::Number(millis) = arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let picture = str_arg(args, 1);
    let tz = str_arg(args, 2);
    Ok(Value::string(format_date_time(
        millis,
        picture.as_deref(),
        tz.as_deref(),
    )?))
}

/// `$now(picture, timezone)`: the evaluation's start time.
pub fn now(ev: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let picture = str_arg(args, 0);
    let tz = str_arg(args, 1);
    Ok(Value::string(format_date_time(
        ev.now_millis() as f64,
        picture.as_deref(),
        tz.as_deref(),
    )?))
}

/// `$millis()`: the evaluation's start time.
pub fn millis(ev: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> {
    Ok(Value::Number(ev.now_millis() as f64))
}

#[cfg(test)]
mod tests {
    use super::calendar::{civil_from_days, days_from_civil};

    #[test]
    fn civil_dates_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
