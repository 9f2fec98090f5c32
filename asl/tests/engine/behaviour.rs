//! The interpreter's observable behaviour: data flow, errors, time, tasks, history, snapshots.

use std::cell::RefCell;

use serde_json::{Value, json};
use stepscore_asl::env::lambda_invoke_result;
use stepscore_asl::{
    Clock, Execution, ExecutionConfig, ExecutionSnapshot, ExecutionStatus, NoTasks, TaskDispatcher,
    TaskOutcome, TaskRequest, ValidationOptions, VirtualClock, parse_definition, validate,
};

/// A dispatcher that answers from a script of outcomes and records every request.
struct Scripted {
    outcomes: RefCell<Vec<TaskOutcome>>,
    calls: RefCell<Vec<(String, Value, u32)>>,
    advance_seconds: f64,
    clock: Option<std::sync::Arc<VirtualClock>>,
}

impl Scripted {
    fn new(outcomes: Vec<TaskOutcome>) -> Self {
        Scripted {
            outcomes: RefCell::new(outcomes),
            calls: RefCell::new(Vec::new()),
            advance_seconds: 0.0,
            clock: None,
        }
    }
}

impl TaskDispatcher for Scripted {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        self.calls.borrow_mut().push((
            request.resource.to_string(),
            request.input.clone(),
            request.attempt,
        ));
        if let Some(c) = &self.clock {
            c.advance(self.advance_seconds);
        }
        let mut o = self.outcomes.borrow_mut();
        if o.is_empty() {
            TaskOutcome::Succeeded(json!({"default": true}))
        } else {
            o.remove(0)
        }
    }
}

fn failed(error: &str) -> TaskOutcome {
    TaskOutcome::Failed {
        error: error.into(),
        cause: Some(format!("{error} happened")),
    }
}

struct Run {
    status: ExecutionStatus,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    history: Value,
    elapsed_seconds: i64,
}

fn check_with(
    definition: Value,
    input: Value,
    tasks: &dyn TaskDispatcher,
    clock: &VirtualClock,
) -> Run {
    let machine = parse_definition(&definition, ValidationOptions::default())
        .unwrap_or_else(|d| panic!("invalid: {d:?}"));
    let start = clock.now();
    let mut exec =
        Execution::start(&machine, input, ExecutionConfig::default(), clock).expect("starts");
    let o = exec.run(clock, tasks);
    Run {
        status: o.status,
        output: o.output,
        error: o.error,
        cause: o.cause,
        history: exec.history().to_aws_json(),
        elapsed_seconds: (clock.now() - start).num_seconds(),
    }
}

fn check(definition: Value, input: Value) -> Run {
    check_with(definition, input, &NoTasks, &VirtualClock::default())
}

fn event_types(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_string())
        .collect()
}

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
fn a_counting_loop_runs_to_its_limit_and_records_every_transition() {
    let r = check(counting_loop(5), json!({"count": 0}));
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.output, Some(json!({"count": 5})));
    let types = event_types(&r.history);
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
    assert_eq!(types.iter().filter(|t| *t == "PassStateEntered").count(), 5);
    assert_eq!(
        types.iter().filter(|t| *t == "ChoiceStateExited").count(),
        5
    );
    let events = r.history["events"].as_array().expect("events");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1));
        assert_eq!(e["previousEventId"], json!(i));
    }
    assert_eq!(events[1]["stateEnteredEventDetails"]["name"], "Increment");
    assert_eq!(
        events[1]["stateEnteredEventDetails"]["input"],
        "{\"count\":0}"
    );
    assert_eq!(
        events[2]["stateExitedEventDetails"]["output"],
        "{\"count\":1}"
    );
}

#[test]
fn input_and_output_processing_follow_aws_order() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "InputPath": "$.job",
        "Parameters": {"FunctionName": "f", "Payload": {"id.$": "$.id", "name.$": "$$.State.Name"}},
        "ResultSelector": {"answer.$": "$.Payload.answer"},
        "ResultPath": "$.result",
        "OutputPath": "$.result",
        "End": true}}});
    let tasks = Scripted::new(vec![TaskOutcome::Succeeded(lambda_invoke_result(
        json!({"answer": 42}),
    ))]);
    let r = check_with(
        def,
        json!({"job": {"id": "j-1"}, "other": 1}),
        &tasks,
        &VirtualClock::default(),
    );
    assert_eq!(r.output, Some(json!({"answer": 42})));
    assert_eq!(
        tasks.calls.borrow()[0].1,
        json!({"FunctionName": "f", "Payload": {"id": "j-1", "name": "T"}})
    );
}

#[test]
fn result_path_null_keeps_the_input_and_output_path_null_gives_an_empty_object() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": null, "Next": "B"},
        "B": {"Type": "Pass", "OutputPath": null, "End": true}}});
    let r = check(def.clone(), json!({"keep": true}));
    assert_eq!(r.output, Some(json!({})));
    let def_a = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "ResultPath": null, "End": true}}});
    assert_eq!(
        check(def_a, json!({"keep": true})).output,
        Some(json!({"keep": true}))
    );
}

#[test]
fn retries_back_off_on_the_virtual_clock_without_sleeping() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}], "End": true}}});
    let tasks = Scripted::new(vec![
        failed("Flaky"),
        failed("Flaky"),
        TaskOutcome::Succeeded(json!("ok")),
    ]);
    let wall = std::time::Instant::now();
    let r = check_with(def, json!({}), &tasks, &VirtualClock::default());
    assert_eq!(r.output, Some(json!("ok")));
    assert_eq!(r.elapsed_seconds, 2 + 6);
    assert_eq!(
        tasks.calls.borrow().iter().map(|c| c.2).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(wall.elapsed().as_secs() < 2);
}

#[test]
fn max_delay_caps_the_backoff_interval() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 10, "MaxDelaySeconds": 15, "MaxAttempts": 3}], "End": true}}});
    let tasks = Scripted::new(vec![
        failed("X"),
        failed("X"),
        failed("X"),
        TaskOutcome::Succeeded(json!(1)),
    ]);
    let r = check_with(def, json!({}), &tasks, &VirtualClock::default());
    assert_eq!(r.elapsed_seconds, 10 + 15 + 15);
}

#[test]
fn max_attempts_zero_never_retries_and_catch_writes_the_error_at_its_result_path() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
              "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 0}],
              "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let tasks = Scripted::new(vec![failed("Boom")]);
    let r = check_with(def, json!({"in": 1}), &tasks, &VirtualClock::default());
    assert_eq!(tasks.calls.borrow().len(), 1);
    assert_eq!(
        r.output,
        Some(json!({"in": 1, "error": {"Error": "Boom", "Cause": "Boom happened"}}))
    );
}

#[test]
fn an_exhausted_retrier_does_not_fall_through_to_a_later_one() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}], "End": true}}});
    let tasks = Scripted::new(vec![failed("Boom"), failed("Boom"), failed("Boom")]);
    let r = check_with(def, json!({}), &tasks, &VirtualClock::default());
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("Boom"));
    assert_eq!(tasks.calls.borrow().len(), 2);
}

#[test]
fn states_all_does_not_catch_a_runtime_error() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "Parameters": {"x.$": "$.missing"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let r = check(def, json!({}));
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(r.cause.as_deref().unwrap_or("").contains("The JSONPath '$.missing' specified for the field 'x.$' could not be found in the input '{}'"), "{:?}", r.cause);
}

#[test]
fn a_task_that_outlives_its_timeout_fails_with_states_timeout() {
    let clock = std::sync::Arc::new(VirtualClock::default());
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "TimeoutSeconds": 5,
        "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}], "End": true}, "Late": {"Type": "Pass", "Result": "late", "End": true}}});
    let mut tasks = Scripted::new(vec![TaskOutcome::Succeeded(json!(1))]);
    tasks.advance_seconds = 6.0;
    tasks.clock = Some(clock.clone());
    let r = check_with(def, json!({}), &tasks, &clock);
    assert_eq!(r.output, Some(json!("late")));
    assert!(event_types(&r.history).contains(&"TaskTimedOut".to_string()));
}

#[test]
fn a_missed_heartbeat_is_catchable_as_heartbeat_timeout() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "HeartbeatSeconds": 5,
        "Parameters": {"token.$": "$$.Task.Token"},
        "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "NoBeat"}], "End": true}, "NoBeat": {"Type": "Pass", "End": true}}});
    let tasks = Scripted::new(vec![TaskOutcome::HeartbeatTimedOut]);
    let r = check_with(def, json!({}), &tasks, &VirtualClock::default());
    assert_eq!(r.output, Some(json!({"Error": "States.HeartbeatTimeout"})));
}

#[test]
fn the_machine_timeout_ends_a_long_wait_as_timed_out_without_sleeping() {
    let def = json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let wall = std::time::Instant::now();
    let r = check(def, json!({}));
    assert_eq!(r.status, ExecutionStatus::TimedOut);
    assert_eq!(r.elapsed_seconds, 5);
    assert_eq!(
        event_types(&r.history).last().map(String::as_str),
        Some("ExecutionTimedOut")
    );
    assert!(wall.elapsed().as_secs() < 2);
}

#[test]
fn wait_timestamp_path_waits_until_that_instant() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.at", "End": true}}});
    let r = check(def, json!({"at": "2024-01-01T00:10:00Z"}));
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.elapsed_seconds, 600);
}

#[test]
fn a_state_output_over_256_kib_fails_with_data_limit_exceeded() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.big", "b.$": "$.big"}, "End": true}}});
    let r = check(def, json!({"big": "x".repeat(140 * 1024)}));
    assert_eq!(r.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[test]
fn variables_assigned_inside_a_map_iteration_do_not_leak_out() {
    let def = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "In", "States": {
            "In": {"Type": "Pass", "Assign": {"inner.$": "$x"}, "Parameters": {"seen.$": "$x"}, "End": true}}}, "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"x.$": "$x", "map.$": "$"}, "End": true}}});
    let r = check(def, json!({"items": [1, 2]}));
    assert_eq!(
        r.output,
        Some(json!({"x": 1, "map": [{"seen": 1}, {"seen": 1}]}))
    );
    let def_leak = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "In", "States": {"In": {"Type": "Pass", "Assign": {"inner": 1}, "End": true}}}, "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"v.$": "$inner"}, "End": true}}});
    assert_eq!(
        check(def_leak, json!({"items": [1]})).error.as_deref(),
        Some("States.Runtime")
    );
}

#[test]
fn a_failing_map_iteration_fails_the_map_and_its_catch_sees_the_error() {
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$", "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ItemBad", "Cause": "bad item"}}},
              "Catch": [{"ErrorEquals": ["ItemBad"], "Next": "C"}], "End": true},
        "C": {"Type": "Pass", "End": true}}});
    let r = check(def, json!([1, 2, 3]));
    assert_eq!(
        r.output,
        Some(json!({"Error": "ItemBad", "Cause": "bad item"}))
    );
    let types = event_types(&r.history);
    assert!(
        types.contains(&"MapIterationFailed".to_string())
            && types.contains(&"MapStateFailed".to_string()),
        "{types:?}"
    );
}

#[test]
fn tolerated_failures_let_a_map_succeed_until_the_threshold() {
    let map = |tolerated: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": tolerated, "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "F"}], "Default": "P"},
            "F": {"Type": "Fail", "Error": "Zero"}, "P": {"Type": "Pass", "End": true}}}, "End": true}}})
    };
    assert_eq!(
        check(map(1), json!([1, 0, 2])).status,
        ExecutionStatus::Succeeded
    );
    assert_eq!(
        check(map(0), json!([1, 0, 2])).error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[test]
fn parallel_branches_keep_their_positions_and_a_failing_branch_fails_the_state() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}], "End": true}}});
    assert_eq!(check(def, json!({})).output, Some(json!(["a", "b"])));
    let failing = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Fail", "Error": "BranchBroke"}}}], "End": true}}});
    assert_eq!(
        check(failing, json!({})).error.as_deref(),
        Some("BranchBroke")
    );
}

#[test]
fn no_matching_choice_without_default_fails_with_no_choice_matched() {
    let def = json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": true, "Next": "S"}]}, "S": {"Type": "Succeed"}}});
    assert_eq!(
        check(def, json!({"a": false})).error.as_deref(),
        Some("States.NoChoiceMatched")
    );
}

#[test]
fn an_execution_resumes_from_a_json_snapshot_and_redispatches_an_unfinished_task() {
    let def = json!({"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Assign": {"who": "resumed"}, "Result": {"n": 1}, "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "ResultPath": "$.r", "Next": "End"},
        "End": {"Type": "Pass", "Parameters": {"r.$": "$.r", "who.$": "$who"}, "End": true}}});
    let machine = parse_definition(&def, ValidationOptions::default()).expect("valid");
    let clock = VirtualClock::default();
    let mut exec =
        Execution::start(&machine, json!({}), ExecutionConfig::default(), &clock).expect("starts");
    assert!(exec.step(&clock, &NoTasks).is_none());
    let saved = serde_json::to_string(exec.snapshot()).expect("serializes");
    // The process "dies" while the Task runs: that attempt's work is lost with it.
    let lost = Scripted::new(vec![]);
    let _ = exec.step(&clock, &lost);
    drop(exec);

    let snapshot: ExecutionSnapshot = serde_json::from_str(&saved).expect("deserializes");
    let mut resumed = Execution::resume(&machine, snapshot).expect("resumes");
    let tasks = Scripted::new(vec![TaskOutcome::Succeeded(json!("done"))]);
    let o = resumed.run(&clock, &tasks);
    assert_eq!(o.output, Some(json!({"r": "done", "who": "resumed"})));
    assert_eq!(
        tasks.calls.borrow().len(),
        1,
        "the Task scheduled before the crash runs again"
    );
    let types = event_types(&resumed.history().to_aws_json());
    assert_eq!(types.iter().filter(|t| *t == "ExecutionStarted").count(), 1);
    assert_eq!(types.iter().filter(|t| *t == "TaskScheduled").count(), 1);
}

fn diagnostics(def: Value) -> Vec<(String, String, String)> {
    validate(&def, ValidationOptions::default())
        .into_iter()
        .map(|d| (d.code, d.location.unwrap_or_default(), d.message))
        .collect()
}

#[test]
fn validation_names_the_location_of_a_missing_transition_target() {
    let d =
        diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}));
    assert_eq!(
        d,
        vec![(
            "MISSING_TRANSITION_TARGET".into(),
            "/States/A/Next".into(),
            "Missing 'Next' target: Nowhere".into()
        )]
    );
}

#[test]
fn validation_reports_unreachable_states_and_missing_end() {
    let d = diagnostics(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}}),
    );
    assert_eq!(d[0].0, "UNREACHABLE_STATE");
    assert_eq!(d[0].1, "/States/B");
    let d = diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}));
    assert_eq!(d[0].0, "MISSING_TRANSITION_TARGET");
    assert_eq!(d[0].1, "/States/A");
}

#[test]
fn validation_rejects_fields_illegal_for_the_state_type_and_bad_paths() {
    let d = diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Retry": []}}}));
    assert_eq!(
        d,
        vec![(
            "SCHEMA_VALIDATION_FAILED".into(),
            "/States/A/Retry".into(),
            "Field 'Retry' is not supported".into()
        )]
    );
    let d = diagnostics(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.a[", "End": true}}}),
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, "/States/A/InputPath");
    let d = diagnostics(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Nope(1)"}, "End": true}}}),
    );
    assert_eq!(d[0].1, "/States/A/Parameters/x.$");
    let d = diagnostics(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": "ten", "End": true}}}),
    );
    assert_eq!(d[0].1, "/States/A/Seconds");
}

#[test]
fn validation_rejects_a_choice_rule_without_a_comparison() {
    let d = diagnostics(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "S"}]}, "S": {"Type": "Succeed"}}}),
    );
    assert!(!d.is_empty());
    assert!(d[0].1.starts_with("/States/C/Choices/0"), "{d:?}");
}

/// Compares `actual` with a golden JSON file under `testdata/golden/`; `UPDATE_EXPECT=1` rewrites it.
fn golden(name: &str, actual: &Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/golden")
        .join(name);
    let text = serde_json::to_string_pretty(actual).expect("serializes") + "\n";
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("create golden dir");
        std::fs::write(&path, text).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with UPDATE_EXPECT=1", path.display()));
    assert_eq!(
        text,
        expected,
        "golden file {} differs; rerun with UPDATE_EXPECT=1 if the change is intended",
        path.display()
    );
}

#[test]
fn the_history_of_a_short_loop_reads_like_get_execution_history() {
    let r = check(counting_loop(2), json!({"count": 0}));
    golden("counting_loop_history.json", &r.history);
}

#[test]
fn the_history_of_a_caught_task_failure_and_a_map_reads_like_get_execution_history() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"},
              "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "M"}], "End": true},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "ResultPath": "$.mapped", "End": true}}});
    let tasks = Scripted::new(vec![
        failed("Lambda.TooManyRequestsException"),
        failed("HandlerError"),
    ]);
    let r = check_with(
        def,
        json!({"items": ["a", "b"]}),
        &tasks,
        &VirtualClock::default(),
    );
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    golden("caught_task_and_map_history.json", &r.history);
}

mod test_state {
    use serde_json::json;
    use stepscore_asl::test_state::{
        InspectionLevel, Mock, TestStateRequest, TestStatus, test_state,
    };

    fn task_with(retry_and_catch: serde_json::Value) -> serde_json::Value {
        let mut def = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "Next": "After"});
        for (k, v) in retry_and_catch.as_object().expect("object") {
            def[k] = v.clone();
        }
        def
    }

    fn request(definition: serde_json::Value, mock: Mock) -> TestStateRequest {
        TestStateRequest {
            definition,
            input: json!({"in": 1}),
            inspection_level: InspectionLevel::Debug,
            mock: Some(mock),
            ..TestStateRequest::default()
        }
    }

    #[test]
    fn a_mocked_task_result_flows_through_result_selector_and_result_path() {
        let def = task_with(json!({"ResultSelector": {"v.$": "$.Payload"}, "ResultPath": "$.out"}));
        let r = test_state(&request(def, Mock::Result(json!({"Payload": 7})))).expect("runs");
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.output, Some(json!({"in": 1, "out": {"v": 7}})));
        assert_eq!(r.next_state.as_deref(), Some("After"));
        let insp = r.inspection_data.expect("debug level inspects");
        assert_eq!(insp["afterParameters"], json!({"FunctionName": "f"}));
        assert_eq!(insp["result"], json!({"Payload": 7}));
        assert_eq!(insp["afterResultSelector"], json!({"v": 7}));
    }

    #[test]
    fn a_mocked_error_that_a_retrier_matches_is_retriable() {
        let def = task_with(json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2}]}));
        let r = test_state(&request(
            def,
            Mock::Error {
                error: "Boom".into(),
                cause: Some("c".into()),
            },
        ))
        .expect("runs");
        assert_eq!(r.status, TestStatus::Retriable);
        assert_eq!(r.error.as_deref(), Some("Boom"));
    }

    #[test]
    fn a_mocked_error_that_a_catcher_matches_is_caught_and_goes_to_its_next() {
        let def = task_with(
            json!({"Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "Recover"}]}),
        );
        let r = test_state(&request(
            def,
            Mock::Error {
                error: "Boom".into(),
                cause: None,
            },
        ))
        .expect("runs");
        assert_eq!(r.status, TestStatus::CaughtError);
        assert_eq!(r.next_state.as_deref(), Some("Recover"));
        assert_eq!(r.output, Some(json!({"in": 1, "err": {"Error": "Boom"}})));
    }

    #[test]
    fn a_state_is_found_by_name_inside_a_map_processor() {
        let machine = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "Inner", "States": {
            "Inner": {"Type": "Pass", "Parameters": {"x.$": "$.in"}, "End": true}}}, "End": true}}});
        let req = TestStateRequest {
            definition: machine,
            state_name: Some("Inner".into()),
            input: json!({"in": 3}),
            ..TestStateRequest::default()
        };
        let r = test_state(&req).expect("runs");
        assert_eq!(r.output, Some(json!({"x": 3})));
        assert!(
            r.inspection_data.is_none(),
            "INFO level has no inspection data"
        );
    }
}
