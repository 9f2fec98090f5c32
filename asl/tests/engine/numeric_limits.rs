//! Numbers at the edges of time arithmetic: what validation refuses (AWS's documented ranges:
//! Retry `IntervalSeconds` 1..=99,999,999, `MaxAttempts` 0..=99,999,999, `MaxDelaySeconds`
//! 1..=31,622,401, `BackoffRate` >= 1.0, Wait `Seconds` 0..=99,999,999), and that whatever it
//! accepts runs to an end, failing the execution as AWS does, instead of panicking.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use stepscore_asl::{
    Clock, Execution, ExecutionConfig, ExecutionOutcome, ExecutionStatus, NoTasks, TaskDispatcher,
    TaskOutcome, TaskRequest, ValidationOptions, VirtualClock, parse_definition, validate,
};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:111111111111:function:work";

fn retry_machine(retrier: Value) -> Value {
    json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": LAMBDA,
        "Retry": [retrier],
        "End": true
    }}})
}

fn wait_machine(wait: Value) -> Value {
    let mut state = json!({"Type": "Wait", "End": true});
    for (k, v) in wait.as_object().expect("object") {
        state[k] = v.clone();
    }
    json!({"StartAt": "Wait", "States": {"Wait": state}})
}

/// The diagnostic messages for a definition (empty when valid).
fn refusals(definition: &Value) -> Vec<String> {
    validate(definition, ValidationOptions::default())
        .into_iter()
        .map(|d| format!("{}: {}", d.location.unwrap_or_default(), d.message))
        .collect()
}

#[test]
fn validation_accepts_the_aws_ranges_of_retry_fields_and_refuses_what_is_outside() {
    let cases = [
        ("IntervalSeconds", json!(1), true),
        ("IntervalSeconds", json!(99_999_999), true),
        ("IntervalSeconds", json!(0), false),
        ("IntervalSeconds", json!(100_000_000), false),
        ("IntervalSeconds", json!(u64::MAX), false),
        ("MaxAttempts", json!(0), true),
        ("MaxAttempts", json!(99_999_999), true),
        ("MaxAttempts", json!(100_000_000), false),
        ("MaxAttempts", json!(-1), false),
        ("MaxDelaySeconds", json!(1), true),
        ("MaxDelaySeconds", json!(31_622_401), true),
        ("MaxDelaySeconds", json!(0), false),
        ("MaxDelaySeconds", json!(31_622_402), false),
        ("BackoffRate", json!(1.0), true),
        ("BackoffRate", json!(1e308), true),
        ("BackoffRate", json!(0.999), false),
    ];
    for (field, value, valid) in cases {
        let mut retrier = json!({"ErrorEquals": ["States.ALL"]});
        retrier[field] = value.clone();
        let found = refusals(&retry_machine(retrier));
        assert_eq!(found.is_empty(), valid, "{field} = {value}: {found:?}");
        if !valid {
            assert!(
                found
                    .iter()
                    .any(|m| m.contains(&format!("/Retry/0/{field}"))),
                "{field} = {value}: {found:?}"
            );
        }
    }
    let found = refusals(&retry_machine(
        json!({"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100_000_000}),
    ));
    assert_eq!(
        found,
        [
            "/States/Work/Retry/0/IntervalSeconds: IntervalSeconds must be an integer from 1 to 99999999 but got 100000000"
        ]
    );
}

#[test]
fn validation_accepts_wait_seconds_up_to_99999999_only() {
    for (seconds, valid) in [
        (json!(0), true),
        (json!(99_999_999), true),
        (json!(100_000_000), false),
        (json!(u64::MAX), false),
        (json!(-1), false),
        (json!(1.5), false),
    ] {
        let found = refusals(&wait_machine(json!({"Seconds": seconds})));
        assert_eq!(found.is_empty(), valid, "Seconds = {seconds}: {found:?}");
    }
}

/// A dispatcher whose every attempt takes `seconds` of virtual time and then fails or succeeds.
struct Slow<'c> {
    clock: &'c VirtualClock,
    seconds: f64,
    succeed: bool,
}

impl TaskDispatcher for Slow<'_> {
    fn dispatch(&self, _request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        self.clock.advance(self.seconds);
        if self.succeed {
            TaskOutcome::Succeeded(json!({"done": true}))
        } else {
            TaskOutcome::Failed {
                error: "Work.Failed".into(),
                cause: None,
            }
        }
    }
}

/// Runs a valid definition to its end; the history limit bounds every run.
fn run(
    definition: &Value,
    input: Value,
    clock: &VirtualClock,
    tasks: &dyn TaskDispatcher,
) -> ExecutionOutcome {
    let machine = parse_definition(definition, ValidationOptions::default())
        .unwrap_or_else(|d| panic!("invalid: {d:?}"));
    let mut exec =
        Execution::start(&machine, input, ExecutionConfig::default(), clock).expect("starts");
    exec.run(clock, tasks)
}

fn runtime_cause(outcome: &ExecutionOutcome) -> &str {
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(
        outcome.error.as_deref(),
        Some("States.Runtime"),
        "{outcome:?}"
    );
    outcome.cause.as_deref().unwrap_or_default()
}

#[test]
fn an_exploding_backoff_retries_until_the_history_limit_instead_of_overflowing_the_clock() {
    // 99,999,999 s * 1e308^n is infinite from the second retry on.
    let definition = retry_machine(json!({
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": 99_999_999,
        "MaxAttempts": 99_999_999, "BackoffRate": 1e308
    }));
    let clock = VirtualClock::default();
    let outcome = run(&definition, json!({}), &clock, &NoTasks);
    assert_eq!(
        runtime_cause(&outcome),
        "The execution reached the maximum number of history events (25000)."
    );
    // Each retry waited at most 366 days and a second.
    let years = (clock.now() - VirtualClock::default().now()).num_days() / 366;
    assert!(years > 1_000 && years < 9_000, "{years} years");
}

#[test]
fn wait_seconds_path_values_out_of_range_fail_with_states_runtime() {
    let definition = wait_machine(json!({"SecondsPath": "$.s"}));
    let prefix =
        "An error occurred while executing the state 'Wait' (entered at the event id #2). ";
    for (s, cause) in [
        (
            json!(-1),
            "The SecondsPath parameter references a negative value: $.s == -1",
        ),
        (
            json!(i64::MIN),
            "The SecondsPath parameter references a negative value: $.s == -9223372036854775808",
        ),
        (
            json!(1.5),
            "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5",
        ),
        (json!(u64::MAX), "Wait state delay is too long."),
        (json!(i64::MAX), "Wait state delay is too long."),
        (json!(2_147_483_648_u64), "Wait state delay is too long."),
    ] {
        let outcome = run(
            &definition,
            json!({"s": s}),
            &VirtualClock::default(),
            &NoTasks,
        );
        assert_eq!(runtime_cause(&outcome), format!("{prefix}{cause}"), "{s}");
    }
    let outcome = run(
        &definition,
        json!({"s": 2_147_483_647_u64}),
        &VirtualClock::default(),
        &NoTasks,
    );
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
}

#[test]
fn wait_timestamps_at_the_ends_of_the_calendar_do_not_overflow() {
    let definition = wait_machine(json!({"TimestampPath": "$.t"}));
    let past = run(
        &definition,
        json!({"t": "0000-01-01T00:00:00Z"}),
        &VirtualClock::default(),
        &NoTasks,
    );
    assert_eq!(past.status, ExecutionStatus::Succeeded);
    let future = run(
        &definition,
        json!({"t": "9999-12-31T23:59:59Z"}),
        &VirtualClock::default(),
        &NoTasks,
    );
    assert!(runtime_cause(&future).ends_with("Wait state delay is too long."));
}

#[test]
fn a_clock_at_the_end_of_time_fails_a_wait_instead_of_overflowing() {
    let clock = VirtualClock::new(DateTime::<Utc>::MAX_UTC - Duration::seconds(10));
    let outcome = run(
        &wait_machine(json!({"Seconds": 60})),
        json!({}),
        &clock,
        &NoTasks,
    );
    assert!(runtime_cause(&outcome).ends_with("Wait state delay is too long."));
    // Advancing past either end of time stops there.
    clock.advance(f64::INFINITY);
    assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    clock.advance(f64::NEG_INFINITY);
    assert_eq!(clock.now(), DateTime::<Utc>::MIN_UTC);
    clock.advance(f64::NAN);
    assert_eq!(clock.now(), DateTime::<Utc>::MIN_UTC);
}

#[test]
fn huge_timeouts_are_never_reached_instead_of_wrapping_or_overflowing() {
    // TimeoutSeconds past the end of chrono's calendar: the execution can never time out.
    for timeout in [u64::MAX, i64::MAX as u64, 1 << 62] {
        let definition = json!({"StartAt": "Work", "TimeoutSeconds": timeout, "States": {
            "Work": {"Type": "Task", "Resource": LAMBDA, "TimeoutSecondsPath": "$.t", "End": true}
        }});
        let clock = VirtualClock::default();
        let tasks = Slow {
            clock: &clock,
            seconds: 3_600.0,
            succeed: true,
        };
        let outcome = run(&definition, json!({"t": timeout}), &clock, &tasks);
        assert_eq!(
            outcome.status,
            ExecutionStatus::Succeeded,
            "{timeout}: {outcome:?}"
        );
    }
}

/// Values that sit on the edges of integer, float and date ranges, plus arbitrary ones.
fn edge_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec![
            json!(0), json!(1), json!(-1), json!(2), json!(59), json!(99_999_999),
            json!(100_000_000), json!(31_622_401), json!(31_622_402), json!(i32::MAX),
            json!(i64::from(i32::MAX) + 1), json!(i64::MAX), json!(u64::MAX), json!(i64::MIN),
            json!(0.5), json!(1.0), json!(1.5), json!(2.0), json!(1e10), json!(1e308),
            json!(-1e308), json!(f64::MIN_POSITIVE), json!("10"), Value::Null,
        ]),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_map(|f| json!(f)),
    ]
}

fn edge_timestamp() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("0000-01-01T00:00:00Z"),
        json!("1970-01-01T00:00:00Z"),
        json!("2024-01-01T00:00:01.5+14:00"),
        json!("9999-12-31T23:59:59Z"),
        json!("2024-02-30T00:00:00Z"),
        json!(12),
    ])
}

fn edge_clock_start() -> impl Strategy<Value = DateTime<Utc>> {
    prop::sample::select(vec![
        VirtualClock::default().now(),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::<Utc>::MAX_UTC - Duration::days(400),
    ])
}

/// A machine that waits (literal or path), then runs a slow Task with a timeout and a retrier,
/// each numeric field drawn from the edges.
#[allow(clippy::too_many_arguments)]
fn edge_machine(
    wait_field: &str,
    wait_value: Value,
    interval: Value,
    attempts: Value,
    backoff: Value,
    max_delay: Option<Value>,
    jitter: bool,
    machine_timeout: Option<Value>,
) -> Value {
    let mut retrier = json!({
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": interval,
        "MaxAttempts": attempts, "BackoffRate": backoff,
        "JitterStrategy": if jitter { "FULL" } else { "NONE" }
    });
    if let Some(m) = max_delay {
        retrier["MaxDelaySeconds"] = m;
    }
    let mut wait = json!({"Type": "Wait", "Next": "Work"});
    wait[wait_field] = wait_value;
    let mut machine = json!({"StartAt": "Wait", "States": {
        "Wait": wait,
        "Work": {
            "Type": "Task", "Resource": LAMBDA,
            "TimeoutSecondsPath": "$.timeout", "HeartbeatSecondsPath": "$.heartbeat",
            "Retry": [retrier], "End": true
        }
    }});
    if let Some(t) = machine_timeout {
        machine["TimeoutSeconds"] = t;
    }
    machine
}

/// Mostly values validation accepts (edges of the AWS ranges), sometimes any edge value.
fn in_range(accepted: Vec<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![9 => prop::sample::select(accepted), 1 => edge_number()]
}

fn arb_edge_machine() -> impl Strategy<Value = Value> {
    let wait = prop_oneof![
        in_range(vec![json!(0), json!(1), json!(99_999_999)]).prop_map(|v| ("Seconds", v)),
        Just(("SecondsPath", json!("$.wait"))),
        edge_timestamp().prop_map(|v| ("Timestamp", v)),
        Just(("TimestampPath", json!("$.at"))),
    ];
    (
        wait,
        in_range(vec![json!(1), json!(2), json!(99_999_999)]),
        in_range(vec![json!(0), json!(1), json!(99_999_999)]),
        in_range(vec![
            json!(1.0),
            json!(1.5),
            json!(2.0),
            json!(1e10),
            json!(1e308),
        ]),
        prop::option::of(in_range(vec![json!(1), json!(31_622_401)])),
        any::<bool>(),
        prop::option::of(in_range(vec![json!(1), json!(i64::MAX), json!(u64::MAX)])),
    )
        .prop_map(
            |((field, value), interval, attempts, backoff, max_delay, jitter, timeout)| {
                edge_machine(
                    field, value, interval, attempts, backoff, max_delay, jitter, timeout,
                )
            },
        )
}

/// Whatever validation accepts runs to an end: succeeded, failed or timed out, never a panic
/// from date arithmetic, an f64-to-duration conversion or an integer overflow.
#[test]
fn accepted_numeric_edge_values_run_to_an_end_without_panicking() {
    let case = (
        arb_edge_machine(),
        edge_number(),
        edge_timestamp(),
        edge_number(),
        edge_number(),
        prop::sample::select(vec![0.0, 1.0, 1e9, 1e300, f64::INFINITY, -1.0, f64::NAN]),
        any::<bool>(),
        edge_clock_start(),
    );
    let cases = 256;
    let ran = std::sync::atomic::AtomicU32::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let result = runner.run(
        &case,
        |(definition, wait, at, timeout, heartbeat, task_seconds, succeed, start)| {
            let Ok(machine) = parse_definition(&definition, ValidationOptions::default()) else {
                return Ok(());
            };
            let clock = VirtualClock::new(start);
            let tasks = Slow {
                clock: &clock,
                seconds: task_seconds,
                succeed,
            };
            let input = json!({"wait": wait, "at": at, "timeout": timeout, "heartbeat": heartbeat});
            let mut exec = Execution::start(&machine, input, ExecutionConfig::default(), &clock)
                .expect("starts");
            let outcome = exec.run(&clock, &tasks);
            prop_assert_ne!(outcome.status, ExecutionStatus::Running);
            prop_assert!(exec.history().last_id <= 25_000);
            ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator aims at accepted values; most cases must get as far as running.
    let ran = ran.into_inner();
    assert!(
        ran * 2 >= cases,
        "only {ran} of {cases} generated machines were valid"
    );
}
