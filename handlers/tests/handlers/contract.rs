//! The code against its contracts: the IAM actions behind every port call each handler makes
//! are granted to that function's principal in `iam/policies.json` (this checks the fake-world
//! calls of every branch; `stepscore-lambda`'s `tests/iam.rs` evaluates the real SDK calls with
//! their resources), and the handlers read no environment (each Lambda binary reads exactly its
//! environment in `lambda-functions.json`: `stepscore-lambda`'s tests).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use stepscore_aws::iam::{PortCall, required_actions};
use stepscore_aws::policy::{PolicyFile, action_matches};

use crate::fakes::*;

/// The actions `function`'s principal is allowed (resources aside).
fn policy_actions(function: &str) -> BTreeSet<String> {
    let file = PolicyFile::bundled().unwrap();
    let values: BTreeMap<String, String> = file
        .placeholders
        .keys()
        .map(|k| (k.clone(), format!("<{k}>")))
        .collect();
    file.render(function, &values)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.action.map(|a| a.values().to_vec()).unwrap_or_default())
        .collect()
}

fn assert_granted(function: &str, calls: &[PortCall]) {
    assert!(!calls.is_empty(), "{function} made no port calls");
    let granted = policy_actions(function);
    for call in calls {
        for action in required_actions(*call) {
            assert!(
                granted.iter().any(|g| action_matches(g, action)),
                "{function} calls {call:?}, which needs {action}, not granted to {function} in iam/policies.json"
            );
        }
    }
}

#[test]
fn every_lambda_function_has_a_principal_in_the_policy_file() {
    let c: Value = serde_json::from_str(stepscore_handlers::LAMBDA_FUNCTIONS_JSON).unwrap();
    let file = PolicyFile::bundled().unwrap();
    for name in c["functions"].as_object().unwrap().keys() {
        let principal = file
            .principals
            .get(name)
            .unwrap_or_else(|| panic!("iam/policies.json has no principal {name}"));
        assert_eq!(principal["kind"], "lambda", "{name}");
    }
}

fn job(w: &World) -> Value {
    let input = json!({"input": {"job_id": "daily-0123456789abcdef", "config": fixture_json("config-daily.json")}, "execution_name": "daily-0123456789abcdef"});
    serde_json::to_value(
        block_on(stepscore_handlers::register(&w.table, &w.clock, &input)).unwrap(),
    )
    .unwrap()
}

#[test]
fn each_handlers_port_calls_are_granted_to_its_function() {
    // admit: an admitted config (read by version id) and a rejected one (read by ETag)
    let w = World::with_data();
    w.put_announced_daily(fixture("config-daily.json"));
    w.put_announced_weekly(b"{".to_vec());
    let event = serde_json::from_slice(&fixture("s3-object-created.json")).unwrap();
    block_on(stepscore_handlers::admit(w.admit_ports(), &event)).unwrap();
    let calls = w.calls();
    assert!(calls.contains(&PortCall::StoreGetVersion), "{calls:?}");
    assert_granted("admit", &calls);

    // the HTTP front door: a job queued, and its record read
    let w = World::with_data();
    let reply = block_on(stepscore_handlers::handle_jobs_request(
        w.front_door_ports(),
        stepscore_handlers::JobsRequest {
            method: "POST",
            path: "/jobs",
            body: &fixture("config-daily.json"),
            request_id: "r-1",
            idempotency_key: None,
        },
    ));
    assert_eq!(reply.status, 202, "{}", reply.body);
    let calls = w.calls();
    assert!(calls.contains(&PortCall::QueueSend), "{calls:?}");
    assert_granted("jobs", &calls);

    // intake: one message admitted, one dead-lettered
    let w = World::with_data();
    let event: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_slice(&fixture("sqs-job-submission.json")).unwrap();
    block_on(stepscore_handlers::intake(w.intake_ports(5), &event));
    let mut garbage = event.clone();
    garbage.records[0].body = Some("not a submission".into());
    block_on(stepscore_handlers::intake(w.intake_ports(5), &garbage));
    let calls = w.calls();
    assert!(
        calls.contains(&PortCall::ExecutionStart) && calls.contains(&PortCall::QueueSend),
        "{calls:?}"
    );
    assert_granted("intake", &calls);

    let w = World::with_data();
    block_on(stepscore_handlers::schedule(
        w.admit_ports(),
        &fixture_json("scheduler-run.json"),
    ))
    .unwrap();
    assert_granted("schedule", &w.calls());

    let w = World::with_data();
    let job = job(&w);
    assert_granted("register", &w.calls());

    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING")]);
    let submit =
        json!({"job": job, "spot_queue": "s", "on_demand_queue": "o", "job_definition": "d"});
    let job = serde_json::to_value(
        block_on(stepscore_handlers::submit(
            &w.batch, &w.table, &w.clock, &submit,
        ))
        .unwrap(),
    )
    .unwrap();
    let calls = w.calls();
    assert!(calls.contains(&PortCall::BatchSubmitTagged));
    assert_granted("submit", &calls);

    block_on(stepscore_handlers::check(
        &w.batch,
        &w.store,
        &w.table,
        &w.clock,
        &json!({"job": job}),
    ))
    .unwrap();
    assert_granted("check", &w.calls());

    block_on(stepscore_handlers::finalize(
        &w.store,
        &w.table,
        &w.events,
        &w.clock,
        &json!({"outcome": "SUCCEEDED", "state": {"job": job}}),
    ))
    .unwrap();
    assert_granted("finalize", &w.calls());

    // cleanup after the execution was stopped, with the attempt submit recorded
    let event = fixture_json("execution-aborted.json");
    let out = block_on(stepscore_handlers::cleanup(
        &w.batch, &w.table, &w.events, &w.clock, &event,
    ));
    out.unwrap();
    let calls = w.calls();
    assert!(calls.contains(&PortCall::BatchTerminate));
    assert_granted("cleanup", &calls);

    // check terminating a spot submission that waited past spot_wait_seconds
    let w = World::with_data();
    let registered = self::job(&w);
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNABLE")]);
    let mut job: Value = serde_json::to_value(
        block_on(stepscore_handlers::submit(
            &w.batch, &w.table, &w.clock, &json!({"job": registered, "spot_queue": "s", "on_demand_queue": "o", "job_definition": "d"}),
        ))
        .unwrap(),
    )
    .unwrap();
    job["submitted_at"] = json!("2026-11-23T00:00:00Z");
    w.calls();
    block_on(stepscore_handlers::check(
        &w.batch,
        &w.store,
        &w.table,
        &w.clock,
        &json!({"job": job}),
    ))
    .unwrap();
    let calls = w.calls();
    assert!(calls.contains(&PortCall::BatchTerminate));
    assert_granted("check", &calls);
}

#[test]
fn the_handlers_read_no_environment_their_callers_would_have_to_provide() {
    // configuration reaches a handler as arguments: the Lambda binaries (stepscore-lambda) read
    // the environment lambda-functions.json lists, the embedded runtime its own settings
    let re = regex::Regex::new(r#"env::var(?:_os)?\("#).unwrap();
    let src = format!("{}/src", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !re.is_match(&text),
                "{} reads the environment",
                path.display()
            );
        }
    }
}
