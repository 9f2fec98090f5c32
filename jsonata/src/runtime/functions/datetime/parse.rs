//! Reading a date/time back: text written in a picture, or ISO 8601 without one, to epoch
//! milliseconds.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::calendar::{DAY_MS, MAX_MILLIS, date_utc, fields};
use super::picture::{Component, DAYS, MONTHS, Part, analyse_picture, component, escape_literal};
use crate::error::Error;
use crate::runtime::functions::format_integer::{self, IntegerFormat, js_parse_int};

/// How one captured part is read back.
pub(super) enum Reader {
    Integer(IntegerFormat),
    Names(HashMap<String, f64>),
    Timezone { gmt: bool, separator: Option<char> },
}

/// Parses `text` written in `picture` into epoch millis (`None` when it does not match).
pub(super) fn parse_date_time(text: &str, picture: &str, now: i64) -> Result<Option<f64>, Error> {
    let parts = analyse_picture(picture)?;
    let mut regex = String::from("^");
    let mut readers: Vec<(char, Reader)> = Vec::new();
    for part in &parts {
        match part {
            Part::Literal(l) => regex.push_str(&escape_literal(l)),
            Part::Marker(m) => {
                let c = m.component;
                let (pattern, reader) = if c == 'Z' || c == 'z' {
                    let separator = m
                        .integer
                        .as_ref()
                        .filter(|f| f.regular)
                        .and_then(|f| f.separators.first())
                        .map(|s| s.character);
                    let mut p = String::new();
                    if c == 'z' {
                        p.push_str("GMT");
                    }
                    p.push_str("[-+][0-9]+");
                    if let Some(sep) = separator {
                        p.push_str(&regex::escape(&sep.to_string()));
                        p.push_str("[0-9]+");
                    }
                    (
                        p,
                        Reader::Timezone {
                            gmt: c == 'z',
                            separator,
                        },
                    )
                } else if let Some(f) = &m.integer {
                    let width = if m.n > 0 { Some(m.n as usize) } else { None };
                    (
                        format_integer::regex_for(f, width)?,
                        Reader::Integer(f.clone()),
                    )
                } else {
                    let mut lookup = HashMap::new();
                    let cut = |name: &str| -> String {
                        match m.width_max {
                            Some(max) if max > 0 => name.chars().take(max).collect(),
                            _ => name.to_owned(),
                        }
                    };
                    match c {
                        'M' | 'x' => {
                            for (i, name) in MONTHS.iter().enumerate() {
                                lookup.insert(cut(name).to_lowercase(), i as f64 + 1.0);
                            }
                        }
                        'F' => {
                            for (i, name) in DAYS.iter().enumerate().skip(1) {
                                lookup.insert(cut(name).to_lowercase(), i as f64);
                            }
                        }
                        'P' => {
                            lookup.insert("am".to_owned(), 0.0);
                            lookup.insert("pm".to_owned(), 1.0);
                        }
                        _ => return Err(Error::new("D3133").with_value(c.to_string())),
                    }
                    ("[a-zA-Z]+".to_owned(), Reader::Names(lookup))
                };
                regex.push('(');
                regex.push_str(&pattern);
                regex.push(')');
                readers.push((c, reader));
            }
        }
    }
    regex.push('$');
    let re = regex::RegexBuilder::new(&regex)
        .case_insensitive(true)
        .build()
        .map_err(|_| Error::new("D3136"))?;
    let Some(caps) = re.captures(text) else {
        return Ok(None);
    };
    let mut comps: HashMap<char, f64> = HashMap::new();
    for (i, (c, reader)) in readers.iter().enumerate() {
        let Some(m) = caps.get(i + 1) else { continue };
        let s = m.as_str();
        let value = match reader {
            // fractional seconds: the digits are a fraction; milliseconds are its first three
            Reader::Integer(f) if *c == 'f' => {
                let padded: String = s.chars().chain("000".chars()).take(3).collect();
                format_integer::parse(&padded, f)?
            }
            Reader::Integer(f) => format_integer::parse(s, f)?,
            Reader::Names(lookup) => match lookup.get(&s.to_lowercase()) {
                Some(v) => *v,
                None => continue,
            },
            Reader::Timezone { gmt, separator } => {
                let s = if *gmt { &s[3..] } else { s };
                let (hours, minutes) = match separator.and_then(|sep| s.split_once(sep)) {
                    Some((h, m)) => (js_parse_int(h), js_parse_int(m)),
                    None => {
                        let digits = s.chars().count() - 1;
                        if digits <= 2 {
                            (js_parse_int(s), 0.0)
                        } else {
                            (js_parse_int(&s[..3]), js_parse_int(&s[3..]))
                        }
                    }
                };
                hours * 60.0 + minutes
            }
        };
        if !value.is_nan() {
            comps.insert(*c, value);
        }
    }
    if comps.is_empty() {
        return Ok(None);
    }
    let mask_of = |parts: &str| -> u32 {
        parts
            .chars()
            .fold(0, |mask, p| (mask << 1) + u32::from(comps.contains_key(&p)))
    };
    let is_type = |ty: u32, mask: u32| (!ty & mask) == 0 && (ty & mask) != 0;
    let date_mask = mask_of("YXMxWwdD");
    let date_a = is_type(161, date_mask);
    let date_b = !date_a && is_type(130, date_mask);
    let date_c = is_type(84, date_mask);
    let date_d = !date_c && is_type(72, date_mask);
    let time_mask = mask_of("PHhmsf");
    let time_a = is_type(23, time_mask);
    let time_b = !time_a && is_type(47, time_mask);
    let date_comps = if date_b {
        "Yd"
    } else if date_c {
        "XxwF"
    } else if date_d {
        "XWF"
    } else {
        "YMD"
    };
    let time_comps = if time_b { "Phmsf" } else { "Hmsf" };
    let now_fields = fields(now);
    let mut start_specified = false;
    let mut end_specified = false;
    for p in date_comps.chars().chain(time_comps.chars()) {
        if comps.contains_key(&p) {
            start_specified = true;
            if end_specified {
                return Err(Error::new("D3136"));
            }
            continue;
        }
        if start_specified {
            comps.insert(p, if "MDd".contains(p) { 1.0 } else { 0.0 });
            end_specified = true;
        } else {
            let v = match component(&now_fields, p) {
                Component::Number(n) => n,
                Component::Text(t) => {
                    if t == "pm" {
                        1.0
                    } else {
                        0.0
                    }
                }
                Component::None => 0.0,
            };
            comps.insert(p, v);
        }
    }
    let get = |c: char| comps.get(&c).copied().unwrap_or(0.0);
    let mut month0 = if get('M') > 0.0 { get('M') - 1.0 } else { 0.0 };
    let mut day = get('D');
    if date_b {
        let jan1 = date_utc(get('Y'), 0.0, 1.0, 0.0, 0.0, 0.0, 0.0);
        let derived = jan1 + (get('d') - 1.0) * DAY_MS as f64;
        if derived.is_finite() && derived.abs() <= MAX_MILLIS {
            let f = fields(derived as i64);
            month0 = (f.month - 1) as f64;
            day = f.day as f64;
        }
    }
    if date_c || date_d {
        return Err(Error::new("D3136"));
    }
    let mut hour = get('H');
    if time_b {
        hour = if get('h') == 12.0 { 0.0 } else { get('h') };
        if get('P') == 1.0 {
            hour += 12.0;
        }
    }
    let mut millis = date_utc(get('Y'), month0, day, hour, get('m'), get('s'), get('f'));
    if millis.is_nan() {
        return Ok(None);
    }
    let tz = comps
        .get(&'Z')
        .or_else(|| comps.get(&'z'))
        .copied()
        .unwrap_or(0.0);
    if tz != 0.0 {
        millis -= tz * 60_000.0;
    }
    Ok(Some(millis))
}

/// ISO 8601 as the reference implementation accepts it without a picture.
pub(super) fn parse_iso(s: &str) -> Option<f64> {
    // compiled once: `$toMillis` over many rows would otherwise compile it per row
    static ISO: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(
            r"^(\d{4})(?:-([01]\d))?(?:-([0-3]\d))?(?:T([0-2]\d):([0-5]\d):([0-5]\d))?(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$",
        )
        .ok()
    });
    let caps = ISO.as_ref()?.captures(s)?;
    let num = |i: usize, default: f64| -> f64 {
        caps.get(i)
            .and_then(|m| m.as_str().parse::<f64>().ok())
            .unwrap_or(default)
    };
    let (y, mo, d) = (num(1, 0.0), num(2, 1.0), num(3, 1.0));
    if !(1.0..=12.0).contains(&mo) || !(1.0..=31.0).contains(&d) {
        return None;
    }
    let frac = caps
        .get(7)
        .map(|m| {
            let digits = &m.as_str()[1..];
            let padded: String = digits.chars().chain("000".chars()).take(3).collect();
            padded.parse::<f64>().unwrap_or(0.0)
        })
        .unwrap_or(0.0);
    let mut millis = date_utc(y, mo - 1.0, d, num(4, 0.0), num(5, 0.0), num(6, 0.0), frac);
    if let Some(tz) = caps.get(8) {
        let t = tz.as_str();
        if t != "Z" {
            let sign = if t.starts_with('-') { -1.0 } else { 1.0 };
            let digits: String = t[1..].chars().filter(char::is_ascii_digit).collect();
            let h = digits[..2].parse::<f64>().unwrap_or(0.0);
            let m = digits[2..].parse::<f64>().unwrap_or(0.0);
            millis -= sign * (h * 60.0 + m) * 60_000.0;
        }
    }
    Some(millis)
}
