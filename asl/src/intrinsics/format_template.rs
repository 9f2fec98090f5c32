//! `States.Format` templates: text with `{}` holes, split once (at parse time when the template
//! is a literal).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Piece {
    Text(String),
    Hole,
}

/// Splits a `States.Format` template into text and `{}` holes; `\{`, `\}`, `\'` and `\\`
/// stand for the character itself.
pub(super) fn split_template(raw: &str) -> Result<Vec<Piece>, String> {
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
pub(super) fn unicode_escape(hex: &str) -> Option<char> {
    if hex.len() != 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
}
