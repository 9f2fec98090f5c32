//! AWS's hard quota of 25,000 events in one execution history ("Maximum execution history size").
//!
//! Where AWS puts the cut, as recorded against AWS for a Choice looping forever (floci-io/floci
//! issue #2734, `get-execution-history --reverse-order`): event 25,000 is `ExecutionFailed` with
//! error `States.Runtime` and cause "The execution reached the maximum number of history events
//! (25000).", and event 24,999 is the last event the machine itself produced. The same error
//! and cause appear in user reports of executions that hit the limit (loads/ardere#86).

use serde_json::{Value, json};
use stepscore_asl::history::{MAX_HISTORY_EVENTS, history_limit_cause};
use stepscore_asl::{
    Execution, ExecutionConfig, ExecutionOutcome, ExecutionStatus, History, NoTasks,
    ValidationOptions, VirtualClock, parse_definition,
};

const CAUSE: &str = "The execution reached the maximum number of history events (25000).";

/// Runs `definition` one top-level state at a time, at most `max_steps` of them, and returns the
/// outcome (None when the execution was still running) and the history.
fn run_bounded(
    definition: Value,
    input: Value,
    max_steps: usize,
) -> (Option<ExecutionOutcome>, History) {
    let machine = parse_definition(&definition, ValidationOptions::default())
        .unwrap_or_else(|d| panic!("invalid: {d:?}"));
    let clock = VirtualClock::default();
    let mut exec =
        Execution::start(&machine, input, ExecutionConfig::default(), &clock).expect("starts");
    let mut outcome = None;
    for _ in 0..max_steps {
        outcome = exec.step(&clock, &NoTasks);
        if outcome.is_some() {
            break;
        }
    }
    (outcome, exec.into_history())
}

fn assert_failed_at_the_limit(outcome: Option<ExecutionOutcome>, history: &History) {
    let outcome = outcome.expect("the execution ends at the history limit");
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
    assert_eq!(outcome.cause.as_deref(), Some(CAUSE));
    assert_eq!(history.events.len() as u64, MAX_HISTORY_EVENTS);
    let last = history.events.last().expect("events");
    assert_eq!(
        (last.id, last.previous_event_id, &*last.kind),
        (25_000, 24_999, "ExecutionFailed")
    );
    assert_eq!(last.details.error.as_deref(), Some("States.Runtime"));
    assert_eq!(last.details.cause.as_deref(), Some(CAUSE));
}

/// Pass -> Choice loop counting to `limit`: ExecutionStarted, 4 events per round
/// (Pass entered/exited, Choice entered/exited), Succeed entered/exited, ExecutionSucceeded.
fn counting_loop(limit: u64) -> Value {
    json!({
        "StartAt": "Increment",
        "States": {
            "Increment": {"Type": "Pass", "Parameters": {"count.$": "States.MathAdd($.count, 1)"}, "Next": "Done?"},
            "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.count", "NumericGreaterThanEquals": limit, "Next": "Finished"}], "Default": "Increment"},
            "Finished": {"Type": "Succeed"}
        }
    })
}

#[test]
fn the_cause_is_the_one_aws_records() {
    assert_eq!(history_limit_cause(), CAUSE);
}

#[test]
fn an_endless_pass_loop_fails_with_event_25000_as_execution_failed() {
    let spin = json!({"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}});
    // 12,499 rounds fit (events 2..=24,999); without the limit the loop would still be running.
    let (outcome, history) = run_bounded(spin, json!({"spin": true}), 20_000);
    assert_failed_at_the_limit(outcome, &history);
    let last_real = &history.events[24_998];
    assert_eq!(
        (last_real.id, &*last_real.kind),
        (24_999, "PassStateExited")
    );
}

#[test]
fn an_endless_choice_loop_ends_like_the_one_recorded_against_aws() {
    let spin = json!({"StartAt": "Loop", "States": {"Loop": {
        "Type": "Choice",
        "Choices": [{"Variable": "$.spin", "BooleanEquals": true, "Next": "Loop"}],
        "Default": "Done"
    }, "Done": {"Type": "Succeed"}}});
    let (outcome, history) = run_bounded(spin, json!({"spin": true}), 20_000);
    assert_failed_at_the_limit(outcome, &history);
    let last_real = &history.events[24_998];
    assert_eq!(
        (last_real.id, &*last_real.kind),
        (24_999, "ChoiceStateExited")
    );
    assert_eq!(
        last_real.details.output.as_deref(),
        Some(&json!({"spin": true}))
    );
}

#[test]
fn a_loop_whose_closing_event_is_event_25000_succeeds_and_one_more_round_fails() {
    // 1 + 4 * 6,249 + 2 + 1 = 25,000 events: the closing ExecutionSucceeded takes the last id.
    let (outcome, history) = run_bounded(counting_loop(6_249), json!({"count": 0}), 20_000);
    let outcome = outcome.expect("ends");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"count": 6_249})));
    assert_eq!(history.last_id, 25_000);
    assert_eq!(&*history.events[24_999].kind, "ExecutionSucceeded");

    // One more round: its Choice would be entered as event 25,000.
    let (outcome, history) = run_bounded(counting_loop(6_250), json!({"count": 0}), 20_000);
    assert_failed_at_the_limit(outcome, &history);
    assert_eq!(&*history.events[24_998].kind, "PassStateExited");
}

fn map_over(items: usize) -> (Value, Value) {
    let definition = json!({
        "StartAt": "EachItem",
        "States": {
            "EachItem": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Square", "States": {"Square": {"Type": "Pass", "End": true}}},
                // The limit ends the execution, not the state: neither Retry nor Catch sees it.
                "Retry": [
                    {"ErrorEquals": ["States.Runtime"], "MaxAttempts": 3},
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}
                ],
                "Catch": [
                    {"ErrorEquals": ["States.Runtime"], "Next": "Caught"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Caught"}
                ],
                "End": true
            },
            "Caught": {"Type": "Succeed"}
        }
    });
    (definition, json!({"items": (0..items).collect::<Vec<_>>()}))
}

#[test]
fn map_iteration_events_count_toward_the_limit_and_retry_and_catch_do_not_apply() {
    // ExecutionStarted, MapStateEntered, MapStateStarted, then 4 events per item (iteration
    // started, Pass entered/exited, iteration succeeded), MapStateSucceeded, MapStateExited,
    // ExecutionSucceeded: 4 * items + 6 events.
    let (definition, input) = map_over(6_248);
    let (outcome, history) = run_bounded(definition, input, 10);
    let outcome = outcome.expect("ends");
    assert_eq!(
        outcome.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        outcome.error
    );
    assert_eq!(history.last_id, 24_998);

    // 6,249 items: the iterations end at event 24,999, so MapStateSucceeded would be 25,000.
    let (definition, input) = map_over(6_249);
    let (outcome, history) = run_bounded(definition, input, 10);
    assert_failed_at_the_limit(outcome, &history);
    assert_eq!(&*history.events[24_998].kind, "MapIterationSucceeded");
    let started = history
        .events
        .iter()
        .filter(|e| &*e.kind == "MapStateStarted");
    assert_eq!(started.count(), 1, "a retrier ran the Map again");
}

#[test]
fn parallel_branch_events_count_toward_the_limit() {
    let branch = json!({"StartAt": "Step", "States": {"Step": {"Type": "Pass", "End": true}}});
    let definition = json!({"StartAt": "Fork", "States": {"Fork": {
        "Type": "Parallel", "Branches": [branch, branch], "ResultPath": null, "Next": "Fork"
    }}});
    // Per round: entered, started, 2 x (entered, exited), succeeded, exited = 8 events.
    let (outcome, history) = run_bounded(definition, json!({}), 4_000);
    assert_failed_at_the_limit(outcome, &history);
    let kinds: Vec<&str> = history.events.iter().map(|e| &*e.kind).collect();
    assert!(kinds.contains(&"ParallelStateStarted"));
    // 1 + 8 * 3,124 = 24,993; the next round's second branch exits its Pass as event 24,999.
    assert_eq!(kinds[24_998], "PassStateExited");
}

#[test]
fn without_recorded_history_the_limit_is_the_same_and_nothing_is_stored() {
    let machine = parse_definition(
        &json!({"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}}),
        ValidationOptions::default(),
    )
    .expect("valid");
    let clock = VirtualClock::default();
    let config = ExecutionConfig {
        record_history: false,
        ..ExecutionConfig::default()
    };
    let mut exec = Execution::start(&machine, json!({}), config, &clock).expect("starts");
    let mut outcome = None;
    for _ in 0..20_000 {
        outcome = exec.step(&clock, &NoTasks);
        if outcome.is_some() {
            break;
        }
    }
    let outcome = outcome.expect("ends at the limit");
    assert_eq!(outcome.cause.as_deref(), Some(CAUSE));
    assert_eq!(exec.history().last_id, 25_000);
    assert!(exec.history().events.is_empty());
}

fn distributed_map(items: usize, processor_states: Value) -> (Value, Value) {
    let definition = json!({"StartAt": "EachItem", "States": {"EachItem": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": processor_states
        },
        "ResultSelector": {"count.$": "States.ArrayLength($)"},
        "End": true
    }}});
    (definition, json!({"items": (0..items).collect::<Vec<_>>()}))
}

#[test]
fn a_distributed_map_iteration_is_a_child_execution_with_a_history_of_its_own() {
    // 13,000 iterations would be 52,000 events inline; as child executions they leave the
    // parent's history at entered, Map Run started and succeeded, exited.
    let (definition, input) =
        distributed_map(13_000, json!({"Work": {"Type": "Pass", "End": true}}));
    let (outcome, history) = run_bounded(definition, input, 10);
    let outcome = outcome.expect("ends");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"count": 13_000})));
    let kinds: Vec<&str> = history.events.iter().map(|e| &*e.kind).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );

    // A child that loops forever reaches its own limit: the child fails, and with no failure
    // tolerated the Map Run fails; tolerated, the child's error is its result.
    let (mut definition, input) =
        distributed_map(2, json!({"Work": {"Type": "Pass", "Next": "Work"}}));
    let (outcome, history) = run_bounded(definition.clone(), input.clone(), 10);
    let outcome = outcome.expect("ends");
    assert_eq!(
        outcome.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    assert!(history.last_id < 10, "{}", history.last_id);
    let map = definition["States"]
        .as_object_mut()
        .and_then(|s| s.values_mut().find(|st| st["Type"] == "Map"))
        .expect("the definition has a Map");
    map["ToleratedFailurePercentage"] = json!(100);
    map["ResultSelector"] = json!({"first.$": "$[0]"});
    let (outcome, history) = run_bounded(definition, input, 10);
    let outcome = outcome.expect("ends");
    assert_eq!(
        outcome.output,
        Some(json!({"first": {"Error": "States.Runtime", "Cause": CAUSE}}))
    );
    assert!(history.last_id < 10, "{}", history.last_id);
}
