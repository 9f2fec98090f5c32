//! Encoding functions: `$base64encode`/`$base64decode` (over the string's code units, as the
//! reference implementation's 'binary' buffers are) and the URL functions with JavaScript's
//! `encodeURIComponent`/`encodeURI` character sets; malformed input is D3140.

use base64::Engine as _;

use super::Ctx;
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

fn str_arg(args: &[Value]) -> Option<&str> {
    match args.first() {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// `$base64encode(str)`.
pub fn base64encode(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args) else {
        return Ok(Value::Undefined);
    };
    let bytes: Vec<u8> = s.encode_utf16().map(|u| (u & 0xff) as u8).collect();
    Ok(Value::string(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// `$base64decode(str)`.
pub fn base64decode(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Some(s) = str_arg(args) else {
        return Ok(Value::Undefined);
    };
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let trimmed = cleaned.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|_| Error::new("D3140").with_value(s.to_owned()))?;
    Ok(Value::string(
        bytes.iter().map(|&b| b as char).collect::<String>(),
    ))
}

const COMPONENT_SAFE: &str = "-_.!~*'()";
const URI_SAFE: &str = "-_.!~*'();/?:@&=+$,#";

fn encode(s: &str, safe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || safe.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Decodes `%XX` escapes as UTF-8; escapes of characters in `keep` stay as written.
fn decode(s: &str, keep: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |i: usize| -> Option<u8> {
        let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
        u8::from_str_radix(h, 16).ok()
    };
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let first = hex(i)?;
        if first < 0x80 {
            if keep.contains(first as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(first);
            }
            i += 3;
            continue;
        }
        let len = match first {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return None,
        };
        let mut seq = vec![first];
        for k in 1..len {
            let at = i + 3 * k;
            if bytes.get(at) != Some(&b'%') {
                return None;
            }
            seq.push(hex(at)?);
        }
        std::str::from_utf8(&seq).ok()?;
        out.extend_from_slice(&seq);
        i += 3 * len;
    }
    String::from_utf8(out).ok()
}

fn url_fn(args: &[Value], f: impl Fn(&str) -> Option<String>) -> Result<Value, Error> {
    let Some(s) = str_arg(args) else {
        return Ok(Value::Undefined);
    };
    f(s).map(Value::string)
        .ok_or_else(|| Error::new("D3140").with_value(s.to_owned()))
}

/// `$encodeUrlComponent(str)`.
pub fn encode_url_component(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    url_fn(args, |s| Some(encode(s, COMPONENT_SAFE)))
}

/// `$encodeUrl(str)`.
pub fn encode_url(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    url_fn(args, |s| Some(encode(s, URI_SAFE)))
}

/// `$decodeUrlComponent(str)`.
pub fn decode_url_component(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    url_fn(args, |s| decode(s, ""))
}

/// `$decodeUrl(str)`.
pub fn decode_url(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    url_fn(args, |s| decode(s, ";/?:@&=+$,#"))
}
