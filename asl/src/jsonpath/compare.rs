//! JSON values compared as Jayway compares them in filters: numbers by value (large integers
//! without loss), deep equality, order, membership, size and emptiness.

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::CmpOp;

fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Numeric order without losing precision on large integers.
pub(crate) fn cmp_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

pub(super) fn compare(l: &Value, op: CmpOp, r: &Value) -> bool {
    let contains = |list: &Value, v: &Value| match list {
        Value::Array(items) => items.iter().any(|x| json_equal(x, v)),
        _ => false,
    };
    match op {
        CmpOp::Eq => json_equal(l, r),
        CmpOp::Ne => !json_equal(l, r),
        CmpOp::Lt => cmp_values(l, r) == Some(Ordering::Less),
        CmpOp::Le => matches!(cmp_values(l, r), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => cmp_values(l, r) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(cmp_values(l, r), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Matches => false,
        CmpOp::In => contains(r, l),
        CmpOp::Nin => !contains(r, l),
        CmpOp::SubsetOf => match l {
            Value::Array(items) => items.iter().all(|x| contains(r, x)),
            _ => false,
        },
        CmpOp::AnyOf => match l {
            Value::Array(items) => items.iter().any(|x| contains(r, x)),
            _ => false,
        },
        CmpOp::NoneOf => match l {
            Value::Array(items) => !items.iter().any(|x| contains(r, x)),
            _ => false,
        },
        CmpOp::Size => {
            let size = match l {
                Value::Array(items) => items.len(),
                Value::String(s) => s.chars().count(),
                _ => return false,
            };
            r.as_u64()
                .is_some_and(|n| usize::try_from(n).is_ok_and(|n| n == size))
        }
        CmpOp::Empty => {
            let empty = match l {
                Value::Array(items) => items.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return false,
            };
            r.as_bool() == Some(empty)
        }
        CmpOp::Contains => match (l, r) {
            (Value::String(s), Value::String(t)) => s.contains(t.as_str()),
            (Value::Array(_), v) => contains(l, v),
            _ => false,
        },
    }
}
