//! submit: sends the scoring container to Batch on the spot or on-demand queue and records the
//! attempt.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use stepscore_core::batch::{RetryStrategy, SubmitJobRequest};
use stepscore_core::ports::{BatchService, Clock, JobTable};
use stepscore_core::record::{Attempt, JobUpdate};
use stepscore_core::status::JobStatus;

use crate::error::HandlerError;
use crate::state::{JobState, wait_seconds};

/// Submit's task input.
#[derive(Debug, Clone, Deserialize)]
pub struct SubmitInput {
    /// The job state (`$`).
    pub job: Value,
    /// Queue names, filled in from the state machine's placeholders.
    pub queues: Queues,
    /// The job definition name or ARN.
    pub job_definition: String,
    /// True on the spot-reclaim resubmission: use the on-demand queue.
    #[serde(default)]
    pub on_demand: bool,
}

/// The two job queues.
#[derive(Debug, Clone, Deserialize)]
pub struct Queues {
    /// The spot queue.
    pub spot: String,
    /// The on-demand queue.
    pub on_demand: String,
}

/// The container environment the scoring job reads.
pub fn container_environment(state: &JobState) -> BTreeMap<String, String> {
    let c = &state.config;
    BTreeMap::from([
        ("STEPSCORE_JOB_ID".into(), state.job_id.to_string()),
        ("STEPSCORE_MODEL".into(), c.model.to_string()),
        ("STEPSCORE_INPUT".into(), c.input.to_string()),
        ("STEPSCORE_OUTPUT".into(), c.output.to_string()),
        ("STEPSCORE_ID_COLUMNS".into(), c.id_columns.join(",")),
        ("STEPSCORE_ON_BAD_ROW".into(), c.on_bad_row.as_str().into()),
        ("STEPSCORE_SHARDS".into(), c.shards.to_string()),
    ])
}

/// Submits the next attempt of the job.
#[tracing::instrument(skip_all)]
pub async fn submit(batch: &dyn BatchService, table: &dyn JobTable, clock: &dyn Clock, input: SubmitInput) -> Result<JobState, HandlerError> {
    let mut state = JobState::from_value(input.job, "submit")?;
    let attempt = state.attempt + 1;
    let on_demand = input.on_demand || !state.config.capacity.starts_on_spot();
    let queue = if on_demand { input.queues.on_demand } else { input.queues.spot };

    // A retried invocation must not submit twice: the record knows what was submitted.
    let record = table.get(&state.job_id).await?.ok_or_else(|| HandlerError::NotFound(format!("no job record '{}' to submit", state.job_id)))?;
    if record.status.is_terminal() {
        return Err(HandlerError::BadConfig(format!("job '{}' is already {}; not submitting", record.id, record.status)));
    }
    let previous = record.attempts.iter().find(|a| a.number == attempt).cloned();
    let submitted = match previous {
        Some(a) => {
            tracing::info!(job_id = %state.job_id, attempt, batch_job_id = %a.batch_job_id, "attempt already submitted; not submitting again");
            a
        }
        None => {
            let request = SubmitJobRequest {
                job_name: format!("{}-{attempt}", state.job_id),
                job_queue: queue.clone(),
                job_definition: input.job_definition,
                array_size: (state.config.shards > 1).then_some(state.config.shards),
                environment: container_environment(&state),
                vcpus: state.config.vcpus,
                memory_mib: state.config.memory_mib,
                timeout_seconds: state.config.timeout_seconds,
                retry_strategy: RetryStrategy::scoring(),
                tags: state.config.tags.clone(),
            };
            let job = batch.submit(&request).await?;
            let a = Attempt { number: attempt, batch_job_id: job.job_id, queue: queue.clone(), submitted_at: clock.now() };
            let update = JobUpdate { new_attempt: Some(a.clone()), ..JobUpdate::to(JobStatus::Submitted, attempt, a.submitted_at) };
            table.update(&state.job_id, &update).await?;
            tracing::info!(job_id = %state.job_id, attempt, %queue, batch_job_id = %a.batch_job_id, "submitted");
            a
        }
    };
    state.attempt = attempt;
    state.queue = Some(submitted.queue);
    state.batch_job_id = Some(submitted.batch_job_id);
    state.checks = 0;
    state.wait_seconds = wait_seconds(state.config.poll_interval_seconds, 0);
    state.next = None;
    state.batch = None;
    state.error = None;
    Ok(state)
}
