//! [`write_at`]: a value written into a document at a ResultPath.

use serde_json::{Map, Value};

use super::ast::{Root, Step};
use super::{JsonPath, JsonPathError};

/// Writes `value` at `path` inside `target` with ResultPath semantics: `$` replaces the whole
/// target, missing intermediate fields become objects, and a step through a value that is not
/// an object (or an array, for an index step) fails with AWS's ResultPathMatchFailure text.
pub fn write_at(path: &JsonPath, target: &mut Value, value: Value) -> Result<(), JsonPathError> {
    if !matches!(path.root, Root::Input) {
        return Err(JsonPathError::NotWritable {
            path: path.text.to_string(),
            reason: "only input paths starting with '$.' can be written; context ('$$') and variable paths are read-only".into(),
        });
    }
    if !path.is_reference() {
        return Err(JsonPathError::NotWritable {
            path: path.text.to_string(),
            reason: "a ResultPath must be a reference path of field names and non-negative indexes, without wildcards, slices, unions, filters or '..'".into(),
        });
    }
    if path.steps.is_empty() {
        *target = value;
        return Ok(());
    }
    // Checked before mutating so that a failing write leaves the target untouched.
    if !writable(&path.steps, target) {
        return Err(JsonPathError::ResultPathMatch {
            path: path.text.to_string(),
            input: target.to_string(),
        });
    }
    let mut node = target;
    let last = path.steps.len() - 1;
    for (i, step) in path.steps.iter().enumerate() {
        node = match (step, node) {
            (Step::Field(name), Value::Object(map)) => {
                if i == last {
                    map.insert(name.to_string(), value);
                    return Ok(());
                }
                map.entry(name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            (Step::Index(index), Value::Array(items)) => {
                let slot = usize::try_from(*index).ok().filter(|&k| k < items.len());
                let Some(slot) = slot else { break };
                if i == last {
                    items[slot] = value;
                    return Ok(());
                }
                &mut items[slot]
            }
            _ => break,
        };
    }
    // `writable` accepted the shape above, so the loop returns before getting here.
    Err(JsonPathError::NotWritable {
        path: path.text.to_string(),
        reason: "the target does not have the shape the path needs".into(),
    })
}

fn writable(steps: &[Step], target: &Value) -> bool {
    let mut node = Some(target);
    for step in steps {
        node = match (step, node) {
            // A missing intermediate field is created as an object, so everything after it fits.
            (_, None) => return matches!(step, Step::Field(_)),
            (Step::Field(name), Some(Value::Object(map))) => map.get(&**name),
            (Step::Index(index), Some(Value::Array(items))) => {
                match usize::try_from(*index).ok().and_then(|i| items.get(i)) {
                    Some(v) => Some(v),
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    true
}
