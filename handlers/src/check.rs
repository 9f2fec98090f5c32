//! check: asks Batch how the job is doing, moves the record forward and tells the Choice state
//! what to do next.

use serde_json::Value;
use stepscore_core::batch::BatchStatus;
use stepscore_core::ports::{BatchService, Clock, JobTable};
use stepscore_core::record::JobUpdate;

use crate::error::HandlerError;
use crate::state::{BatchSummary, JobState, Next, wait_seconds};

/// Checks the job's current Batch attempt.
#[tracing::instrument(skip_all)]
pub async fn check(batch: &dyn BatchService, table: &dyn JobTable, clock: &dyn Clock, input: Value) -> Result<JobState, HandlerError> {
    let mut state = JobState::from_value(input, "check")?;
    let batch_job_id = state.batch_job_id.clone().ok_or_else(|| HandlerError::BadConfig(format!("job '{}' has no Batch job to check: submit first", state.job_id)))?;
    let view = batch.describe(&batch_job_id).await?.ok_or_else(|| HandlerError::NotFound(format!("Batch does not know job {batch_job_id} of '{}' (Batch forgets jobs a few days after they end)", state.job_id)))?;
    let reclaimed = view.was_reclaimed();
    // terminal statuses are finalize's to write, with the metrics or the reason
    if !view.status.is_terminal() {
        table.update(&state.job_id, &JobUpdate::to(view.status.job_status(), state.attempt, clock.now())).await?;
    }
    let next = match view.status {
        BatchStatus::Succeeded => Next::Succeeded,
        BatchStatus::Failed if reclaimed && state.config.capacity.allows_fallback() && !state.queue_is_fallback() => Next::Resubmit,
        BatchStatus::Failed => Next::Failed,
        _ => Next::Wait,
    };
    tracing::info!(job_id = %state.job_id, batch_job_id, status = view.status.as_str(), ?next, "checked");
    state.checks += 1;
    state.wait_seconds = wait_seconds(state.config.poll_interval_seconds, state.checks);
    state.next = Some(next);
    state.batch = Some(BatchSummary {
        status: view.status.as_str().into(),
        reason: view.status_reason.clone(),
        exit_code: view.exit_code,
        children: view.array_status_summary.clone(),
        reclaimed,
    });
    Ok(state)
}

impl JobState {
    /// True once the job has been resubmitted on the on-demand queue (fall back once only).
    fn queue_is_fallback(&self) -> bool {
        self.attempt > 1
    }
}
