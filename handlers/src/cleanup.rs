//! `cleanup`: ends the job of an execution that ended without finishing it, and `stop_job`, which
//! ends such an execution on purpose.
//!
//! A Step Functions execution can end while its Batch job still runs: stopped by a user
//! (ABORTED), past the state machine's timeout (TIMED_OUT), or failed by an error no Catch
//! handles (FAILED, which also covers every path through `FinalizeFailed`). On AWS an EventBridge
//! rule sends each such "Step Functions Execution Status Change" event to this handler; the
//! embedded runtime delivers the same event from its executions table. The handler terminates
//! every Batch attempt the job's record names and marks the record FAILED with what happened.
//! Both steps are idempotent (terminating an ended job changes nothing, a terminal record never
//! changes), so a redelivered event does no harm.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepscore_core::config::JobConfig;
use stepscore_core::ports::{
    BatchService, Clock, Executions, JobTable, Notifier, Stopped, Updated,
};
use stepscore_core::record::JobUpdate;
use stepscore_core::{JobId, JobStatus};

use crate::error::HandlerError;
use crate::job::MAX_EXECUTIONS_PER_JOB;
use crate::tasks::console_job_id;

/// The EventBridge `detail-type` of the events this handler takes.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// Execution statuses after which the job may need cleaning up (the EventBridge rule's filter).
pub const CLEANUP_STATUSES: &[&str] = &["ABORTED", "TIMED_OUT", "FAILED"];

/// The error name `stepscore stop` gives StopExecution.
pub const STOPPED_ERROR: &str = "stepscore.Stopped";

/// An EventBridge "Step Functions Execution Status Change" event (the fields cleanup reads).
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionStatusChange {
    /// `Step Functions Execution Status Change`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The execution.
    pub detail: ExecutionDetail,
}

/// The event's `detail`: DescribeExecution's fields, with the input as a JSON string.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    /// The execution's ARN.
    pub execution_arn: String,
    /// The execution's name.
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    /// The execution input as a JSON string; null when over EventBridge's size limit
    /// (`inputDetails.included` is then false).
    #[serde(default)]
    pub input: Option<String>,
    /// The error the execution ended with, when AWS includes it.
    #[serde(default)]
    pub error: Option<String>,
    /// Its cause.
    #[serde(default)]
    pub cause: Option<String>,
}

/// What cleanup did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanupOutput {
    /// The execution's job, when one was found.
    pub job_id: Option<JobId>,
    /// Batch jobs asked to terminate.
    pub terminated: Vec<String>,
    /// The record's status afterwards.
    pub status: Option<JobStatus>,
    /// Its failure reason afterwards.
    pub reason: Option<String>,
}

/// Handles one execution status change: for an execution that ended ABORTED, TIMED_OUT or
/// FAILED, terminates the job's Batch attempts and records the job FAILED with why, then
/// publishes the job's status change if it is still pending ([`crate::notify`]).
pub async fn cleanup(
    batch: &dyn BatchService,
    table: &dyn JobTable,
    notifier: &dyn Notifier,
    clock: &dyn Clock,
    event: &Value,
) -> Result<CleanupOutput, HandlerError> {
    let event: ExecutionStatusChange =
        serde_json::from_value(event.clone()).map_err(|e| HandlerError::bad_input("cleanup", e))?;
    let nothing = CleanupOutput {
        job_id: None,
        terminated: Vec::new(),
        status: None,
        reason: None,
    };
    let d = &event.detail;
    if event.detail_type != EXECUTION_STATUS_CHANGE
        || !CLEANUP_STATUSES.contains(&d.status.as_str())
    {
        tracing::info!(execution = %d.name, status = %d.status, detail_type = %event.detail_type, "nothing to clean up");
        return Ok(nothing);
    }
    let Some(job_id) = job_of(d) else {
        tracing::warn!(execution = %d.execution_arn, "the execution names no job: nothing to clean up");
        return Ok(nothing);
    };
    let Some(record) = table.get(&job_id).await? else {
        tracing::warn!(execution = %d.execution_arn, job_id = %job_id, "the execution ended before its job was recorded: nothing to clean up");
        return Ok(CleanupOutput {
            job_id: Some(job_id),
            ..nothing
        });
    };
    let why = execution_reason(d);
    let terminate_reason = format!("stepscore: execution {} ended {}", d.name, d.status);
    let mut terminated = Vec::new();
    // every attempt: a fallback may have left an earlier one still cancelling; terminating an
    // ended Batch job changes nothing
    for attempt in &record.attempts {
        batch
            .terminate(&attempt.batch_job_id, &terminate_reason)
            .await?;
        terminated.push(attempt.batch_job_id.clone());
    }
    let mut update = JobUpdate::to(JobStatus::Failed, record.attempt, clock.now());
    update.failure_reason = Some(why);
    let record = match table.update(&job_id, &update).await? {
        Updated::Applied(r) => {
            tracing::warn!(job_id = %job_id, execution = %d.name, status = %d.status, batch_jobs = ?terminated, "job failed with its execution");
            r
        }
        Updated::Ignored(r) => {
            tracing::info!(job_id = %job_id, status = %r.status, batch_jobs = ?terminated, "record was already final; Batch attempts terminated");
            r
        }
    };
    crate::notify::publish_pending(notifier, table, &record).await?;
    Ok(CleanupOutput {
        job_id: Some(job_id),
        terminated,
        status: Some(record.status),
        reason: record.failure_reason,
    })
}

/// The job an execution runs, read from its input the way register reads it: a continued
/// execution's job, admit's `job_id`, or a config started by hand (its id derived from the
/// execution name, as register derives it); else the execution name, which is the job id of
/// every first execution admit starts.
fn job_of(d: &ExecutionDetail) -> Option<JobId> {
    let input: Option<Value> = d
        .input
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    if let Some(input) = &input {
        let named = input
            .pointer("/continued/job/job_id")
            .or_else(|| input.get("job_id"))
            .and_then(Value::as_str)
            .and_then(|s| JobId::parse(s).ok());
        if named.is_some() {
            return named;
        }
        if input.is_object() {
            let config = JobConfig::from_value(input, "execution input").ok();
            return Some(console_job_id(config.as_ref(), &d.name));
        }
    }
    JobId::parse(&d.name).ok()
}

/// Why the job failed, in the words a user reads on the record.
fn execution_reason(d: &ExecutionDetail) -> String {
    let detail = match (d.error.as_deref(), d.cause.as_deref()) {
        (Some(e), Some(c)) if !c.is_empty() => format!(": {e}: {c}"),
        (Some(e), _) if !e.is_empty() => format!(": {e}"),
        (_, Some(c)) if !c.is_empty() => format!(": {c}"),
        _ => String::new(),
    };
    match d.status.as_str() {
        "ABORTED" if d.error.as_deref() == Some(STOPPED_ERROR) => {
            format!("stopped: execution {} was aborted{detail}", d.name)
        }
        "ABORTED" => format!(
            "execution {} was aborted (stopped by a user or another system){detail}",
            d.name
        ),
        "TIMED_OUT" => format!(
            "execution {} timed out: it ran past the state machine's TimeoutSeconds{detail}",
            d.name
        ),
        _ => format!("execution {} failed{detail}", d.name),
    }
}

/// What [`stop_job`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopReport {
    /// The job.
    pub job_id: JobId,
    /// Executions that were running and are now aborted (their cleanup follows).
    pub stopped: Vec<String>,
    /// The record's status when the stop was asked for.
    pub status: JobStatus,
}

/// Stops every running execution of `job_id` (StopExecution with `stepscore.Stopped` and
/// `cause`); the cleanup that each stop triggers terminates the Batch job and fails the record.
/// An error names a job the table does not know.
pub async fn stop_job(
    executions: &dyn Executions,
    table: &dyn JobTable,
    job_id: &JobId,
    cause: &str,
) -> Result<StopReport, HandlerError> {
    let record = table.get(job_id).await?.ok_or_else(|| {
        HandlerError::NotFound(format!(
            "no job '{job_id}' in the job table: `stepscore jobs` lists the jobs there"
        ))
    })?;
    // the first execution is named by the job id (admit) or by whoever started it (recorded by
    // register); the ones it continued in are named by the job id
    let first = record
        .execution_arn
        .as_deref()
        .and_then(|arn| arn.rsplit(':').next())
        .unwrap_or(job_id.as_str())
        .to_owned();
    let names = std::iter::once(first)
        .chain((2..=MAX_EXECUTIONS_PER_JOB).map(|n| job_id.execution_name(n)));
    let mut stopped = Vec::new();
    for name in names {
        match executions.stop(&name, STOPPED_ERROR, cause).await? {
            Stopped::Stopped { .. } => stopped.push(name),
            Stopped::AlreadyEnded { .. } => {}
            // executions of a job are numbered without gaps
            Stopped::NotFound => break,
        }
    }
    Ok(StopReport {
        job_id: job_id.clone(),
        stopped,
        status: record.status,
    })
}
