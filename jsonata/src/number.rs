//! Numbers as JavaScript writes them: JSONata numbers are `f64` and turn into text exactly as
//! `Number.prototype.toString` does (shortest round-trip digits, exponent from 1e21 and below
//! 1e-6).

/// `Number.prototype.toString()`.
pub fn js_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    if x < 0.0 {
        return format!("-{}", js_to_string(-x));
    }
    let (digits, n) = shortest_digits(x);
    let k = digits.len() as i64;
    if k <= n && n <= 21 {
        let mut s = digits;
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
        s
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(n as usize);
        format!("{a}.{b}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{}", "0".repeat((-n) as usize), digits)
    } else {
        let e = n - 1;
        let sign = if e >= 0 { '+' } else { '-' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    }
}

/// The shortest decimal digits that round-trip to `x` (> 0) and the decimal point position `n`:
/// `x = 0.d1d2… × 10^n`.
pub fn shortest_digits(x: f64) -> (String, i64) {
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(x);
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut n = int_part.len() as i64 + exp;
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    n -= leading as i64;
    let trimmed = digits.trim_end_matches('0').len();
    digits.truncate(trimmed);
    if digits.is_empty() {
        digits.push('0');
    }
    (digits, n)
}

/// `Number(x.toPrecision(15))`: how `$string` and JSON rendering round numbers.
pub fn to_precision_15(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.14e}").parse().unwrap_or(x)
}

/// A number as JSON: integers within 2^53 as integers, others as floats.
pub fn to_json(x: f64) -> serde_json::Value {
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::js_to_string;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (x, text) in [
            (1.0, "1"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (9.33262154439441e155, "9.33262154439441e+155"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(js_to_string(x), text, "{x}");
        }
    }
}
