//! Formatting an instant with an XPath F&O 3.1 picture string (`[Y0001]-[M01]-[D01]`, `[FNn]`…):
//! analysing the picture into literals and markers, and writing each marker's component.

use super::calendar::{
    DAY_MS, Fields, MAX_MILLIS, date_utc, delta_weeks, fields, next_month, previous_month,
    start_of_first_week,
};
use crate::error::Error;
use crate::runtime::functions::format_integer::{self, Case, IntegerFormat, js_parse_int};

/// A component's value (numbers, or am/pm and ISO as text).
pub(super) enum Component {
    Number(f64),
    Text(String),
    None,
}

pub(super) fn component(f: &Fields, c: char) -> Component {
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

pub(super) const DAYS: [&str; 8] = [
    "",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
pub(super) const MONTHS: [&str; 12] = [
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
pub(super) struct Marker {
    pub(super) component: char,
    pub(super) presentation1: String,
    pub(super) presentation2: Option<char>,
    pub(super) names: Option<Case>,
    pub(super) width_min: Option<usize>,
    pub(super) width_max: Option<usize>,
    pub(super) integer: Option<IntegerFormat>,
    /// Digits of a year component (`-1`: all).
    pub(super) n: i64,
}

#[derive(Debug, Clone)]
pub(super) enum Part {
    Literal(String),
    Marker(Marker),
}

pub(super) fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

/// Widest a component may be written (a wider width modifier is taken as this).
pub(super) const MAX_WIDTH: f64 = 1000.0;

pub(super) fn parse_width(w: &str) -> Option<usize> {
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

pub(super) fn analyse_picture(picture: &str) -> Result<Vec<Part>, Error> {
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

pub(super) fn analyse_marker(marker: &str) -> Result<Marker, Error> {
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

pub(super) fn apply_case(s: &str, case: Option<Case>) -> String {
    match case {
        Some(Case::Upper) => s.to_uppercase(),
        Some(Case::Lower) => s.to_lowercase(),
        _ => s.to_owned(),
    }
}

pub(super) fn format_marker(
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

pub(super) const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

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

pub(super) fn escape_literal(s: &str) -> String {
    regex::escape(s)
}
