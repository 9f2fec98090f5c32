//! Date/time functions: `$now`, `$millis`, `$fromMillis`, `$toMillis`, with XPath F&O 3.1
//! picture strings (`[Y0001]-[M01]-[D01]`, `[FNn]`, `[h]:[m01][P]`, `[Z01:01t]`…) for both
//! formatting and parsing. Times are UTC; a timezone argument (`+hhmm`) shifts the output.
//!
//! The calendar arithmetic is the proleptic Gregorian calendar on epoch milliseconds, as
//! JavaScript's `Date` computes it.

use std::collections::HashMap;

use super::format_integer::{self, Case, IntegerFormat, js_parse_int};
use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

const DAY_MS: i64 = 86_400_000;

/// Beyond this (JavaScript's `Date` range, ±100,000,000 days) there is no date.
const MAX_MILLIS: f64 = 8.64e15;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `Date.UTC(year, month0, day, h, m, s, ms)`: out-of-range parts carry over.
fn date_utc(y: f64, month0: f64, d: f64, h: f64, mi: f64, s: f64, ms: f64) -> f64 {
    let y = y + (month0 / 12.0).floor();
    // beyond a few million years the day arithmetic would overflow: no such date
    if y.is_nan() || y.abs() >= 1e7 || !month0.is_finite() {
        return f64::NAN;
    }
    let m = month0.rem_euclid(12.0);
    let days = days_from_civil(y as i64, m as i64 + 1, 1) as f64 + (d - 1.0);
    days * DAY_MS as f64 + h * 3_600_000.0 + mi * 60_000.0 + s * 1000.0 + ms
}

/// The UTC fields of an instant.
#[derive(Debug, Clone, Copy)]
struct Fields {
    millis: i64,
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
    /// 0 = Sunday, as `getUTCDay`.
    weekday: i64,
}

fn fields(millis: i64) -> Fields {
    let days = millis.div_euclid(DAY_MS);
    let ms = millis.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    Fields {
        millis,
        year,
        month,
        day,
        hour: ms / 3_600_000,
        minute: ms / 60_000 % 60,
        second: ms / 1000 % 60,
        milli: ms % 1000,
        weekday: (days + 4).rem_euclid(7),
    }
}

/// Start (millis) of the first ISO week of a year/month (the week holding its first Thursday).
fn start_of_first_week(year: i64, month0: i64) -> i64 {
    let first = date_utc(year as f64, month0 as f64, 1.0, 0.0, 0.0, 0.0, 0.0);
    let first = if first.is_nan() { 0 } else { first as i64 };
    let mut dow = fields(first).weekday;
    if dow == 0 {
        dow = 7;
    }
    if dow > 4 {
        first + (8 - dow) * DAY_MS
    } else {
        first - (dow - 1) * DAY_MS
    }
}

fn next_month(y: i64, m0: i64) -> (i64, i64) {
    if m0 == 11 { (y + 1, 0) } else { (y, m0 + 1) }
}

fn previous_month(y: i64, m0: i64) -> (i64, i64) {
    if m0 == 0 { (y - 1, 11) } else { (y, m0 - 1) }
}

fn delta_weeks(start: i64, end: i64) -> f64 {
    (end - start) as f64 / (DAY_MS * 7) as f64 + 1.0
}

/// A component's value (numbers, or am/pm and ISO as text).
enum Component {
    Number(f64),
    Text(String),
    None,
}

fn component(f: &Fields, c: char) -> Component {
    let today = date_utc(
        f.year as f64,
        (f.month - 1) as f64,
        f.day as f64,
        0.0,
        0.0,
        0.0,
        0.0,
    ) as i64;
    Component::Number(match c {
        'Y' => f.year as f64,
        'M' => f.month as f64,
        'D' => f.day as f64,
        'd' => {
            let jan1 = date_utc(f.year as f64, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0) as i64;
            ((today - jan1) / DAY_MS + 1) as f64
        }
        'F' => {
            if f.weekday == 0 {
                7.0
            } else {
                f.weekday as f64
            }
        }
        'W' => {
            let start = start_of_first_week(f.year, 0);
            let mut week = delta_weeks(start, today);
            if week > 52.0 {
                if today >= start_of_first_week(f.year + 1, 0) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(f.year - 1, 0), today);
            }
            week.floor()
        }
        'w' => {
            let start = start_of_first_week(f.year, f.month - 1);
            let mut week = delta_weeks(start, today);
            if week > 4.0 {
                let (ny, nm) = next_month(f.year, f.month - 1);
                if today >= start_of_first_week(ny, nm) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                let (py, pm) = previous_month(f.year, f.month - 1);
                week = delta_weeks(start_of_first_week(py, pm), today);
            }
            week.floor()
        }
        'X' => {
            let start = start_of_first_week(f.year, 0);
            let end = start_of_first_week(f.year + 1, 0);
            if f.millis < start {
                (f.year - 1) as f64
            } else if f.millis >= end {
                (f.year + 1) as f64
            } else {
                f.year as f64
            }
        }
        'x' => {
            let start = start_of_first_week(f.year, f.month - 1);
            let (ny, nm) = next_month(f.year, f.month - 1);
            let end = start_of_first_week(ny, nm);
            if f.millis < start {
                (previous_month(f.year, f.month - 1).1 + 1) as f64
            } else if f.millis >= end {
                (nm + 1) as f64
            } else {
                f.month as f64
            }
        }
        'H' => f.hour as f64,
        'h' => {
            let h = f.hour % 12;
            if h == 0 { 12.0 } else { h as f64 }
        }
        'P' => return Component::Text(if f.hour >= 12 { "pm" } else { "am" }.to_owned()),
        'm' => f.minute as f64,
        's' => f.second as f64,
        'f' => f.milli as f64,
        'C' | 'E' => return Component::Text("ISO".to_owned()),
        _ => return Component::None,
    })
}

const DAYS: [&str; 8] = [
    "",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A variable marker `[…]` of a picture.
#[derive(Debug, Clone)]
struct Marker {
    component: char,
    presentation1: String,
    presentation2: Option<char>,
    names: Option<Case>,
    width_min: Option<usize>,
    width_max: Option<usize>,
    integer: Option<IntegerFormat>,
    /// Digits of a year component (`-1`: all).
    n: i64,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Marker(Marker),
}

fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

/// Widest a component may be written (a wider width modifier is taken as this).
const MAX_WIDTH: f64 = 1000.0;

fn parse_width(w: &str) -> Option<usize> {
    if w == "*" {
        return None;
    }
    let n = js_parse_int(w);
    if n.is_nan() || n < 0.0 {
        None
    } else {
        Some(n.min(MAX_WIDTH) as usize)
    }
}

fn analyse_picture(picture: &str) -> Result<Vec<Part>, Error> {
    let chars: Vec<char> = picture.chars().collect();
    let mut parts = Vec::new();
    let add_literal = |parts: &mut Vec<Part>, from: usize, to: usize| {
        if to > from {
            let lit: String = chars[from..to].iter().collect();
            parts.push(Part::Literal(lit.replace("]]", "]")));
        }
    };
    let mut start = 0;
    let mut pos = 0;
    while pos < chars.len() {
        if chars[pos] == '[' {
            if chars.get(pos + 1) == Some(&'[') {
                add_literal(&mut parts, start, pos);
                parts.push(Part::Literal("[".to_owned()));
                pos += 2;
                start = pos;
                continue;
            }
            add_literal(&mut parts, start, pos);
            start = pos;
            let Some(close) = chars[start..].iter().position(|&c| c == ']') else {
                return Err(Error::new("D3135"));
            };
            pos = start + close;
            let marker: String = chars[start + 1..pos]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            parts.push(Part::Marker(analyse_marker(&marker)?));
            start = pos + 1;
        }
        pos += 1;
    }
    add_literal(&mut parts, start, chars.len());
    Ok(parts)
}

fn analyse_marker(marker: &str) -> Result<Marker, Error> {
    let mchars: Vec<char> = marker.chars().collect();
    let component = mchars.first().copied().unwrap_or(' ');
    let mut def = Marker {
        component,
        presentation1: String::new(),
        presentation2: None,
        names: None,
        width_min: None,
        width_max: None,
        integer: None,
        n: -1,
    };
    let body: String = mchars.iter().skip(1).collect();
    let pres = match body.rfind(',') {
        Some(comma) => {
            let width = &body[comma + 1..];
            match width.split_once('-') {
                Some((min, max)) => {
                    def.width_min = parse_width(min);
                    def.width_max = parse_width(max);
                }
                None => def.width_min = parse_width(width),
            }
            body[..comma].to_owned()
        }
        None => body,
    };
    let pchars: Vec<char> = pres.chars().collect();
    if pchars.len() == 1 {
        def.presentation1 = pres.clone();
    } else if pchars.len() > 1 {
        let last = pchars[pchars.len() - 1];
        if "atco".contains(last) {
            def.presentation2 = Some(last);
            def.presentation1 = pchars[..pchars.len() - 1].iter().collect();
        } else {
            def.presentation1 = pres.clone();
        }
    } else {
        match default_presentation(component) {
            Some(p) => def.presentation1 = p.to_owned(),
            None => return Err(Error::new("D3132").with_value(component.to_string())),
        }
    }
    if default_presentation(component).is_none() {
        return Err(Error::new("D3132").with_value(component.to_string()));
    }
    let p1: Vec<char> = def.presentation1.chars().collect();
    if p1.first() == Some(&'n') {
        def.names = Some(Case::Lower);
    } else if p1.first() == Some(&'N') {
        def.names = Some(if p1.get(1) == Some(&'n') {
            Case::Title
        } else {
            Case::Upper
        });
    } else if "YMDdFWwXxHhmsf".contains(component) {
        let mut pattern = def.presentation1.clone();
        if let Some(p2) = def.presentation2 {
            pattern.push(';');
            pattern.push(p2);
        }
        let mut f = format_integer::analyse(&pattern)?;
        if let Some(min) = def.width_min
            && f.mandatory_digits < min
        {
            f.mandatory_digits = min;
        }
        if component != 'Y' {
            // a fixed-width digit pattern (`[M01]`) reads exactly that many digits, so that
            // pictures without separators (`[Y0001][M01][D01]`) can be parsed
            let w = f.mandatory_digits + f.optional_digits;
            if f.primary == format_integer::Primary::Decimal && w >= 2 && component != 'f' {
                def.n = w as i64;
            }
        } else {
            if let Some(max) = def.width_max {
                def.n = max as i64;
                f.mandatory_digits = max;
            } else {
                let w = f.mandatory_digits + f.optional_digits;
                if w >= 2 {
                    def.n = w as i64;
                }
            }
        }
        def.integer = Some(f);
    }
    if component == 'Z' || component == 'z' {
        def.integer = Some(format_integer::analyse(&def.presentation1)?);
    }
    Ok(def)
}

fn apply_case(s: &str, case: Option<Case>) -> String {
    match case {
        Some(Case::Upper) => s.to_uppercase(),
        Some(Case::Lower) => s.to_lowercase(),
        _ => s.to_owned(),
    }
}

fn format_marker(
    f: &Fields,
    m: &Marker,
    offset_hours: f64,
    offset_minutes: f64,
) -> Result<String, Error> {
    let c = m.component;
    if "YMDdFWwXxHhms".contains(c) {
        let Component::Number(mut value) = component(f, c) else {
            return Ok(String::new());
        };
        if c == 'Y' && m.n != -1 {
            value %= 10f64.powi(m.n as i32);
        }
        if m.names.is_some() {
            let name = if c == 'M' || c == 'x' {
                MONTHS
                    .get((value as usize).wrapping_sub(1))
                    .copied()
                    .unwrap_or("")
            } else if c == 'F' {
                DAYS.get(value as usize).copied().unwrap_or("")
            } else {
                return Err(Error::new("D3133").with_value(c.to_string()));
            };
            let mut name = apply_case(name, m.names);
            if let Some(max) = m.width_max
                && name.chars().count() > max
            {
                name = name.chars().take(max).collect();
            }
            return Ok(name);
        }
        return match &m.integer {
            Some(fmt) => format_integer::format(value, fmt),
            None => Ok(crate::number::js_to_string(value)),
        };
    }
    match c {
        'f' => {
            let Component::Number(value) = component(f, c) else {
                return Ok(String::new());
            };
            match &m.integer {
                Some(fmt) => format_integer::format(value, fmt),
                None => Ok(crate::number::js_to_string(value)),
            }
        }
        'Z' | 'z' => {
            let offset = offset_hours * 100.0 + offset_minutes;
            let Some(fmt) = &m.integer else {
                return Ok(String::new());
            };
            let mut text = if fmt.regular {
                format_integer::format(offset, fmt)?
            } else {
                match fmt.mandatory_digits {
                    1 | 2 => {
                        let mut t = format_integer::format(offset_hours, fmt)?;
                        if offset_minutes != 0.0 {
                            let two = format_integer::analyse("00")?;
                            t.push(':');
                            t.push_str(&format_integer::format(offset_minutes, &two)?);
                        }
                        t
                    }
                    3 | 4 => format_integer::format(offset, fmt)?,
                    n => return Err(Error::new("D3134").with_value(n.to_string())),
                }
            };
            if offset >= 0.0 {
                text.insert(0, '+');
            }
            if c == 'z' {
                text.insert_str(0, "GMT");
            }
            if offset == 0.0 && m.presentation2 == Some('t') {
                text = "Z".to_owned();
            }
            Ok(text)
        }
        'P' => match component(f, c) {
            Component::Text(t) if m.names == Some(Case::Upper) => Ok(t.to_uppercase()),
            Component::Text(t) => Ok(t),
            _ => Ok(String::new()),
        },
        _ => match component(f, c) {
            Component::Text(t) => Ok(t),
            Component::Number(n) => Ok(crate::number::js_to_string(n)),
            Component::None => Ok(String::new()),
        },
    }
}

const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

/// Formats epoch millis with a picture (default ISO 8601) in a timezone (`±hhmm`).
pub fn format_date_time(
    millis: f64,
    picture: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, Error> {
    let (mut offset_hours, mut offset_minutes) = (0.0, 0.0);
    if let Some(tz) = timezone {
        let offset = js_parse_int(tz);
        if !offset.is_nan() {
            offset_hours = (offset / 100.0).floor();
            offset_minutes = offset % 100.0;
        }
    }
    let parts = analyse_picture(picture.unwrap_or(ISO_PICTURE))?;
    let shifted = millis + (60.0 * offset_hours + offset_minutes) * 60_000.0;
    if !shifted.is_finite() || shifted.abs() > MAX_MILLIS {
        return Err(Error::new("D3137").with_value(format!(
            "{} milliseconds is outside the range of dates",
            crate::number::js_to_string(millis)
        )));
    }
    let f = fields(shifted.floor() as i64);
    let mut out = String::new();
    for part in &parts {
        match part {
            Part::Literal(l) => out.push_str(l),
            Part::Marker(m) => out.push_str(&format_marker(&f, m, offset_hours, offset_minutes)?),
        }
    }
    Ok(out)
}

fn escape_literal(s: &str) -> String {
    regex::escape(s)
}

/// How one captured part is read back.
enum Reader {
    Integer(IntegerFormat),
    Names(HashMap<String, f64>),
    Timezone { gmt: bool, separator: Option<char> },
}

/// Parses `text` written in `picture` into epoch millis (`None` when it does not match).
fn parse_date_time(text: &str, picture: &str, now: i64) -> Result<Option<f64>, Error> {
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
fn parse_iso(s: &str) -> Option<f64> {
    let re = regex::Regex::new(
        r"^(\d{4})(?:-([01]\d))?(?:-([0-3]\d))?(?:T([0-2]\d):([0-5]\d):([0-5]\d))?(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$",
    )
    .ok()?;
    let caps = re.captures(s)?;
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
    use super::{civil_from_days, days_from_civil};

    #[test]
    fn civil_dates_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
