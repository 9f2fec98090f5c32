//! `$formatNumber(number, picture, options)`: XPath F&O 3.1 `format-number` pictures
//! (`#,##0.00`, `0.0e0`, `00%`, `#;(#)`…) with the decimal-format properties overridable
//! through `options`. Picture errors are D3080–D3093.

use super::{Ctx, arg};
use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::value::Value;

/// Longest digit run a picture may ask for: beyond it the output would be absurdly large.
const MAX_DIGITS: usize = 1000;

struct Props {
    decimal: char,
    grouping: char,
    exponent: char,
    minus: String,
    percent: char,
    per_mille: char,
    zero: char,
    digit: char,
    pattern: char,
}

fn first_char(v: Option<&Value>, default: char) -> char {
    v.and_then(|v| v.as_str())
        .and_then(|s| s.chars().next())
        .unwrap_or(default)
}

struct Parts {
    prefix: Vec<char>,
    suffix: Vec<char>,
    active: Vec<char>,
    mantissa: Vec<char>,
    exponent: Option<Vec<char>>,
    integer: Vec<char>,
    fractional: Vec<char>,
    sub: Vec<char>,
}

struct Analysis {
    integer_grouping: Vec<usize>,
    regular_grouping: usize,
    min_integer: usize,
    scaling: usize,
    prefix: String,
    fractional_grouping: Vec<usize>,
    min_fraction: usize,
    max_fraction: usize,
    min_exponent: usize,
    suffix: String,
    picture: Vec<char>,
}

fn index_of(hay: &[char], c: char) -> Option<usize> {
    hay.iter().position(|&x| x == c)
}

fn last_index_of(hay: &[char], c: char) -> Option<usize> {
    hay.iter().rposition(|&x| x == c)
}

impl Props {
    fn is_digit(&self, c: char) -> bool {
        let z = self.zero as u32;
        (z..z + 10).contains(&(c as u32))
    }

    fn is_active(&self, c: char) -> bool {
        self.is_digit(c)
            || c == self.decimal
            || c == self.exponent
            || c == self.grouping
            || c == self.digit
            || c == self.pattern
    }

    fn split(&self, sub: &[char]) -> Parts {
        let is_anchor = |c: char| self.is_active(c) && c != self.exponent;
        let start = sub.iter().position(|&c| is_anchor(c)).unwrap_or(sub.len());
        let end = sub
            .iter()
            .rposition(|&c| is_anchor(c))
            .map_or(start, |i| i + 1)
            .max(start);
        let prefix = sub[..start].to_vec();
        let suffix = sub[end..].to_vec();
        let active = sub[start..end].to_vec();
        let exp_pos = sub[start..]
            .iter()
            .position(|&c| c == self.exponent)
            .map(|i| i + start);
        let (mantissa, exponent) = match exp_pos {
            Some(p) if p <= sub.len() - suffix.len() => {
                let rel = (p - start).min(active.len());
                (
                    active[..rel].to_vec(),
                    Some(active.get(rel + 1..).unwrap_or(&[]).to_vec()),
                )
            }
            _ => (active.clone(), None),
        };
        let (integer, fractional) = match index_of(&mantissa, self.decimal) {
            Some(d) => (mantissa[..d].to_vec(), mantissa[d + 1..].to_vec()),
            None => (mantissa.clone(), suffix.clone()),
        };
        Parts {
            prefix,
            suffix,
            active,
            mantissa,
            exponent,
            integer,
            fractional,
            sub: sub.to_vec(),
        }
    }

    fn validate(&self, p: &Parts) -> Result<(), Error> {
        let sub = &p.sub;
        // a sub-picture with no active character at all is only passive characters
        if !sub.iter().any(|&c| self.is_active(c) && c != self.exponent) {
            return Err(Error::new("D3086"));
        }
        let mut error = None;
        let dec = index_of(sub, self.decimal);
        if dec != last_index_of(sub, self.decimal) {
            error = Some("D3081");
        }
        if index_of(sub, self.percent) != last_index_of(sub, self.percent) {
            error = Some("D3082");
        }
        if index_of(sub, self.per_mille) != last_index_of(sub, self.per_mille) {
            error = Some("D3083");
        }
        if index_of(sub, self.percent).is_some() && index_of(sub, self.per_mille).is_some() {
            error = Some("D3084");
        }
        if !p
            .mantissa
            .iter()
            .any(|&c| self.is_digit(c) || c == self.digit)
        {
            error = Some("D3085");
        }
        if p.active.iter().any(|&c| !self.is_active(c)) {
            error = Some("D3086");
        }
        match dec {
            Some(d) => {
                let before = d.checked_sub(1).and_then(|i| sub.get(i));
                if before == Some(&self.grouping) || sub.get(d + 1) == Some(&self.grouping) {
                    error = Some("D3087");
                }
            }
            None => {
                if p.integer.last() == Some(&self.grouping) {
                    error = Some("D3088");
                }
            }
        }
        if sub
            .windows(2)
            .any(|w| w[0] == self.grouping && w[1] == self.grouping)
        {
            error = Some("D3089");
        }
        if let Some(o) = index_of(&p.integer, self.digit)
            && p.integer[..o].iter().any(|&c| self.is_digit(c))
        {
            error = Some("D3090");
        }
        if let Some(o) = last_index_of(&p.fractional, self.digit)
            && p.fractional[o..].iter().any(|&c| self.is_digit(c))
        {
            error = Some("D3091");
        }
        if let Some(exp) = &p.exponent {
            if !exp.is_empty()
                && (index_of(sub, self.percent).is_some()
                    || index_of(sub, self.per_mille).is_some())
            {
                error = Some("D3092");
            }
            if exp.is_empty() || exp.iter().any(|&c| !self.is_digit(c)) {
                error = Some("D3093");
            }
        }
        match error {
            Some(code) => Err(Error::new(code)),
            None => Ok(()),
        }
    }

    fn grouping_positions(&self, part: &[char], integer: &[char], to_left: bool) -> Vec<usize> {
        let mut positions = Vec::new();
        let mut pos = index_of(part, self.grouping);
        while let Some(g) = pos {
            let side = if to_left { &part[..g] } else { &part[g..] };
            positions.push(
                side.iter()
                    .filter(|&&c| self.is_digit(c) || c == self.digit)
                    .count(),
            );
            // the reference implementation searches the integer part for the next one
            pos = integer
                .get(g + 1..)
                .and_then(|rest| index_of(rest, self.grouping))
                .map(|i| i + g + 1);
        }
        positions
    }

    fn analyse(&self, p: &Parts) -> Analysis {
        let integer_grouping = self.grouping_positions(&p.integer, &p.integer, false);
        let regular_grouping = regular(&integer_grouping);
        let fractional_grouping = self.grouping_positions(&p.fractional, &p.integer, true);
        let mut min_integer = p.integer.iter().filter(|&&c| self.is_digit(c)).count();
        let scaling = min_integer;
        let mut min_fraction = p.fractional.iter().filter(|&&c| self.is_digit(c)).count();
        let mut max_fraction = p
            .fractional
            .iter()
            .filter(|&&c| self.is_digit(c) || c == self.digit)
            .count();
        let exponent_present = p.exponent.is_some();
        if min_integer == 0 && max_fraction == 0 {
            if exponent_present {
                min_fraction = 1;
                max_fraction = 1;
            } else {
                min_integer = 1;
            }
        }
        if exponent_present && min_integer == 0 && index_of(&p.integer, self.digit).is_some() {
            min_integer = 1;
        }
        if min_integer == 0 && min_fraction == 0 {
            min_fraction = 1;
        }
        let min_exponent = p
            .exponent
            .as_ref()
            .map_or(0, |e| e.iter().filter(|&&c| self.is_digit(c)).count());
        Analysis {
            integer_grouping,
            regular_grouping,
            min_integer,
            scaling,
            prefix: p.prefix.iter().collect(),
            fractional_grouping,
            min_fraction,
            max_fraction,
            min_exponent,
            suffix: p.suffix.iter().collect(),
            picture: p.sub.clone(),
        }
    }
}

fn regular(indexes: &[usize]) -> usize {
    if indexes.is_empty() {
        return 0;
    }
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let factor = indexes.iter().copied().fold(0, gcd);
    if factor == 0 {
        return 0;
    }
    for i in 1..=indexes.len() {
        if !indexes.contains(&(i * factor)) {
            return 0;
        }
    }
    factor
}

/// `$formatNumber(number, picture, options)`.
pub fn format_number(_: &mut Evaluator, args: &[Value], _: &Ctx) -> Result<Value, Error> {
    let Value::Number(value) = arg(args, 0) else {
        return Ok(Value::Undefined);
    };
    let picture = arg(args, 1);
    let picture: Vec<char> = picture.as_str().unwrap_or_default().chars().collect();
    let options = match arg(args, 2) {
        Value::Object(o) => Some(o),
        _ => None,
    };
    let opt = |k: &str| options.as_ref().and_then(|o| o.get(k));
    let props = Props {
        decimal: first_char(opt("decimal-separator"), '.'),
        grouping: first_char(opt("grouping-separator"), ','),
        exponent: first_char(opt("exponent-separator"), 'e'),
        minus: opt("minus-sign")
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_owned(),
        percent: first_char(opt("percent"), '%'),
        per_mille: first_char(opt("per-mille"), '\u{2030}'),
        zero: first_char(opt("zero-digit"), '0'),
        digit: first_char(opt("digit"), '#'),
        pattern: first_char(opt("pattern-separator"), ';'),
    };
    let subs: Vec<&[char]> = picture.split(|&c| c == props.pattern).collect();
    if subs.len() > 2 {
        return Err(Error::new("D3080"));
    }
    let parts: Vec<Parts> = subs.iter().map(|s| props.split(s)).collect();
    for p in &parts {
        props.validate(p)?;
    }
    let mut variables: Vec<Analysis> = parts.iter().map(|p| props.analyse(p)).collect();
    if variables.len() == 1 {
        let mut negative = props.analyse(&parts[0]);
        negative.prefix = format!("{}{}", props.minus, negative.prefix);
        variables.push(negative);
    }
    let pic = if value >= 0.0 {
        &variables[0]
    } else {
        &variables[1]
    };
    if pic.max_fraction > MAX_DIGITS
        || pic.min_integer > MAX_DIGITS
        || pic.min_exponent > MAX_DIGITS
    {
        return Err(Error::new("D3085"));
    }
    let adjusted = if index_of(&pic.picture, props.percent).is_some() {
        value * 100.0
    } else if index_of(&pic.picture, props.per_mille).is_some() {
        value * 1000.0
    } else {
        value
    };
    let (mantissa, exponent) = if pic.min_exponent == 0 {
        (adjusted, None)
    } else {
        let max_m = 10f64.powi(pic.scaling as i32);
        let min_m = 10f64.powi(pic.scaling as i32 - 1);
        let mut m = adjusted;
        let mut e: i64 = 0;
        // the magnitude decides the exponent; f64 spans ~650 decades, so the loops end
        if m != 0.0 && m.is_finite() {
            while m.abs() < min_m {
                m *= 10.0;
                e -= 1;
            }
            while m.abs() > max_m {
                m /= 10.0;
                e += 1;
            }
        }
        (m, Some(e))
    };
    let rounded = super::numeric::round(mantissa, pic.max_fraction as i64);
    let make_string = |v: f64, dp: usize| -> Vec<char> {
        let s = format!("{:.*}", dp, v.abs());
        s.chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(props.zero as u32 + d).unwrap_or(c),
                None => c,
            })
            .collect()
    };
    let mut s = make_string(rounded, pic.max_fraction);
    match index_of(&s, '.') {
        Some(i) => s[i] = props.decimal,
        None => s.push(props.decimal),
    }
    while s.first() == Some(&props.zero) {
        s.remove(0);
    }
    while s.last() == Some(&props.zero) {
        s.pop();
    }
    let dec = index_of(&s, props.decimal).unwrap_or(s.len());
    let pad_left = pic.min_integer.saturating_sub(dec);
    let frac_len = s.len() - dec - 1;
    let pad_right = pic.min_fraction.saturating_sub(frac_len);
    let mut out: Vec<char> = std::iter::repeat_n(props.zero, pad_left).collect();
    out.extend(s);
    out.extend(std::iter::repeat_n(props.zero, pad_right));
    let mut dec = index_of(&out, props.decimal).unwrap_or(out.len());
    if let Some(groups) = dec.saturating_sub(1).checked_div(pic.regular_grouping) {
        for g in 1..=groups {
            let at = dec - g * pic.regular_grouping;
            out.insert(at, props.grouping);
        }
    } else {
        for &pos in &pic.integer_grouping {
            if pos <= dec {
                out.insert(dec - pos, props.grouping);
                dec += 1;
            }
        }
    }
    let dec = index_of(&out, props.decimal).unwrap_or(out.len());
    for &pos in &pic.fractional_grouping {
        let at = pos + dec + 1;
        if at <= out.len() {
            out.insert(at, props.grouping);
        }
    }
    let dec = index_of(&out, props.decimal).unwrap_or(out.len());
    if pic.min_fraction == 0 && dec + 1 == out.len() {
        out.pop();
    }
    let mut text: String = out.into_iter().collect();
    if let Some(e) = exponent {
        let mut exp: Vec<char> = make_string(e as f64, 0);
        if pic.min_exponent > exp.len() {
            let mut padded: Vec<char> =
                std::iter::repeat_n(props.zero, pic.min_exponent - exp.len()).collect();
            padded.extend(exp);
            exp = padded;
        }
        text.push(props.exponent);
        if e < 0 {
            text.push_str(&props.minus);
        }
        text.extend(exp);
    }
    Ok(Value::string(format!(
        "{}{}{}",
        pic.prefix, text, pic.suffix
    )))
}
