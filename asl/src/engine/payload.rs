//! Size and depth of JSON documents, measured without recursion.

use serde_json::Value;

/// Serialized size of a JSON value in bytes, without allocating the text.
pub fn json_size(v: &Value) -> usize {
    json_shape(v).0
}

/// Serialized size in bytes (as `serde_json::to_writer` writes it) and nesting depth (a scalar
/// is 0, `[]` is 1) of a JSON value. Hand-written rather than serializing to a counting writer
/// because serde_json recurses once per level, which overflows the stack on documents that a
/// loop has nested thousands of levels deep; this walk keeps its own stack.
pub fn json_shape(v: &Value) -> (usize, usize) {
    let (mut size, mut depth) = (0usize, 0usize);
    // Only containers wait on the stack; scalars are counted where they are met, so a flat
    // document (the common case) is measured without allocating.
    let mut pending: Vec<(&Value, usize)> = Vec::new();
    let mut next = Some((v, 0usize));
    while let Some((v, level)) = next.take().or_else(|| pending.pop()) {
        match v {
            Value::Array(items) => {
                depth = depth.max(level + 1);
                // Brackets and commas.
                size += 2 + items.len().saturating_sub(1);
                for i in items {
                    match scalar_len(i) {
                        Some(n) => size += n,
                        None => pending.push((i, level + 1)),
                    }
                }
            }
            Value::Object(m) => {
                depth = depth.max(level + 1);
                // Braces, commas, colons and keys.
                size += 2 + m.len().saturating_sub(1) + m.len();
                for (k, i) in m {
                    size += string_len(k);
                    match scalar_len(i) {
                        Some(n) => size += n,
                        None => pending.push((i, level + 1)),
                    }
                }
            }
            scalar => size += scalar_len(scalar).unwrap_or(0),
        }
    }
    (size, depth)
}

/// Serialized length of a scalar (None for arrays and objects).
pub(super) fn scalar_len(v: &Value) -> Option<usize> {
    Some(match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => number_len(n),
        Value::String(s) => string_len(s),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// Length of a JSON number as serde_json writes it.
pub(super) fn number_len(n: &serde_json::Number) -> usize {
    if let Some(u) = n.as_u64() {
        return u.checked_ilog10().map_or(1, |d| d as usize + 1);
    }
    if let Some(i) = n.as_i64() {
        return 1 + i
            .unsigned_abs()
            .checked_ilog10()
            .map_or(1, |d| d as usize + 1);
    }
    n.to_string().len()
}

/// Length of a JSON string literal as serde_json writes it: quotes, UTF-8 bytes, and escapes
/// (`\"`, `\\` and the short control escapes take 2 bytes, other control characters 6).
pub(super) fn string_len(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    2 + s.len() + escapes
}
