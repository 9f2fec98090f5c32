//! Plain decimals (`-?digits(.digits)?`, at most 15 digits) parsed in place: the shape nearly
//! every feature field has, and the fast path of [`ColumnPlan`](super::ColumnPlan).

/// Parses a plain decimal (`-?digits` or `-?digits.digits`, at most 15 digits in all) at the
/// start of `b` that ends at a comma or at the end of `b`: its value and length, or `None` for
/// anything else (which fast-float2 then parses).
///
/// Hand-written because it is the shape nearly every feature field has, and parsing it in place
/// (eight fraction digits at once) takes half the time of a general parser, which must look for
/// exponents and long mantissas. The value is exact: at most 15 digits make an integer m below
/// 2^53 and the fraction's length e is at most 15, so m and 10^e are exact doubles and their
/// IEEE quotient is the correctly rounded value of the text (Clinger's fast path) — the same
/// double any correct parser, fast-float2 included, returns.
#[inline]
pub(super) fn parse_plain_decimal(b: &[u8]) -> Option<(f64, usize)> {
    const MAX_DIGITS: usize = 15;
    let neg = b.first() == Some(&b'-');
    let mut i = usize::from(neg);
    let mut m: u64 = 0;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        m = m * 10 + u64::from(d);
        i += 1;
        if i - usize::from(neg) > MAX_DIGITS {
            return None;
        }
    }
    let int_digits = i - usize::from(neg);
    if int_digits == 0 {
        return None;
    }
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        if let Some(eight) = b.get(i..i + 8) {
            let t = u64::from_le_bytes(eight.try_into().ok()?).wrapping_sub(0x3030_3030_3030_3030);
            // a byte's high bit marks a non-digit: below '0' it borrows, above '9' adding 0x76
            // carries into it; a borrow only reaches bytes after the first non-digit
            let non_digit = (t | t.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
            let n = (non_digit.trailing_zeros() / 8) as usize;
            if int_digits + n > MAX_DIGITS {
                return None;
            }
            if n > 0 {
                // the n digits to the top bytes: the bytes below read as leading zeros
                let digits = if n == 8 { t } else { t << (8 * (8 - n)) };
                m = m * POW10_U64[n] + eight_digits(digits);
                frac = n;
                i += n;
            }
        }
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if int_digits + frac + 1 > MAX_DIGITS {
                return None;
            }
            m = m * 10 + u64::from(d);
            frac += 1;
            i += 1;
        }
    }
    if b.get(i).is_some_and(|&c| c != b',') {
        return None;
    }
    let v = m as f64 / POW10_F64[frac];
    // v >= +0, so setting the sign bit is negation, without a branch on a random sign
    Some((f64::from_bits(v.to_bits() | (u64::from(neg) << 63)), i))
}

const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

const POW10_F64: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of eight digit bytes (each 0..=9, the first in the lowest byte): pairs, then
/// quads, then the whole, in three multiplications.
#[inline]
fn eight_digits(t: u64) -> u64 {
    let pairs = t.wrapping_mul(10).wrapping_add(t >> 8);
    let low = (pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    low.wrapping_add(high) >> 32
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The plain-decimal path must return exactly fast-float2's double, and decline (not guess)
    /// whatever it does not handle.
    fn agrees(text: &str) {
        let field = text.split(',').next().unwrap();
        match parse_plain_decimal(text.as_bytes()) {
            Some((v, used)) => {
                assert_eq!(used, field.len(), "{text:?}");
                let want = fast_float2::parse::<f64, _>(field).unwrap();
                assert_eq!(v.to_bits(), want.to_bits(), "{text:?}: {v} vs {want}");
            }
            None => {
                // declining is right only for what is not `-?digits(.digits)?` of <= 15 digits
                let body = field.strip_prefix('-').unwrap_or(field);
                let (int, frac) = body.split_once('.').unwrap_or((body, ""));
                let plain = !int.is_empty()
                    && int.bytes().all(|b| b.is_ascii_digit())
                    && frac.bytes().all(|b| b.is_ascii_digit())
                    && int.len() + frac.len() <= 15;
                assert!(!plain, "declined a plain decimal {text:?}");
            }
        }
    }

    #[test]
    fn plain_decimals_parse_to_the_correctly_rounded_double() {
        for t in [
            "0",
            "-0",
            "-0.0",
            "0.1",
            "-0.745622",
            "1.763987,x",
            "12345678.1234567",
            "1.",
            "-1.,",
            "123456789012345",
            "1234567890123456",
            "0.000000000000001",
            "9.99999999999999",
            "0.12345678",
            "0.123456789",
            "7.1234567,",
            "1e5",
            "1.5e3",
            ".5",
            "-",
            "",
            "+1",
            "1.5 ",
            "1.5x",
            "nan",
            "inf",
            "1..2",
            "00000000000000.1",
            "1,2",
        ] {
            agrees(t);
        }
    }

    proptest! {
        #[test]
        fn plain_decimal_agrees_with_fast_float(
            neg: bool,
            int in "[0-9]{1,9}",
            frac in proptest::option::of("[0-9]{0,12}"),
            tail in proptest::option::of(",[0-9a-z,.]{0,10}"),
        ) {
            let mut t = String::new();
            if neg { t.push('-'); }
            t.push_str(&int);
            if let Some(f) = frac { t.push('.'); t.push_str(&f); }
            t.push_str(&tail.unwrap_or_default());
            agrees(&t);
        }

        #[test]
        fn any_text_is_parsed_alike_or_declined(t in "[-0-9.,eE+ a]{0,24}") {
            if let Some((v, used)) = parse_plain_decimal(t.as_bytes()) {
                let want = fast_float2::parse::<f64, _>(&t[..used]).unwrap();
                prop_assert_eq!(v.to_bits(), want.to_bits());
                prop_assert!(t.as_bytes().get(used).is_none_or(|&b| b == b','));
            }
        }
    }
}
