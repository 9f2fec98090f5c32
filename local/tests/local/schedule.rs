//! Schedule expressions: AWS's cron dialect, rate and at, in IANA time zones.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use serde_json::json;
use stepscore_local::schedule::{ScheduleError, parse_time_zone};
use stepscore_local::{Schedule, ScheduleExpression, Scheduler};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The next `n` fire times of `expr` in `tz` after `after`, as RFC 3339 UTC.
fn fires(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
    let e = ScheduleExpression::parse(expr).unwrap();
    let tz = parse_time_zone(tz).unwrap();
    let mut t = utc(after);
    let mut out = Vec::new();
    for _ in 0..n {
        match e.next_after(t, tz, DateTime::<Utc>::MIN_UTC) {
            Some(next) => {
                out.push(next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                t = next;
            }
            None => break,
        }
    }
    out
}

fn check(expr: &str, tz: &str, after: &str, expected: &[&str]) {
    assert_eq!(
        fires(expr, tz, after, expected.len() + 1)
            .iter()
            .take(expected.len())
            .collect::<Vec<_>>(),
        expected,
        "{expr} in {tz} after {after}"
    );
}

#[test]
fn cron_fields_lists_ranges_steps_and_names() {
    check(
        "cron(0/15 9 * * ? *)",
        "UTC",
        "2026-03-02T09:20:00Z",
        &[
            "2026-03-02T09:30:00Z",
            "2026-03-02T09:45:00Z",
            "2026-03-03T09:00:00Z",
        ],
    );
    check(
        "cron(0 8 ? * MON-FRI *)",
        "UTC",
        "2026-03-06T09:00:00Z",
        &["2026-03-09T08:00:00Z", "2026-03-10T08:00:00Z"],
    );
    check(
        "cron(30 6,18 1 JAN,JUL ? *)",
        "UTC",
        "2026-01-01T07:00:00Z",
        &[
            "2026-01-01T18:30:00Z",
            "2026-07-01T06:30:00Z",
            "2026-07-01T18:30:00Z",
            "2027-01-01T06:30:00Z",
        ],
    );
    check(
        "cron(5-15/5 0 1 * ? 2027)",
        "UTC",
        "2026-06-01T00:00:00Z",
        &[
            "2027-01-01T00:05:00Z",
            "2027-01-01T00:10:00Z",
            "2027-01-01T00:15:00Z",
            "2027-02-01T00:05:00Z",
        ],
    );
    check(
        "cron(0 0 ? * 1 *)",
        "UTC",
        "2026-03-02T00:00:00Z",
        &["2026-03-08T00:00:00Z"],
    ); // 1 = Sunday
}

#[test]
fn cron_last_weekday_and_nth() {
    // last day of the month, leap February included
    check(
        "cron(0 12 L * ? *)",
        "UTC",
        "2028-01-31T13:00:00Z",
        &["2028-02-29T12:00:00Z", "2028-03-31T12:00:00Z"],
    );
    // weekday nearest the 1st: 2026-08-01 is a Saturday, so Monday the 3rd (not July 31st)
    check(
        "cron(0 0 1W * ? *)",
        "UTC",
        "2026-07-15T00:00:00Z",
        &["2026-08-03T00:00:00Z"],
    );
    // weekday nearest the 15th: 2026-03-15 is a Sunday, so Monday the 16th
    check(
        "cron(0 0 15W * ? *)",
        "UTC",
        "2026-03-01T00:00:00Z",
        &["2026-03-16T00:00:00Z"],
    );
    // last weekday: 2026-05-31 is a Sunday, so Friday the 29th
    check(
        "cron(0 0 LW * ? *)",
        "UTC",
        "2026-05-01T00:00:00Z",
        &["2026-05-29T00:00:00Z"],
    );
    // second Tuesday
    check(
        "cron(0 0 ? * 3#2 *)",
        "UTC",
        "2026-03-01T00:00:00Z",
        &["2026-03-10T00:00:00Z", "2026-04-14T00:00:00Z"],
    );
    // last Friday
    check(
        "cron(0 0 ? * 6L *)",
        "UTC",
        "2026-03-01T00:00:00Z",
        &["2026-03-27T00:00:00Z", "2026-04-24T00:00:00Z"],
    );
}

#[test]
fn cron_in_a_time_zone_follows_its_daylight_saving() {
    // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer (DST from 2026-03-29)
    check(
        "cron(0 9 * * ? *)",
        "Europe/Paris",
        "2026-03-27T12:00:00Z",
        &["2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"],
    );
    // 02:30 does not exist in New York on 2026-03-08: that day is skipped, as AWS does
    check(
        "cron(30 2 * * ? *)",
        "America/New_York",
        "2026-03-07T12:00:00Z",
        &["2026-03-09T06:30:00Z"],
    );
    // 01:30 happens twice on 2026-11-01: it fires once, at the first
    check(
        "cron(30 1 * * ? *)",
        "America/New_York",
        "2026-10-31T12:00:00Z",
        &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
    );
    // every 30 minutes through the repeated hour fires at each local time once
    check(
        "cron(0/30 1 1 11 ? 2026)",
        "America/New_York",
        "2026-11-01T00:00:00Z",
        &["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z"],
    );
}

#[test]
fn rate_runs_in_fixed_periods_from_the_start() {
    let e = ScheduleExpression::parse("rate(5 minutes)").unwrap();
    let start = utc("2026-01-01T00:00:00Z");
    assert_eq!(
        e.next_after(utc("2025-12-31T00:00:00Z"), Tz::UTC, start),
        Some(start)
    );
    assert_eq!(
        e.next_after(start, Tz::UTC, start),
        Some(utc("2026-01-01T00:05:00Z"))
    );
    assert_eq!(
        e.next_after(utc("2026-01-01T00:07:00Z"), Tz::UTC, start),
        Some(utc("2026-01-01T00:10:00Z"))
    );
    // a day is 24 hours even across a DST change
    let d = ScheduleExpression::parse("rate(1 day)").unwrap();
    let paris = parse_time_zone("Europe/Paris").unwrap();
    assert_eq!(
        d.next_after(
            utc("2026-03-28T09:00:00Z"),
            paris,
            utc("2026-03-28T08:00:00Z")
        ),
        Some(utc("2026-03-29T08:00:00Z"))
    );
}

#[test]
fn at_fires_once_in_its_zone() {
    check(
        "at(2026-07-01T09:00:00)",
        "Europe/Paris",
        "2026-01-01T00:00:00Z",
        &["2026-07-01T07:00:00Z"],
    );
    assert_eq!(
        fires("at(2026-07-01T09:00:00)", "UTC", "2026-07-01T09:00:00Z", 1),
        Vec::<String>::new()
    );
}

#[test]
fn expressions_print_as_written() {
    for e in [
        "cron(0 8 ? * MON-FRI *)",
        "rate(1 hour)",
        "rate(10 minutes)",
        "rate(2 days)",
        "at(2026-01-01T00:00:00)",
    ] {
        assert_eq!(ScheduleExpression::parse(e).unwrap().to_string(), e);
    }
}

#[test]
fn bad_expressions_name_the_field_and_the_fix() {
    let err = |e: &str| ScheduleExpression::parse(e).unwrap_err().to_string();
    assert!(
        err("cron(0 8 * * * *)").contains("'?' in exactly one"),
        "{}",
        err("cron(0 8 * * * *)")
    );
    assert!(err("cron(0 8 ? * ? *)").contains("exactly one"));
    assert!(err("cron(0 8 * * ?)").contains("six"));
    assert!(err("cron(60 8 * * ? *)").contains("minutes field '60'"));
    assert!(err("cron(0 8 ? * 8 *)").contains("day-of-week"));
    assert!(err("cron(0 8 ? * FRI-MON *)").contains("backwards"));
    assert!(err("cron(0 8 * * ? 1960)").contains("year"));
    assert!(err("rate(0 minutes)").contains("positive"));
    assert!(err("rate(1 minutes)").contains("singular"));
    assert!(err("rate(5 weeks)").contains("unit"));
    assert!(err("at(2026-13-01T00:00:00)").contains("yyyy-mm-dd"));
    assert!(matches!(
        ScheduleExpression::parse("every day"),
        Err(ScheduleError::Syntax(_))
    ));
    assert!(parse_time_zone("Mars/Olympus").is_err());
}

#[test]
fn an_expression_that_never_matches_ends() {
    assert_eq!(
        fires("cron(0 0 30 FEB ? *)", "UTC", "2026-01-01T00:00:00Z", 1),
        Vec::<String>::new()
    );
    assert_eq!(
        fires("cron(0 0 1 1 ? 2027)", "UTC", "2027-06-01T00:00:00Z", 1),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn the_scheduler_fires_each_due_template_in_order() {
    let start = utc("2026-01-01T00:00:00Z");
    let mk = |name: &str, e: &str| Schedule {
        name: name.into(),
        expression: ScheduleExpression::parse(e).unwrap(),
        time_zone: Tz::UTC,
        start,
        end: None,
        input: json!({"name": name}),
        description: String::new(),
    };
    let s = Scheduler::new(vec![
        mk("every-2h", "rate(2 hours)"),
        mk("hourly", "cron(0 * * * ? *)"),
    ]);
    let mut seen = Vec::new();
    // a day of schedules compressed 100,000 times: under a second
    let n = s
        .run(start, Some(utc("2026-01-01T04:00:00Z")), 100_000.0, |f| {
            seen.push((
                f.schedule.clone(),
                f.scheduled_time
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                f.input["name"].clone(),
            ));
            async {}
        })
        .await;
    assert_eq!(n, seen.len());
    let names: Vec<_> = seen.iter().map(|(n, t, _)| format!("{t} {n}")).collect();
    assert_eq!(
        names,
        [
            "2026-01-01T01:00:00Z hourly",
            "2026-01-01T02:00:00Z every-2h",
            "2026-01-01T02:00:00Z hourly",
            "2026-01-01T03:00:00Z hourly",
            "2026-01-01T04:00:00Z every-2h",
            "2026-01-01T04:00:00Z hourly",
        ]
    );
    assert!(seen.iter().all(|(n, _, input)| input == &json!(n)));
}

fn field(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (lo..=hi, 1..=(hi - lo + 1)).prop_map(|(a, s)| format!("{a}/{s}")),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{a},{b}")),
    ]
}

fn cron_text() -> impl Strategy<Value = String> {
    let days = prop_oneof![
        (field(1, 28), Just("?".to_string())),
        (Just("L".to_string()), Just("?".to_string())),
        (Just("LW".to_string()), Just("?".to_string())),
        (
            (1u32..=31).prop_map(|d| format!("{d}W")),
            Just("?".to_string())
        ),
        (Just("?".to_string()), field(1, 7)),
        (
            Just("?".to_string()),
            (1u32..=7, 1u32..=4).prop_map(|(d, n)| format!("{d}#{n}"))
        ),
        (
            Just("?".to_string()),
            (1u32..=7).prop_map(|d| format!("{d}L"))
        ),
    ];
    (field(0, 59), field(0, 23), days, field(1, 12))
        .prop_map(|(m, h, (dom, dow), mon)| format!("cron({m} {h} {dom} {mon} {dow} *)"))
}

fn zone() -> impl Strategy<Value = Tz> {
    prop_oneof![
        Just(Tz::UTC),
        Just(Tz::Europe__Paris),
        Just(Tz::America__New_York),
        Just(Tz::Australia__Lord_Howe),
        Just(Tz::Asia__Kolkata)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Fire times strictly increase, and each is a local time the expression names.
    #[test]
    fn cron_fire_times_increase_and_match(text in cron_text(), tz in zone(), start in 1_700_000_000i64..1_900_000_000) {
        let e = ScheduleExpression::parse(&text).unwrap();
        let ScheduleExpression::Cron(cron) = &e else { unreachable!() };
        let mut t = Utc.timestamp_opt(start, 0).unwrap();
        for _ in 0..8 {
            let Some(next) = e.next_after(t, tz, DateTime::<Utc>::MIN_UTC) else { break };
            prop_assert!(next > t, "{text}: {next} after {t}");
            let local: NaiveDateTime = next.with_timezone(&tz).naive_local();
            prop_assert!(cron.matches_local(local), "{text} in {tz}: {local} does not match");
            t = next;
        }
    }

    /// No matching minute is skipped: a minute-by-minute walk finds the same next fire (for
    /// expressions that fire often enough to walk to).
    #[test]
    fn cron_skips_no_matching_minute(m in field(0, 59), h in field(0, 23), tz in zone(), start in 1_700_000_000i64..1_900_000_000) {
        let text = format!("cron({m} {h} * * ? *)");
        let e = ScheduleExpression::parse(&text).unwrap();
        let ScheduleExpression::Cron(cron) = &e else { unreachable!() };
        let after = Utc.timestamp_opt(start, 0).unwrap();
        let next = e.next_after(after, tz, DateTime::<Utc>::MIN_UTC).unwrap();
        let mut walk = Utc.timestamp_opt(start - start.rem_euclid(60) + 60, 0).unwrap();
        loop {
            let local = walk.with_timezone(&tz);
            // a repeated local time (DST fall back) fires only at its first occurrence
            let first = tz.from_local_datetime(&local.naive_local()).earliest().map(|f| f == local).unwrap_or(false);
            if first && cron.matches_local(local.naive_local()) {
                break;
            }
            walk += chrono::Duration::minutes(1);
        }
        prop_assert_eq!(next, walk, "{} in {}", text, tz);
    }

    /// Rate fire times are start + k·period.
    #[test]
    fn rate_fire_times_are_whole_periods_from_the_start(n in 1u64..500, unit in 0usize..3, start in 1_700_000_000i64..1_800_000_000, after in 1_600_000_000i64..1_900_000_000) {
        let (name, secs) = [("minute", 60), ("hour", 3600), ("day", 86_400)][unit];
        let text = format!("rate({n} {name}{})", if n == 1 { "" } else { "s" });
        let e = ScheduleExpression::parse(&text).unwrap();
        let start = Utc.timestamp_opt(start, 0).unwrap();
        let after = Utc.timestamp_opt(after, 0).unwrap();
        let next = e.next_after(after, Tz::UTC, start).unwrap();
        prop_assert!(next > after && next >= start);
        let k = (next - start).num_seconds();
        prop_assert_eq!(k % (n as i64 * secs), 0);
        prop_assert!(next - chrono::Duration::seconds(n as i64 * secs) <= after || next == start);
    }
}
