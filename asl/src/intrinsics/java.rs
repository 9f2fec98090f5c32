//! AWS's Step Functions service is written in Java; these reproduce what its intrinsic functions
//! inherit from Java: `java.util.Random`, `toString` of JSON values, `Double.toString`, and
//! Jackson reading `-0` as an integer.

use serde_json::Value;

/// `java.util.Random`, so that a seeded `States.MathRandom` gives the number AWS's Java
/// service gives for the same seed (a seed's sequence is part of Java's documented contract).
pub(crate) struct JavaRandom {
    state: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    pub(crate) fn new(seed: i64) -> Self {
        JavaRandom {
            state: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.state = (self.state.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.state >> (48 - bits)) as i32
    }

    /// `Random.nextDouble()`: a number in [0, 1) from 53 random bits.
    pub(crate) fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26)) << 27;
        let low = i64::from(self.next(27));
        (high + low) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `Random.nextInt(bound)` for a positive bound.
    pub(super) fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}

/// serde_json reads `-0` as the float -0.0; AWS (Jackson) reads it as the integer 0.
pub(crate) fn integer_zero(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n)
                if n.is_f64()
                    && n.as_f64() == Some(0.0)
                    && n.as_f64().is_some_and(f64::is_sign_negative) =>
            {
                *v = Value::from(0);
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

/// Renders a value as Java's `toString` does, which is how AWS fills `States.Format` holes.
pub(super) fn java_string(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&java_double(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_string(v, out);
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString`: plain notation in [1e-3, 1e7), otherwise `d.dddE±n`.
fn java_double(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

#[cfg(test)]
mod tests {
    use super::JavaRandom;

    #[test]
    fn java_random_reproduces_javas_sequence() {
        // Well-known values of `new Random(0).nextInt()` and `new Random(42).nextInt()`.
        assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        let mut r = JavaRandom::new(7);
        assert!((0..1000).all(|_| (0..10).contains(&r.next_int(10))));
        assert!((0..1000).all(|_| (0..16).contains(&r.next_int(16))));
    }

    #[test]
    fn java_random_next_double_reproduces_javas_numbers() {
        // Well-known values of `new Random(0).nextDouble()` and `new Random(42).nextDouble()`.
        assert_eq!(JavaRandom::new(0).next_double(), 0.730967787376657);
        assert_eq!(JavaRandom::new(42).next_double(), 0.7275636800328681);
    }
}
