//! The scoring state machine: valid ASL, placeholders match the contract, polling stays cheap, and
//! it runs end to end in the embedded interpreter with the real handlers over in-memory ports.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use stepscore_asl::{
    Clock as AslClock, ExecutionConfig, ExecutionStatus, TaskDispatcher, TaskOutcome, TaskRequest,
    VirtualClock,
};
use stepscore_core::manifest::manifest_name;
use stepscore_core::{JobId, JobStatus};
use stepscore_handlers::{HandlerError, STATE_MACHINE_JSON, next_wait};

use crate::fakes::*;

fn placeholders_in(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\$\{([A-Za-z0-9_]+)\}").unwrap();
    re.captures_iter(text).map(|c| c[1].to_owned()).collect()
}

fn contract() -> Value {
    serde_json::from_str(stepscore_handlers::LAMBDA_FUNCTIONS_JSON).unwrap()
}

/// The definition with every placeholder filled as Terraform's templatefile would.
fn rendered() -> Value {
    let mut text = STATE_MACHINE_JSON.to_owned();
    for name in placeholders_in(STATE_MACHINE_JSON) {
        let value = match name.strip_suffix("_function_arn") {
            Some(f) => format!("arn:aws:lambda:eu-west-1:123456789012:function:stepscore-{f}"),
            None if name == "partition" => "aws".to_owned(),
            None => format!("stepscore-{}", name.replace('_', "-")),
        };
        text = text.replace(&format!("${{{name}}}"), &value);
    }
    serde_json::from_str(&text).unwrap()
}

#[test]
fn placeholders_are_exactly_the_contracts() {
    let contract: BTreeSet<String> = contract()["state_machine_placeholders"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(placeholders_in(STATE_MACHINE_JSON), contract);
    // only inside JSON strings: the file is valid JSON before substitution
    serde_json::from_str::<Value>(STATE_MACHINE_JSON).unwrap();
}

#[test]
fn the_definition_validates() {
    let diagnostics =
        stepscore_asl::validate(&rendered(), stepscore_asl::ValidationOptions::default());
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

#[test]
fn every_task_retries_transient_errors_and_catches_the_rest() {
    let def = rendered();
    for (name, state) in def["States"].as_object().unwrap() {
        if state["Type"] != "Task" {
            continue;
        }
        if name == "ContinueAsNew" {
            // Step Functions' own StartExecution: it retries the service's errors and catches
            assert_eq!(state["Resource"], "arn:aws:states:::states:startExecution");
            assert!(
                state["Retry"][0]["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("StepFunctions.ExecutionLimitExceededException"))
            );
            assert_eq!(state["Catch"][0]["ErrorEquals"], json!(["States.ALL"]));
            continue;
        }
        assert_eq!(
            state["Resource"], "arn:aws:states:::lambda:invoke",
            "{name}"
        );
        let retried: Vec<&str> = state["Retry"][0]["ErrorEquals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for e in [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "stepscore.Transient",
        ] {
            assert!(retried.contains(&e), "{name} does not retry {e}");
        }
        assert_eq!(state["Retry"][0]["JitterStrategy"], "FULL", "{name}");
        // a Lambda timeout is transient too: every handler is idempotent
        assert_eq!(
            state["Retry"][1]["ErrorEquals"],
            json!(["Sandbox.Timedout", "Lambda.Unknown"]),
            "{name}"
        );
        assert_eq!(
            state["Catch"][0]["ErrorEquals"],
            json!(["States.ALL"]),
            "{name}"
        );
    }
}

/// History events one poll costs: Wait (entered, exited), CheckStatus (entered, scheduled,
/// started, succeeded, exited), Choice (entered, exited) — measured in the end-to-end runs below.
const EVENTS_PER_POLL: u64 = 9;

/// Checks needed to see a job of `seconds` end, starting at `initial`.
fn checks_for(seconds: u64, initial: u32) -> u64 {
    let (mut waited, mut checks) = (0u64, 0u32);
    while waited < seconds {
        waited += u64::from(next_wait(initial, checks));
        checks += 1;
    }
    u64::from(checks)
}

#[test]
fn polling_a_day_long_job_stays_under_a_tenth_of_the_history_limit() {
    let checks = checks_for(24 * 3600, 30);
    assert!(
        checks * EVENTS_PER_POLL < 2_500,
        "{checks} checks cost {} events",
        checks * EVENTS_PER_POLL
    );
}

#[test]
fn polling_a_five_minute_job_costs_at_most_fifteen_transitions() {
    // each poll is three state transitions: Wait, CheckStatus, Choice
    let checks = checks_for(300, 30);
    assert!(checks * 3 <= 15, "{checks} checks");
    assert_eq!(
        (next_wait(30, 0), next_wait(30, 1), next_wait(30, 50)),
        (30, 45, 360)
    );
}

/// Runs the Lambda tasks by calling the handler functions in process.
struct Handlers<'a>(&'a World);

impl TaskDispatcher for Handlers<'_> {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn AslClock) -> TaskOutcome {
        let w = self.0;
        let function = request.input["FunctionName"]
            .as_str()
            .unwrap_or_default()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let payload = &request.input["Payload"];
        let result: Result<Value, HandlerError> = block_on(async {
            let to_json = |v: &dyn erased::Ser| v.json();
            Ok(match function.as_str() {
                "stepscore-register" => {
                    to_json(&stepscore_handlers::register(&w.table, &w.clock, payload).await?)
                }
                "stepscore-submit" => to_json(
                    &stepscore_handlers::submit(&w.batch, &w.table, &w.clock, payload).await?,
                ),
                "stepscore-check" => to_json(
                    &stepscore_handlers::check(&w.batch, &w.store, &w.table, &w.clock, payload)
                        .await?,
                ),
                "stepscore-finalize" => to_json(
                    &stepscore_handlers::finalize(&w.store, &w.table, &w.events, &w.clock, payload)
                        .await?,
                ),
                other => panic!("the state machine invokes an unknown function {other}"),
            })
        });
        match result {
            Ok(v) => TaskOutcome::Succeeded(stepscore_asl::env::lambda_invoke_result(v)),
            Err(e) => TaskOutcome::Failed {
                error: e.error_type().to_owned(),
                cause: Some(
                    json!({"errorType": e.error_type(), "errorMessage": e.to_string()}).to_string(),
                ),
            },
        }
    }
}

/// Runs the handlers, but the first `times` invocations of `function` time out as Lambda reports
/// it to Step Functions.
struct TimingOut<'a> {
    handlers: Handlers<'a>,
    function: &'static str,
    times: std::sync::atomic::AtomicU32,
}

impl TaskDispatcher for TimingOut<'_> {
    fn dispatch(&self, request: &TaskRequest<'_>, clock: &dyn AslClock) -> TaskOutcome {
        use std::sync::atomic::Ordering;
        let name = request.input["FunctionName"].as_str().unwrap_or_default();
        if name.ends_with(self.function)
            && self
                .times
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return TaskOutcome::Failed {
                error: "Sandbox.Timedout".into(),
                cause: Some(
                    json!({"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: 5d1f Error: Task timed out after 30.00 seconds"})
                        .to_string(),
                ),
            };
        }
        self.handlers.dispatch(request, clock)
    }
}

/// The handlers, with `states:startExecution` (ContinueAsNew) recorded as the next execution to
/// run, as Step Functions would start it.
struct Continuing<'a> {
    handlers: Handlers<'a>,
    started: std::sync::Mutex<Vec<(String, Value)>>,
}

impl TaskDispatcher for Continuing<'_> {
    fn dispatch(&self, request: &TaskRequest<'_>, clock: &dyn AslClock) -> TaskOutcome {
        if request.resource != "arn:aws:states:::states:startExecution" {
            return self.handlers.dispatch(request, clock);
        }
        assert_eq!(
            request.input["StateMachineArn"],
            "arn:aws:states:us-east-1:111111111111:stateMachine:stepscore-scoring"
        );
        let name = request.input["Name"].as_str().unwrap().to_owned();
        self.started
            .lock()
            .unwrap()
            .push((name.clone(), request.input["Input"].clone()));
        TaskOutcome::Succeeded(json!({
            "ExecutionArn": format!("arn:aws:states:us-east-1:111111111111:execution:stepscore-scoring:{name}"),
            "StartDate": clock.now().to_rfc3339(),
        }))
    }
}

mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

const JOB: &str = "daily-0123456789abcdef";

fn run(w: &World) -> stepscore_asl::RunResult {
    run_with(&Handlers(w))
}

/// Runs the pipeline's execution of the daily config, its tasks sent to `dispatcher`.
fn run_with(dispatcher: &dyn TaskDispatcher) -> stepscore_asl::RunResult {
    let input = json!({"job_id": JOB, "config": fixture_json("config-daily.json"), "source": "s3://acme-scoring/jobs/daily.json"});
    let clock = VirtualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 20, 0, 0).unwrap());
    let config = ExecutionConfig {
        execution_name: JOB.into(),
        state_machine_name: "stepscore-scoring".into(),
        ..ExecutionConfig::default()
    };
    stepscore_asl::run(&rendered(), input, config, &clock, dispatcher).unwrap()
}

fn with_manifests(w: &World) {
    let output =
        stepscore_core::ObjectUri::parse("s3://acme-scoring/output/daily-churn/2026-11-23/")
            .unwrap();
    for i in 0..3u32 {
        let m = json!({
            "version": 1, "job_id": JOB, "shard_index": i, "shard_count": 3,
            "rows_read": 1000, "rows_scored": 990, "rows_rejected": 10, "duration_seconds": 12.5,
            "model": {"uri": "s3://acme-scoring/models/churn.model", "algorithm": "random-forest-classifier", "format_version": 1},
            "inputs": [], "output": output.join(&format!("part-{i}.csv")).to_string(), "rejects": null
        });
        w.store.put(
            &output.join(&manifest_name(i)).to_string(),
            serde_json::to_vec(&m).unwrap(),
        );
    }
}

fn event_types(r: &stepscore_asl::RunResult) -> Vec<String> {
    r.history
        .events
        .iter()
        .map(|e| e.kind.to_string())
        .collect()
}

#[test]
fn a_job_that_scores_ends_succeeded_with_summed_metrics() {
    let w = World::with_data();
    with_manifests(&w);
    w.batch.scripts.lock().unwrap().push_back(vec![
        view("RUNNABLE"),
        view("RUNNING"),
        view("SUCCEEDED"),
    ]);
    let r = run(&w);
    assert_eq!(
        r.outcome.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        r.outcome
    );
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert_eq!(rec.status, JobStatus::Succeeded);
    assert_eq!(rec.metrics.unwrap().rows_scored, 2970);
    assert_eq!(
        event_types(&r)
            .iter()
            .filter(|t| *t == "WaitStateEntered")
            .count(),
        3
    );
}

#[test]
fn a_finalize_that_times_out_is_run_again_and_the_job_succeeds() {
    let w = World::with_data();
    with_manifests(&w);
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING"), view("SUCCEEDED")]);
    let dispatcher = TimingOut {
        handlers: Handlers(&w),
        function: "stepscore-finalize",
        times: 2.into(),
    };
    let r = run_with(&dispatcher);
    assert_eq!(
        r.outcome.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        r.outcome
    );
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert_eq!(rec.status, JobStatus::Succeeded);
}

#[test]
fn each_poll_costs_the_history_events_the_limit_test_assumes() {
    let events_with = |running: usize| {
        let w = World::with_data();
        with_manifests(&w);
        let mut script = vec![view("RUNNING"); running];
        script.push(view("SUCCEEDED"));
        w.batch.scripts.lock().unwrap().push_back(script);
        let r = run(&w);
        assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
        r.history.events.len() as u64
    };
    assert_eq!(events_with(5) - events_with(2), 3 * EVENTS_PER_POLL);
}

#[test]
fn a_spot_reclaim_falls_back_to_on_demand_and_succeeds() {
    let w = World::with_data();
    with_manifests(&w);
    let mut reclaimed = view("FAILED");
    reclaimed.status_reason = Some("Host EC2 (instance i-0abc1234) terminated.".into());
    w.batch.scripts.lock().unwrap().extend([
        vec![view("RUNNING"), reclaimed],
        vec![view("RUNNING"), view("SUCCEEDED")],
    ]);
    let r = run(&w);
    assert_eq!(
        r.outcome.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        r.outcome
    );
    let queues: Vec<String> = w
        .batch
        .submitted
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.job_queue.clone())
        .collect();
    assert_eq!(
        queues,
        ["stepscore-spot-job-queue", "stepscore-on-demand-job-queue"]
    );
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert_eq!(
        (rec.status, rec.attempt, rec.attempts.len()),
        (JobStatus::Succeeded, 2, 2)
    );
}

#[test]
fn a_scorer_failure_ends_failed_with_the_reason_recorded() {
    let w = World::with_data();
    let mut failed = view("FAILED");
    failed.status_reason = Some("Essential container in task exited".into());
    failed.exit_code = Some(65);
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING"), failed]);
    let r = run(&w);
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert_eq!(r.outcome.error.as_deref(), Some("stepscore.JobFailed"));
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert_eq!(rec.status, JobStatus::Failed);
    assert_eq!(
        rec.failure_reason.as_deref(),
        Some(
            "Batch job batch-1 FAILED: Essential container in task exited: exit code 65 (bad data or model artifact)"
        )
    );
    assert_eq!(
        w.batch.submitted.lock().unwrap().len(),
        1,
        "a scorer failure is not resubmitted"
    );
}

#[test]
fn a_missing_manifest_ends_the_execution_failed() {
    let w = World::with_data();
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("SUCCEEDED")]);
    let r = run(&w);
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert!(
        rec.failure_reason
            .unwrap()
            .contains("manifest-0.json is missing")
    );
}

#[test]
fn a_fourteen_day_job_continues_in_new_executions_each_far_below_the_history_limit() {
    let w = World::with_data();
    with_manifests(&w);
    let days = 14;
    let checks = checks_for(days * 24 * 3600, 30);
    let mut script = vec![view("RUNNING"); checks as usize - 1];
    script.push(view("SUCCEEDED"));
    w.batch.scripts.lock().unwrap().push_back(script);
    let dispatcher = Continuing {
        handlers: Handlers(&w),
        started: Default::default(),
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 20, 0, 0).unwrap();
    let clock = VirtualClock::new(start);
    let mut name = JOB.to_owned();
    let mut input = json!({"job_id": JOB, "config": fixture_json("config-daily.json"), "source": "s3://acme-scoring/jobs/daily.json"});
    let mut events = Vec::new();
    loop {
        let config = ExecutionConfig {
            execution_name: name.clone(),
            state_machine_name: "stepscore-scoring".into(),
            ..ExecutionConfig::default()
        };
        let r = stepscore_asl::run(&rendered(), input, config, &clock, &dispatcher).unwrap();
        assert_eq!(
            r.outcome.status,
            ExecutionStatus::Succeeded,
            "{name}: {:?}",
            r.outcome
        );
        events.push((name.clone(), r.history.events.len()));
        eprintln!("{name}: {} history events", r.history.events.len());
        let Some(next) = dispatcher.started.lock().unwrap().pop() else {
            break;
        };
        (name, input) = next;
    }
    // 14 days at the 360 s cap is about 3,370 checks: four executions of at most 1,000 checks
    assert_eq!(
        events.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            JOB.to_owned(),
            format!("{JOB}-c2"),
            format!("{JOB}-c3"),
            format!("{JOB}-c4")
        ]
    );
    for (name, count) in &events {
        assert!(
            *count < 10_000,
            "execution {name} recorded {count} history events; AWS fails an execution at 25,000"
        );
    }
    assert!(clock.now() - start >= chrono::Duration::days(days as i64));
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert_eq!(rec.status, JobStatus::Succeeded);
    assert_eq!(
        (rec.attempt, w.batch.submitted.lock().unwrap().len()),
        (1, 1),
        "a continued execution polls the same Batch job: nothing is submitted again"
    );
}
