//! check's copy of the scorer's progress into the record, and the one status change event that
//! finalize or cleanup publishes when a job ends.

use serde_json::json;
use stepscore_core::JobStatus;
use stepscore_core::record::Notification;
use stepscore_handlers::{Job, cleanup, finalize, register, submit};

use crate::fakes::*;

fn running_job(w: &World) -> Job {
    let input = json!({
        "input": {"job_id": "daily-0123456789abcdef", "config": fixture_json("config-daily.json"), "source": "s3://acme-scoring/jobs/daily.json"},
        "execution_name": "daily-0123456789abcdef",
    });
    let job = block_on(register(&w.table, &w.clock, &input)).unwrap();
    w.batch
        .scripts
        .lock()
        .unwrap()
        .push_back(vec![view("RUNNING")]);
    let input = json!({"job": job, "spot_queue": "spot", "on_demand_queue": "on-demand", "job_definition": "scoring"});
    block_on(submit(&w.batch, &w.table, &w.clock, &input)).unwrap()
}

const OUT: &str = "s3://acme-scoring/output/daily-churn/2026-11-23/";

fn report(w: &World, shard: u32, rows: u64, batch_job_id: &str) {
    w.store.put(
        &format!("{OUT}progress-{shard}.json"),
        serde_json::to_vec(
            &json!({"version": 1, "job_id": "daily-0123456789abcdef", "shard_index": shard,
            "shard_count": 3, "rows_read": rows, "rows_scored": rows - 1, "rows_rejected": 1,
            "bytes_read": rows * 10, "bytes_total": 10_000, "seconds": 2.0, "done": false,
            "batch_job_id": batch_job_id}),
        )
        .unwrap(),
    );
}

fn checked(w: &World, job: &Job) -> Job {
    w.check(&json!({"job": job})).unwrap().job
}

#[test]
fn check_sums_this_attempts_usable_reports_into_the_record_and_skips_the_rest() {
    let w = World::with_data();
    let job = running_job(&w);
    let batch = job.batch_job_id.clone().unwrap();
    report(&w, 0, 100, &format!("{batch}:0"));
    // an earlier attempt's report, still there
    report(&w, 1, 900, "batch-earlier:1");
    // a report cut off mid-write
    w.store.put(
        &format!("{OUT}progress-2.json"),
        b"{\"version\": 1, \"job_".to_vec(),
    );
    let job = checked(&w, &job);
    let live = w.table.record(&job.job_id).live.expect("figures copied");
    assert_eq!(
        (live.attempt, live.shard_count, live.shards_reporting),
        (1, 3, 1)
    );
    assert_eq!(
        (live.rows_read, live.rows_scored, live.rows_rejected),
        (100, 99, 1)
    );
    assert_eq!(live.updated_at, w.clock.0.lock().unwrap().to_owned());
    assert_eq!(w.table.record(&job.job_id).status, JobStatus::Running);

    // further on: replaced; a store that fails: the check still succeeds, the figures stay
    report(&w, 0, 200, &format!("{batch}:0"));
    let job = checked(&w, &job);
    assert_eq!(w.table.record(&job.job_id).live.unwrap().rows_read, 200);
    *w.store.transient.lock().unwrap() = true;
    let out = w.check(&json!({"job": job}));
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(w.table.record(&job.job_id).live.unwrap().rows_read, 200);
}

#[test]
fn check_reads_no_progress_before_the_job_has_started() {
    let w = World::with_data();
    let input = json!({
        "input": {"job_id": "daily-0123456789abcdef", "config": fixture_json("config-daily.json")},
        "execution_name": "daily-0123456789abcdef",
    });
    let job = block_on(register(&w.table, &w.clock, &input)).unwrap();
    let input = json!({"job": job, "spot_queue": "spot", "on_demand_queue": "on-demand", "job_definition": "scoring"});
    let job = block_on(submit(&w.batch, &w.table, &w.clock, &input)).unwrap();
    report(&w, 0, 100, "anything");
    w.store.calls.take();
    checked(&w, &job);
    assert!(
        w.store.calls.take().is_empty(),
        "a queued job has no progress to read"
    );
    assert_eq!(w.table.record(&job.job_id).live, None);
}

fn finalize_failed(
    w: &World,
    job: &Job,
) -> Result<stepscore_handlers::tasks::FinalizeOutput, stepscore_handlers::HandlerError> {
    block_on(finalize(
        &w.store,
        &w.table,
        &w.events,
        &w.clock,
        &json!({"outcome": "FAILED", "state": {"job": job, "error": {"Error": "States.Timeout"}}}),
    ))
}

#[test]
fn the_finalize_that_ends_the_job_publishes_once_and_a_duplicate_publishes_nothing() {
    let w = World::with_data();
    let job = checked(&w, &running_job(&w));
    finalize_failed(&w, &job).unwrap();
    let published = w.events.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].event_id, "daily-0123456789abcdef/FAILED");
    assert_eq!(published[0].name.as_deref(), Some("daily-churn"));
    assert_eq!(published[0].output.as_deref(), Some(OUT));
    assert!(
        published[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("States.Timeout")
    );
    assert_eq!(
        w.table.record(&job.job_id).notification,
        Some(Notification::Sent)
    );
    finalize_failed(&w, &job).unwrap();
    let ended = json!({"detail-type": "Step Functions Execution Status Change",
        "detail": {"executionArn": "arn:x", "name": "daily-0123456789abcdef", "status": "FAILED"}});
    block_on(cleanup(&w.batch, &w.table, &w.events, &w.clock, &ended)).unwrap();
    assert_eq!(
        w.events.published().len(),
        1,
        "a duplicate finalize or a cleanup after it"
    );
}

#[test]
fn a_publish_that_fails_transiently_fails_the_task_and_its_retry_publishes() {
    let w = World::with_data();
    let job = checked(&w, &running_job(&w));
    *w.events.failing.lock().unwrap() = Some(true);
    let err = finalize_failed(&w, &job).unwrap_err();
    assert_eq!(err.error_type(), "stepscore.Transient", "{err}");
    // the record ended; its event waits
    let record = w.table.record(&job.job_id);
    assert_eq!(
        (record.status, record.notification),
        (JobStatus::Failed, Some(Notification::Pending))
    );
    *w.events.failing.lock().unwrap() = None;
    finalize_failed(&w, &job).unwrap();
    assert_eq!(w.events.published().len(), 1);
    assert_eq!(
        w.table.record(&job.job_id).notification,
        Some(Notification::Sent)
    );
}

#[test]
fn a_publish_refused_for_good_leaves_the_job_ended_and_its_event_pending() {
    let w = World::with_data();
    let job = checked(&w, &running_job(&w));
    *w.events.failing.lock().unwrap() = Some(false);
    let out = finalize_failed(&w, &job).unwrap();
    assert_eq!(out.status, JobStatus::Failed);
    assert_eq!(
        w.table.record(&job.job_id).notification,
        Some(Notification::Pending)
    );
    assert!(w.events.published().is_empty());
}

#[test]
fn cleanup_publishes_the_end_it_writes() {
    let w = World::with_data();
    let job = checked(&w, &running_job(&w));
    let ended = json!({"detail-type": "Step Functions Execution Status Change",
        "detail": {"executionArn": "arn:x", "name": "daily-0123456789abcdef", "status": "ABORTED",
                   "error": "stepscore.Stopped", "cause": "by hand"}});
    block_on(cleanup(&w.batch, &w.table, &w.events, &w.clock, &ended)).unwrap();
    let published = w.events.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].status, JobStatus::Failed);
    assert!(
        published[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("stopped:"),
        "{published:?}"
    );
    assert_eq!(published[0].job_id, job.job_id);
}
