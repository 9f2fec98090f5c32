//! The parser/validator and the engine must never panic or overflow the stack, whatever JSON
//! they are given.

use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use stepscore_asl::history::MAX_HISTORY_EVENTS;
use stepscore_asl::{
    Clock, Execution, ExecutionConfig, ExecutionStatus, TaskDispatcher, TaskOutcome, TaskRequest,
    ValidationOptions, VirtualClock, parse_definition, validate, validate_text,
};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("$".to_string()),
            Just("$.a".to_string()),
            Just("$$.Execution.Input".to_string()),
            Just("States.Format('{}', $.a)".to_string()),
            Just("Pass".to_string()),
            Just("A".to_string()),
            "[a-zA-Z$.\\[\\]0-9*:'(), ]{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("Type".to_string()),
                        Just("Next".to_string()),
                        Just("End".to_string()),
                        Just("StartAt".to_string()),
                        Just("States".to_string()),
                        Just("Parameters".to_string()),
                        Just("x.$".to_string()),
                        Just("Choices".to_string()),
                        Just("Variable".to_string()),
                        Just("Branches".to_string()),
                        Just("ItemProcessor".to_string()),
                        Just("Retry".to_string()),
                        Just("Catch".to_string()),
                        Just("ErrorEquals".to_string()),
                        Just("A".to_string()),
                        "[a-zA-Z.$]{1,8}",
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const LAMBDA: &str = "arn:aws:lambda:us-east-1:111111111111:function:work";

/// A tape of choices a machine is built from. Proptest shrinks the tape, and a shorter tape or
/// smaller numbers make a simpler machine (an exhausted tape always picks the first option).
struct Tape<'t> {
    choices: &'t [u32],
    at: usize,
}

impl Tape<'_> {
    /// A number in `0..n`.
    fn pick(&mut self, n: usize) -> usize {
        let c = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        c as usize % n
    }

    fn one_of(&mut self, options: &[Value]) -> Value {
        options[self.pick(options.len())].clone()
    }

    fn maybe(&mut self) -> bool {
        self.pick(2) == 1
    }
}

/// A state machine valid by construction: state `i` moves on to state `i + 1` (Next, a Choice's
/// Default), so every state is reachable; only the last state ends (End, Succeed, Fail); Choice
/// rules and Catchers jump to any state of the same machine, which makes loops. Map processors and
/// Parallel branches are machines built the same way, two levels deep at most.
fn build_machine(t: &mut Tape, prefix: &str, depth: usize) -> Value {
    let n = 1 + t.pick(if depth == 0 { 6 } else { 3 });
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}S{i}")).collect();
    let mut states = serde_json::Map::new();
    for (i, name) in names.iter().enumerate() {
        let next = names.get(i + 1);
        let state = build_state(t, name, &names, next, depth);
        states.insert(name.clone(), state);
    }
    json!({"StartAt": names[0], "States": states})
}

fn build_state(
    t: &mut Tape,
    name: &str,
    names: &[String],
    next: Option<&String>,
    depth: usize,
) -> Value {
    let nested = depth < 2;
    let kind = match next {
        Some(_) => ["Pass", "Choice", "Wait", "Task", "Map", "Parallel"]
            [t.pick(if nested { 6 } else { 4 })],
        None => ["Succeed", "Pass", "Fail", "Wait", "Task", "Map", "Parallel"]
            [t.pick(if nested { 7 } else { 5 })],
    };
    let mut state = json!({"Type": kind});
    let jump = |t: &mut Tape| json!(names[t.pick(names.len())]);
    match kind {
        "Pass" => {
            if t.maybe() {
                state["Parameters"] = t.one_of(&[
                    json!({"n.$": "States.MathAdd($.n, 1)"}),
                    json!({"text.$": "States.Format('n is {}', $.n)", "items.$": "$.items"}),
                    json!({"range.$": "States.ArrayRange(0, 3, 1)", "n.$": "$.n"}),
                ]);
            }
            state["ResultPath"] = t.one_of(&[json!("$"), json!("$.pass"), Value::Null]);
        }
        "Choice" => {
            let rules = [
                json!({"Variable": "$.n", "NumericLessThan": 3}),
                json!({"Variable": "$.flag", "BooleanEquals": true}),
                json!({"Variable": "$.s", "StringEquals": "x"}),
                json!({"Variable": "$.missing", "IsPresent": false}),
                json!({"Not": {"Variable": "$.n", "NumericGreaterThanEquals": 5}}),
                json!({"And": [{"Variable": "$.n", "IsNumeric": true}, {"Variable": "$.n", "NumericLessThanPath": "$.limit"}]}),
            ];
            let choices: Vec<Value> = (0..=t.pick(2))
                .map(|_| {
                    let mut rule = t.one_of(&rules);
                    rule["Next"] = jump(t);
                    rule
                })
                .collect();
            state["Choices"] = json!(choices);
            state["Default"] = json!(next);
        }
        "Wait" => match t.pick(4) {
            0 => state["Seconds"] = t.one_of(&[json!(0), json!(1), json!(3600)]),
            1 => state["SecondsPath"] = json!("$.n"),
            2 => state["Timestamp"] = json!("2024-01-01T00:00:10Z"),
            _ => state["TimestampPath"] = json!("$.at"),
        },
        "Task" => {
            state["Resource"] = json!(LAMBDA);
            state["ResultPath"] = t.one_of(&[json!("$.task"), json!("$"), Value::Null]);
            if t.maybe() {
                state["TimeoutSeconds"] = json!(1 + t.pick(5));
            }
        }
        "Map" => {
            state["ItemsPath"] = json!("$.items");
            state["ItemProcessor"] = build_machine(t, &format!("{name}.M"), depth + 1);
            state["ResultPath"] = t.one_of(&[json!("$.mapped"), Value::Null, json!("$")]);
            if t.maybe() {
                state["ItemSelector"] =
                    json!({"v.$": "$$.Map.Item.Value", "n.$": "$.n", "items.$": "$.items"});
            }
            if t.maybe() {
                state["ToleratedFailureCount"] = json!(t.pick(3));
            }
        }
        "Parallel" => {
            let branches: Vec<Value> = (0..=t.pick(2))
                .map(|b| build_machine(t, &format!("{name}.B{b}"), depth + 1))
                .collect();
            state["Branches"] = json!(branches);
            state["ResultPath"] = t.one_of(&[json!("$.branches"), Value::Null, json!("$")]);
        }
        "Fail" => {
            if t.maybe() {
                state["Error"] = json!("Boom");
                state["Cause"] = json!("it broke");
            } else {
                state["ErrorPath"] = json!("$.s");
            }
        }
        _ => {}
    }
    if matches!(kind, "Task" | "Map" | "Parallel") {
        if t.maybe() {
            state["Retry"] = json!([{
                "ErrorEquals": [t.one_of(&[json!("States.ALL"), json!("Work.Failed"), json!("States.TaskFailed")])],
                "IntervalSeconds": 1 + t.pick(3), "MaxAttempts": t.pick(4), "BackoffRate": 2.0
            }]);
        }
        if t.maybe() {
            state["Catch"] =
                json!([{"ErrorEquals": ["States.ALL"], "Next": jump(t), "ResultPath": "$.error"}]);
        }
    }
    if !matches!(kind, "Choice" | "Succeed" | "Fail") {
        match next {
            Some(n) => state["Next"] = json!(n),
            None => state["End"] = json!(true),
        }
    }
    state
}

fn arb_machine() -> impl Strategy<Value = Value> {
    prop::collection::vec(any::<u32>(), 0..120).prop_map(|choices| {
        build_machine(
            &mut Tape {
                choices: &choices,
                at: 0,
            },
            "",
            0,
        )
    })
}

/// Inputs the generated machines read: `$.n`, `$.flag`, `$.s`, `$.items`, `$.at`, `$.limit`,
/// sometimes with the wrong type, so runtime errors happen too.
fn arb_input() -> impl Strategy<Value = Value> {
    (
        prop_oneof![(-3i64..10).prop_map(|n| json!(n)), Just(json!("seven"))],
        any::<bool>(),
        prop_oneof![Just("x"), Just("y")],
        prop_oneof![
            4 => prop::collection::vec(0u8..10, 0..6).prop_map(|v| json!(v)),
            1 => Just(json!({"not": "an array"})),
        ],
        prop_oneof![Just("2024-01-01T00:00:05Z"), Just("yesterday")],
    )
        .prop_map(|(n, flag, s, items, at)| {
            json!({"n": n, "flag": flag, "s": s, "items": items, "at": at, "limit": 5})
        })
}

/// Fails a Task's first attempt when its state name has an odd length, otherwise returns a small
/// result; attempts take a second of virtual time.
struct FakeTasks;

impl TaskDispatcher for FakeTasks {
    fn dispatch(&self, request: &TaskRequest<'_>, clock: &dyn Clock) -> TaskOutcome {
        clock.sleep_until(clock.now() + chrono::Duration::seconds(1));
        if request.attempt == 0 && request.state_name.len() % 2 == 1 {
            TaskOutcome::Failed {
                error: "Work.Failed".into(),
                cause: Some(format!("{} failed", request.state_name)),
            }
        } else {
            TaskOutcome::Succeeded(json!({"ok": true, "attempt": request.attempt}))
        }
    }
}

#[test]
fn valid_machines_built_from_arbitrary_states_run_to_an_end_without_panicking() {
    let cases = 512;
    let (valid, ended) = (AtomicU32::new(0), AtomicU32::new(0));
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let result = runner.run(&(arb_machine(), arb_input()), |(definition, input)| {
        let machine = match parse_definition(&definition, ValidationOptions::default()) {
            Ok(m) => m,
            // Counted below: by construction nearly every definition is valid.
            Err(_) => return Ok(()),
        };
        valid.fetch_add(1, Ordering::Relaxed);
        let clock = VirtualClock::default();
        let mut exec = Execution::start(&machine, input, ExecutionConfig::default(), &clock)
            .map_err(|e| TestCaseError::fail(format!("cannot start: {e}")))?;
        // Loops end at the history limit, so every execution ends.
        let outcome = exec.run(&clock, &FakeTasks);
        prop_assert_ne!(outcome.status, ExecutionStatus::Running);
        prop_assert!(exec.history().last_id <= MAX_HISTORY_EVENTS);
        ended.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (valid, ended) = (valid.into_inner(), ended.into_inner());
    assert!(
        valid * 10 >= cases * 9,
        "only {valid} of {cases} generated definitions passed validation"
    );
    assert_eq!(ended, valid, "every valid definition runs to an end");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn the_validator_never_panics_on_arbitrary_json(v in arb_json()) {
        let _ = validate(&v, ValidationOptions::default());
    }

    #[test]
    fn validate_text_never_panics_on_arbitrary_text(s in "\\PC{0,64}") {
        let _ = validate_text(&s, ValidationOptions::default());
    }
}

#[test]
fn deeply_nested_definitions_hit_a_limit_instead_of_overflowing_the_stack() {
    // Built by hand: `json!` would serialize the inner value recursively.
    let mut v = json!(1);
    for _ in 0..10_000 {
        let mut m = serde_json::Map::new();
        m.insert("Parameters".into(), v);
        v = Value::Object(m);
    }
    let d = validate(&v, ValidationOptions::default());
    assert!(d[0].message.contains("nested deeper"), "{d:?}");
    // Text input is bounded by the JSON parser's own recursion limit.
    let text = "[".repeat(100_000);
    let d = validate_text(&text, ValidationOptions::default());
    assert_eq!(d[0].code, "INVALID_JSON_DESCRIPTION");
    std::mem::forget(v);
}

#[test]
fn deeply_nested_parallel_branches_are_rejected_with_a_limit() {
    let mut machine = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    for _ in 0..40 {
        machine = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [machine], "End": true}}});
    }
    let d = validate(&machine, ValidationOptions::default());
    assert!(d.iter().any(|d| d.message.contains("deeper than")), "{d:?}");
}

proptest! {
    /// The engine's size walk agrees with serde_json's serializer, the size AWS's 256 KiB limit
    /// is measured in.
    #[test]
    fn json_shape_measures_what_serde_json_writes(v in arb_json(), s in "\\PC{0,16}", n in any::<f64>()) {
        let v = json!([v, s, n, {"\u{1}\"\\\n": "\t\u{7f}é"}]);
        let written = serde_json::to_string(&v).expect("serializes");
        prop_assert_eq!(stepscore_asl::engine::json_shape(&v).0, written.len());
    }
}

#[test]
fn a_loop_that_nests_its_document_deeper_each_round_fails_instead_of_overflowing_the_stack() {
    let definition = json!({"StartAt": "Wrap", "States": {"Wrap": {
        "Type": "Pass", "Parameters": {"inner.$": "$"}, "Next": "Wrap"
    }}});
    let machine = parse_definition(&definition, ValidationOptions::default()).expect("valid");
    let clock = VirtualClock::default();
    let mut exec =
        Execution::start(&machine, json!(1), ExecutionConfig::default(), &clock).expect("starts");
    let outcome = exec.run(&clock, &FakeTasks);
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
    let cause = outcome.cause.unwrap_or_default();
    assert!(
        cause.ends_with("The state's output is nested 1001 levels deep, deeper than the 1000 levels a JSON document may have."),
        "{cause}"
    );
    assert_eq!(
        stepscore_asl::engine::json_shape(&json!([{"a": [1]}, 2])).1,
        3
    );
}
