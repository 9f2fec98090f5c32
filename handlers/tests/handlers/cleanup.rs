//! cleanup and stop_job: an execution that ends without finishing its job leaves no Batch job
//! running and no record short of FAILED.

use serde_json::{Value, json};
use stepscore_core::{JobId, JobStatus};
use stepscore_handlers::{Job, cleanup, register, stop_job, submit};

use crate::fakes::*;

const JOB: &str = "daily-0123456789abcdef";

/// A world where job JOB is registered and submitted twice (spot, then on demand).
fn running_job() -> (World, Job) {
    let w = World::with_data();
    let input = json!({
        "input": {"job_id": JOB, "config": fixture_json("config-daily.json"), "source": "s3://acme-scoring/jobs/daily.json"},
        "execution_name": JOB,
    });
    let job = block_on(register(&w.table, &w.clock, &input)).unwrap();
    let mut job = job;
    for fallback in [false, true] {
        let input = json!({"job": job, "spot_queue": "spot", "on_demand_queue": "od", "job_definition": "d", "fallback": fallback});
        job = block_on(submit(&w.batch, &w.table, &w.clock, &input)).unwrap();
    }
    (w, job)
}

fn event(status: &str, error: Option<&str>, cause: Option<&str>) -> Value {
    let mut e = fixture_json("execution-aborted.json");
    e["detail"]["status"] = json!(status);
    e["detail"]["error"] = json!(error);
    e["detail"]["cause"] = json!(cause);
    e
}

#[test]
fn an_aborted_execution_terminates_every_attempt_and_fails_the_job_as_stopped() {
    let (w, _job) = running_job();
    let out = block_on(cleanup(
        &w.batch,
        &w.table,
        &w.events,
        &w.clock,
        &fixture_json("execution-aborted.json"),
    ))
    .unwrap();
    assert_eq!(out.terminated, ["batch-1", "batch-2"]);
    let terminated = w.batch.terminated.lock().unwrap().clone();
    assert_eq!(terminated.len(), 2);
    assert_eq!(
        terminated[0].1,
        "stepscore: execution daily-0123456789abcdef ended ABORTED"
    );
    let rec = w.table.record(&JobId::parse(JOB).unwrap());
    assert_eq!(rec.status, JobStatus::Failed);
    assert_eq!(
        rec.failure_reason.as_deref(),
        Some(
            "stopped: execution daily-0123456789abcdef was aborted: stepscore.Stopped: stopped with `stepscore stop` by ana"
        )
    );
}

#[test]
fn a_timed_out_or_failed_execution_says_so_on_the_record() {
    for (status, error, cause, expected) in [
        (
            "TIMED_OUT",
            None,
            None,
            "execution daily-0123456789abcdef timed out: it ran past the state machine's TimeoutSeconds",
        ),
        (
            "FAILED",
            Some("States.Runtime"),
            Some("An error occurred while executing the state 'Resume'"),
            "execution daily-0123456789abcdef failed: States.Runtime: An error occurred while executing the state 'Resume'",
        ),
        (
            "ABORTED",
            None,
            None,
            "execution daily-0123456789abcdef was aborted (stopped by a user or another system)",
        ),
    ] {
        let (w, _) = running_job();
        block_on(cleanup(
            &w.batch,
            &w.table,
            &w.events,
            &w.clock,
            &event(status, error, cause),
        ))
        .unwrap();
        let rec = w.table.record(&JobId::parse(JOB).unwrap());
        assert_eq!(rec.status, JobStatus::Failed, "{status}");
        assert_eq!(rec.failure_reason.as_deref(), Some(expected), "{status}");
    }
}

#[test]
fn a_redelivered_event_or_a_job_finalize_already_failed_changes_no_record() {
    let (w, job) = running_job();
    let fin = json!({"outcome": "FAILED", "state": {"job": job, "error": {"Error": "stepscore.Transient", "Cause": "DynamoDB throttled"}}});
    block_on(stepscore_handlers::finalize(
        &w.store, &w.table, &w.events, &w.clock, &fin,
    ))
    .unwrap();
    let before = w.table.record(&JobId::parse(JOB).unwrap());
    for _ in 0..2 {
        let out = block_on(cleanup(
            &w.batch,
            &w.table,
            &w.events,
            &w.clock,
            &event("FAILED", Some("stepscore.JobFailed"), None),
        ))
        .unwrap();
        // the Batch jobs are still told to stop: a Catch that routed to FinalizeFailed may have
        // left one running
        assert_eq!(out.terminated.len(), 2);
    }
    assert_eq!(w.table.record(&JobId::parse(JOB).unwrap()), before);
}

#[test]
fn a_succeeded_execution_or_another_event_is_left_alone() {
    let (w, _) = running_job();
    for e in [event("SUCCEEDED", None, None), {
        let mut e = event("FAILED", None, None);
        e["detail-type"] = json!("Step Functions State Machine Status Change");
        e
    }] {
        let out = block_on(cleanup(&w.batch, &w.table, &w.events, &w.clock, &e)).unwrap();
        assert_eq!(out.job_id, None);
    }
    assert!(w.batch.terminated.lock().unwrap().is_empty());
    assert_eq!(
        w.table.record(&JobId::parse(JOB).unwrap()).status,
        JobStatus::Submitted
    );
}

#[test]
fn a_continued_execution_names_its_job_in_its_input() {
    let (w, job) = running_job();
    let mut e = event("ABORTED", None, None);
    e["detail"]["name"] = json!(format!("{JOB}-c3"));
    e["detail"]["input"] = json!(json!({"continued": {"job": job}}).to_string());
    let out = block_on(cleanup(&w.batch, &w.table, &w.events, &w.clock, &e)).unwrap();
    assert_eq!(out.job_id, Some(JobId::parse(JOB).unwrap()));
    assert_eq!(out.status, Some(JobStatus::Failed));
}

#[test]
fn an_execution_that_ended_before_its_job_was_recorded_is_reported_not_failed() {
    let w = World::with_data();
    let out = block_on(cleanup(
        &w.batch,
        &w.table,
        &w.events,
        &w.clock,
        &event("FAILED", Some("stepscore.RegisterFailed"), None),
    ))
    .unwrap();
    assert_eq!(out.job_id, Some(JobId::parse(JOB).unwrap()));
    assert_eq!(out.status, None);
    assert!(out.terminated.is_empty());
}

#[test]
fn an_event_that_is_not_an_execution_status_change_is_a_clear_error() {
    let w = World::with_data();
    let err = block_on(cleanup(
        &w.batch,
        &w.table,
        &w.events,
        &w.clock,
        &json!({"Records": []}),
    ))
    .unwrap_err();
    assert_eq!(err.error_type(), "stepscore.BadConfig");
    assert!(err.to_string().contains("cleanup received"), "{err}");
}

#[test]
fn stop_stops_each_running_execution_of_the_job_and_names_an_unknown_job() {
    let (w, _) = running_job();
    let id = JobId::parse(JOB).unwrap();
    for name in [JOB.to_owned(), id.execution_name(2)] {
        block_on(stepscore_core::ports::Executions::start(
            &w.executions,
            &name,
            &json!({}),
        ))
        .unwrap();
    }
    let report = block_on(stop_job(&w.executions, &w.table, &id, "test")).unwrap();
    assert_eq!(report.stopped, [JOB.to_owned(), format!("{JOB}-c2")]);
    assert_eq!(report.status, JobStatus::Submitted);
    // again: both have ended, nothing to stop
    let report = block_on(stop_job(&w.executions, &w.table, &id, "test")).unwrap();
    assert!(report.stopped.is_empty());

    let err = block_on(stop_job(
        &w.executions,
        &w.table,
        &JobId::parse("nope-1").unwrap(),
        "test",
    ))
    .unwrap_err();
    assert_eq!(err.error_type(), "stepscore.NotFound");
    assert!(err.to_string().contains("nope-1"), "{err}");
}
