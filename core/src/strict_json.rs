//! Reading a user's JSON document strictly: a key that appears twice in one object is an error
//! naming it, and a UTF-8 byte order mark before the document is read, not refused.
//!
//! serde_json keeps the last of two equal keys without a word, so `{"output": "a/", "output":
//! "b/"}` would score into `b/` while the user reads `a/`. No well-kept crate offers a
//! duplicate-detecting `Value` parser (serde_with's `maps_duplicate_key_is_error` works only on
//! typed maps), hence this small visitor over serde_json's own deserializer.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The UTF-8 byte order mark some editors (Windows Notepad, Excel exports) write first.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses `bytes` as one JSON document, refusing duplicate keys; a leading UTF-8 BOM is skipped.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue {
        path: String::new(),
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Deserializes a `Value`, knowing where in the document it sits (for the error message).
struct StrictValue {
    path: String,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a finite number")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            path: format!("{}[{}]", self.path, items.len()),
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "the key '{path}' appears twice; keep one"
                )));
            }
            let value = map.next_value_seed(StrictValue { path })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_duplicate_key_is_named_with_its_path() {
        let e = from_slice(br#"{"a": 1, "tags": {"x": "1", "x": "2"}}"#).unwrap_err();
        assert!(e.to_string().contains("'tags.x' appears twice"), "{e}");
        let e = from_slice(br#"{"output": "s3://b/a/", "output": "s3://b/b/"}"#).unwrap_err();
        assert!(e.to_string().contains("'output' appears twice"), "{e}");
        let e = from_slice(br#"[{"k": 1}, {"k": 1, "k": 2}]"#).unwrap_err();
        assert!(e.to_string().contains("'[1].k' appears twice"), "{e}");
    }

    #[test]
    fn reads_what_serde_json_reads_when_keys_are_unique() {
        let text = br#"{"n": -3, "u": 18446744073709551615, "f": 1.5e300, "s": "\u00e9\n", "a": [null, true, {}], "o": {"z": 1, "a": 2}}"#;
        let strict = from_slice(text).unwrap();
        let lax: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(strict, lax);
        // key order is kept (preserve_order), as the lax parser keeps it
        let keys: Vec<&String> = strict["o"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn a_byte_order_mark_is_read_and_trailing_bytes_are_refused() {
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(br#"{"name": "x"}"#);
        assert_eq!(from_slice(&with_bom).unwrap(), json!({"name": "x"}));
        assert!(from_slice(br#"{"a": 1} {"b": 2}"#).is_err());
    }
}
