//! `$formatInteger` and `$parseInteger`: integer pictures as XPath F&O 3.1 defines them
//! (decimal digit patterns with grouping separators in any Unicode digit family, `a`/`A`
//! letters, `i`/`I` roman numerals, `w`/`W`/`Ww` words, `;o` ordinals). Date/time pictures
//! reuse them for their components.

use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

/// Most thousands a roman numeral may hold (one `m` each).
const MAX_OUTPUT: f64 = 1e6;

/// The kind of numbering a picture asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primary {
    /// Digits.
    Decimal,
    /// a, b, … z, aa, …
    Letters,
    /// Roman numerals.
    Roman,
    /// English words.
    Words,
    /// A numbering sequence this implementation does not support (D3130).
    Sequence,
}

/// Letter case of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// lower
    Lower,
    /// UPPER
    Upper,
    /// Title
    Title,
}

/// A grouping separator and its position counted from the right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Separator {
    /// Digits to its right.
    pub position: usize,
    /// The character.
    pub character: char,
}

/// An analysed integer picture.
#[derive(Debug, Clone)]
pub struct IntegerFormat {
    /// Kind of numbering.
    pub primary: Primary,
    /// Letter case.
    pub case: Case,
    /// `;o`.
    pub ordinal: bool,
    /// First code point of the digit family (`0` is 0x30).
    pub zero_code: u32,
    /// Digits always written.
    pub mandatory_digits: usize,
    /// `#` signs.
    pub optional_digits: usize,
    /// Separators repeat at a fixed interval.
    pub regular: bool,
    /// The separators (one, with the interval, when regular).
    pub separators: Vec<Separator>,
    /// The picture, for D3130.
    pub token: String,
}

const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];

/// The digit family a character belongs to, if it is a decimal digit.
pub fn digit_family(c: char) -> Option<u32> {
    let cp = c as u32;
    DECIMAL_GROUPS
        .iter()
        .copied()
        .find(|&g| cp >= g && cp <= g + 9)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn regular_separator(seps: &[Separator]) -> Option<Separator> {
    let first = seps.first()?;
    if seps.iter().any(|s| s.character != first.character) {
        return None;
    }
    let factor = seps.iter().map(|s| s.position).fold(0, gcd);
    if factor == 0 {
        return None;
    }
    for i in 1..=seps.len() {
        if !seps.iter().any(|s| s.position == i * factor) {
            return None;
        }
    }
    Some(Separator {
        position: factor,
        character: first.character,
    })
}

/// Analyses an integer picture.
pub fn analyse(picture: &str) -> Result<IntegerFormat, Error> {
    let mut format = IntegerFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal: false,
        zero_code: 0x30,
        mandatory_digits: 0,
        optional_digits: 0,
        regular: false,
        separators: Vec::new(),
        token: String::new(),
    };
    let primary = match picture.rfind(';') {
        Some(i) => {
            if picture[i + 1..].starts_with('o') {
                format.ordinal = true;
            }
            &picture[..i]
        }
        None => picture,
    };
    match primary {
        "A" => {
            format.case = Case::Upper;
            format.primary = Primary::Letters;
        }
        "a" => format.primary = Primary::Letters,
        "I" => {
            format.case = Case::Upper;
            format.primary = Primary::Roman;
        }
        "i" => format.primary = Primary::Roman,
        "W" => {
            format.case = Case::Upper;
            format.primary = Primary::Words;
        }
        "Ww" => {
            format.case = Case::Title;
            format.primary = Primary::Words;
        }
        "w" => format.primary = Primary::Words,
        _ => {
            let mut zero: Option<u32> = None;
            let mut mandatory = 0;
            let mut optional = 0;
            let mut seps = Vec::new();
            let mut position = 0;
            for c in primary.chars().rev() {
                if let Some(group) = digit_family(c) {
                    mandatory += 1;
                    position += 1;
                    match zero {
                        None => zero = Some(group),
                        Some(z) if z != group => return Err(Error::new("D3131")),
                        _ => {}
                    }
                } else if c == '#' {
                    position += 1;
                    optional += 1;
                } else {
                    seps.push(Separator {
                        position,
                        character: c,
                    });
                }
            }
            if mandatory > 0 {
                format.primary = Primary::Decimal;
                format.zero_code = zero.unwrap_or(0x30);
                format.mandatory_digits = mandatory;
                format.optional_digits = optional;
                match regular_separator(&seps) {
                    Some(sep) => {
                        format.regular = true;
                        format.separators = vec![sep];
                    }
                    None => {
                        format.regular = false;
                        format.separators = seps;
                    }
                }
            } else {
                format.primary = Primary::Sequence;
                format.token = primary.to_owned();
            }
        }
    }
    Ok(format)
}

fn to_letters(mut value: f64, a: u8) -> String {
    let mut letters = Vec::new();
    while value > 0.0 {
        letters.push((((value - 1.0) % 26.0) as u8 + a) as char);
        value = ((value - 1.0) / 26.0).floor();
    }
    letters.iter().rev().collect()
}

fn to_roman(mut value: f64) -> String {
    const NUMERALS: [(f64, &str); 13] = [
        (1000.0, "m"),
        (900.0, "cm"),
        (500.0, "d"),
        (400.0, "cd"),
        (100.0, "c"),
        (90.0, "xc"),
        (50.0, "l"),
        (40.0, "xl"),
        (10.0, "x"),
        (9.0, "ix"),
        (5.0, "v"),
        (4.0, "iv"),
        (1.0, "i"),
    ];
    let mut out = String::new();
    for (n, s) in NUMERALS {
        while value >= n {
            out.push_str(s);
            value -= n;
        }
    }
    out
}

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = [
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred",
];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];

fn words(num: f64, prev: bool, ord: bool) -> String {
    let mut w = String::new();
    if num <= 19.0 {
        if prev {
            w.push_str(" and ");
        }
        let i = num as usize;
        w.push_str(if ord { ORDINALS[i] } else { FEW[i] });
    } else if num < 100.0 {
        let tens = (num / 10.0).floor() as usize;
        let rem = num % 10.0;
        if prev {
            w.push_str(" and ");
        }
        w.push_str(DECADES[tens - 2]);
        if rem > 0.0 {
            w.push('-');
            w.push_str(&words(rem, false, ord));
        } else if ord {
            w.pop();
            w.push_str("ieth");
        }
    } else if num < 1000.0 {
        let hundreds = (num / 100.0).floor() as usize;
        let rem = num % 100.0;
        if prev {
            w.push_str(", ");
        }
        w.push_str(FEW[hundreds]);
        w.push_str(" Hundred");
        if rem > 0.0 {
            w.push_str(&words(rem, true, ord));
        } else if ord {
            w.push_str("th");
        }
    } else {
        // log10 of a power of ten may come out a hair low: at least thousands here
        let mag = ((num.log10() / 3.0).floor() as usize).clamp(1, MAGNITUDES.len());
        let factor = 10f64.powi(mag as i32 * 3);
        let mant = (num / factor).floor();
        let rem = num - mant * factor;
        if prev {
            w.push_str(", ");
        }
        w.push_str(&words(mant, false, false));
        w.push(' ');
        w.push_str(MAGNITUDES[mag - 1]);
        if rem > 0.0 {
            w.push_str(&words(rem, true, ord));
        } else if ord {
            w.push_str("th");
        }
    }
    w
}

fn too_large(value: f64) -> Error {
    Error::new("D3130").with_value(format!(
        "{} (too large to write in this form)",
        crate::number::js_to_string(value)
    ))
}

/// Formats an integer with an analysed picture.
pub fn format(value: f64, f: &IntegerFormat) -> Result<String, Error> {
    let negative = value < 0.0;
    let value = value.abs();
    let mut out = match f.primary {
        Primary::Letters => to_letters(value, if f.case == Case::Upper { b'A' } else { b'a' }),
        Primary::Roman => {
            if value / 1000.0 > MAX_OUTPUT {
                return Err(too_large(value));
            }
            let r = to_roman(value);
            if f.case == Case::Upper {
                r.to_uppercase()
            } else {
                r
            }
        }
        Primary::Words => {
            let w = words(value, false, f.ordinal);
            match f.case {
                Case::Upper => w.to_uppercase(),
                Case::Lower => w.to_lowercase(),
                Case::Title => w,
            }
        }
        Primary::Decimal => {
            let digits = crate::number::js_to_string(value);
            let mut s: Vec<char> = digits.chars().collect();
            if f.mandatory_digits > s.len() {
                let pad = f.mandatory_digits - s.len();
                let mut padded = vec!['0'; pad];
                padded.extend(s);
                s = padded;
            }
            if f.zero_code != 0x30 {
                s = s
                    .into_iter()
                    .map(|c| {
                        c.to_digit(10)
                            .and_then(|d| char::from_u32(f.zero_code + d))
                            .unwrap_or(c)
                    })
                    .collect();
            }
            if f.regular {
                if let Some(sep) = f.separators.first() {
                    let n = (s.len().saturating_sub(1)) / sep.position;
                    for i in (1..=n).rev() {
                        let pos = s.len() - i * sep.position;
                        s.insert(pos, sep.character);
                    }
                }
            } else {
                for sep in f.separators.iter().rev() {
                    let pos = s.len().saturating_sub(sep.position);
                    s.insert(pos, sep.character);
                }
            }
            let mut text: String = s.iter().collect();
            if f.ordinal {
                let last = s.last().copied();
                let before = if s.len() > 1 {
                    s.get(s.len() - 2).copied()
                } else {
                    None
                };
                let suffix = match last {
                    Some('1') if before != Some('1') => "st",
                    Some('2') if before != Some('1') => "nd",
                    Some('3') if before != Some('1') => "rd",
                    _ => "th",
                };
                text.push_str(suffix);
            }
            text
        }
        Primary::Sequence => return Err(Error::new("D3130").with_value(f.token.clone())),
    };
    if negative {
        out.insert(0, '-');
    }
    Ok(out)
}

/// `$formatInteger(number, picture)`.
pub fn format_integer_fn(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Value::Number(n) = arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let picture = arg(args, 1);
    let f = analyse(picture.as_str().unwrap_or_default())?;
    if !n.is_finite() {
        // Infinity and NaN have no digits, words or numerals (the words recursed forever,
        // found by fuzzing): the reference implementation's error for a number out of range
        return Err(Error::new("D1001").with_value(crate::number::js_to_string(n)));
    }
    Ok(Value::string(format(n.floor(), &f)?))
}

fn letters_to_decimal(s: &str, a: u8) -> f64 {
    s.bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| (b as f64 - a as f64 + 1.0) * 26f64.powi(i as i32))
        .sum()
}

fn roman_to_decimal(s: &str) -> f64 {
    let mut decimal = 0.0;
    let mut max = 1.0;
    for c in s.chars().rev() {
        let v = match c {
            'M' => 1000.0,
            'D' => 500.0,
            'C' => 100.0,
            'L' => 50.0,
            'X' => 10.0,
            'V' => 5.0,
            'I' => 1.0,
            _ => 0.0,
        };
        if v < max {
            decimal -= v;
        } else {
            max = v;
            decimal += v;
        }
    }
    decimal
}

fn word_value(word: &str) -> Option<f64> {
    for (i, w) in FEW.iter().enumerate() {
        if w.eq_ignore_ascii_case(word) {
            return Some(i as f64);
        }
    }
    for (i, w) in ORDINALS.iter().enumerate() {
        if w.eq_ignore_ascii_case(word) {
            return Some(i as f64);
        }
    }
    for (i, w) in DECADES.iter().enumerate() {
        let lw = w.to_lowercase();
        let ieth = format!("{}ieth", &lw[..lw.len() - 1]);
        if lw == word || ieth == word {
            return Some((i as f64 + 2.0) * 10.0);
        }
    }
    if word == "hundredth" {
        return Some(100.0);
    }
    for (i, w) in MAGNITUDES.iter().enumerate() {
        let lw = w.to_lowercase();
        if lw == word || format!("{lw}th") == word {
            return Some(10f64.powi((i as i32 + 1) * 3));
        }
    }
    None
}

fn words_to_number(text: &str) -> f64 {
    let normalized = text
        .replace(", ", " ")
        .replace(" and ", " ")
        .replace('-', " ");
    let mut segs: Vec<f64> = vec![0.0];
    for part in normalized.split(' ') {
        let Some(value) = word_value(part) else {
            // an unknown word spoils the whole number, as `undefined` does in arithmetic
            return f64::NAN;
        };
        if value < 100.0 {
            let mut top = segs.pop().unwrap_or(0.0);
            if top >= 1000.0 {
                segs.push(top);
                top = 0.0;
            }
            segs.push(top + value);
        } else {
            let top = segs.pop().unwrap_or(0.0);
            segs.push(top * value);
        }
    }
    segs.iter().sum()
}

/// JavaScript's `parseInt(s)` (base 10): leading digits after an optional sign, else NaN.
pub fn js_parse_int(s: &str) -> f64 {
    let t = s.trim_start();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return f64::NAN;
    }
    sign * digits.parse::<f64>().unwrap_or(f64::NAN)
}

/// Parses `text` written in the analysed picture.
pub fn parse(text: &str, f: &IntegerFormat) -> Result<f64, Error> {
    Ok(match f.primary {
        Primary::Letters => {
            letters_to_decimal(text, if f.case == Case::Upper { b'A' } else { b'a' })
        }
        Primary::Roman => roman_to_decimal(&text.to_uppercase()),
        Primary::Words => words_to_number(&text.to_lowercase()),
        Primary::Decimal => {
            let mut digits: String = text.to_owned();
            if f.ordinal {
                let n = digits.chars().count().saturating_sub(2);
                digits = digits.chars().take(n).collect();
            }
            if f.regular {
                digits = digits.replace(',', "");
            } else {
                for sep in &f.separators {
                    digits = digits.replace(sep.character, "");
                }
            }
            if f.zero_code != 0x30 {
                digits = digits
                    .chars()
                    .map(|c| {
                        char::from_u32((c as u32).wrapping_sub(f.zero_code) + 0x30).unwrap_or(c)
                    })
                    .collect();
            }
            js_parse_int(&digits)
        }
        Primary::Sequence => return Err(Error::new("D3130").with_value(f.token.clone())),
    })
}

/// The regular expression that matches an integer in the picture (for date/time parsing);
/// `width` is the fixed digit count of a year component, if any.
pub fn regex_for(f: &IntegerFormat, width: Option<usize>) -> Result<String, Error> {
    let occurrences = match width {
        Some(n) if n > 0 => {
            if f.optional_digits == 0 {
                format!("{{{n}}}")
            } else {
                format!("{{{},{n}}}", n.saturating_sub(f.optional_digits))
            }
        }
        _ => "+".to_owned(),
    };
    Ok(match f.primary {
        Primary::Letters => if f.case == Case::Upper {
            "[A-Z]+"
        } else {
            "[a-z]+"
        }
        .to_owned(),
        Primary::Roman => if f.case == Case::Upper {
            "[MDCLXVI]+"
        } else {
            "[mdclxvi]+"
        }
        .to_owned(),
        Primary::Words => {
            let mut alternatives: Vec<String> = Vec::new();
            for w in FEW.iter().chain(ORDINALS.iter()) {
                alternatives.push(w.to_lowercase());
            }
            for w in DECADES {
                let lw = w.to_lowercase();
                alternatives.push(format!("{}ieth", &lw[..lw.len() - 1]));
                alternatives.push(lw);
            }
            alternatives.push("hundredth".to_owned());
            for w in MAGNITUDES {
                let lw = w.to_lowercase();
                alternatives.push(format!("{lw}th"));
                alternatives.push(lw);
            }
            alternatives.push("and".to_owned());
            alternatives.push("[\\-, ]".to_owned());
            format!("(?:{})+", alternatives.join("|"))
        }
        Primary::Decimal => {
            let mut r = format!("[0-9]{occurrences}");
            if f.ordinal {
                r.push_str("(?:th|st|nd|rd)");
            }
            r
        }
        Primary::Sequence => return Err(Error::new("D3130").with_value(f.token.clone())),
    })
}

/// `$parseInteger(string, picture)`.
pub fn parse_integer_fn(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Value::String(s) = arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let picture = arg(args, 1);
    let f = analyse(picture.as_str().unwrap_or_default())?;
    let n = parse(&s, &f)?;
    Ok(if n.is_nan() {
        Value::Undefined
    } else {
        Value::Number(n)
    })
}
