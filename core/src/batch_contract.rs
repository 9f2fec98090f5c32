//! The Batch contract: the cases every [`BatchService`] implementation passes, AWS Batch's
//! adapter, the local Batch and the handlers' fake alike.
//!
//! An implementation's tests call [`check_batch_service`] with the service and a [`BatchSetup`]
//! naming two of its queues and a job definition. Jobs are named `batch-contract-…`. A failing
//! case panics naming itself and what it saw.
//!
//! How far a job gets on its own differs, so the cases assert only what every implementation
//! shares. Real AWS Batch and the local Batch place and run a job; moto's docker-free Batch
//! (the AWS adapter's test peer) marks it SUCCEEDED inside SubmitJob; the handlers' fake shows
//! what its script says. So a terminated job is judged by what it was when terminated: one that
//! had not ended must end FAILED with the reason as its statusReason, one that had ended keeps
//! its status.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::batch::{BatchJobView, BatchStatus, RetryStrategy, SubmitJobRequest};
use crate::ports::{BatchService, SubmittedJob};

/// What the cases submit to.
#[derive(Debug, Clone)]
pub struct BatchSetup {
    /// The queue jobs are submitted to.
    pub queue: String,
    /// Another queue, on which no contract job is submitted.
    pub other_queue: String,
    /// A job definition whose jobs run for minutes when they run at all, so that none ends on
    /// its own while a case waits to terminate it.
    pub job_definition: String,
    /// How long a terminated job may take to end, and an array job's children to appear (the
    /// local Batch ends a running job on its executor's next tick; AWS within seconds).
    pub patience: Duration,
}

/// Runs every case against `batch`.
pub async fn check_batch_service(batch: &dyn BatchService, setup: &BatchSetup) {
    a_submitted_job_is_described(batch, setup).await;
    an_unknown_job_id_is_described_as_none(batch).await;
    a_job_is_found_by_queue_and_name_in_any_status(batch, setup).await;
    an_array_job_has_its_size_and_a_summary_of_its_children(batch, setup).await;
    a_terminated_job_ends_failed_with_the_reason_and_terminating_again_is_harmless(batch, setup)
        .await;
}

/// A job of the setup's definition on its queue.
fn request(setup: &BatchSetup, name: &str, array_size: Option<u32>) -> SubmitJobRequest {
    SubmitJobRequest {
        job_name: name.into(),
        job_queue: setup.queue.clone(),
        job_definition: setup.job_definition.clone(),
        array_size,
        environment: BTreeMap::from([("STEPSCORE_JOB_ID".into(), name.into())]),
        vcpus: 1,
        memory_mib: 512,
        timeout_seconds: 3600,
        retry_strategy: RetryStrategy::scoring(),
        tags: BTreeMap::from([("team".into(), "contract".into())]),
    }
}

async fn submit(
    batch: &dyn BatchService,
    setup: &BatchSetup,
    name: &str,
    array_size: Option<u32>,
    case: &str,
) -> SubmittedJob {
    let job = batch.submit(&request(setup, name, array_size)).await;
    let job = job.unwrap_or_else(|e| panic!("{case}: submit {name}: {e}"));
    assert_eq!(
        job.job_name, name,
        "{case}: submit returns the name submitted"
    );
    job
}

async fn describe(batch: &dyn BatchService, job_id: &str, case: &str) -> BatchJobView {
    match batch.describe(job_id).await {
        Ok(Some(view)) => view,
        Ok(None) => panic!("{case}: describe does not know job {job_id}, which was submitted"),
        Err(e) => panic!("{case}: describe {job_id}: {e}"),
    }
}

async fn find(batch: &dyn BatchService, queue: &str, name: &str, case: &str) -> Option<String> {
    let found = batch.find_by_name(queue, name).await;
    let found = found.unwrap_or_else(|e| panic!("{case}: find_by_name {queue} {name}: {e}"));
    if let Some(job) = &found {
        assert_eq!(
            job.job_name, name,
            "{case}: find_by_name returns the name asked for"
        );
    }
    found.map(|job| job.job_id)
}

/// Describes `job_id` until `done` holds of the view, or panics after `patience`.
async fn describe_until(
    batch: &dyn BatchService,
    job_id: &str,
    done: impl Fn(&BatchJobView) -> bool,
    patience: Duration,
    what: &str,
) -> BatchJobView {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let view = describe(batch, job_id, what).await;
        if done(&view) {
            return view;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: not within {patience:?}; last seen {view:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Batch names a job's queue by ARN (`arn:…:job-queue/<name>`), the local Batch by name.
fn names_queue(job_queue: &str, queue: &str) -> bool {
    job_queue == queue || job_queue.ends_with(&format!("/{queue}"))
}

async fn a_submitted_job_is_described(batch: &dyn BatchService, setup: &BatchSetup) {
    let case = "a submitted job is described";
    let job = submit(batch, setup, "batch-contract-single", None, case).await;
    let view = describe(batch, &job.job_id, case).await;
    assert_eq!(
        view.job_id, job.job_id,
        "{case}: the view is of the job asked for"
    );
    assert!(
        names_queue(&view.job_queue, &setup.queue),
        "{case}: the view names queue {}, got {}",
        setup.queue,
        view.job_queue
    );
    assert_eq!(
        (view.array_size, &view.array_status_summary),
        (None, &None),
        "{case}: a single job has no array properties"
    );
    // Batch has no idempotency token (why the submit handler looks its attempt up by name
    // first): the same request again is another job
    let again = submit(batch, setup, "batch-contract-single", None, case).await;
    assert_ne!(
        again.job_id, job.job_id,
        "{case}: submitting the same request twice makes two jobs"
    );
}

async fn an_unknown_job_id_is_described_as_none(batch: &dyn BatchService) {
    let case = "an unknown job id is described as None";
    // shaped like Batch's job ids, which are UUIDs
    let unknown = "00000000-0000-4000-8000-000000000000";
    match batch.describe(unknown).await {
        Ok(None) => {}
        other => panic!("{case}: describe {unknown} gave {other:?}"),
    }
}

async fn a_job_is_found_by_queue_and_name_in_any_status(
    batch: &dyn BatchService,
    setup: &BatchSetup,
) {
    let case = "a job is found by queue and name, in any status";
    let name = "batch-contract-found";
    let job = submit(batch, setup, name, None, case).await;
    assert_eq!(
        find(batch, &setup.queue, name, case).await,
        Some(job.job_id.clone()),
        "{case}: the job is found on its queue"
    );
    assert_eq!(
        find(batch, &setup.other_queue, name, case).await,
        None,
        "{case}: a job is not found on another queue"
    );
    for near in ["batch-contract-foun", "batch-contract-found-2"] {
        assert_eq!(
            find(batch, &setup.queue, near, case).await,
            None,
            "{case}: names match exactly: {near} finds nothing"
        );
    }
    let reason = "stepscore: batch contract ends this job";
    if let Err(e) = batch.terminate(&job.job_id, reason).await {
        panic!("{case}: terminate: {e}");
    }
    let what = format!("{case}: the terminated job {} ends", job.job_id);
    describe_until(
        batch,
        &job.job_id,
        |v| v.status.is_terminal(),
        setup.patience,
        &what,
    )
    .await;
    assert_eq!(
        find(batch, &setup.queue, name, case).await,
        Some(job.job_id),
        "{case}: an ended job is still found, so a retried submit never runs it again"
    );
}

async fn an_array_job_has_its_size_and_a_summary_of_its_children(
    batch: &dyn BatchService,
    setup: &BatchSetup,
) {
    let case = "an array job has its size and a summary of its children";
    let name = "batch-contract-array";
    let job = submit(batch, setup, name, Some(3), case).await;
    let view = describe(batch, &job.job_id, case).await;
    assert_eq!(view.array_size, Some(3), "{case}: the size submitted");
    // Batch creates the children a moment after the parent: the summary may lag behind
    let accounted = |v: &BatchJobView| {
        v.array_status_summary
            .as_ref()
            .is_some_and(|s| s.values().sum::<u32>() == 3)
    };
    let what = format!("{case}: the summary counts every child of {}", job.job_id);
    let view = describe_until(batch, &job.job_id, accounted, setup.patience, &what).await;
    let summary = view.array_status_summary.unwrap_or_default();
    for status in summary.keys() {
        assert!(
            BatchStatus::parse(status).is_some(),
            "{case}: the summary counts children by Batch status, got '{status}' in {summary:?}"
        );
    }
    assert_eq!(
        find(batch, &setup.queue, name, case).await,
        Some(job.job_id),
        "{case}: an array job is found as itself, not as one of its children"
    );
}

async fn a_terminated_job_ends_failed_with_the_reason_and_terminating_again_is_harmless(
    batch: &dyn BatchService,
    setup: &BatchSetup,
) {
    let case = "a terminated job ends FAILED with the reason; terminating again is harmless";
    let job = submit(batch, setup, "batch-contract-terminated", None, case).await;
    let before = describe(batch, &job.job_id, case).await;
    let reason = "stepscore: execution batch-contract ended ABORTED";
    if let Err(e) = batch.terminate(&job.job_id, reason).await {
        panic!("{case}: terminate: {e}");
    }
    let what = format!("{case}: job {} ends once terminated", job.job_id);
    let ended = describe_until(
        batch,
        &job.job_id,
        |v| v.status.is_terminal(),
        setup.patience,
        &what,
    )
    .await;
    if before.status.is_terminal() {
        // moto's docker-free Batch ends every job inside SubmitJob. (It also writes the reason
        // into an ended job's statusReason, where AWS leaves an ended job as it is: only the
        // status is common ground.)
        assert_eq!(
            ended.status, before.status,
            "{case}: terminating a job that has ended leaves its status"
        );
    } else {
        assert_eq!(
            (ended.status, ended.status_reason.as_deref()),
            (BatchStatus::Failed, Some(reason)),
            "{case}: a job terminated before it ended ends FAILED with the reason as statusReason"
        );
    }
    if let Err(e) = batch.terminate(&job.job_id, "a second reason").await {
        panic!("{case}: terminating again: {e}");
    }
    let again = describe(batch, &job.job_id, case).await;
    assert_eq!(
        (again.status, &again.status_reason),
        (ended.status, &ended.status_reason),
        "{case}: terminating an ended job changes nothing"
    );
}
