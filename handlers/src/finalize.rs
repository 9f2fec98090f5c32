//! finalize: writes the job's outcome — SUCCEEDED with the summed manifest metrics, or FAILED
//! with the reason — and returns a small result.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepscore_core::JobId;
use stepscore_core::manifest::{ScoringManifest, manifest_name};
use stepscore_core::ports::{Clock, JobTable, ObjectStore, StoreError, Updated};
use stepscore_core::record::{JobUpdate, Metrics};
use stepscore_core::status::JobStatus;

use crate::error::HandlerError;
use crate::state::{JobState, job_id_for_execution};

/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Finalize's task input.
#[derive(Debug, Clone, Deserialize)]
pub struct FinalizeInput {
    /// The state at the end (`$`): a job state, or whatever input a caught error arrived with.
    pub state: Value,
    /// `SUCCEEDED` or `FAILED`.
    pub outcome: JobStatus,
    /// `$$.Execution.Name`, naming the job when the state does not.
    pub execution_name: String,
}

/// What finalize wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalizeResult {
    /// The job.
    pub job_id: JobId,
    /// The record's final status.
    pub status: JobStatus,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// What it scored.
    pub metrics: Option<Metrics>,
}

/// Finalizes the execution's job.
#[tracing::instrument(skip_all, fields(execution = %input.execution_name, outcome = %input.outcome))]
pub async fn finalize(store: &dyn ObjectStore, table: &dyn JobTable, clock: &dyn Clock, input: FinalizeInput) -> Result<FinalizeResult, HandlerError> {
    let parsed = JobState::from_value(input.state.clone(), "finalize").ok();
    let job_id = match &parsed {
        Some(s) => s.job_id.clone(),
        None => match input.state.get("job_id").and_then(Value::as_str).map(JobId::parse) {
            Some(Ok(id)) => id,
            _ => job_id_for_execution(&input.execution_name, input.state.get("name").and_then(Value::as_str)),
        },
    };
    let attempt = parsed.as_ref().map_or(0, |s| s.attempt);
    let mut update = match (input.outcome, &parsed) {
        (JobStatus::Succeeded, Some(state)) => match read_metrics(store, state).await? {
            Ok(metrics) => JobUpdate { metrics: Some(metrics), ..JobUpdate::to(JobStatus::Succeeded, attempt, clock.now()) },
            Err(reason) => JobUpdate { failure_reason: Some(reason), ..JobUpdate::to(JobStatus::Failed, attempt, clock.now()) },
        },
        (JobStatus::Succeeded, None) => {
            return Err(HandlerError::BadConfig(format!("finalize SUCCEEDED for execution {} needs the job state as input", input.execution_name)));
        }
        _ => JobUpdate { failure_reason: Some(failure_reason(&input.state, parsed.as_ref())), ..JobUpdate::to(JobStatus::Failed, attempt, clock.now()) },
    };
    if update.status == JobStatus::Failed && update.failure_reason.is_none() {
        update.failure_reason = Some("failed".into());
    }
    let record = match table.update(&job_id, &update).await {
        Ok(Updated::Applied(r) | Updated::Ignored(r)) => r,
        // a run that failed before any record existed (a bad console input): nothing to update
        Err(stepscore_core::ports::TableError::NotFound { .. }) => {
            return Ok(FinalizeResult { job_id, status: update.status, failure_reason: update.failure_reason, metrics: None });
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(job_id = %record.id, status = %record.status, reason = record.failure_reason.as_deref(), "finalized");
    Ok(FinalizeResult { job_id: record.id, status: record.status, failure_reason: record.failure_reason, metrics: record.metrics })
}

/// The summed metrics of every shard's manifest, or the reason the outputs are incomplete.
async fn read_metrics(store: &dyn ObjectStore, state: &JobState) -> Result<Result<Metrics, String>, HandlerError> {
    let mut total = Metrics::default();
    let mut missing = Vec::new();
    for shard in 0..state.config.shards {
        let uri = state.config.output.join(&manifest_name(shard));
        let bytes = match store.get_bytes(&uri, MAX_MANIFEST_BYTES).await {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => {
                missing.push(uri.to_string());
                continue;
            }
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => return Ok(Err(format!("manifest {uri} could not be read: {e}"))),
        };
        let m: ScoringManifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => return Ok(Err(format!("manifest {uri} is not a scoring manifest: {e}"))),
        };
        if m.job_id != state.job_id.as_str() {
            return Ok(Err(format!("manifest {uri} belongs to job '{}', not '{}': is the output prefix shared between jobs?", m.job_id, state.job_id)));
        }
        total.rows_read += m.rows_read;
        total.rows_scored += m.rows_scored;
        total.rows_rejected += m.rows_rejected;
        total.parts += 1;
        total.duration_seconds = total.duration_seconds.max(m.duration_seconds);
    }
    if !missing.is_empty() {
        return Ok(Err(format!("Batch reported success but {} manifest(s) are missing: {}", missing.len(), missing.join(", "))));
    }
    Ok(Ok(total))
}

fn failure_reason(state: &Value, parsed: Option<&JobState>) -> String {
    if let Some(err) = state.get("error") {
        let name = err.get("Error").and_then(Value::as_str).unwrap_or("error");
        let cause = err.get("Cause").and_then(Value::as_str).unwrap_or("");
        // a Lambda error's Cause is JSON with errorMessage; show the message itself
        let cause = serde_json::from_str::<Value>(cause)
            .ok()
            .and_then(|c| c.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| cause.to_owned());
        return format!("{name}: {cause}");
    }
    match parsed.and_then(|s| s.batch.as_ref()) {
        Some(b) => {
            let mut reason = format!("Batch job {} {}", parsed.and_then(|s| s.batch_job_id.as_deref()).unwrap_or("?"), b.status);
            if let Some(r) = &b.reason {
                reason.push_str(&format!(": {r}"));
            }
            if let Some(code) = b.exit_code {
                reason.push_str(&format!(" (exit code {code})"));
            }
            reason
        }
        None => "the state machine failed the job".into(),
    }
}
