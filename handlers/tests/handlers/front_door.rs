//! The HTTP front door for batch jobs (`POST /jobs`, `GET /jobs/<id>`) and the job queue's
//! consumer (intake), over in-memory ports and a real SQS event fixture.

use aws_lambda_events::sqs::SqsEvent;
use serde_json::{Value, json};
use stepscore_core::JobId;
use stepscore_core::status::JobStatus;
use stepscore_handlers::intake::{FAILURE_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE};
use stepscore_handlers::{Admitted, JobsReply, JobsRequest, QueuedJob, Taken, handle_jobs_request};

use crate::fakes::*;

fn post(w: &World, body: &[u8], key: Option<&str>) -> JobsReply {
    block_on(handle_jobs_request(
        w.front_door_ports(),
        JobsRequest {
            method: "POST",
            path: "/jobs",
            body,
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            idempotency_key: key,
        },
    ))
}

fn get(w: &World, path: &str) -> JobsReply {
    block_on(handle_jobs_request(
        w.front_door_ports(),
        JobsRequest {
            method: "GET",
            path,
            body: b"",
            request_id: "d7bf0bd7-7b61-11e6-9a41-93e8deadbeef",
            idempotency_key: None,
        },
    ))
}

fn daily() -> Vec<u8> {
    fixture("config-daily.json")
}

/// The messages the front door queued, read back as intake reads them.
fn queued(w: &World) -> Vec<QueuedJob> {
    w.queue
        .sent()
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect()
}

/// The SQS event fixture carrying `body`, received for the `receives`-th time.
fn sqs_event(body: &str, receives: u32) -> SqsEvent {
    let mut event = fixture_json("sqs-job-submission.json");
    event["Records"][0]["body"] = Value::from(body);
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] =
        Value::from(receives.to_string());
    serde_json::from_value(event).unwrap()
}

#[test]
fn a_valid_config_is_queued_and_answered_202_with_its_job_id() {
    let w = World::with_data();
    let reply = post(&w, &daily(), None);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["job_id"].as_str().unwrap();
    assert!(id.starts_with("daily-churn-"), "{id}");
    assert_eq!(reply.body["status"], "QUEUED");
    assert_eq!(reply.body["status_url"], format!("/jobs/{id}"));
    let queued = queued(&w);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].job_id, id);
    assert_eq!(
        queued[0].source,
        "http:c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(queued[0].config, fixture_json("config-daily.json"));
    // nothing is recorded or started before intake admits it
    assert!(w.table.all().is_empty());
    assert!(w.executions.started.lock().unwrap().is_empty());
}

#[test]
fn every_problem_of_an_invalid_config_is_422_at_its_field_and_nothing_is_queued() {
    let w = World::with_data();
    let mut config = fixture_json("config-daily.json");
    config["shards"] = json!(0);
    config["model"] = json!("not-a-uri");
    config["on_bad_row"] = json!("ignore");
    let reply = post(&w, &serde_json::to_vec(&config).unwrap(), None);
    assert_eq!(reply.status, 422, "{}", reply.body);
    let fields: Vec<&str> = reply.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    for field in ["model", "shards", "on_bad_row"] {
        assert!(
            fields.contains(&field),
            "{field} missing from {}",
            reply.body
        );
    }
    assert!(w.queue.sent().is_empty());
}

#[test]
fn a_config_whose_model_or_input_is_missing_is_422_naming_the_object() {
    let w = World::default();
    let reply = post(&w, &daily(), None);
    assert_eq!(reply.status, 422, "{}", reply.body);
    let problems = reply.body["problems"].as_array().unwrap();
    let model = problems.iter().find(|p| p["field"] == "model").unwrap();
    assert!(
        model["message"]
            .as_str()
            .unwrap()
            .contains("s3://acme-scoring/models/churn.model"),
        "{}",
        reply.body
    );
    assert!(
        problems.iter().any(|p| p["field"] == "input"),
        "{}",
        reply.body
    );
    assert!(w.queue.sent().is_empty());
}

#[test]
fn an_output_under_the_jobs_prefix_is_refused_as_admit_refuses_it() {
    let w = World::with_data();
    let mut config = fixture_json("config-daily.json");
    config["output"] = json!("s3://acme-scoring/jobs/out/");
    let reply = post(&w, &serde_json::to_vec(&config).unwrap(), None);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["problems"][0]["field"], "output",
        "{}",
        reply.body
    );
}

#[test]
fn malformed_json_an_empty_body_and_a_duplicate_key_are_400() {
    let w = World::with_data();
    for body in [
        &b"{\"version\": 1,"[..],
        b"",
        b"{\"name\": \"a\", \"name\": \"b\"}",
    ] {
        let reply = post(&w, body, None);
        assert_eq!(
            reply.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            reply.body
        );
        assert!(
            reply.body["error"].as_str().unwrap().contains("body"),
            "{}",
            reply.body
        );
    }
    assert!(w.queue.sent().is_empty());
}

#[test]
fn a_config_over_64_kib_is_413() {
    let w = World::with_data();
    let mut config = fixture_json("config-daily.json");
    config["tags"] = json!({"note": "x".repeat(70_000)});
    let reply = post(&w, &serde_json::to_vec(&config).unwrap(), None);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(
        reply.body["error"].as_str().unwrap().contains("65536"),
        "{}",
        reply.body
    );
}

#[test]
fn the_same_idempotency_key_names_the_same_job_and_a_known_job_is_not_queued_again() {
    let w = World::with_data();
    let first = post(&w, &daily(), Some("8d3c0f5e-retry-me"));
    let again = post(&w, &daily(), Some("8d3c0f5e-retry-me"));
    assert_eq!((first.status, again.status), (202, 202));
    assert_eq!(first.body["job_id"], again.body["job_id"]);
    let other = post(&w, &daily(), Some("another-key"));
    assert_ne!(first.body["job_id"], other.body["job_id"]);
    // without a key each request is its own job
    let plain = post(&w, &daily(), None);
    assert_ne!(first.body["job_id"], plain.body["job_id"]);

    // once intake admitted it, the same key answers the job instead of queueing it again
    let message = &w.queue.sent()[0].body;
    let taken = block_on(stepscore_handlers::intake::take(
        w.intake_ports(5),
        &sqs_event(message, 1).records[0],
    ));
    assert!(
        matches!(taken, Taken::Admitted(Admitted::Started { .. })),
        "{taken:?}"
    );
    let sent_before = w.queue.sent().len();
    let replay = post(&w, &daily(), Some("8d3c0f5e-retry-me"));
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.body["job_id"], first.body["job_id"]);
    assert_eq!(replay.body["status"], "PENDING");
    assert_eq!(replay.body["duplicate"], true);
    assert_eq!(w.queue.sent().len(), sent_before);
}

#[test]
fn an_idempotency_key_that_is_empty_too_long_or_not_visible_ascii_is_400() {
    let w = World::with_data();
    for key in ["", &"k".repeat(256), "clé", "two words"] {
        let reply = post(&w, &daily(), Some(key));
        assert_eq!(reply.status, 400, "{key:?}: {}", reply.body);
        assert!(
            reply.body["error"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key")
        );
    }
}

#[test]
fn a_queue_that_may_recover_is_503_and_one_that_refuses_is_500() {
    let w = World::with_data();
    *w.queue.failing.lock().unwrap() = Some(true);
    let reply = post(&w, &daily(), None);
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("send the same request again")
    );
    *w.queue.failing.lock().unwrap() = Some(false);
    let reply = post(&w, &daily(), None);
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("sqs:SendMessage")
    );
}

#[test]
fn get_answers_the_jobs_record_404_for_an_unknown_job_and_400_for_a_bad_id() {
    let w = World::with_data();
    let id = post(&w, &daily(), None).body["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = get(&w, &format!("/jobs/{id}"));
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("within seconds")
    );

    let message = w.queue.sent()[0].body.clone();
    block_on(stepscore_handlers::intake::take(
        w.intake_ports(5),
        &sqs_event(&message, 1).records[0],
    ));
    let reply = get(&w, &format!("/jobs/{id}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["id"], id);
    assert_eq!(reply.body["status"], "PENDING");
    assert_eq!(
        reply.body["source"],
        "http:c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(
        reply.body["config"]["output"],
        "s3://acme-scoring/output/daily-churn/2026-11-23/"
    );

    let reply = get(&w, "/jobs/not%20an%20id");
    assert_eq!(reply.status, 400, "{}", reply.body);
}

#[test]
fn an_unknown_path_is_404_and_a_wrong_method_405_with_allow() {
    let w = World::with_data();
    let reply = get(&w, "/v1/jobs");
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = get(&w, "/jobs/a/b");
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = get(&w, "/jobs");
    assert_eq!((reply.status, reply.allow), (405, Some("POST")));
    let reply = block_on(handle_jobs_request(
        w.front_door_ports(),
        JobsRequest {
            method: "DELETE",
            path: "/jobs/daily-churn-5b1c9a0e3f6d7a21",
            body: b"",
            request_id: "r",
            idempotency_key: None,
        },
    ));
    assert_eq!((reply.status, reply.allow), (405, Some("GET")));
}

#[test]
fn intake_admits_a_queued_job_under_its_id_and_a_redelivery_starts_nothing_twice() {
    let w = World::with_data();
    let event: SqsEvent = serde_json::from_slice(&fixture("sqs-job-submission.json")).unwrap();
    let response = block_on(stepscore_handlers::intake(w.intake_ports(5), &event));
    assert!(response.batch_item_failures.is_empty());
    let id = JobId::parse("daily-churn-5b1c9a0e3f6d7a21").unwrap();
    let record = w.table.record(&id);
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(record.source, "http:c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
    assert_eq!(w.executions.started.lock().unwrap().len(), 1);

    // SQS delivers at least once
    let response = block_on(stepscore_handlers::intake(w.intake_ports(5), &event));
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(w.table.all().len(), 1);
    let started = w.executions.started.lock().unwrap();
    assert!(
        started.iter().all(|(name, _)| name == id.as_str()),
        "{started:?}"
    );
    assert!(w.dead_letters.sent().is_empty());
}

#[test]
fn a_config_invalid_by_the_time_intake_reads_it_is_a_failed_record_not_a_dead_letter() {
    // the model was deleted between POST /jobs and intake
    let w = World::default();
    let event: SqsEvent = serde_json::from_slice(&fixture("sqs-job-submission.json")).unwrap();
    let response = block_on(stepscore_handlers::intake(w.intake_ports(5), &event));
    assert!(response.batch_item_failures.is_empty());
    let record = w
        .table
        .record(&JobId::parse("daily-churn-5b1c9a0e3f6d7a21").unwrap());
    assert_eq!(record.status, JobStatus::Failed);
    assert!(
        record
            .failure_reason
            .unwrap()
            .contains("models/churn.model")
    );
    assert!(w.dead_letters.sent().is_empty());
    assert!(w.executions.started.lock().unwrap().is_empty());
}

#[test]
fn a_transient_failure_is_retried_until_the_last_receive_then_dead_lettered_with_its_reason() {
    let w = World::with_data();
    *w.table.transient.lock().unwrap() = true;
    let body = fixture_json("sqs-job-submission.json")["Records"][0]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    for receive in 1..3 {
        let event = sqs_event(&body, receive);
        let response = block_on(stepscore_handlers::intake(w.intake_ports(3), &event));
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(
            failed,
            ["059f36b4-87a3-44ab-83d2-661975830a7d"],
            "receive {receive}"
        );
        assert!(w.dead_letters.sent().is_empty(), "receive {receive}");
    }
    let response = block_on(stepscore_handlers::intake(
        w.intake_ports(3),
        &sqs_event(&body, 3),
    ));
    assert!(
        response.batch_item_failures.is_empty(),
        "the last receive hands the message to the DLQ"
    );
    let dead = w.dead_letters.sent();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].body, body,
        "the submission is kept as it was queued"
    );
    let reason = &dead[0].attributes[FAILURE_ATTRIBUTE];
    assert!(
        reason.contains("daily-churn-5b1c9a0e3f6d7a21") && reason.contains("receive 3 of 3"),
        "{reason}"
    );
    assert_eq!(dead[0].attributes[RECEIVE_COUNT_ATTRIBUTE], "3");
}

#[test]
fn a_message_that_is_not_a_job_submission_is_dead_lettered_at_once_with_why() {
    let w = World::with_data();
    for (body, expected) in [
        ("hello", "not a job submission"),
        (
            r#"{"version": 2, "job_id": "a-1", "source": "http:x", "config": {}}"#,
            "format version 2",
        ),
        (
            r#"{"version": 1, "job_id": "../etc", "source": "http:x", "config": {}}"#,
            "../etc",
        ),
    ] {
        let taken = block_on(stepscore_handlers::intake::take(
            w.intake_ports(5),
            &sqs_event(body, 1).records[0],
        ));
        match taken {
            Taken::DeadLettered(reason) => assert!(reason.contains(expected), "{reason}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    let dead = w.dead_letters.sent();
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[0].body, "hello");
    assert!(w.table.all().is_empty());
}

#[test]
fn when_the_dead_letter_queue_refuses_too_the_message_stays_on_the_job_queue() {
    let w = World::with_data();
    *w.dead_letters.failing.lock().unwrap() = Some(false);
    let event = sqs_event("hello", 1);
    let response = block_on(stepscore_handlers::intake(w.intake_ports(5), &event));
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier,
        "059f36b4-87a3-44ab-83d2-661975830a7d"
    );
}
