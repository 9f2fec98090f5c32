//! The state machine's tasks: register, submit, check, finalize.

use std::collections::BTreeMap;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepscore_core::batch::{BatchJobView, BatchStatus, RetryStrategy, SubmitJobRequest};
use stepscore_core::config::JobConfig;
use stepscore_core::manifest::{ScoringFailure, ScoringManifest, failure_name, manifest_name};
use stepscore_core::ports::{
    BatchService, Clock, Created, JobTable, Notifier, ObjectStore, StoreError, Updated,
};
use stepscore_core::record::{Attempt, JobRecord, JobUpdate, Metrics};
use stepscore_core::status_reason::{self, FailureCause};
use stepscore_core::{JobId, JobStatus};

use crate::error::HandlerError;
use crate::job::{Job, MAX_CHECKS_PER_EXECUTION, Poll, QueueKind};

/// Largest manifest finalize reads.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The Register task's input (the state machine's Parameters).
#[derive(Debug, Clone, Deserialize)]
pub struct RegisterInput {
    /// The execution input: what admit sent, or a bare job config.
    pub input: Value,
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.Execution.Id`, recorded on a record register creates.
    #[serde(default)]
    pub execution_arn: Option<String>,
}

/// Registers the job: accepts admit's input or a bare config started by hand, creates the record
/// when missing, and returns the normalised job.
pub async fn register(
    table: &dyn JobTable,
    clock: &dyn Clock,
    input: &Value,
) -> Result<Job, HandlerError> {
    let input: RegisterInput = serde_json::from_value(input.clone())
        .map_err(|e| HandlerError::bad_input("register", e))?;
    let admitted = input.input.get("job_id").is_some() && input.input.get("config").is_some();
    let (id, source, config) = if admitted {
        let id: JobId = serde_json::from_value(input.input["job_id"].clone())
            .map_err(|e| HandlerError::BadConfig(format!("execution input job_id: {e}")))?;
        let source = input
            .input
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("execution input")
            .to_owned();
        let config = JobConfig::from_value(&input.input["config"], &source)
            .map_err(|e| HandlerError::BadConfig(e.to_string()))?;
        (id, source, config)
    } else {
        let source = format!("console:{}", input.execution_name);
        match JobConfig::from_value(&input.input, "execution input") {
            Ok(config) => (
                console_job_id(Some(&config), &input.execution_name),
                source,
                config,
            ),
            Err(e) => {
                // keep the refused config visible like one dropped into jobs/
                let id = console_job_id(None, &input.execution_name);
                let record = JobRecord::rejected(
                    id,
                    source,
                    input.input.clone(),
                    e.to_string(),
                    clock.now(),
                );
                table.create(&record).await?;
                return Err(HandlerError::BadConfig(e.to_string()));
            }
        }
    };
    let mut record = JobRecord::pending(id.clone(), source, config.to_json(), clock.now());
    record.execution_arn = input.execution_arn.clone();
    if let Created::Exists(existing) = table.create(&record).await?
        && existing.status.is_terminal()
    {
        return Err(HandlerError::Internal(format!(
            "job '{id}' is already {} and cannot run again: upload the config again (a new version is a new job)",
            existing.status
        )));
    }
    tracing::info!(job_id = %id, "job registered");
    Ok(Job::registered(id, config))
}

/// The id of a job started by hand (a bare config as the execution input): named after the
/// config, or `console` when the config is refused, salted with the execution name. Register
/// gives the record this id and cleanup finds the record by it.
pub(crate) fn console_job_id(config: Option<&JobConfig>, execution_name: &str) -> JobId {
    JobId::for_name(
        config.map_or("console", |c| c.name.as_str()),
        execution_name,
    )
}

/// The Submit task's input.
#[derive(Debug, Clone, Deserialize)]
pub struct SubmitInput {
    /// The job.
    pub job: Job,
    /// Spot job queue.
    pub spot_queue: String,
    /// On-demand job queue.
    pub on_demand_queue: String,
    /// Scoring job definition.
    pub job_definition: String,
    /// True when resubmitting on the on-demand queue after a spot reclaim.
    #[serde(default)]
    pub fallback: bool,
}

/// Submits the scoring job to Batch (one array job when sharded) and records the attempt; an
/// attempt already on its queue (a retried Submit) is taken, not submitted again.
pub async fn submit(
    batch: &dyn BatchService,
    table: &dyn JobTable,
    clock: &dyn Clock,
    input: &Value,
) -> Result<Job, HandlerError> {
    let input: SubmitInput =
        serde_json::from_value(input.clone()).map_err(|e| HandlerError::bad_input("submit", e))?;
    let mut job = input.job;
    let c = &job.config;
    let attempt = job.attempt + 1;
    let kind = if input.fallback || !c.capacity.starts_on_spot() {
        QueueKind::OnDemand
    } else {
        QueueKind::Spot
    };
    let queue = match kind {
        QueueKind::Spot => input.spot_queue,
        QueueKind::OnDemand => input.on_demand_queue,
    };
    let mut environment = BTreeMap::from([
        ("STEPSCORE_JOB_ID".to_owned(), job.job_id.to_string()),
        ("STEPSCORE_MODEL".to_owned(), c.model.to_string()),
        ("STEPSCORE_INPUT".to_owned(), c.input.to_string()),
        ("STEPSCORE_OUTPUT".to_owned(), c.output.to_string()),
        ("STEPSCORE_ID_COLUMNS".to_owned(), c.id_columns.join(",")),
        (
            "STEPSCORE_ON_BAD_ROW".to_owned(),
            c.on_bad_row.as_str().to_owned(),
        ),
        ("STEPSCORE_SHARDS".to_owned(), c.shards.to_string()),
        (
            "STEPSCORE_INPUT_FORMAT".to_owned(),
            c.input_format.as_str().to_owned(),
        ),
        (
            "STEPSCORE_OUTPUT_FORMAT".to_owned(),
            c.output_format.as_str().to_owned(),
        ),
    ]);
    if c.output_format == stepscore_core::config::OutputFormat::Parquet {
        environment.insert(
            "STEPSCORE_PARQUET_COMPRESSION".to_owned(),
            c.parquet_compression.as_str().to_owned(),
        );
        environment.insert(
            "STEPSCORE_PARQUET_ROW_GROUP_ROWS".to_owned(),
            c.parquet_row_group_rows.to_string(),
        );
    }
    if !c.features.is_empty() {
        // a JSON object: column names may hold any character, commas and '=' included
        environment.insert(
            "STEPSCORE_FEATURES".to_owned(),
            serde_json::to_string(&c.features).unwrap_or_default(),
        );
    }
    let mut tags = c.tags.clone();
    tags.insert(
        stepscore_core::config::PIPELINE_TAG_JOB_ID.into(),
        job.job_id.to_string(),
    );
    let request = SubmitJobRequest {
        job_name: format!("{}-{attempt}", job.job_id),
        job_queue: queue.clone(),
        job_definition: input.job_definition,
        array_size: (c.shards > 1).then_some(c.shards),
        environment,
        vcpus: c.vcpus,
        memory_mib: c.memory_mib,
        timeout_seconds: c.timeout_seconds,
        retry_strategy: RetryStrategy::scoring(),
        tags,
    };
    // a Submit retried after its Lambda timed out, or resumed after the local runtime was killed,
    // finds the job its first try submitted: Batch takes no idempotency token, names are unique
    let submitted = match batch
        .find_by_name(&request.job_queue, &request.job_name)
        .await?
    {
        Some(earlier) => {
            tracing::warn!(job_id = %job.job_id, batch_job_id = %earlier.job_id, attempt, "attempt was already submitted; not submitting it again");
            earlier
        }
        None => batch.submit(&request).await?,
    };
    let now = clock.now();
    let mut update = JobUpdate::to(JobStatus::Submitted, attempt, now);
    update.new_attempt = Some(Attempt {
        number: attempt,
        batch_job_id: submitted.job_id.clone(),
        queue: queue.clone(),
        submitted_at: now,
        fallback_reason: if kind == QueueKind::OnDemand && input.fallback {
            job.fallback_reason.take()
        } else {
            None
        },
    });
    table.update(&job.job_id, &update).await?;
    tracing::info!(job_id = %job.job_id, batch_job_id = %submitted.job_id, queue = %queue, attempt, "submitted to Batch");
    job.poll = Poll::start(&job.config);
    job.attempt = attempt;
    job.queue_kind = kind;
    job.batch_job_id = Some(submitted.job_id);
    job.queue = Some(queue);
    job.submitted_at = Some(now);
    job.fallback_reason = None;
    Ok(job)
}

/// The CheckStatus task's input.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckInput {
    /// The job.
    pub job: Job,
}

/// The Batch job's state as the Choice state reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Batch status name.
    pub status: String,
    /// Batch statusReason.
    pub reason: Option<String>,
    /// Last container exit code.
    pub exit_code: Option<i32>,
    /// Last container reason.
    pub container_reason: Option<String>,
    /// The job failed because its spot capacity was reclaimed (EC2 Spot or Fargate Spot).
    pub reclaimed: bool,
    /// The job failed because the spot queue found no capacity for it: a queue's
    /// `jobStateTimeLimitActions` cancelled it, or it waited past `spot_wait_seconds` and
    /// check terminated it.
    #[serde(default)]
    pub no_capacity: bool,
    /// The Batch job has ended.
    pub done: bool,
    /// The Batch job ended in FAILED.
    pub failed: bool,
    /// Resubmit on the on-demand queue: reclaimed or no spot capacity, the config allows it, not
    /// there yet.
    pub fallback: bool,
    /// Array children per status, for an array job.
    pub array: Option<BTreeMap<String, u32>>,
    /// The shard whose failure decided the job's (the decisive array child, 0 for a single
    /// job); finalize reads that shard's failure report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_shard: Option<u32>,
    /// The name of the execution the job continues in: set when this execution has made
    /// [`MAX_CHECKS_PER_EXECUTION`] checks and the Batch job is still going, so no execution
    /// nears the 25,000-event history limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_as: Option<String>,
}

/// CheckStatus's result: the job (with the next wait) and what Batch said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOutput {
    /// The job, its poll advanced.
    pub job: Job,
    /// What Batch reports.
    pub check: CheckResult,
}

/// Describes the Batch job, moves the record forward (never to a terminal status: finalize does
/// that), copies the scorer's progress figures into it once the job has started (best effort:
/// see [`crate::progress`]) and computes the next wait.
pub async fn check(
    batch: &dyn BatchService,
    store: &dyn ObjectStore,
    table: &dyn JobTable,
    clock: &dyn Clock,
    input: &Value,
) -> Result<CheckOutput, HandlerError> {
    let input: CheckInput =
        serde_json::from_value(input.clone()).map_err(|e| HandlerError::bad_input("check", e))?;
    let mut job = input.job;
    let batch_id = job.batch_job_id.clone().ok_or_else(|| {
        HandlerError::BadConfig(format!(
            "check received job '{}' without a batch_job_id: CheckStatus must follow Submit",
            job.job_id
        ))
    })?;
    let view: BatchJobView = batch.describe(&batch_id).await?.ok_or_else(|| {
        HandlerError::NotFound(format!("Batch does not know job '{batch_id}' of job '{}' (jobs are kept about 7 days after they end)", job.job_id))
    })?;
    let now = clock.now();
    let status = view.status.job_status();
    if !status.is_terminal() {
        match table
            .update(&job.job_id, &JobUpdate::to(status, job.attempt, now))
            .await?
        {
            Updated::Applied(_) => {
                tracing::info!(job_id = %job.job_id, status = %status, "status moved")
            }
            Updated::Ignored(r) => {
                tracing::debug!(job_id = %job.job_id, status = %status, current = %r.status, "status unchanged")
            }
        }
    }
    if view.has_started() {
        crate::progress::copy_progress(store, table, clock, &job).await;
    }
    let on_spot_with_fallback =
        job.config.capacity.allows_fallback() && job.queue_kind == QueueKind::Spot;
    let view = if on_spot_with_fallback {
        give_up_waiting_for_spot(batch, &job, view, now).await?
    } else {
        view
    };
    let capacity_failure = view.capacity_failure();
    let fallback = capacity_failure.is_some() && on_spot_with_fallback;
    job.poll = job.poll.after_check(&job.config);
    job.checks_in_execution = job.checks_in_execution.saturating_add(1);
    // an array job's own fields say only that a child failed: the decisive child says why
    let (exit_code, container_reason, failed_shard) = match view.decisive_child() {
        Some(child) => (
            child.exit_code,
            child.container_reason.clone(),
            Some(child.index),
        ),
        None => (
            view.exit_code,
            view.container_reason.clone(),
            (view.status == BatchStatus::Failed && view.array_size.is_none()).then_some(0),
        ),
    };
    let reason = view.failure_reason();
    if fallback {
        job.fallback_reason = reason.clone();
    }
    let done = view.status.is_terminal();
    let continue_as = (!done && job.checks_in_execution >= MAX_CHECKS_PER_EXECUTION).then(|| {
        // the job travels on in a fresh execution; these counters are the new one's
        job.execution += 1;
        job.checks_in_execution = 0;
        job.job_id.execution_name(job.execution)
    });
    let check = CheckResult {
        status: view.status.as_str().to_owned(),
        reason,
        exit_code,
        container_reason,
        reclaimed: capacity_failure == Some(FailureCause::SpotReclaimed),
        no_capacity: capacity_failure == Some(FailureCause::NoCapacity),
        done,
        failed: view.status == BatchStatus::Failed,
        fallback,
        array: view.array_status_summary.clone(),
        failed_shard,
        continue_as,
    };
    Ok(CheckOutput { job, check })
}

/// A spot submission that has not started within the config's `spot_wait_seconds` is
/// terminated, and reported as failed for want of capacity so that the job runs on demand.
/// Anything else is returned as it is.
async fn give_up_waiting_for_spot(
    batch: &dyn BatchService,
    job: &Job,
    mut view: BatchJobView,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<BatchJobView, HandlerError> {
    let Some(submitted_at) = job.submitted_at else {
        return Ok(view);
    };
    let waited = (now - submitted_at).num_seconds().max(0) as u64;
    if view.has_started() || waited < job.config.spot_wait_seconds {
        return Ok(view);
    }
    let reason = status_reason::spot_wait_reason(waited, job.config.spot_wait_seconds);
    batch.terminate(&view.job_id, &reason).await?;
    tracing::warn!(job_id = %job.job_id, batch_job_id = %view.job_id, waited, "no spot capacity in time: terminated the spot submission");
    // TerminateJob takes effect asynchronously: the pipeline goes on as Batch will report it
    view.status = BatchStatus::Failed;
    view.status_reason = Some(reason);
    view.exit_code = None;
    view.container_reason = None;
    view.failed_children.clear();
    Ok(view)
}

/// What the batch job's exit code means (codes from `stepscore-batch`, sysexits-style).
pub fn exit_code_meaning(code: i32) -> &'static str {
    match code {
        0 => "success",
        64 => "usage error: the job's environment or arguments are wrong",
        65 => "bad data or model artifact",
        66 => "input missing",
        75 => "temporary failure",
        137 => "killed (out of memory or timed out)",
        _ => "scorer error",
    }
}

/// The finalize tasks' input.
#[derive(Debug, Clone, Deserialize)]
pub struct FinalizeInput {
    /// `SUCCEEDED` or `FAILED`.
    pub outcome: String,
    /// The execution state: the job, and the last check or the caught error.
    pub state: FinalizeState,
}

/// The execution state finalize reads.
#[derive(Debug, Clone, Deserialize)]
pub struct FinalizeState {
    /// The job.
    pub job: Job,
    /// The last status check, if any.
    #[serde(default)]
    pub check: Option<CheckResult>,
    /// A caught error (`Error`, `Cause`), if that is why the job failed.
    #[serde(default)]
    pub error: Option<Value>,
}

/// What finalize wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalizeOutput {
    /// The job id.
    pub job_id: JobId,
    /// The record's final status.
    pub status: JobStatus,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
}

/// Ends the job: on success sums every shard's manifest into the record's metrics (a missing or
/// unreadable manifest fails the job, naming it); on failure records why. Then publishes the
/// job's status change, once ([`crate::notify`]).
pub async fn finalize(
    store: &dyn ObjectStore,
    table: &dyn JobTable,
    notifier: &dyn Notifier,
    clock: &dyn Clock,
    input: &Value,
) -> Result<FinalizeOutput, HandlerError> {
    let input: FinalizeInput = serde_json::from_value(input.clone())
        .map_err(|e| HandlerError::bad_input("finalize", e))?;
    let job = &input.state.job;
    let now = clock.now();
    let update = match input.outcome.as_str() {
        "SUCCEEDED" => match sum_manifests(store, job).await? {
            Ok(metrics) => {
                let mut u = JobUpdate::to(JobStatus::Succeeded, job.attempt, now);
                u.metrics = Some(metrics);
                u
            }
            Err(reason) => failed(job, now, reason),
        },
        "FAILED" => {
            let mut reason = failure_reason(&input.state);
            if let Some(message) = scorer_message(store, &input.state).await? {
                reason = format!("{reason}: {message}");
            }
            failed(job, now, reason)
        }
        other => {
            return Err(HandlerError::BadConfig(format!(
                "finalize outcome '{other}' is neither SUCCEEDED nor FAILED"
            )));
        }
    };
    let record = match table.update(&job.job_id, &update).await? {
        Updated::Applied(r) => r,
        Updated::Ignored(r) => {
            tracing::warn!(job_id = %job.job_id, status = %r.status, "record was already final; left unchanged");
            r
        }
    };
    tracing::info!(job_id = %job.job_id, status = %record.status, reason = ?record.failure_reason, "job finalized");
    crate::notify::publish_pending(notifier, table, &record).await?;
    Ok(FinalizeOutput {
        job_id: record.id,
        status: record.status,
        reason: record.failure_reason,
        metrics: record.metrics,
    })
}

fn failed(job: &Job, now: chrono::DateTime<chrono::Utc>, reason: String) -> JobUpdate {
    let mut u = JobUpdate::to(JobStatus::Failed, job.attempt, now);
    u.failure_reason = Some(reason);
    u
}

fn failure_reason(state: &FinalizeState) -> String {
    if let Some(err) = &state.error {
        let name = err
            .get("Error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        let cause = err.get("Cause").and_then(Value::as_str).unwrap_or("");
        // a Lambda error's Cause is its JSON {errorType, errorMessage}
        let cause = serde_json::from_str::<Value>(cause)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| cause.to_owned());
        return if cause.is_empty() {
            name.to_owned()
        } else {
            format!("{name}: {cause}")
        };
    }
    if let Some(c) = &state.check {
        let mut parts = vec![format!(
            "Batch job {} {}",
            state.job.batch_job_id.as_deref().unwrap_or("?"),
            c.status
        )];
        if let Some(r) = &c.reason {
            parts.push(r.clone());
            if let Some(meaning) = status_reason::time_limit_meaning(r) {
                parts.push(format!(
                    "the job queue cancelled the job after it waited RUNNABLE: {meaning}"
                ));
            }
        }
        if let Some(r) = c.container_reason.as_deref().filter(|r| !r.is_empty()) {
            parts.push(r.to_owned());
        }
        if let Some(code) = c.exit_code {
            parts.push(format!("exit code {code} ({})", exit_code_meaning(code)));
        }
        return parts.join(": ");
    }
    "the execution failed before the Batch job ended".to_owned()
}

/// The scorer's own message for a Batch job that exited non-zero: the decisive shard's
/// `failure-<i>.json`, when it wrote one for this job. None when there is none (the container
/// never ran, was killed, or the output is another job's).
async fn scorer_message(
    store: &dyn ObjectStore,
    state: &FinalizeState,
) -> Result<Option<String>, HandlerError> {
    let Some(check) = &state.check else {
        return Ok(None);
    };
    let (Some(shard), Some(code)) = (check.failed_shard, check.exit_code) else {
        return Ok(None);
    };
    if code == 0 {
        return Ok(None);
    }
    let uri = state.job.config.output.join(&failure_name(shard));
    let bytes = match store.get_bytes(&uri, MAX_MANIFEST_BYTES).await {
        Ok(b) => b,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => {
            tracing::debug!(uri = %uri, error = %e, "no failure report from the scorer");
            return Ok(None);
        }
    };
    let report: ScoringFailure = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(uri = %uri, error = %e, "the scorer's failure report is unreadable");
            return Ok(None);
        }
    };
    if report.job_id != state.job.job_id.as_str() || i32::from(report.exit_code) != code {
        return Ok(None);
    }
    Ok(Some(format!("scorer (shard {shard}): {}", report.message)))
}

/// How many manifests finalize reads at once: 10,000 shards read one by one would take minutes
/// against S3 (about 10-20 ms a GET), past a Lambda's timeout; 64 in flight take seconds and stay
/// far below S3's 5,500 GET/s per prefix.
pub const MANIFEST_READS_IN_FLIGHT: usize = 64;

/// The summed metrics, `Ok(Err(reason))` when a manifest is missing or wrong (the lowest such
/// shard is named, whatever order the reads finish in).
async fn sum_manifests(
    store: &dyn ObjectStore,
    job: &Job,
) -> Result<Result<Metrics, String>, HandlerError> {
    let shards = job.config.shards;
    let mut results: Vec<Option<Result<ScoringManifest, String>>> =
        (0..shards).map(|_| None).collect();
    let mut next = 0u32;
    // the reads borrow the store, so they are futures polled together, not spawned tasks
    let mut pending = FuturesUnordered::new();
    loop {
        while next < shards && pending.len() < MANIFEST_READS_IN_FLIGHT {
            let i = next;
            next += 1;
            pending.push(async move { (i, read_manifest(store, job, i).await) });
        }
        let Some((i, result)) = pending.next().await else {
            break;
        };
        results[i as usize] = Some(result?);
    }
    let mut metrics = Metrics::default();
    for result in results.into_iter().flatten() {
        let m = match result {
            Ok(m) => m,
            Err(reason) => return Ok(Err(reason)),
        };
        metrics.rows_read += m.rows_read;
        metrics.rows_scored += m.rows_scored;
        metrics.rows_rejected += m.rows_rejected;
        metrics.parts += 1;
        metrics.duration_seconds = metrics.duration_seconds.max(m.duration_seconds);
    }
    Ok(Ok(metrics))
}

/// Shard `i`'s manifest, `Ok(Err(reason))` when it is missing, unreadable or another job's.
async fn read_manifest(
    store: &dyn ObjectStore,
    job: &Job,
    i: u32,
) -> Result<Result<ScoringManifest, String>, HandlerError> {
    let uri = job.config.output.join(&manifest_name(i));
    let bytes = match store.get_bytes(&uri, MAX_MANIFEST_BYTES).await {
        Ok(b) => b,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(StoreError::NotFound { .. }) => {
            return Ok(Err(format!(
                "manifest {uri} is missing: shard {i} did not finish writing its output"
            )));
        }
        Err(e) => return Ok(Err(format!("manifest {uri} cannot be read: {e}"))),
    };
    let m: ScoringManifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => return Ok(Err(format!("manifest {uri} is unreadable: {e}"))),
    };
    if m.job_id != job.job_id.as_str() {
        return Ok(Err(format!(
            "manifest {uri} belongs to job '{}', not '{}': another job writes to the same output prefix",
            m.job_id, job.job_id
        )));
    }
    Ok(Ok(m))
}
