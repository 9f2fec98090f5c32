//! Regular expression literals: JSONata regexes are JavaScript regexes; they run on the `regex`
//! crate after a translation of the differences that matter: `\d` and `\w` are ASCII-only in
//! JavaScript, `\/` is an escaped slash, `\uXXXX` is a code unit, `[^]` matches anything and
//! `[]` nothing. Lookaround and backreferences are not supported (S0303).

use regex::Regex;

use crate::error::Error;

/// A compiled regular expression literal.
#[derive(Debug)]
pub struct Matcher {
    /// The pattern as written.
    pub source: String,
    /// The compiled expression.
    pub regex: Regex,
}

impl Matcher {
    /// Compiles a JavaScript pattern with flags (`i`, `m`).
    pub fn new(pattern: &str, flags: &str) -> Result<Matcher, Error> {
        let translated = translate(pattern);
        let regex = regex::RegexBuilder::new(&translated)
            .case_insensitive(flags.contains('i'))
            .multi_line(flags.contains('m'))
            .build()
            .map_err(|_| Error::new("S0303").with_value(pattern.to_owned()))?;
        Ok(Matcher {
            source: pattern.to_owned(),
            regex,
        })
    }
}

/// Rewrites JavaScript regex syntax into the `regex` crate's.
fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let e = chars[i + 1];
            i += 2;
            match e {
                'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                'w' => out.push_str(if in_class {
                    "A-Za-z0-9_"
                } else {
                    "[A-Za-z0-9_]"
                }),
                'D' if !in_class => out.push_str("[^0-9]"),
                'W' if !in_class => out.push_str("[^A-Za-z0-9_]"),
                'u' if i + 4 <= chars.len()
                    && chars[i..i + 4].iter().all(char::is_ascii_hexdigit) =>
                {
                    let hex: String = chars[i..i + 4].iter().collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                    i += 4;
                }
                '/' => out.push('/'),
                '-' => out.push_str("\\-"),
                c if c.is_ascii_alphanumeric() => {
                    out.push('\\');
                    out.push(c);
                }
                c => {
                    // escaped punctuation stands for itself
                    out.push_str(&regex::escape(&c.to_string()));
                }
            }
            continue;
        }
        if !in_class && c == '[' {
            // JavaScript's `[]` matches nothing and `[^]` anything; the regex crate reads a
            // leading `]` as a literal instead
            if chars.get(i + 1) == Some(&']') {
                out.push_str("[^\\s\\S]");
                i += 2;
                continue;
            }
            if chars.get(i + 1) == Some(&'^') && chars.get(i + 2) == Some(&']') {
                out.push_str("[\\s\\S]");
                i += 3;
                continue;
            }
            in_class = true;
            out.push('[');
            i += 1;
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            continue;
        }
        if in_class {
            match c {
                ']' => in_class = false,
                '[' => {
                    out.push_str("\\[");
                    i += 1;
                    continue;
                }
                '&' | '~' if chars.get(i + 1) == Some(&c) => {
                    out.push('\\');
                }
                _ => {}
            }
        }
        out.push(c);
        i += 1;
    }
    out
}
