//! JSONata states as AWS defines them: the query language chosen per machine and per state,
//! `{% … %}` templates in every field that takes one, `$states`, variables, the functions AWS
//! adds, `States.QueryEvaluationError`, and the fields each query language refuses.

use std::cell::RefCell;

use serde_json::{Value, json};
use stepscore_asl::{
    Clock, Execution, ExecutionConfig, ExecutionStatus, NoTasks, TaskDispatcher, TaskOutcome,
    TaskRequest, ValidationOptions, VirtualClock, parse_definition, validate,
};

/// Answers every Task with `{"echo": <its input>}` (or fails it with `error`), recording each
/// request's input and timeouts.
#[derive(Default)]
struct Echo {
    error: Option<&'static str>,
    calls: RefCell<Vec<Call>>,
}

/// A Task request as [`Echo`] saw it: input, `TimeoutSeconds`, `HeartbeatSeconds`.
type Call = (Value, Option<u64>, Option<u64>);

impl TaskDispatcher for Echo {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        self.calls.borrow_mut().push((
            request.input.clone(),
            request.timeout_seconds,
            request.heartbeat_seconds,
        ));
        match self.error {
            Some(e) => TaskOutcome::Failed {
                error: e.into(),
                cause: Some("it broke".into()),
            },
            None => TaskOutcome::Succeeded(json!({"echo": request.input})),
        }
    }
}

struct Run {
    status: ExecutionStatus,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
}

fn run_with(definition: Value, input: Value, tasks: &dyn TaskDispatcher) -> Run {
    let machine = parse_definition(&definition, ValidationOptions::default())
        .unwrap_or_else(|d| panic!("invalid: {d:?}"));
    let clock = VirtualClock::default();
    let mut exec =
        Execution::start(&machine, input, ExecutionConfig::default(), &clock).expect("starts");
    let o = exec.run(&clock, tasks);
    Run {
        status: o.status,
        output: o.output,
        error: o.error,
        cause: o.cause,
    }
}

fn run(definition: Value, input: Value) -> Run {
    run_with(definition, input, &NoTasks)
}

/// The output of a one-state JSONata machine whose Pass state outputs `output`.
fn output_of(output: Value, input: Value) -> Value {
    let r = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": output, "End": true}}}),
        input,
    );
    r.output
        .unwrap_or_else(|| panic!("failed: {:?} {:?}", r.error, r.cause))
}

/// The cause of a one-state JSONata machine whose Pass state outputs `output`, which must fail
/// with `States.QueryEvaluationError`.
fn query_error_of(output: Value) -> String {
    let r = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": output, "End": true}}}),
        json!({}),
    );
    assert_eq!(r.error.as_deref(), Some("States.QueryEvaluationError"));
    r.cause.expect("a cause")
}

fn diagnostics(def: Value) -> Vec<(String, String)> {
    validate(&def, ValidationOptions::default())
        .into_iter()
        .map(|d| (d.location.unwrap_or_default(), d.message))
        .collect()
}

#[test]
fn a_jsonpath_machine_runs_jsonata_states_and_they_share_variables_both_ways() {
    let def = json!({"StartAt": "Path", "States": {
        "Path": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Assign": {"fromPath.$": "$.n"}, "Next": "Ata"},
        "Ata": {"QueryLanguage": "JSONata", "Type": "Pass",
                "Output": {"n": "{% $states.input.n * 10 %}", "seen": "{% $fromPath %}"},
                "Assign": {"fromAta": "{% $fromPath + 1 %}"}, "Next": "Back"},
        "Back": {"Type": "Pass", "Parameters": {"n.$": "$.n", "fromAta.$": "$fromAta"}, "End": true}}});
    let r = run(def, json!({"n": 4}));
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.output, Some(json!({"n": 40, "fromAta": 5})));
}

#[test]
fn a_jsonata_machine_may_hold_jsonata_states_only_but_a_jsonpath_map_may_process_in_jsonata() {
    let d = diagnostics(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": true}}}),
    );
    assert_eq!(
        d,
        vec![(
            "/States/P".into(),
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
                .into()
        )]
    );
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"QueryLanguage": "JSONata", "StartAt": "Double", "States": {
            "Double": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": true}}},
        "End": true}}});
    assert_eq!(
        run(def, json!({"items": [1, 2, 3]})).output,
        Some(json!([2, 4, 6]))
    );
}

#[test]
fn templates_are_evaluated_anywhere_in_output_and_other_strings_stay_literal() {
    let out = output_of(
        json!({"sum": "{% $sum($states.input.xs) %}", "list": [1, "{% 'two' %}", {"deep": "{% $count($states.input.xs) %}"}],
               "literal": " {% not a template %} ", "path": "$.xs", "plain": "text"}),
        json!({"xs": [1, 2, 3]}),
    );
    assert_eq!(
        out,
        json!({"sum": 6, "list": [1, "two", {"deep": 3}], "literal": " {% not a template %} ", "path": "$.xs", "plain": "text"})
    );
}

#[test]
fn a_task_gets_its_arguments_and_its_output_sees_the_result_and_the_input() {
    let echo = Echo::default();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Arguments": {"id": "{% $states.input.id %}", "fixed": 1},
        "TimeoutSeconds": "{% $states.input.timeout %}", "HeartbeatSeconds": "{% 5 %}",
        "Output": {"result": "{% $states.result.echo %}", "input": "{% $states.input.id %}"},
        "End": true}}});
    let r = run_with(def, json!({"id": "a", "timeout": 30}), &echo);
    assert_eq!(
        r.output,
        Some(json!({"result": {"id": "a", "fixed": 1}, "input": "a"}))
    );
    assert_eq!(
        echo.calls.borrow().as_slice(),
        &[(json!({"id": "a", "fixed": 1}), Some(30), Some(5))]
    );
}

#[test]
fn without_arguments_and_output_a_task_gets_its_input_and_outputs_its_result() {
    let echo = Echo::default();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true}}});
    let r = run_with(def, json!({"a": 1}), &echo);
    assert_eq!(r.output, Some(json!({"echo": {"a": 1}})));
}

#[test]
fn choice_conditions_pick_a_branch_whose_assign_and_output_apply() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"}, "Assign": {"size": "big"}},
                {"Condition": "{% $states.input.n > 0 %}", "Next": "Small"}],
              "Default": "None", "Output": {"size": "state-level"}},
        "Big": {"Type": "Pass", "Output": {"out": "{% $states.input.size %}", "var": "{% $size %}"}, "End": true},
        "Small": {"Type": "Succeed"},
        "None": {"Type": "Fail", "Error": "{% 'Nothing.' & $states.input.size %}", "Cause": "no branch"}}});
    assert_eq!(
        run(def.clone(), json!({"n": 11})).output,
        Some(json!({"out": "big", "var": "big"}))
    );
    assert_eq!(
        run(def.clone(), json!({"n": 1})).output,
        Some(json!({"size": "state-level"}))
    );
    let r = run(def, json!({"n": -1}));
    assert_eq!(
        (r.error.as_deref(), r.cause.as_deref()),
        (Some("Nothing.state-level"), Some("no branch"))
    );
}

#[test]
fn a_condition_that_is_not_boolean_is_a_query_evaluation_error() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "D"}]},
        "D": {"Type": "Succeed"}}});
    let r = run(def, json!({"n": 3}));
    assert_eq!(r.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(
        r.cause.as_deref().is_some_and(|c| c.ends_with(
            "The JSONata expression '$states.input.n' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was 'number' for value: 3"
        )),
        "{:?}",
        r.cause
    );
}

#[test]
fn wait_seconds_and_timestamp_come_from_templates() {
    let clock = VirtualClock::default();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": "{% $states.input.s * 2 %}", "Next": "U"},
        "U": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": true}}});
    let machine = parse_definition(&def, ValidationOptions::default()).expect("valid");
    let start = clock.now();
    let until = (start + chrono::Duration::seconds(100)).to_rfc3339();
    let mut exec = Execution::start(
        &machine,
        json!({"s": 5, "until": until}),
        ExecutionConfig::default(),
        &clock,
    )
    .expect("starts");
    let o = exec.run(&clock, &NoTasks);
    assert_eq!(o.status, ExecutionStatus::Succeeded);
    assert_eq!((clock.now() - start).num_seconds(), 100);
}

#[test]
fn a_map_takes_items_item_selector_and_tolerated_failures_from_templates() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
        "Items": "{% $states.input.xs %}",
        "ItemSelector": {"value": "{% $states.context.Map.Item.Value %}", "index": "{% $states.context.Map.Item.Index %}", "k": "{% $states.input.k %}"},
        "MaxConcurrency": "{% 2 %}",
        "ToleratedFailureCount": "{% $states.input.tolerate %}",
        "ItemProcessor": {"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.value < 0 %}", "Next": "Bad"}], "Default": "Ok"},
            "Bad": {"Type": "Fail", "Error": "Negative"},
            "Ok": {"Type": "Pass", "Output": "{% $states.input.value * $states.input.k + $states.input.index %}", "End": true}}},
        "Output": {"results": "{% $states.result %}"},
        "End": true}}});
    let r = run(
        def.clone(),
        json!({"xs": [1, -1, 3], "k": 10, "tolerate": 1}),
    );
    assert_eq!(
        r.output,
        Some(json!({"results": [10, {"Error": "Negative"}, 32]}))
    );
    let r = run(def, json!({"xs": [1, -1, -3], "k": 10, "tolerate": 1}));
    assert_eq!(
        r.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[test]
fn a_parallel_state_gives_its_arguments_to_every_branch() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Parallel",
        "Arguments": "{% $states.input.n %}",
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input + 1 %}", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": true}}}],
        "Output": "{% $sum($states.result) %}", "End": true}}});
    assert_eq!(run(def, json!({"n": 5})).output, Some(json!(16)));
}

#[test]
fn states_context_holds_the_execution_the_state_machine_and_the_state() {
    let out = output_of(
        json!({"execution": "{% $states.context.Execution.Name %}", "input": "{% $states.context.Execution.Input %}",
               "machine": "{% $states.context.StateMachine.Name %}", "state": "{% $states.context.State.Name %}",
               "entered": "{% $states.context.State.EnteredTime %}", "id": "{% $states.context.Execution.Id %}"}),
        json!({"a": 1}),
    );
    let config = ExecutionConfig::default();
    assert_eq!(out["execution"], json!(config.execution_name));
    assert_eq!(out["input"], json!({"a": 1}));
    assert_eq!(out["machine"], json!(config.state_machine_name));
    assert_eq!(out["state"], json!("P"));
    assert_eq!(out["id"], json!(config.execution_arn()));
    assert!(out["entered"].as_str().is_some_and(|t| t.ends_with('Z')));
}

#[test]
fn assign_and_output_see_the_variables_as_they_were_when_the_state_was_entered() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"}, "Output": {"x": "{% $x %}"}, "Next": "C"},
        "C": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}"}, "End": true}}});
    assert_eq!(run(def, json!({})).output, Some(json!({"x": 2, "y": 1})));
}

#[test]
fn random_with_a_seed_gives_javas_number_for_that_seed_every_time() {
    let out = output_of(
        json!({"a": "{% $random(42) %}", "b": "{% $random(42) %}", "c": "{% $random() %}"}),
        json!({}),
    );
    assert_eq!(out["a"], json!(0.7275636800328681));
    assert_eq!(out["a"], out["b"]);
    assert!(out["c"].as_f64().is_some_and(|c| (0.0..1.0).contains(&c)));
}

#[test]
fn hash_gives_the_known_digest_of_each_algorithm() {
    let out = output_of(
        json!({"md5": "{% $hash('hello', 'MD5') %}", "sha1": "{% $hash('hello', 'SHA-1') %}",
               "sha256": "{% $hash('hello', 'SHA-256') %}", "sha384": "{% $hash('hello', 'SHA-384') %}",
               "sha512": "{% $hash('hello', 'SHA-512') %}", "object": "{% $hash({'a': 1}, 'MD5') %}"}),
        json!({}),
    );
    assert_eq!(
        out,
        json!({
            "md5": "5d41402abc4b2a76b9719d911017c592",
            "sha1": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
            "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "sha384": "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f",
            "sha512": "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
            "object": "bb6cb5c68df4652941caf652a366f2d8"
        })
    );
    let cause = query_error_of(json!("{% $hash('hello', 'SHA-3') %}"));
    assert!(
        cause
            .contains("'SHA-3' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
        "{cause}"
    );
}

#[test]
fn partition_range_uuid_and_parse_do_what_aws_documents() {
    let out = output_of(
        json!({"partition": "{% $partition([1, 2, 3, 4, 5], 2) %}", "range": "{% $range(0, 10, 5) %}",
               "uuid": "{% $uuid() %}", "parse": "{% $parse('{\"a\": [1, -0]}') %}"}),
        json!({}),
    );
    assert_eq!(out["partition"], json!([[1, 2], [3, 4], [5]]));
    assert_eq!(out["range"], json!([0, 5, 10]));
    assert_eq!(out["parse"], json!({"a": [1, 0]}));
    let uuid = out["uuid"].as_str().expect("a string");
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.as_bytes()[14], b'4', "version 4: {uuid}");
}

#[test]
fn parse_of_text_that_is_not_json_names_the_expression_and_the_field() {
    let cause = query_error_of(json!({"v": "{% $parse('{oops') %}"}));
    assert!(
        cause.starts_with("An error occurred while executing the state 'P' (entered at the event id #2). The JSONata expression '$parse('{oops')' specified for the field 'Output/v' threw an error during evaluation: $parse: the string \"{oops\" is not valid JSON"),
        "{cause}"
    );
}

#[test]
fn an_undefined_result_and_a_jsonata_error_are_query_evaluation_errors() {
    assert!(query_error_of(json!({"a": ["{% $nothing %}"]})).ends_with(
        "The JSONata expression '$nothing' specified for the field 'Output/a/0' returned nothing (undefined)."
    ));
    let cause = query_error_of(json!("{% 1 + 'x' %}"));
    assert!(
        cause.contains("threw an error during evaluation: T2002"),
        "{cause}"
    );
}

#[test]
fn a_query_evaluation_error_in_a_tasks_arguments_is_caught_by_catch() {
    let echo = Echo::default();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
              "Arguments": {"x": "{% $states.input.missing %}"},
              "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Handled",
                         "Output": {"error": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"},
                         "Assign": {"caught": true}}],
              "End": true},
        "Handled": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "caught": "{% $caught %}"}, "End": true}}});
    let r = run_with(def, json!({"a": 1}), &echo);
    assert_eq!(
        r.output,
        Some(
            json!({"out": {"error": "States.QueryEvaluationError", "input": {"a": 1}}, "caught": true})
        )
    );
    assert!(echo.calls.borrow().is_empty(), "the task never ran");
}

#[test]
fn a_catch_without_output_passes_the_error_output_on() {
    let echo = Echo {
        error: Some("Boom"),
        ..Echo::default()
    };
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "End": true},
        "Done": {"Type": "Succeed"}}});
    let r = run_with(def, json!({}), &echo);
    assert_eq!(
        r.output,
        Some(json!({"Error": "Boom", "Cause": "it broke"}))
    );
}

#[test]
fn jsonpath_fields_are_refused_in_jsonata_states_and_jsonata_fields_in_jsonpath_states() {
    let d = diagnostics(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "InputPath": "$.a", "Parameters": {"b.$": "$"}, "ResultPath": "$.r", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "P"}], "Default": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}),
    );
    let at = |loc: &str| d.iter().find(|(l, _)| l == loc).map(|(_, m)| m.clone());
    assert_eq!(
        at("/States/P/InputPath").as_deref(),
        Some("Field 'InputPath' is not supported")
    );
    assert_eq!(
        at("/States/P/Parameters").as_deref(),
        Some("Field 'Parameters' is not supported")
    );
    assert_eq!(
        at("/States/P/ResultPath").as_deref(),
        Some("Field 'ResultPath' is not supported")
    );
    assert_eq!(
        at("/States/C/Choices/0/Variable").as_deref(),
        Some("Field 'Variable' is not supported")
    );
    assert_eq!(
        at("/States/W/SecondsPath").as_deref(),
        Some("Field 'SecondsPath' is not supported")
    );
    let d = diagnostics(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
              "Arguments": {"a": 1}, "Output": {"b": 2}, "End": true}}}));
    assert_eq!(
        d,
        vec![
            (
                "/States/T/Arguments".into(),
                "Field 'Arguments' is not supported".into()
            ),
            (
                "/States/T/Output".into(),
                "Field 'Output' is not supported".into()
            )
        ]
    );
}

#[test]
fn a_template_that_does_not_parse_is_a_definition_error_at_its_field() {
    let d = diagnostics(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"x": "{% 1 + %}"}, "End": true}}}),
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "/States/P/Output/x");
    assert!(
        d[0].1.starts_with(
            "The JSONata expression '1 +' specified for the field 'Output/x' is not valid: S0"
        ),
        "{d:?}"
    );
}

mod no_template_panics {
    use proptest::prelude::*;
    use serde_json::json;
    use stepscore_asl::{
        Execution, ExecutionConfig, NoTasks, ValidationOptions, VirtualClock, parse_definition,
    };

    /// Pieces of JSONata and of the `$states` AWS binds, in any order.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "$states",
            ".input",
            ".context",
            ".result",
            "$x",
            "$partition(",
            "$range(",
            "$hash(",
            "$random(",
            "$uuid()",
            "$parse(",
            "'{\"a\":1}'",
            "[",
            "]",
            "(",
            ")",
            "{",
            "}",
            ",",
            ":",
            "1",
            "-2",
            "0.5",
            "'s'",
            "+",
            "*",
            "/",
            "&",
            "=",
            "?",
            ";",
            "$eval(",
            "function($v){$v}",
            "~>",
            "..",
            "%",
            "#$i",
            "@$o",
            "$$",
            "null",
            "true",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_template_is_refused_or_evaluated_without_a_panic(
            pieces in prop::collection::vec(piece(), 0..12),
            field in prop::sample::select(vec!["Output", "Items", "Seconds", "Condition"]),
        ) {
            let expr = format!("{{% {} %}}", pieces.concat());
            let state = match field {
                "Items" => json!({"Type": "Map", "Items": expr, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}),
                "Seconds" => json!({"Type": "Wait", "Seconds": expr, "End": true}),
                "Condition" => json!({"Type": "Choice", "Choices": [{"Condition": expr, "Next": "D"}], "Default": "D"}),
                _ => json!({"Type": "Pass", "Output": expr, "End": true}),
            };
            let mut states = json!({"S": state});
            if field == "Condition" {
                states["D"] = json!({"Type": "Succeed"});
            }
            let def = json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": states});
            if let Ok(machine) = parse_definition(&def, ValidationOptions::default()) {
                let clock = VirtualClock::default();
                let mut exec = Execution::start(&machine, json!({"a": [1, 2]}), ExecutionConfig::default(), &clock)
                    .expect("starts");
                let outcome = exec.run(&clock, &NoTasks);
                if let Some(e) = outcome.error {
                    prop_assert!(e.starts_with("States."), "{e}");
                }
            }
        }
    }
}
