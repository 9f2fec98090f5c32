//! Calendar arithmetic on epoch milliseconds: the proleptic Gregorian calendar as JavaScript's
//! `Date` computes it, and the fields a picture reads from an instant.

pub(super) const DAY_MS: i64 = 86_400_000;

/// Beyond this (JavaScript's `Date` range, ±100,000,000 days) there is no date.
pub(super) const MAX_MILLIS: f64 = 8.64e15;

pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
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
pub(super) fn date_utc(y: f64, month0: f64, d: f64, h: f64, mi: f64, s: f64, ms: f64) -> f64 {
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
pub(super) struct Fields {
    pub(super) millis: i64,
    pub(super) year: i64,
    pub(super) month: i64,
    pub(super) day: i64,
    pub(super) hour: i64,
    pub(super) minute: i64,
    pub(super) second: i64,
    pub(super) milli: i64,
    /// 0 = Sunday, as `getUTCDay`.
    pub(super) weekday: i64,
}

pub(super) fn fields(millis: i64) -> Fields {
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
pub(super) fn start_of_first_week(year: i64, month0: i64) -> i64 {
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

pub(super) fn next_month(y: i64, m0: i64) -> (i64, i64) {
    if m0 == 11 { (y + 1, 0) } else { (y, m0 + 1) }
}

pub(super) fn previous_month(y: i64, m0: i64) -> (i64, i64) {
    if m0 == 0 { (y - 1, 11) } else { (y, m0 - 1) }
}

pub(super) fn delta_weeks(start: i64, end: i64) -> f64 {
    (end - start) as f64 / (DAY_MS * 7) as f64 + 1.0
}
