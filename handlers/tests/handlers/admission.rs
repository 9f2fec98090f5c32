//! admit and schedule: S3 notifications and scheduled runs become records and executions.

use aws_lambda_events::s3::S3Event;
use serde_json::{Value, json};
use stepscore_aws::iam::PortCall;
use stepscore_core::{JobId, JobStatus};
use stepscore_handlers::{Admitted, admit, schedule};

use crate::fakes::*;

fn s3_event() -> S3Event {
    serde_json::from_slice(&fixture("s3-object-created.json")).unwrap()
}

/// A world holding both configs the S3 fixture names.
fn world_with_configs() -> World {
    let w = World::with_data();
    w.put_announced_daily(fixture("config-daily.json"));
    w.put_announced_weekly(fixture("config-minimal.json"));
    w
}

#[test]
fn an_s3_notification_admits_each_record_under_its_decoded_key() {
    let w = world_with_configs();
    let out = block_on(admit(w.admit_ports(), &s3_event())).unwrap();
    let daily = JobId::for_object(
        "acme-scoring",
        "jobs/daily churn:2026.json",
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    );
    // no version id in the second record (unversioned bucket): the ETag and the PUT's
    // sequencer identify the upload
    let weekly = JobId::for_put(
        "acme-scoring",
        "jobs/weekly.json",
        None,
        Some("fedcba9876543210fedcba9876543210"),
        Some("0055AED6DCD90281F0"),
    );
    assert!(
        matches!(&out[0], Admitted::Started { job_id, .. } if *job_id == daily.to_string()),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], Admitted::Started { job_id, .. } if *job_id == weekly.to_string()),
        "{out:?}"
    );
    let rec = w.table.record(&daily);
    assert_eq!(rec.status, JobStatus::Pending);
    assert_eq!(rec.source, "s3://acme-scoring/jobs/daily churn:2026.json");
    assert_eq!(
        rec.execution_arn.as_deref(),
        Some(
            stepscore_core::ports::Executions::execution_arn(&w.executions, daily.as_str())
                .as_str()
        )
    );
    let started = w.executions.started.lock().unwrap().clone();
    assert_eq!(started.len(), 2);
    assert_eq!(started[0].0, daily.as_str());
    assert_eq!(started[0].1["job_id"], json!(daily.as_str()));
    assert_eq!(
        started[0].1["source"],
        json!("s3://acme-scoring/jobs/daily churn:2026.json")
    );
    // the canonical config: defaults written out
    assert_eq!(started[1].1["config"]["shards"], json!(1));
    assert_eq!(
        started[1].1["config"]["capacity"],
        json!("spot-then-on-demand")
    );
}

#[test]
fn a_duplicated_delivery_leaves_one_record_and_one_execution() {
    let w = world_with_configs();
    block_on(admit(w.admit_ports(), &s3_event())).unwrap();
    let again = block_on(admit(w.admit_ports(), &s3_event())).unwrap();
    assert!(
        again
            .iter()
            .all(|a| matches!(a, Admitted::Duplicate { .. })),
        "{again:?}"
    );
    assert_eq!(w.table.all().len(), 2);
    assert_eq!(w.executions.started.lock().unwrap().len(), 2);
}

/// Two PUTs of the same bytes to jobs/weekly.json in an unversioned bucket, minutes apart:
/// same ETag, no version id, the second with the greater sequencer.
fn unversioned_put(n: u32) -> S3Event {
    serde_json::from_slice(&fixture(&format!("s3-put-unversioned-{n}.json"))).unwrap()
}

#[test]
fn a_new_put_of_identical_bytes_in_an_unversioned_bucket_is_a_new_job() {
    let w = world_with_configs();
    let first = block_on(admit(w.admit_ports(), &unversioned_put(1))).unwrap();
    let second = block_on(admit(w.admit_ports(), &unversioned_put(2))).unwrap();
    assert!(matches!(&first[0], Admitted::Started { .. }), "{first:?}");
    assert!(
        matches!(&second[0], Admitted::Started { .. }),
        "a deliberate re-upload must run again: {second:?}"
    );
    assert_eq!(w.table.all().len(), 2);
    assert_eq!(w.executions.started.lock().unwrap().len(), 2);
}

#[test]
fn a_redelivered_event_of_an_unversioned_put_is_the_same_job() {
    let w = world_with_configs();
    block_on(admit(w.admit_ports(), &unversioned_put(2))).unwrap();
    // S3 delivers at least once: the same event again carries the same sequencer
    let again = block_on(admit(w.admit_ports(), &unversioned_put(2))).unwrap();
    assert!(matches!(&again[0], Admitted::Duplicate { .. }), "{again:?}");
    // ...also when the sequencer arrives without its leading zeros (it is a hex number)
    let mut event = fixture_json("s3-put-unversioned-2.json");
    event["Records"][0]["s3"]["object"]["sequencer"] = json!("55aed6dcd9037a11");
    let event: S3Event = serde_json::from_value(event).unwrap();
    let padded = block_on(admit(w.admit_ports(), &event)).unwrap();
    assert!(
        matches!(&padded[0], Admitted::Duplicate { .. }),
        "{padded:?}"
    );
    assert_eq!(w.table.all().len(), 1);
    assert_eq!(w.executions.started.lock().unwrap().len(), 1);
}

#[test]
fn in_a_versioned_bucket_the_version_id_decides() {
    let w = world_with_configs();
    let event = s3_event();
    block_on(admit(w.admit_ports(), &event)).unwrap();
    // the same version with another sequencer is still that version's one job
    let mut other = fixture_json("s3-object-created.json");
    other["Records"][0]["s3"]["object"]["sequencer"] = json!("0055AED6DCD9FFFFFF");
    other["Records"].as_array_mut().unwrap().remove(1);
    let other: S3Event = serde_json::from_value(other).unwrap();
    let out = block_on(admit(w.admit_ports(), &other)).unwrap();
    assert!(matches!(&out[0], Admitted::Duplicate { .. }), "{out:?}");
    assert_eq!(w.table.all().len(), 2);
}

#[test]
fn objects_outside_jobs_or_not_json_are_skipped() {
    let w = world_with_configs();
    let mut event = fixture_json("s3-object-created.json");
    event["Records"][0]["s3"]["object"]["key"] = json!("models/churn.model");
    event["Records"][1]["s3"]["object"]["key"] = json!("jobs/readme.txt");
    let event: S3Event = serde_json::from_value(event).unwrap();
    let out = block_on(admit(w.admit_ports(), &event)).unwrap();
    assert_eq!(
        out,
        vec![
            Admitted::Skipped {
                key: "models/churn.model".into()
            },
            Admitted::Skipped {
                key: "jobs/readme.txt".into()
            }
        ]
    );
    assert!(w.table.all().is_empty());
}

/// The fixture's weekly record alone (an unversioned bucket's event: ETag, no version id).
fn weekly_event() -> S3Event {
    let mut event = fixture_json("s3-object-created.json");
    event["Records"].as_array_mut().unwrap().remove(0);
    serde_json::from_value(event).unwrap()
}

/// The fixture's daily record alone (a versioned bucket's event), with `version_id`.
fn daily_event(version_id: &str) -> S3Event {
    let mut event = fixture_json("s3-object-created.json");
    event["Records"].as_array_mut().unwrap().remove(1);
    event["Records"][0]["s3"]["object"]["versionId"] = json!(version_id);
    serde_json::from_value(event).unwrap()
}

/// The FAILED record `admit` left for the one record of `event`, and its reason.
fn rejected(w: &World, event: &S3Event) -> (JobId, String) {
    let out = block_on(admit(w.admit_ports(), event)).unwrap();
    let Admitted::Rejected { job_id, reason } = &out[0] else {
        panic!("not rejected: {out:?}")
    };
    let id = JobId::parse(job_id).unwrap();
    let rec = w.table.record(&id);
    assert_eq!(rec.status, JobStatus::Failed);
    assert_eq!(rec.failure_reason.as_deref(), Some(reason.as_str()));
    assert!(
        w.executions.started.lock().unwrap().is_empty(),
        "a rejected config must not start"
    );
    (id, reason.clone())
}

#[test]
fn a_versioned_config_overwritten_before_admit_reads_it_runs_the_version_its_event_named() {
    let w = World::with_data();
    w.put_announced_daily(fixture("config-daily.json"));
    // a second upload lands before admit reads the first: S3 keeps the first version
    let mut newer = fixture_json("config-daily.json");
    newer["name"] = json!("daily-churn-fixed");
    w.store.put(DAILY_URI, serde_json::to_vec(&newer).unwrap());
    let out = block_on(admit(w.admit_ports(), &daily_event(DAILY_VERSION_ID))).unwrap();
    let id = JobId::for_object(
        "acme-scoring",
        "jobs/daily churn:2026.json",
        DAILY_VERSION_ID,
    );
    assert!(
        matches!(&out[0], Admitted::Started { job_id, .. } if *job_id == id.to_string()),
        "{out:?}"
    );
    let started = w.executions.started.lock().unwrap().clone();
    assert_eq!(
        started[0].1["config"]["name"],
        json!("daily-churn"),
        "the job runs the bytes of the version its id is a digest of"
    );
    assert_eq!(w.table.record(&id).config["name"], json!("daily-churn"));
    assert!(
        w.calls().contains(&PortCall::StoreGetVersion),
        "read by version id"
    );
}

#[test]
fn an_unversioned_config_overwritten_before_admit_reads_it_is_a_failed_record_naming_both_etags() {
    let w = World::with_data();
    w.put_announced_weekly(fixture("config-minimal.json"));
    let newer = br#"{"name": "weekly-2", "model": "s3://acme-scoring/models/churn.model", "input": "s3://acme-scoring/input/weekly.csv", "output": "s3://acme-scoring/output/weekly-2/"}"#;
    w.store.put(WEEKLY_URI, newer.to_vec());
    let (id, reason) = rejected(&w, &weekly_event());
    assert_eq!(
        id,
        JobId::for_put(
            "acme-scoring",
            "jobs/weekly.json",
            None,
            Some(WEEKLY_ETAG),
            Some("0055AED6DCD90281F0")
        )
    );
    for expected in [
        WEEKLY_URI,
        &format!("ETag \"{WEEKLY_ETAG}\""),
        "overwritten",
        &format!("now \"{}\"", etag_of(newer)),
        "its own job",
    ] {
        assert!(
            reason.contains(expected),
            "'{reason}' does not mention '{expected}'"
        );
    }
}

#[test]
fn a_config_version_that_no_longer_exists_is_a_failed_record_naming_it() {
    let w = World::with_data();
    w.put_announced_daily(fixture("config-daily.json"));
    let (_, reason) = rejected(&w, &daily_event("Wk4XGlb8zkXjDnJr1Qv2mEaR0vQ9s.Yb"));
    for expected in [
        DAILY_URI,
        "version 'Wk4XGlb8zkXjDnJr1Qv2mEaR0vQ9s.Yb'",
        "deleted",
        "upload it again",
    ] {
        assert!(
            reason.contains(expected),
            "'{reason}' does not mention '{expected}'"
        );
    }
}

#[test]
fn an_event_naming_neither_a_version_nor_an_etag_is_a_failed_record() {
    let w = World::with_data();
    w.put_announced_weekly(fixture("config-minimal.json"));
    let mut event = fixture_json("s3-object-created.json");
    event["Records"].as_array_mut().unwrap().remove(0);
    let object = event["Records"][0]["s3"]["object"].as_object_mut().unwrap();
    object.remove("eTag");
    let event: S3Event = serde_json::from_value(event).unwrap();
    let (_, reason) = rejected(&w, &event);
    assert!(
        reason.contains("neither a versionId nor an eTag") && reason.contains(WEEKLY_URI),
        "{reason}"
    );
}

/// Admits `config` as jobs/weekly.json and returns the FAILED record's reason.
fn rejection_of(w: &World, config: impl Into<Vec<u8>>) -> String {
    w.put_announced_weekly(config);
    let out = block_on(admit(w.admit_ports(), &weekly_event())).unwrap();
    let Admitted::Rejected { job_id, reason } = &out[0] else {
        panic!("not rejected: {out:?}")
    };
    let rec = w.table.record(&JobId::parse(job_id).unwrap());
    assert_eq!(rec.status, JobStatus::Failed);
    assert_eq!(rec.failure_reason.as_deref(), Some(reason.as_str()));
    assert!(
        w.executions.started.lock().unwrap().is_empty(),
        "a rejected config must not start"
    );
    reason.clone()
}

fn minimal_with(field: &str, value: Value) -> Vec<u8> {
    let mut c = fixture_json("config-minimal.json");
    c[field] = value;
    serde_json::to_vec(&c).unwrap()
}

#[test]
fn bad_configs_leave_a_failed_record_naming_the_problem() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "malformed JSON",
            b"{\"name\": \"weekly\",".to_vec(),
            "not valid JSON",
        ),
        (
            "wrong type",
            minimal_with("shards", json!("three")),
            "shards",
        ),
        (
            "unknown field",
            minimal_with("shard", json!(2)),
            "did you mean 'shards'",
        ),
        (
            "over 64 KiB",
            minimal_with("tags", json!({"pad": "x".repeat(200)}))
                .into_iter()
                .chain(std::iter::repeat_n(b' ', 70_000))
                .collect(),
            "65536",
        ),
        (
            "missing model",
            minimal_with("model", json!("s3://acme-scoring/models/nope.model")),
            "model: 's3://acme-scoring/models/nope.model'",
        ),
        (
            "missing input",
            minimal_with("input", json!("s3://acme-scoring/input/empty/")),
            "no objects under 's3://acme-scoring/input/empty/'",
        ),
        (
            "overlapping output",
            minimal_with("output", json!("s3://acme-scoring/input/")),
            "overlaps the input",
        ),
        (
            // its manifest-0.json would be admitted as a new job config
            "output under jobs/",
            minimal_with("output", json!("s3://acme-scoring/jobs/predictions/")),
            "overlaps s3://acme-scoring/jobs/",
        ),
        (
            "output not a prefix",
            minimal_with("output", json!("s3://acme-scoring/predictions")),
            "must be a prefix ending in '/'",
        ),
        (
            "output with ..",
            minimal_with("output", json!("s3://acme-scoring/predictions/../jobs/")),
            "'..' path segment",
        ),
        (
            "id column twice",
            minimal_with("id_columns", json!(["customer_id", "customer_id"])),
            "'customer_id' twice",
        ),
        (
            "duplicate key",
            br#"{"name": "weekly", "name": "daily"}"#.to_vec(),
            "'name' appears twice",
        ),
    ];
    for (what, config, expected) in cases {
        let w = World::with_data();
        let reason = rejection_of(&w, config);
        assert!(
            reason.contains(expected),
            "{what}: '{reason}' does not mention '{expected}'"
        );
    }
}

#[test]
fn a_config_saved_with_a_byte_order_mark_is_admitted() {
    let w = World::with_data();
    let mut config = b"\xEF\xBB\xBF".to_vec();
    config.extend_from_slice(&fixture("config-minimal.json"));
    w.put_announced_weekly(config);
    let out = block_on(admit(w.admit_ports(), &weekly_event())).unwrap();
    assert!(matches!(&out[0], Admitted::Started { .. }), "{out:?}");
}

#[test]
fn a_feature_map_is_checked_against_the_model_and_the_first_inputs_header() {
    let w = World::with_data();
    let model = "s3://acme-scoring/models/churn.model";
    w.store.put(
        model,
        br#"{"format": "stepscore-model", "features": ["age", "income"]}"#.to_vec(),
    );
    let mut config = fixture_json("config-minimal.json");
    config["features"] = json!({"age": "customer_age", "tenure": "months"});
    let reason = rejection_of(&w, serde_json::to_vec(&config).unwrap());
    for expected in [
        "features.tenure: 'tenure' is not a feature of the model; its features are age, income",
        "features.age: the model's feature 'age' reads column 'customer_age', which s3://acme-scoring/input/weekly.csv does not have (its columns: id, x)",
        "features: the model's feature 'income' reads column 'income'",
    ] {
        assert!(reason.contains(expected), "'{reason}' lacks '{expected}'");
    }

    // mapped onto the columns the input has, the config is admitted
    let w = World::with_data();
    w.store.put(
        model,
        br#"{"format": "stepscore-model", "features": ["age"]}"#.to_vec(),
    );
    config["features"] = json!({"age": "x"});
    w.put_announced_weekly(serde_json::to_vec(&config).unwrap());
    let out = block_on(admit(w.admit_ports(), &weekly_event())).unwrap();
    assert!(matches!(&out[0], Admitted::Started { .. }), "{out:?}");

    // a model that is not an artifact cannot have its features checked: named, not guessed
    let w = World::with_data();
    let reason = rejection_of(&w, serde_json::to_vec(&config).unwrap());
    assert!(
        reason.contains("is not a stepscore model artifact with feature names"),
        "{reason}"
    );
}

#[test]
fn a_rejected_config_delivered_again_stays_rejected() {
    let w = World::with_data();
    let first = rejection_of(&w, b"not json".to_vec());
    let second = rejection_of(&w, b"not json".to_vec());
    assert_eq!(first, second);
    assert_eq!(w.table.all().len(), 1);
}

#[test]
fn transient_failures_propagate_as_stepscore_transient() {
    for broken in ["store", "table", "executions"] {
        let w = world_with_configs();
        match broken {
            "store" => *w.store.transient.lock().unwrap() = true,
            "table" => *w.table.transient.lock().unwrap() = true,
            _ => *w.executions.transient.lock().unwrap() = true,
        }
        let err = block_on(admit(w.admit_ports(), &s3_event())).unwrap_err();
        assert_eq!(err.error_type(), "stepscore.Transient", "{broken}: {err}");
    }
}

#[test]
fn a_scheduled_run_renders_its_template_and_is_idempotent() {
    let w = World::with_data();
    let event = fixture_json("scheduler-run.json");
    let out = block_on(schedule(w.admit_ports(), &event)).unwrap();
    let id = JobId::for_name("nightly-churn", "2026-11-22T02:00:00Z");
    assert!(
        matches!(&out, Admitted::Rejected { .. }),
        "no input for 2026-11-22: {out:?}"
    );
    let rec = w.table.record(&id);
    assert_eq!(rec.source, "schedule:nightly-churn");

    // with the day's input present, the next day's run is admitted with dates filled in
    w.store.put(
        "s3://acme-scoring/input/2026-11-24/a.csv",
        b"id\n1\n".to_vec(),
    );
    let mut next = event.clone();
    next["scheduled_time"] = json!("2026-11-24T02:00:00Z");
    let out = block_on(schedule(w.admit_ports(), &next)).unwrap();
    let id = JobId::for_name("nightly-churn", "2026-11-24T02:00:00Z");
    assert!(
        matches!(&out, Admitted::Started { job_id, .. } if *job_id == id.to_string()),
        "{out:?}"
    );
    let cfg = w.table.record(&id).config;
    assert_eq!(cfg["input"], json!("s3://acme-scoring/input/2026-11-24/"));
    assert_eq!(
        cfg["output"],
        json!(format!(
            "s3://acme-scoring/output/nightly/2026-11-24/020000-{id}/"
        ))
    );
    assert_eq!(cfg["tags"]["scheduled"], json!("2026-11-24T02:00:00Z"));

    let again = block_on(schedule(w.admit_ports(), &next)).unwrap();
    assert!(matches!(again, Admitted::Duplicate { .. }), "{again:?}");
    assert_eq!(w.executions.started.lock().unwrap().len(), 1);
}

#[test]
fn dates_are_written_in_the_schedules_time_zone() {
    let w = World::with_data();
    w.store.put(
        "s3://acme-scoring/input/2026-11-24/a.csv",
        b"id\n1\n".to_vec(),
    );
    // 23:30 UTC on the 23rd is 00:30 on the 24th in Berlin: the run is the 24th's
    let mut event = fixture_json("scheduler-run.json");
    event["scheduled_time"] = json!("2026-11-23T23:30:00Z");
    event["time_zone"] = json!("Europe/Berlin");
    let out = block_on(schedule(w.admit_ports(), &event)).unwrap();
    let id = JobId::for_name("nightly-churn", "2026-11-23T23:30:00Z");
    assert!(
        matches!(&out, Admitted::Started { job_id, .. } if *job_id == id.to_string()),
        "{out:?}"
    );
    let cfg = w.table.record(&id).config;
    assert_eq!(cfg["input"], json!("s3://acme-scoring/input/2026-11-24/"));
    assert_eq!(
        cfg["output"],
        json!(format!(
            "s3://acme-scoring/output/nightly/2026-11-24/003000-{id}/"
        ))
    );

    let mut bad = event.clone();
    bad["time_zone"] = json!("Mars/Olympus");
    let e = block_on(schedule(w.admit_ports(), &bad)).unwrap_err();
    assert!(
        e.to_string()
            .contains("'Mars/Olympus' is not an IANA time zone"),
        "{e}"
    );
}

#[test]
fn a_bare_template_runs_at_the_current_minute() {
    let w = World::with_data();
    let template = json!({
        "name": "weekly",
        "model": "s3://acme-scoring/models/churn.model",
        "input": "s3://acme-scoring/input/weekly.csv",
        "output": "s3://acme-scoring/output/weekly/{{date}}/"
    });
    let out = block_on(schedule(w.admit_ports(), &template)).unwrap();
    // the fake clock reads 20:15:42; the run is that minute's
    let id = JobId::for_name("weekly", "2026-11-23T20:15:00Z");
    assert!(
        matches!(&out, Admitted::Started { job_id, .. } if *job_id == id.to_string()),
        "{out:?}"
    );
    assert_eq!(
        w.table.record(&id).config["output"],
        json!("s3://acme-scoring/output/weekly/2026-11-23/")
    );
}

#[test]
fn a_scheduled_event_without_a_name_is_a_bad_config() {
    let w = World::with_data();
    let err = block_on(schedule(
        w.admit_ports(),
        &json!({"template": {"model": "x"}}),
    ))
    .unwrap_err();
    assert_eq!(err.error_type(), "stepscore.BadConfig");
}
