//! The runtime: S3 events to admit, executions in the ASL interpreter with in-process
//! functions, the local Batch — and surviving a SIGKILL.

#[path = "../../examples/mini_pipeline/functions.rs"]
#[allow(dead_code)]
mod functions;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::example_process::{Killed, spawn_example};
use serde_json::{Value, json};
use stepscore_core::ObjectUri;

use crate::failing_db::{self, REFUSED};
use stepscore_local::runtime::{fill_placeholders, function_name_for_tests, local_placeholders};
use stepscore_local::{ExecutionState, LocalRuntime};

fn open(dir: &Path, scale: f64) -> LocalRuntime {
    let container = functions::write_container(dir);
    let rt = LocalRuntime::open(functions::config(dir, container, scale)).unwrap();
    functions::register(&rt);
    rt
}

fn config_uri(i: usize) -> ObjectUri {
    ObjectUri::parse(&format!("s3://data-1/jobs/run-{i}.json")).unwrap()
}

fn runs(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

#[test]
fn placeholders_are_filled_with_local_names_and_unknown_ones_refused() {
    let filled = fill_placeholders(
        r#"{"a": "${submit_function_arn}", "q": "${spot_job_queue}"}"#,
        &local_placeholders(),
    )
    .unwrap();
    assert_eq!(
        filled,
        r#"{"a": "arn:aws:lambda:local:000000000000:function:stepscore-submit", "q": "stepscore-spot"}"#
    );
    let err = fill_placeholders(r#"{"a": "${nope}"}"#, &local_placeholders())
        .unwrap_err()
        .to_string();
    assert!(err.contains("'${nope}'"), "{err}");
    assert_eq!(
        function_name_for_tests(
            "arn:aws:lambda:local:000000000000:function:stepscore-check:$LATEST"
        ),
        "stepscore-check"
    );
    assert_eq!(
        function_name_for_tests("stepscore-check"),
        "stepscore-check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_config_runs_through_admit_the_state_machine_and_batch() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 20.0);
    let server = rt.serve().unwrap();
    rt.drop_config(
        &config_uri(1),
        serde_json::to_vec(&json!({"JOB": "one", "SLEEP": "0.2"})).unwrap(),
    )
    .await
    .unwrap();
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    let execs = rt.list_executions(None, 10).unwrap();
    assert_eq!(execs.len(), 1);
    let e = &execs[0];
    assert_eq!(e.status, ExecutionState::Succeeded, "{e:?}");
    assert!(e.name.starts_with("run-1-"));
    assert_eq!(
        e.execution_arn,
        format!(
            "arn:aws:states:local:000000000000:execution:stepscore-scoring-pipeline:{}",
            e.name
        )
    );
    // history is in GetExecutionHistory's shape and shows the Lambda tasks
    let h = rt.history(&e.name).unwrap().unwrap();
    let kinds: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| ev["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    assert!(
        kinds.contains(&"LambdaFunctionSucceeded") || kinds.contains(&"TaskSucceeded"),
        "{kinds:?}"
    );
    assert_eq!(runs(d.path()).iter().filter(|r| r[0] == "end").count(), 1);
    // watching a finished execution replays its whole history once
    let mut watched = Vec::new();
    let w = rt
        .watch(&e.name, Duration::from_secs(5), |ev| {
            watched.push(ev["id"].as_u64().unwrap())
        })
        .await
        .unwrap();
    assert_eq!(w.status, ExecutionState::Succeeded);
    assert_eq!(watched, (1..=kinds.len() as u64).collect::<Vec<_>>());
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_s3_event_delivered_twice_starts_one_execution() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 20.0);
    rt.drop_config(
        &config_uri(1),
        serde_json::to_vec(&json!({"JOB": "dup"})).unwrap(),
    )
    .await
    .unwrap();
    // S3 delivers at least once: duplicate the notification
    let db = rusqlite::Connection::open(d.path().join("state.db")).unwrap();
    db.execute(
        "INSERT INTO s3_events (event) SELECT event FROM s3_events",
        [],
    )
    .unwrap();
    assert_eq!(rt.event_counts().unwrap()["PENDING"], 2);
    let server = rt.serve().unwrap();
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    assert_eq!(rt.event_counts().unwrap()["DELIVERED"], 2);
    let execs = rt.list_executions(None, 10).unwrap();
    assert_eq!(execs.len(), 1, "{execs:?}");
    assert_eq!(runs(d.path()).iter().filter(|r| r[0] == "start").count(), 1);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_batch_job_fails_the_execution_and_a_started_name_is_idempotent() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 20.0);
    let server = rt.serve().unwrap();
    let input = json!({"JOB": "bad", "EXIT_CODE": "65"});
    let first = rt.start_execution("by-hand-1", &input).await.unwrap();
    let again = rt.start_execution("by-hand-1", &input).await.unwrap();
    assert!(matches!(
        first,
        stepscore_core::ports::Started::Started { .. }
    ));
    assert!(matches!(
        again,
        stepscore_core::ports::Started::AlreadyExists { .. }
    ));
    assert!(
        rt.start_execution("by-hand-1", &json!({"other": 1}))
            .await
            .is_err()
    );
    let e = rt
        .wait_execution("by-hand-1", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (e.status, e.error.as_deref()),
        (ExecutionState::Failed, Some("ScoringFailed"))
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_process_serves_a_state_directory() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 20.0);
    let server = rt.serve().unwrap();
    let other = open(d.path(), 20.0);
    assert!(matches!(
        other.serve(),
        Err(stepscore_local::runtime::RuntimeError::Busy(_))
    ));
    server.shutdown();
    other.serve().unwrap().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_configs_dropped_at_once_all_finish_within_capacity_and_run_once() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 50.0);
    let server = rt.serve().unwrap();
    let n = 200;
    let started = Instant::now();
    let mut drops = Vec::new();
    for i in 0..n {
        let rt = rt.clone();
        drops.push(tokio::spawn(async move {
            rt.drop_config(
                &config_uri(i),
                serde_json::to_vec(&json!({"JOB": format!("job-{i}"), "SLEEP": "0.1"})).unwrap(),
            )
            .await
            .unwrap();
        }));
    }
    for t in drops {
        t.await.unwrap();
    }
    server.wait_idle(Duration::from_secs(300)).await.unwrap();
    let execs = rt.list_executions(None, 1000).unwrap();
    assert_eq!(execs.len(), n);
    assert!(execs.iter().all(|e| e.status == ExecutionState::Succeeded));
    let r = runs(d.path());
    let mut jobs: Vec<&String> = r.iter().filter(|l| l[0] == "end").map(|l| &l[1]).collect();
    jobs.sort();
    jobs.dedup();
    assert_eq!(jobs.len(), n, "every config's job ran");
    assert_eq!(
        r.iter().filter(|l| l[0] == "start").count(),
        n,
        "no job ran twice"
    );
    // never more one-vCPU jobs at once than the 4-vCPU on-demand environment holds
    let mut edges: Vec<(u128, i32)> = r
        .iter()
        .map(|l| (l[4].parse().unwrap(), if l[0] == "start" { 1 } else { -1 }))
        .collect();
    edges.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, e) in edges {
        now += e;
        peak = peak.max(now);
    }
    assert!((2..=4).contains(&peak), "peak concurrency {peak}");
    eprintln!("{n} configs end to end in {:?}", started.elapsed());
    server.shutdown();
}

fn spawn_server(dir: &Path) -> Killed {
    spawn_example("mini_pipeline", dir, &["10"])
}

/// A serving process SIGKILLed mid-run loses nothing: the next one resumes every execution
/// from its snapshot, re-runs the Batch attempts whose host died with it, and starts nothing
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_runtime_resumes_every_execution_on_restart() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 10.0);
    let n = 6;
    for i in 0..n {
        rt.drop_config(
            &config_uri(i),
            serde_json::to_vec(&json!({"JOB": format!("job-{i}"), "SLEEP": "1.5"})).unwrap(),
        )
        .await
        .unwrap();
    }
    let mut child = spawn_server(d.path());
    // kill once every execution exists and some Batch attempts are mid-run
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = runs(d.path()).iter().filter(|l| l[0] == "start").count();
        if rt.list_executions(None, 100).unwrap().len() == n && started >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server never got going: {}",
            std::fs::read_to_string(d.path().join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    let running_at_kill = rt
        .list_executions(Some(ExecutionState::Running), 100)
        .unwrap()
        .len();
    assert!(
        running_at_kill > 0,
        "the kill came too late to test anything"
    );
    let _child = spawn_server(d.path());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !rt
        .list_executions(None, 100)
        .unwrap()
        .iter()
        .all(|e| e.status != ExecutionState::Running)
    {
        assert!(
            Instant::now() < deadline,
            "executions did not finish after the restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let execs = rt.list_executions(None, 100).unwrap();
    assert!(
        execs.iter().all(|e| e.status == ExecutionState::Succeeded),
        "{execs:?}"
    );
    // one Batch job per execution: no execution restarted from scratch and submitted again
    let r = runs(d.path());
    let mut batch_ids: Vec<&String> = r.iter().map(|l| &l[2]).collect();
    batch_ids.sort();
    batch_ids.dedup();
    assert_eq!(batch_ids.len(), n, "{r:?}");
    let mut ended: Vec<&String> = r.iter().filter(|l| l[0] == "end").map(|l| &l[1]).collect();
    ended.sort();
    ended.dedup();
    assert_eq!(ended.len(), n, "every job completed: {r:?}");
    let _: Value = rt.history(&execs[0].name).unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schedules_fire_templates_into_the_schedule_function_like_eventbridge() {
    use std::sync::{Arc, Mutex};
    let d = tempfile::tempdir().unwrap();
    let container = functions::write_container(d.path());
    let mut config = functions::config(d.path(), container, 600.0); // a minute in 0.1 s
    config.time_scale = 600.0;
    let rt = LocalRuntime::open(config).unwrap();
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = seen.clone();
    rt.register_function(
        "stepscore-schedule",
        Arc::new(move |input: Value| {
            let sink = sink.clone();
            Box::pin(async move {
                sink.lock().unwrap().push(input.clone());
                // the first attempt of every fire fails: the scheduler retries it
                if input["template"]["attempt"] == "1" {
                    return Err(stepscore_local::LambdaError {
                        error_type: "TransientError".into(),
                        error_message: "try again".into(),
                    });
                }
                Ok(json!({}))
            })
        }),
    );
    let doc = json!({
        "every-minute": {
            "expression": "rate(1 minute)",
            "template": "{\"name\": \"daily\", \"at\": \"<aws.scheduler.scheduled-time>\", \"attempt\": \"<aws.scheduler.attempt-number>\"}"
        },
        "off": {"expression": "rate(1 minute)", "template": {"name": "never"}, "enabled": false}
    });
    let start = chrono::Utc::now();
    let schedules = stepscore_local::schedule::schedules_from_json(&doc, start).unwrap();
    assert_eq!(schedules.len(), 1);
    let scheduler = stepscore_local::Scheduler::new(schedules);
    let fired = rt
        .run_schedules(
            &scheduler,
            start,
            Some(start + chrono::Duration::minutes(3)),
        )
        .await;
    assert_eq!(fired, 3);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "{seen:?}");
    let expect_at = |k: i64| {
        (start + chrono::Duration::minutes(k)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    // the input terraform/scheduler.tf sends: the template, the scheduled time (the same on a
    // retry, which keeps the run idempotent) and the schedule's time zone
    assert_eq!(
        seen[0],
        json!({"schedule": "every-minute", "scheduled_time": expect_at(1), "time_zone": "UTC",
               "template": {"name": "daily", "at": expect_at(1), "attempt": "1"}})
    );
    assert_eq!(
        seen[1]["template"],
        json!({"name": "daily", "at": expect_at(1), "attempt": "2"})
    );
    assert_eq!(seen[1]["scheduled_time"], seen[0]["scheduled_time"]);
    assert_eq!(seen[5]["template"]["at"], json!(expect_at(3)));
    let bad = json!({"x": {"expression": "cron(0 8 * * * *)", "template": "{}"}});
    let err = stepscore_local::schedule::schedules_from_json(&bad, start)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("schedule 'x': cron expression"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_machine_continues_in_a_new_execution_of_itself_through_start_execution() {
    let d = tempfile::tempdir().unwrap();
    // three hops: each execution starts the next with its number + 1, then succeeds
    let definition = json!({
        "StartAt": "Last?",
        "States": {
            "Last?": {"Type": "Choice", "Choices": [{"Variable": "$.hop", "NumericGreaterThanEquals": 2, "Next": "Done"}], "Default": "Next"},
            "Next": {
                "Type": "Task",
                "Resource": "arn:${partition}:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    "Name.$": "States.Format('hop-{}', States.MathAdd($.hop, 1))",
                    "Input": {"hop.$": "States.MathAdd($.hop, 1)", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}
                },
                "ResultPath": "$.continued_in",
                "End": true
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let container = functions::write_container(d.path());
    let mut config = functions::config(d.path(), container, 100.0);
    config.definition = definition.to_string();
    let rt = LocalRuntime::open(config).unwrap();
    let server = rt.serve().unwrap();
    rt.start_execution("hop-0", &json!({"hop": 0}))
        .await
        .unwrap();
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    server.shutdown();

    let mut names: Vec<String> = rt
        .list_executions(None, 10)
        .unwrap()
        .into_iter()
        .map(|e| {
            assert_eq!(e.status, ExecutionState::Succeeded, "{e:?}");
            e.name
        })
        .collect();
    names.sort();
    assert_eq!(names, ["hop-0", "hop-1", "hop-2"]);
    let first = rt.execution("hop-0").unwrap().unwrap();
    assert_eq!(
        first.output.unwrap()["continued_in"]["ExecutionArn"],
        "arn:aws:states:local:000000000000:execution:stepscore-scoring-pipeline:hop-1"
    );
    let second = rt.execution("hop-1").unwrap().unwrap();
    assert_eq!(second.input["hop"], 1);
    assert_eq!(
        second.input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"],
        first.execution_arn
    );
}

/// How many times each function of a [`counting`] runtime was called.
type Calls = std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>;

/// A runtime running `definition`, time compressed `scale`×, whose functions `names` only count
/// their calls and succeed.
fn counting(dir: &Path, definition: Value, scale: f64, names: &[&str]) -> (LocalRuntime, Calls) {
    let container = functions::write_container(dir);
    let mut config = functions::config(dir, container, scale);
    config.definition = definition.to_string();
    let rt = LocalRuntime::open(config).unwrap();
    let calls = Calls::default();
    for name in names {
        let (calls, name) = (calls.clone(), name.to_string());
        rt.register_function(
            &name.clone(),
            std::sync::Arc::new(move |_: Value| {
                *calls.lock().unwrap().entry(name.clone()).or_default() += 1;
                Box::pin(async { Ok(json!({})) })
            }),
        );
    }
    (rt, calls)
}

fn calls_of(calls: &Calls) -> Vec<(String, usize)> {
    calls.lock().unwrap().clone().into_iter().collect()
}

/// A Task state calling function `name`, then `next` (or the end).
fn task(name: &str, next: Option<&str>) -> Value {
    let mut t = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": name, "Payload": {}}
    });
    match next {
        Some(n) => t["Next"] = json!(n),
        None => t["End"] = json!(true),
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_state_runs_while_its_execution_snapshot_cannot_be_saved() {
    let d = tempfile::tempdir().unwrap();
    let definition = json!({
        "StartAt": "First",
        "States": {"First": task("one", Some("Second")), "Second": task("two", None)}
    });
    let (rt, calls) = counting(d.path(), definition, 1.0, &["one", "two"]);
    let db = d.path().join("state.db");
    failing_db::refuse(&db, "no_snapshot", "UPDATE OF snapshot ON executions", "1");
    let server = rt.serve().unwrap();
    rt.start_execution("e-1", &json!({})).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        calls_of(&calls),
        [],
        "a state ran with no snapshot to resume the execution from"
    );
    assert_eq!(
        rt.execution("e-1").unwrap().unwrap().status,
        ExecutionState::Running
    );
    failing_db::allow(&db, "no_snapshot");
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    server.shutdown();
    assert_eq!(
        rt.execution("e-1").unwrap().unwrap().status,
        ExecutionState::Succeeded
    );
    assert_eq!(
        calls_of(&calls),
        [("one".to_string(), 1), ("two".to_string(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_execution_whose_snapshot_cannot_be_read_is_not_restarted_from_its_start() {
    let d = tempfile::tempdir().unwrap();
    let definition = json!({
        "StartAt": "First",
        "States": {
            "First": task("one", Some("Pause")),
            "Pause": {"Type": "Wait", "Seconds": 300, "Next": "Second"},
            "Second": task("two", None)
        }
    });
    // the Wait takes 3 s
    let (rt, calls) = counting(d.path(), definition, 100.0, &["one", "two"]);
    let server = rt.serve().unwrap();
    rt.start_execution("e-1", &json!({})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt
        .executions()
        .snapshot("e-1")
        .unwrap()
        .is_none_or(|s| s["next_state"] != "Pause")
    {
        assert!(
            Instant::now() < deadline,
            "the execution never reached Pause"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.shutdown();
    // the stored snapshot no longer reads back (a blob where text belongs)
    let db = rusqlite::Connection::open(d.path().join("state.db")).unwrap();
    let damage = |sql: &str| db.execute(sql, []).unwrap();
    damage("UPDATE executions SET snapshot = CAST(snapshot AS BLOB) WHERE name = 'e-1'");
    let server = rt.serve().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        calls_of(&calls),
        [("one".to_string(), 1)],
        "the execution was restarted from its first state"
    );
    assert_eq!(
        rt.execution("e-1").unwrap().unwrap().status,
        ExecutionState::Running
    );
    damage("UPDATE executions SET snapshot = CAST(snapshot AS TEXT) WHERE name = 'e-1'");
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    server.shutdown();
    assert_eq!(
        rt.execution("e-1").unwrap().unwrap().status,
        ExecutionState::Succeeded
    );
    assert_eq!(
        calls_of(&calls),
        [("one".to_string(), 1), ("two".to_string(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_put_whose_s3_event_cannot_be_recorded_fails_naming_the_object() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), 20.0);
    let db = d.path().join("state.db");
    failing_db::refuse(&db, "no_event", "INSERT ON s3_events", "1");
    let err = rt
        .drop_config(&config_uri(1), b"{}".to_vec())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3://data-1/jobs/run-1.json")
            && err.contains("S3 event")
            && err.contains(REFUSED),
        "{err}"
    );
    failing_db::allow(&db, "no_event");
    rt.drop_config(&config_uri(1), b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(rt.event_counts().unwrap()["PENDING"], 1);
}

/// How many calls `name` got in `window`.
async fn calls_within(calls: &Calls, name: &str, window: Duration) -> usize {
    let count = || calls.lock().unwrap().get(name).copied().unwrap_or(0);
    let before = count();
    tokio::time::sleep(window).await;
    count() - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_s3_event_whose_delivery_cannot_be_recorded_is_redelivered_after_a_pause() {
    let d = tempfile::tempdir().unwrap();
    let definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}});
    let (rt, calls) = counting(d.path(), definition, 1.0, &["stepscore-admit"]);
    rt.drop_config(&config_uri(1), b"{}".to_vec())
        .await
        .unwrap();
    let db = d.path().join("state.db");
    failing_db::refuse(&db, "no_ack", "UPDATE ON s3_events", "1");
    let server = rt.serve().unwrap();
    let n = calls_within(&calls, "stepscore-admit", Duration::from_secs(2)).await;
    assert!(
        (1..=4).contains(&n),
        "admit got the event {n} times in 2 s: redelivered in a loop"
    );
    failing_db::allow(&db, "no_ack");
    server.wait_idle(Duration::from_secs(30)).await.unwrap();
    assert_eq!(rt.event_counts().unwrap()["DELIVERED"], 1);
    let n = calls_within(&calls, "stepscore-admit", Duration::from_millis(500)).await;
    assert_eq!(n, 0, "a delivered event was delivered again");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_execution_end_whose_delivery_cannot_be_recorded_is_redelivered_after_a_pause() {
    let d = tempfile::tempdir().unwrap();
    let definition =
        json!({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}});
    let cleanup = stepscore_local::runtime::CLEANUP_FUNCTION;
    let (rt, calls) = counting(d.path(), definition, 1.0, &[cleanup]);
    let db = d.path().join("state.db");
    failing_db::refuse(&db, "no_mark", "UPDATE OF end_delivered ON executions", "1");
    let server = rt.serve().unwrap();
    rt.start_execution("e-1", &json!({})).await.unwrap();
    rt.wait_execution("e-1", Duration::from_secs(30))
        .await
        .unwrap();
    let n = calls_within(&calls, cleanup, Duration::from_secs(2)).await;
    assert!(
        (1..=4).contains(&n),
        "cleanup got the end {n} times in 2 s: redelivered in a loop"
    );
    failing_db::allow(&db, "no_mark");
    server.wait_idle(Duration::from_secs(30)).await.unwrap();
    let n = calls_within(&calls, cleanup, Duration::from_millis(500)).await;
    assert_eq!(n, 0, "a delivered end was delivered again");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_jsonata_state_machine_calls_a_function_with_its_arguments_and_shapes_its_output() {
    let d = tempfile::tempdir().unwrap();
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Double",
        "States": {"Double": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "double", "Payload": {"n": "{% $states.input.n %}"}},
            "Output": {"doubled": "{% $states.result.Payload.n %}", "was": "{% $states.input.n %}"},
            "End": true
        }}
    });
    let container = functions::write_container(d.path());
    let mut config = functions::config(d.path(), container, 100.0);
    config.definition = definition.to_string();
    let rt = LocalRuntime::open(config).unwrap();
    rt.register_function(
        "double",
        std::sync::Arc::new(|event: Value| {
            let n = event["n"].as_i64().unwrap_or(0);
            Box::pin(async move { Ok(json!({"n": n * 2})) })
        }),
    );
    let server = rt.serve().unwrap();
    rt.start_execution("ata-1", &json!({"n": 21}))
        .await
        .unwrap();
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    server.shutdown();
    let e = rt.execution("ata-1").unwrap().unwrap();
    assert_eq!(e.status, ExecutionState::Succeeded, "{e:?}");
    assert_eq!(e.output, Some(json!({"doubled": 42, "was": 21})));
}
