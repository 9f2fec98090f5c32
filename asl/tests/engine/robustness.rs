//! The parser/validator and the engine must never panic or overflow the stack, whatever JSON
//! they are given.

use proptest::prelude::*;
use serde_json::{Value, json};
use stepscore_asl::{
    ExecutionConfig, NoTasks, ValidationOptions, VirtualClock, parse_definition, validate,
    validate_text,
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

/// Arbitrary states plugged into a valid skeleton reach the deeper validator paths.
fn arb_machine() -> impl Strategy<Value = Value> {
    (
        arb_json(),
        prop_oneof![
            Just("Pass"),
            Just("Task"),
            Just("Choice"),
            Just("Wait"),
            Just("Map"),
            Just("Parallel"),
            Just("Fail")
        ],
    )
        .prop_map(|(body, ty)| {
            let mut state = match body {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            state.insert("Type".into(), json!(ty));
            json!({"StartAt": "A", "States": {"A": Value::Object(state), "B": {"Type": "Succeed"}}})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn the_validator_never_panics_on_arbitrary_json(v in arb_json()) {
        let _ = validate(&v, ValidationOptions::default());
    }

    #[test]
    fn valid_machines_built_from_arbitrary_states_run_without_panicking(def in arb_machine(), input in arb_json()) {
        if let Ok(machine) = parse_definition(&def, ValidationOptions::default()) {
            let clock = VirtualClock::default();
            if let Ok(mut exec) = stepscore_asl::Execution::start(&machine, input, ExecutionConfig::default(), &clock) {
                // A bounded number of steps: arbitrary machines may loop forever.
                for _ in 0..50 {
                    if exec.step(&clock, &NoTasks).is_some() {
                        break;
                    }
                }
            }
        }
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
