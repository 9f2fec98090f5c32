//! register, submit, check, finalize: the state machine's tasks.

use serde_json::{Value, json};
use stepscore_core::manifest::{ModelIdentity, ScoringManifest, manifest_name};
use stepscore_core::{JobId, JobStatus};
use stepscore_handlers::{Job, QueueKind, finalize, register, submit};

use crate::fakes::*;

fn registered(w: &World, config: &str) -> Job {
    let input = json!({
        "input": {"job_id": "daily-0123456789abcdef", "config": fixture_json(config), "source": "s3://acme-scoring/jobs/daily.json"},
        "execution_name": "daily-0123456789abcdef",
    });
    block_on(register(&w.table, &w.clock, &input)).unwrap()
}

fn submitted(w: &World, job: &Job, fallback: bool) -> Job {
    let input = json!({"job": job, "spot_queue": "stepscore-spot", "on_demand_queue": "stepscore-on-demand", "job_definition": "stepscore-scoring", "fallback": fallback});
    block_on(submit(&w.batch, &w.table, &w.clock, &input)).unwrap()
}

#[test]
fn register_normalises_admits_input() {
    let w = World::with_data();
    let job = registered(&w, "config-daily.json");
    let v = serde_json::to_value(&job).unwrap();
    assert_eq!(v["job_id"], json!("daily-0123456789abcdef"));
    assert_eq!(v["attempt"], json!(0));
    assert_eq!(v["queue_kind"], json!("spot"));
    assert_eq!(v["poll"], json!({"wait_seconds": 30, "checks": 0}));
    assert_eq!(w.table.record(&job.job_id).status, JobStatus::Pending);
}

#[test]
fn register_accepts_a_bare_config_started_from_the_console() {
    let w = World::with_data();
    let input = fixture_json("register-console.json");
    let job = block_on(register(&w.table, &w.clock, &input)).unwrap();
    assert_eq!(job.job_id, JobId::for_name("adhoc", "3f1c2a9e-console-run"));
    assert_eq!(job.queue_kind, QueueKind::OnDemand);
    let rec = w.table.record(&job.job_id);
    assert_eq!(
        rec.execution_arn.as_deref(),
        input["execution_arn"].as_str()
    );
    // registering again (a retried task) is harmless
    assert_eq!(block_on(register(&w.table, &w.clock, &input)).unwrap(), job);
    assert_eq!(w.table.all().len(), 1);
}

#[test]
fn register_refuses_a_bad_console_config_and_records_it() {
    let w = World::with_data();
    let mut input = fixture_json("register-console.json");
    input["input"]["vcpu"] = json!(4);
    let err = block_on(register(&w.table, &w.clock, &input)).unwrap_err();
    assert_eq!(err.error_type(), "stepscore.BadConfig");
    assert!(err.to_string().contains("did you mean 'vcpus'"), "{err}");
    let recs = w.table.all();
    assert_eq!((recs.len(), recs[0].status), (1, JobStatus::Failed));
}

#[test]
fn a_retried_submit_takes_the_job_its_first_try_submitted() {
    let w = World::with_data();
    let job = registered(&w, "config-daily.json");
    // the first try submitted, then its Lambda timed out: Step Functions runs Submit again
    let first = submitted(&w, &job, false);
    let again = submitted(&w, &job, false);
    assert_eq!(w.batch.submitted.lock().unwrap().len(), 1, "one Batch job");
    assert_eq!(again.batch_job_id, first.batch_job_id);
    assert_eq!(again.attempt, 1);
    assert_eq!(w.table.record(&job.job_id).attempts.len(), 1);
}

#[test]
fn submit_sends_one_array_job_with_the_config_as_environment() {
    let w = World::with_data();
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    let req = w.batch.submitted.lock().unwrap()[0].clone();
    assert_eq!(req.job_queue, "stepscore-spot");
    assert_eq!(req.array_size, Some(3));
    assert_eq!(
        (req.vcpus, req.memory_mib, req.timeout_seconds),
        (2, 4096, 7200)
    );
    assert_eq!(req.environment["STEPSCORE_ID_COLUMNS"], "customer_id");
    assert_eq!(req.environment["STEPSCORE_SHARDS"], "3");
    assert_eq!(req.environment["STEPSCORE_ON_BAD_ROW"], "skip");
    assert_eq!(req.environment["STEPSCORE_INPUT_FORMAT"], "auto");
    assert_eq!(req.environment["STEPSCORE_OUTPUT_FORMAT"], "csv");
    // the Parquet writer's settings only go with Parquet output
    assert!(
        !req.environment
            .contains_key("STEPSCORE_PARQUET_COMPRESSION")
    );
    // no feature map: the scorer reads each feature's own column
    assert!(!req.environment.contains_key("STEPSCORE_FEATURES"));
    assert_eq!(
        req.environment["STEPSCORE_OUTPUT"],
        "s3://acme-scoring/output/daily-churn/2026-11-23/"
    );
    assert_eq!(req.tags["team"], "growth");
    assert_eq!(
        req.retry_strategy,
        stepscore_core::batch::RetryStrategy::scoring()
    );
    assert_eq!(
        (job.attempt, job.batch_job_id.as_deref()),
        (1, Some("batch-1"))
    );
    let rec = w.table.record(&job.job_id);
    assert_eq!(
        (rec.status, rec.attempt, rec.attempts.len()),
        (JobStatus::Submitted, 1, 1)
    );

    // the fallback goes to the on-demand queue as attempt 2
    let again = submitted(&w, &job, true);
    assert_eq!(
        w.batch.submitted.lock().unwrap()[1].job_queue,
        "stepscore-on-demand"
    );
    assert_eq!((again.attempt, again.queue_kind), (2, QueueKind::OnDemand));
    assert_eq!(
        w.table.record(&job.job_id).attempts[1].queue,
        "stepscore-on-demand"
    );
}

#[test]
fn check_moves_the_record_forward_only_and_never_to_an_end() {
    let w = World::with_data();
    let mut reclaimed = view("FAILED");
    reclaimed.status_reason = Some("Host EC2 (instance i-0abc) terminated.".into());
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING"), view("RUNNABLE"), reclaimed]);
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    let mut job = job;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let out = w.check(&json!({"job": job})).unwrap();
        seen.push((w.table.record(&out.job.job_id).status, out.check.clone()));
        job = out.job;
    }
    // the late RUNNABLE does not move RUNNING back; the FAILED is left to finalize
    let statuses: Vec<_> = seen.iter().map(|s| s.0).collect();
    assert_eq!(statuses, vec![JobStatus::Running; 3]);
    let last = &seen[2].1;
    assert!(
        last.done && last.failed && last.reclaimed && last.fallback,
        "{last:?}"
    );
    assert_eq!(job.poll.checks, 3);
    assert_eq!(job.poll.wait_seconds, 101);
}

#[test]
fn check_of_an_unknown_batch_job_is_not_found() {
    let w = World::with_data();
    let mut job = registered(&w, "config-daily.json");
    job.batch_job_id = Some("gone".into());
    let err = w.check(&json!({"job": job})).unwrap_err();
    assert_eq!(err.error_type(), "stepscore.NotFound");
}

fn manifest(job: &Job, i: u32, rows: u64, rejected: u64, secs: f64) -> Vec<u8> {
    serde_json::to_vec(&ScoringManifest {
        version: 1,
        job_id: job.job_id.to_string(),
        shard_index: i,
        shard_count: job.config.shards,
        rows_read: rows + rejected,
        rows_scored: rows,
        rows_rejected: rejected,
        duration_seconds: secs,
        model: ModelIdentity {
            uri: job.config.model.to_string(),
            algorithm: "random-forest-classifier".into(),
            format_version: 1,
        },
        inputs: vec![],
        output: job.config.output.join(&format!("part-{i}.csv")).to_string(),
        rejects: None,
    })
    .unwrap()
}

fn finalized(
    w: &World,
    job: &Job,
    outcome: &str,
    extra: Value,
) -> stepscore_handlers::tasks::FinalizeOutput {
    let mut state = json!({"job": job});
    if let Value::Object(m) = extra {
        state.as_object_mut().unwrap().extend(m);
    }
    block_on(finalize(
        &w.store,
        &w.table,
        &w.events,
        &w.clock,
        &json!({"outcome": outcome, "state": state}),
    ))
    .unwrap()
}

#[test]
fn finalize_sums_the_manifests_of_every_shard() {
    let w = World::with_data();
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    for (i, rows, rej, secs) in [(0, 100, 1, 3.5), (1, 200, 0, 7.25), (2, 50, 4, 1.0)] {
        w.store.put(
            &job.config.output.join(&manifest_name(i)).to_string(),
            manifest(&job, i, rows, rej, secs),
        );
    }
    let out = finalized(&w, &job, "SUCCEEDED", json!({}));
    assert_eq!(out.status, JobStatus::Succeeded);
    let m = out.metrics.unwrap();
    assert_eq!(
        (m.rows_read, m.rows_scored, m.rows_rejected, m.parts),
        (355, 350, 5, 3)
    );
    assert_eq!(m.duration_seconds, 7.25);
    assert_eq!(
        w.table.record(&job.job_id).metrics.unwrap().rows_scored,
        350
    );

    // a late FAILED cannot overwrite the outcome
    let late = finalized(
        &w,
        &job,
        "FAILED",
        json!({"error": {"Error": "States.Timeout", "Cause": ""}}),
    );
    assert_eq!(late.status, JobStatus::Succeeded);
    assert_eq!(w.table.record(&job.job_id).status, JobStatus::Succeeded);
}

#[test]
fn a_missing_manifest_fails_the_job_naming_it() {
    let w = World::with_data();
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    w.store.put(
        &job.config.output.join("manifest-0.json").to_string(),
        manifest(&job, 0, 1, 0, 1.0),
    );
    w.store.put(
        &job.config.output.join("manifest-2.json").to_string(),
        b"{\"version\":".to_vec(),
    );
    let out = finalized(&w, &job, "SUCCEEDED", json!({}));
    assert_eq!(out.status, JobStatus::Failed);
    assert_eq!(
        out.reason.as_deref(),
        Some(
            "manifest s3://acme-scoring/output/daily-churn/2026-11-23/manifest-1.json is missing: shard 1 did not finish writing its output"
        )
    );
}

#[test]
fn finalize_failed_explains_the_batch_failure_or_the_caught_error() {
    let w = World::with_data();
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    let out = finalized(
        &w,
        &job,
        "FAILED",
        json!({"check": {
        "status": "FAILED", "reason": "Essential container in task exited", "exit_code": 65, "container_reason": null,
        "reclaimed": false, "done": true, "failed": true, "fallback": false, "array": null}}),
    );
    assert_eq!(
        out.reason.as_deref(),
        Some(
            "Batch job batch-1 FAILED: Essential container in task exited: exit code 65 (bad data or model artifact)"
        )
    );

    let w = World::with_data();
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    let cause = json!({"errorType": "stepscore.Internal", "errorMessage": "Batch refused the request: no such queue"}).to_string();
    let out = finalized(
        &w,
        &job,
        "FAILED",
        json!({"error": {"Error": "stepscore.Internal", "Cause": cause}}),
    );
    assert_eq!(
        out.reason.as_deref(),
        Some("stepscore.Internal: Batch refused the request: no such queue")
    );
    assert_eq!(w.table.record(&job.job_id).status, JobStatus::Failed);
}

/// Advances the fake clock by `seconds`.
fn later(w: &World, seconds: i64) {
    let mut now = w.clock.0.lock().unwrap();
    *now += chrono::Duration::seconds(seconds);
}

#[test]
fn a_spot_job_that_never_starts_is_terminated_and_run_on_demand_after_spot_wait_seconds() {
    let w = World::with_data();
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNABLE")]);
    let mut job = submitted(&w, &registered(&w, "config-daily.json"), false);
    assert_eq!(job.config.spot_wait_seconds, 900);

    // 899 s RUNNABLE: still waiting for spot
    later(&w, 899);
    let out = w.check(&json!({"job": job})).unwrap();
    assert!(!out.check.fallback && !out.check.done, "{:?}", out.check);
    assert!(w.batch.terminated.lock().unwrap().is_empty());
    job = out.job;

    // 901 s: the spot submission is terminated and the job falls back with the reason
    later(&w, 2);
    let out = w.check(&json!({"job": job})).unwrap();
    let c = &out.check;
    assert!(
        c.fallback && c.no_capacity && !c.reclaimed && c.done && c.failed,
        "{c:?}"
    );
    let terminated = w.batch.terminated.lock().unwrap().clone();
    assert_eq!(terminated.len(), 1);
    assert_eq!(terminated[0].0, "batch-1");
    assert_eq!(
        terminated[0].1,
        "stepscore: no spot capacity: the job waited 901 s without starting (spot_wait_seconds = 900)"
    );

    // the on-demand submission records why it left spot
    let again = submitted(&w, &out.job, true);
    assert_eq!(again.queue_kind, QueueKind::OnDemand);
    let rec = w.table.record(&again.job_id);
    assert_eq!(rec.attempts[0].fallback_reason, None);
    assert_eq!(
        rec.attempts[1].fallback_reason.as_deref(),
        Some(terminated[0].1.as_str())
    );
}

#[test]
fn a_spot_job_that_started_is_never_given_up_on() {
    let w = World::with_data();
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING")]);
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    later(&w, 5 * 3600);
    let out = w.check(&json!({"job": job})).unwrap();
    assert!(!out.check.fallback && !out.check.done);
    assert!(w.batch.terminated.lock().unwrap().is_empty());
}

#[test]
fn a_queue_time_limit_cancel_falls_back_on_spot_and_explains_itself_on_demand() {
    let cancel = "Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY";
    let w = World::with_data();
    let mut cancelled = view("FAILED");
    cancelled.status_reason = Some(cancel.into());
    w.batch
        .scripts
        .lock()
        .unwrap()
        .extend([vec![cancelled.clone()], vec![cancelled]]);
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    let out = w.check(&json!({"job": job})).unwrap();
    assert!(
        out.check.fallback && out.check.no_capacity,
        "{:?}",
        out.check
    );

    // on demand there is nowhere left to go: finalize says what the cancel means
    let job = submitted(&w, &out.job, true);
    let out = w.check(&json!({"job": job})).unwrap();
    assert!(!out.check.fallback && out.check.failed);
    let fin = block_on(finalize(
        &w.store,
        &w.table,
        &w.events,
        &w.clock,
        &json!({"outcome": "FAILED", "state": {"job": out.job, "check": out.check}}),
    ))
    .unwrap();
    let reason = fin.reason.unwrap();
    assert!(reason.contains(cancel), "{reason}");
    assert!(
        reason.contains("all connected compute environments have insufficient capacity errors"),
        "{reason}"
    );
}

#[test]
fn a_fargate_spot_interruption_counts_as_a_reclaim() {
    let w = World::with_data();
    let mut interrupted = view("FAILED");
    interrupted.status_reason = Some("Your Spot Task was interrupted.".into());
    w.batch.scripts.lock().unwrap().push_back(vec![interrupted]);
    let job = submitted(&w, &registered(&w, "config-daily.json"), false);
    let out = w.check(&json!({"job": job})).unwrap();
    assert!(out.check.reclaimed && out.check.fallback, "{:?}", out.check);
}

#[test]
fn after_a_thousand_checks_the_job_continues_in_its_next_execution() {
    let w = World::with_data();
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING")]);
    let mut job = submitted(&w, &registered(&w, "config-daily.json"), false);
    job.checks_in_execution = stepscore_handlers::MAX_CHECKS_PER_EXECUTION - 2;
    let out = w.check(&json!({"job": job})).unwrap();
    assert_eq!(out.check.continue_as, None);
    let out = w.check(&json!({"job": out.job})).unwrap();
    assert_eq!(
        out.check.continue_as.as_deref(),
        Some("daily-0123456789abcdef-c2")
    );
    assert_eq!((out.job.execution, out.job.checks_in_execution), (2, 0));
}
