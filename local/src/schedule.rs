//! EventBridge Scheduler's schedule expressions — `cron(…)`, `rate(…)`, `at(…)` — evaluated in
//! an IANA time zone, and a [`Scheduler`] that fires templates on them.
//!
//! Written by hand because the cron crates of the field speak Unix or Quartz cron, not AWS's
//! dialect: six fields with a year, `?` required in exactly one of day-of-month/day-of-week,
//! day-of-week numbered 1-7 from Sunday, and AWS's daylight-saving rules (a local time skipped
//! by a spring-forward transition does not fire; a repeated one fires once).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;
use serde_json::Value;

/// Why a schedule expression or time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is not `cron(…)`, `rate(…)` or `at(…)`.
    #[error(
        "schedule expression '{0}' is not cron(...), rate(...) or at(...): e.g. cron(0 6 * * ? *), rate(5 minutes), at(2026-01-01T00:00:00)"
    )]
    Syntax(String),
    /// A field of a cron expression is wrong.
    #[error("cron expression '{expression}': {field} field '{value}' {message}")]
    CronField {
        expression: String,
        field: &'static str,
        value: String,
        message: String,
    },
    /// A rate expression is wrong.
    #[error("rate expression '{expression}': {message}")]
    Rate { expression: String, message: String },
    /// An at expression is wrong.
    #[error("at expression '{expression}': {message}")]
    At { expression: String, message: String },
    /// The time zone is not an IANA name.
    #[error("time zone '{0}' is not an IANA time zone name such as UTC or Europe/Paris")]
    TimeZone(String),
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `cron(minutes hours day-of-month month day-of-week year)`.
    Cron(Box<Cron>),
    /// `rate(value unit)`: every `value` minutes, hours or days from the schedule's start.
    Rate(Duration),
    /// `at(yyyy-mm-ddThh:mm:ss)`: once, at a local time.
    At(NaiveDateTime),
}

/// A parsed six-field AWS cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    day_of_month: DayOfMonth,
    months: u16,
    day_of_week: DayOfWeek,
    /// Bit i set for year 1970 + i; `None` for every year.
    years: Option<Vec<bool>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`
    Any,
    /// Bit d set for day d (1-31).
    Days(u32),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday of the month.
    LastWeekday,
    /// `nW`: the weekday nearest day n, within the month.
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    /// `?`
    Any,
    /// Bit d set for day d (1 = Sunday … 7 = Saturday).
    Days(u8),
    /// `dL`: the last such weekday of the month.
    Last(u32),
    /// `d#n`: the n-th such weekday of the month.
    Nth(u32, u32),
}

const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2199;

impl FromStr for ScheduleExpression {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScheduleExpression::parse(s)
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleExpression::Cron(c) => write!(f, "cron({})", c.text),
            ScheduleExpression::Rate(d) => {
                let s = d.as_secs();
                let (v, unit) = if s % 86_400 == 0 {
                    (s / 86_400, "day")
                } else if s % 3600 == 0 {
                    (s / 3600, "hour")
                } else {
                    (s / 60, "minute")
                };
                write!(f, "rate({v} {unit}{})", if v == 1 { "" } else { "s" })
            }
            ScheduleExpression::At(t) => write!(f, "at({})", t.format("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

impl ScheduleExpression {
    /// Parses an EventBridge Scheduler expression.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let t = text.trim();
        let inner = |name: &str| {
            t.strip_prefix(name)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
        };
        if let Some(body) = inner("cron") {
            return Cron::parse(body).map(|c| ScheduleExpression::Cron(Box::new(c)));
        }
        if let Some(body) = inner("rate") {
            return parse_rate(t, body);
        }
        if let Some(body) = inner("at") {
            return NaiveDateTime::parse_from_str(body.trim(), "%Y-%m-%dT%H:%M:%S")
                .map(ScheduleExpression::At)
                .map_err(|e| ScheduleError::At {
                    expression: t.into(),
                    message: format!("'{body}' is not yyyy-mm-ddThh:mm:ss ({e})"),
                });
        }
        Err(ScheduleError::Syntax(text.into()))
    }

    /// The first fire time strictly after `after`, for a schedule evaluated in `tz` whose first
    /// possible fire (its start date, or creation for a rate) is `start`; `None` when it never
    /// fires again.
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
        start: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let floor = start
            .checked_sub_signed(chrono::Duration::nanoseconds(1))
            .unwrap_or(start);
        let after = after.max(floor);
        match self {
            ScheduleExpression::Cron(c) => c.next_after(after, tz),
            ScheduleExpression::Rate(period) => {
                let period = chrono::Duration::from_std(*period).ok()?;
                if after < start {
                    return Some(start);
                }
                // fixed-length periods from the start: a DST day is 23 or 25 hours, like AWS
                let elapsed = (after - start).num_milliseconds();
                let p = period.num_milliseconds();
                let k = elapsed.div_euclid(p) + 1;
                Some(start + chrono::Duration::milliseconds(k * p))
            }
            ScheduleExpression::At(local) => {
                let t = earliest(tz.from_local_datetime(local))?.with_timezone(&Utc);
                (t > after).then_some(t)
            }
        }
    }
}

/// Parses an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>()
        .map_err(|_| ScheduleError::TimeZone(name.into()))
}

impl Cron {
    /// Parses the six fields inside `cron(…)`.
    pub fn parse(body: &str) -> Result<Self, ScheduleError> {
        let text = body.trim().to_owned();
        let fields: Vec<&str> = text.split_whitespace().collect();
        let err = |field: &'static str, value: &str, message: String| ScheduleError::CronField {
            expression: format!("cron({text})"),
            field,
            value: value.into(),
            message,
        };
        if fields.len() != 6 {
            return Err(ScheduleError::CronField {
                expression: format!("cron({text})"),
                field: "(expression)",
                value: text.clone(),
                message: format!(
                    "has {} fields; AWS cron takes six: minutes hours day-of-month month day-of-week year",
                    fields.len()
                ),
            });
        }
        let minutes = bits(fields[0], 0, 59, &[]).map_err(|m| err("minutes", fields[0], m))?;
        let hours = bits(fields[1], 0, 23, &[]).map_err(|m| err("hours", fields[1], m))? as u32;
        let months =
            bits(fields[3], 1, 12, &MONTHS).map_err(|m| err("month", fields[3], m))? as u16;
        let years = if fields[5] == "*" {
            None
        } else {
            let b = bits_wide(fields[5], MIN_YEAR as u32, MAX_YEAR as u32)
                .map_err(|m| err("year", fields[5], m))?;
            Some(b)
        };
        let (dom_s, dow_s) = (fields[2], fields[4]);
        match (dom_s == "?", dow_s == "?") {
            (true, true) => {
                return Err(err(
                    "day-of-week",
                    dow_s,
                    "is '?' as is day-of-month; exactly one of them must be '?'".into(),
                ));
            }
            (false, false) => {
                return Err(err(
                    "day-of-week",
                    dow_s,
                    format!(
                        "is given as is day-of-month '{dom_s}'; AWS requires '?' in exactly one of them, e.g. cron(0 6 * * ? *) or cron(0 6 ? * MON-FRI *)"
                    ),
                ));
            }
            _ => {}
        }
        let day_of_month = parse_dom(dom_s).map_err(|m| err("day-of-month", dom_s, m))?;
        let day_of_week = parse_dow(dow_s).map_err(|m| err("day-of-week", dow_s, m))?;
        Ok(Cron {
            text,
            minutes,
            hours,
            day_of_month,
            months,
            day_of_week,
            years,
        })
    }

    /// True when the local time `t` (to the minute) is one the expression names.
    pub fn matches_local(&self, t: NaiveDateTime) -> bool {
        t.second() == 0
            && self.minutes & (1 << t.minute()) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.matches_date(t.date())
    }

    fn matches_date(&self, d: NaiveDate) -> bool {
        if !(MIN_YEAR..=MAX_YEAR).contains(&d.year()) {
            return false;
        }
        if let Some(y) = &self.years
            && !y[(d.year() - MIN_YEAR) as usize]
        {
            return false;
        }
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let last = last_day(d.year(), d.month());
        let dom_ok = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(b) => b & (1 << d.day()) != 0,
            DayOfMonth::Last => d.day() == last,
            DayOfMonth::LastWeekday => {
                let mut day = last;
                while is_weekend(ymd(d.year(), d.month(), day)) {
                    day -= 1;
                }
                d.day() == day
            }
            DayOfMonth::NearestWeekday(n) => {
                let n = (*n).min(last);
                d.day() == nearest_weekday(d.year(), d.month(), n, last)
            }
        };
        let dow = d.weekday().num_days_from_sunday() + 1;
        let dow_ok = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(b) => b & (1 << dow) != 0,
            DayOfWeek::Last(w) => dow == *w && d.day() + 7 > last,
            DayOfWeek::Nth(w, n) => dow == *w && (d.day() - 1) / 7 + 1 == *n,
        };
        dom_ok && dow_ok
    }

    /// The first matching instant strictly after `after`, evaluated in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&tz).naive_local();
        let mut day = local_after.date();
        // a fall-back transition can put the answer on the local day before `after`'s
        if let Some(d) = day.pred_opt() {
            day = d;
        }
        while day.year() <= MAX_YEAR {
            if day.year() < MIN_YEAR {
                day = ymd(MIN_YEAR, 1, 1);
                continue;
            }
            if let Some(y) = &self.years
                && !y[(day.year() - MIN_YEAR) as usize]
            {
                day = ymd(day.year() + 1, 1, 1);
                continue;
            }
            if self.months & (1 << day.month()) == 0 {
                day = first_of_next_month(day)?;
                continue;
            }
            if self.matches_date(day) {
                for h in 0..24u32 {
                    if self.hours & (1 << h) == 0 {
                        continue;
                    }
                    for m in 0..60u32 {
                        if self.minutes & (1 << m) == 0 {
                            continue;
                        }
                        let local = day.and_time(NaiveTime::from_hms_opt(h, m, 0)?);
                        // skipped (spring forward): no fire; repeated (fall back): the first only
                        if let Some(t) = earliest(tz.from_local_datetime(&local)) {
                            let t = t.with_timezone(&Utc);
                            if t > after {
                                return Some(t);
                            }
                        }
                    }
                }
            }
            day = day.checked_add_days(Days::new(1))?;
        }
        None
    }
}

/// A schedule: an expression, the zone it is read in, and the template it fires.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The schedule's name.
    pub name: String,
    /// When it fires.
    pub expression: ScheduleExpression,
    /// The zone the expression is read in.
    pub time_zone: Tz,
    /// The first possible fire (a rate's anchor).
    pub start: DateTime<Utc>,
    /// No fires after this.
    pub end: Option<DateTime<Utc>>,
    /// The input each fire carries (the config template).
    pub input: Value,
    /// What it is for (the spec's `description`).
    pub description: String,
}

impl Schedule {
    /// The first fire strictly after `after`, if any.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expression
            .next_after(after, self.time_zone, self.start)
            .filter(|t| self.end.is_none_or(|end| *t <= end))
    }
}

/// One fire of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    /// The schedule that fired.
    pub schedule: String,
    /// The time it was due (what `<aws.scheduler.scheduled-time>` gives on AWS).
    pub scheduled_time: DateTime<Utc>,
    /// A unique id of this fire (what `<aws.scheduler.execution-id>` gives on AWS).
    pub execution_id: String,
    /// The schedule's input.
    pub input: Value,
}

/// Fires schedules through a callback at their times, like EventBridge Scheduler.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    schedules: Vec<Schedule>,
}

impl Scheduler {
    /// A scheduler of these schedules.
    pub fn new(schedules: Vec<Schedule>) -> Self {
        Scheduler { schedules }
    }

    /// The schedules.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// The next fire of any schedule strictly after `after`: time and schedule indexes due then.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<(DateTime<Utc>, Vec<usize>)> {
        let times: Vec<_> = self.schedules.iter().map(|s| s.next_after(after)).collect();
        let first = times.iter().flatten().min().copied()?;
        let due = times
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == Some(first))
            .map(|(i, _)| i)
            .collect();
        Some((first, due))
    }

    /// Fires every schedule due after `from` until `until` (or forever), sleeping in real time
    /// divided by `time_scale` (2.0 runs twice as fast), calling `fire` for each; returns the
    /// number of fires.
    pub async fn run<F, Fut>(
        &self,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        time_scale: f64,
        mut fire: F,
    ) -> usize
    where
        F: FnMut(Fire) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let scale = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        let real_start = tokio::time::Instant::now();
        let mut cursor = from;
        let mut fired = 0;
        while let Some((due, which)) = self.next_after(cursor) {
            if until.is_some_and(|u| due > u) {
                break;
            }
            let offset = (due - from).to_std().unwrap_or_default().div_f64(scale);
            tokio::time::sleep_until(real_start + offset).await;
            for i in which {
                let s = &self.schedules[i];
                tracing::info!(schedule = %s.name, scheduled_time = %due, "schedule fired");
                fire(Fire {
                    schedule: s.name.clone(),
                    scheduled_time: due,
                    execution_id: uuid::Uuid::new_v4().to_string(),
                    input: s.input.clone(),
                })
                .await;
                fired += 1;
            }
            cursor = due;
        }
        fired
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn parse_rate(t: &str, body: &str) -> Result<ScheduleExpression, ScheduleError> {
    let err = |m: String| ScheduleError::Rate {
        expression: t.into(),
        message: m,
    };
    let parts: Vec<&str> = body.split_whitespace().collect();
    let [value, unit] = parts[..] else {
        return Err(err("expected rate(value unit), e.g. rate(5 minutes)".into()));
    };
    let n: u64 = value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| err(format!("value '{value}' must be a positive whole number")))?;
    let secs = match (unit, n) {
        ("minute", 1) | ("minutes", 2..) => 60,
        ("hour", 1) | ("hours", 2..) => 3600,
        ("day", 1) | ("days", 2..) => 86_400,
        ("minutes" | "hours" | "days", 1) => {
            return Err(err(format!(
                "a value of 1 takes the singular unit '{}'",
                unit.trim_end_matches('s')
            )));
        }
        ("minute" | "hour" | "day", _) => {
            return Err(err(format!(
                "a value of {n} takes the plural unit '{unit}s'"
            )));
        }
        _ => {
            return Err(err(format!(
                "unit '{unit}' must be minute(s), hour(s) or day(s)"
            )));
        }
    };
    Ok(ScheduleExpression::Rate(Duration::from_secs(n * secs)))
}

fn parse_dom(s: &str) -> Result<DayOfMonth, String> {
    match s {
        "?" => return Ok(DayOfMonth::Any),
        "L" => return Ok(DayOfMonth::Last),
        "LW" => return Ok(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(n) = s.strip_suffix('W') {
        let d: u32 = n
            .parse()
            .ok()
            .filter(|d| (1..=31).contains(d))
            .ok_or_else(|| format!("'W' must follow a day 1-31, e.g. 15W, not '{n}'"))?;
        return Ok(DayOfMonth::NearestWeekday(d));
    }
    Ok(DayOfMonth::Days(bits(s, 1, 31, &[])? as u32))
}

fn parse_dow(s: &str) -> Result<DayOfWeek, String> {
    if s == "?" {
        return Ok(DayOfWeek::Any);
    }
    if s == "L" {
        // AWS: 'L' alone in day-of-week is the last day of the week, Saturday
        return Ok(DayOfWeek::Days(1 << 7));
    }
    let day = |t: &str| -> Result<u32, String> {
        value(t, 1, 7, &WEEKDAYS).map_err(|m| format!("{m} (days are 1-7 from SUN, or SUN-SAT)"))
    };
    if let Some(d) = s.strip_suffix('L') {
        return Ok(DayOfWeek::Last(day(d)?));
    }
    if let Some((d, n)) = s.split_once('#') {
        let n: u32 = n
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| format!("'#' must be followed by 1-5 (the n-th weekday), not '{n}'"))?;
        return Ok(DayOfWeek::Nth(day(d)?, n));
    }
    Ok(DayOfWeek::Days(bits(s, 1, 7, &WEEKDAYS)? as u8))
}

/// A field's set as a bit mask (bit v for value v): lists, ranges, `*`, and steps.
fn bits(s: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let mut mask = 0u64;
    for v in expand(s, lo, hi, names)? {
        mask |= 1 << v;
    }
    Ok(mask)
}

fn bits_wide(s: &str, lo: u32, hi: u32) -> Result<Vec<bool>, String> {
    let mut out = vec![false; (hi - lo + 1) as usize];
    for v in expand(s, lo, hi, &[])? {
        out[(v - lo) as usize] = true;
    }
    Ok(out)
}

fn expand(s: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, st)) => {
                let st: u32 =
                    st.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("has step '{st}'; a step must be a positive number")
                    })?;
                (r, st)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a, lo, hi, names)?, value(b, lo, hi, names)?);
            if a > b {
                return Err(format!(
                    "has the range {a}-{b}, which runs backwards; write it as a list of two ranges"
                ));
            }
            (a, b)
        } else {
            let a = value(range, lo, hi, names)?;
            // 'a/step' runs from a to the field's end, like '0/15' in minutes
            (
                a,
                if step > 1 || item.contains('/') {
                    hi
                } else {
                    a
                },
            )
        };
        out.extend((start..=end).step_by(step as usize));
    }
    Ok(out)
}

fn value(t: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(t)) {
        return Ok(lo + i as u32);
    }
    t.parse::<u32>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| {
            if t.is_empty() {
                "has an empty item".to_string()
            } else {
                format!("has '{t}', outside {lo}-{hi}")
            }
        })
}

fn earliest<T: TimeZone>(r: LocalResult<DateTime<T>>) -> Option<DateTime<T>> {
    match r {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(a, b) => Some(if a < b { a } else { b }),
        LocalResult::None => None,
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

fn last_day(y: i32, m: u32) -> u32 {
    first_of_next_month(ymd(y, m, 1))
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun)
}

/// The weekday nearest day `n`, not leaving the month (Quartz's and AWS's `W`).
fn nearest_weekday(y: i32, m: u32, n: u32, last: u32) -> u32 {
    let d = ymd(y, m, n);
    match d.weekday() {
        chrono::Weekday::Sat => {
            if n > 1 {
                n - 1
            } else {
                n + 2
            }
        }
        chrono::Weekday::Sun => {
            if n < last {
                n + 1
            } else {
                n - 2
            }
        }
        _ => n,
    }
}

/// One schedule as Terraform's `schedules` variable declares it (the same file drives both).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `cron(…)`, `rate(…)` or `at(…)`.
    pub expression: String,
    /// IANA time zone (default UTC).
    #[serde(default = "utc_name")]
    pub timezone: String,
    /// The job-config template: JSON text (as in Terraform) or a JSON object.
    pub template: Value,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Disabled schedules never fire.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

fn utc_name() -> String {
    "UTC".into()
}

fn enabled_default() -> bool {
    true
}

/// Why a schedules document was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleFileError {
    /// The document is not a map of schedule specs.
    #[error("schedules document: {0}")]
    Shape(String),
    /// One schedule is wrong.
    #[error("schedule '{name}': {source}")]
    Schedule {
        name: String,
        #[source]
        source: ScheduleError,
    },
    /// A template is not JSON.
    #[error("schedule '{name}': template is not a JSON document: {message}")]
    Template { name: String, message: String },
}

/// The enabled schedules of a `{ name: { expression, timezone, template, … } }` document,
/// anchored (for rates) at `start`.
pub fn schedules_from_json(
    doc: &Value,
    start: DateTime<Utc>,
) -> Result<Vec<Schedule>, ScheduleFileError> {
    let specs: std::collections::BTreeMap<String, ScheduleSpec> =
        serde_json::from_value(doc.clone()).map_err(|e| ScheduleFileError::Shape(e.to_string()))?;
    let mut out = Vec::new();
    for (name, spec) in specs {
        if !spec.enabled {
            continue;
        }
        let wrap = |source| ScheduleFileError::Schedule {
            name: name.clone(),
            source,
        };
        let expression = ScheduleExpression::parse(&spec.expression).map_err(wrap)?;
        let time_zone = parse_time_zone(&spec.timezone).map_err(wrap)?;
        let input = match spec.template {
            Value::String(text) => {
                serde_json::from_str(&text).map_err(|e| ScheduleFileError::Template {
                    name: name.clone(),
                    message: e.to_string(),
                })?
            }
            other => other,
        };
        // the target input terraform/scheduler.tf gives the schedule function: the scheduled
        // time makes a retried fire idempotent, the time zone dates the run
        let input = serde_json::json!({
            "schedule": name,
            "template": input,
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "time_zone": spec.timezone,
        });
        out.push(Schedule {
            name,
            expression,
            time_zone,
            start,
            end: None,
            input,
            description: spec.description,
        });
    }
    Ok(out)
}

/// Replaces EventBridge Scheduler's context attributes (`<aws.scheduler.scheduled-time>`, …)
/// in a target input, as the service does before invoking the target.
pub fn fill_context_attributes(
    input: &Value,
    fire: &Fire,
    schedule_arn: &str,
    attempt: u32,
) -> Value {
    let text = input.to_string();
    let filled = text
        .replace(
            "<aws.scheduler.scheduled-time>",
            &fire
                .scheduled_time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .replace("<aws.scheduler.execution-id>", &fire.execution_id)
        .replace("<aws.scheduler.schedule-arn>", schedule_arn)
        .replace("<aws.scheduler.attempt-number>", &attempt.to_string());
    serde_json::from_str(&filled).unwrap_or_else(|_| input.clone())
}
