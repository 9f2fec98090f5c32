//! The state the pipeline's tasks pass each other: a reference to the job, never its data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepscore_core::JobId;
use stepscore_core::config::JobConfig;

use crate::error::HandlerError;

/// The longest wait between two status checks, seconds.
pub const MAX_WAIT_SECONDS: u32 = 600;

/// The job as it moves through the state machine (a few hundred bytes plus the config, which is
/// at most 64 KiB: well under the 256 KiB payload limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    /// The job (and execution) id.
    pub job_id: JobId,
    /// The validated config.
    pub config: JobConfig,
    /// The current Batch attempt (0 before the first submission).
    #[serde(default)]
    pub attempt: u32,
    /// The queue of the current attempt.
    #[serde(default)]
    pub queue: Option<String>,
    /// The Batch job id of the current attempt.
    #[serde(default)]
    pub batch_job_id: Option<String>,
    /// Status checks made in the current attempt.
    #[serde(default)]
    pub checks: u32,
    /// Seconds the Wait state waits before the next check (its `SecondsPath`).
    pub wait_seconds: u32,
    /// What the Choice state does next (set by check).
    #[serde(default)]
    pub next: Option<Next>,
    /// The last Batch view (set by check).
    #[serde(default)]
    pub batch: Option<BatchSummary>,
    /// An error caught by the state machine (`ResultPath: $.error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// The Choice state's branch after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// Still queued or running: wait and check again.
    Wait,
    /// Batch says SUCCEEDED: finalize reads the manifests.
    Succeeded,
    /// A spot reclaim with fallback allowed: resubmit on the on-demand queue.
    Resubmit,
    /// Failed: finalize records why.
    Failed,
}

/// What check learned from Batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Batch's status name.
    pub status: String,
    /// Batch's statusReason.
    pub reason: Option<String>,
    /// The container exit code of the last attempt.
    pub exit_code: Option<i32>,
    /// Array children per status (array jobs).
    pub children: Option<std::collections::BTreeMap<String, u32>>,
    /// True when the host was reclaimed (spot interruption).
    pub reclaimed: bool,
}

/// The wait before check number `check` (0-based) of an attempt: the config's poll interval,
/// doubling per check, capped at [`MAX_WAIT_SECONDS`]. With the default 30 s a 5-minute job
/// needs 4 checks, a 24-hour job about 150 (see the state machine tests).
pub fn wait_seconds(first: u32, check: u32) -> u32 {
    let first = u64::from(first.max(1));
    (first << check.min(20)).min(u64::from(MAX_WAIT_SECONDS)) as u32
}

impl JobState {
    /// A fresh state for a registered job.
    pub fn new(job_id: JobId, config: JobConfig) -> Self {
        let wait = wait_seconds(config.poll_interval_seconds, 0);
        JobState { job_id, config, attempt: 0, queue: None, batch_job_id: None, checks: 0, wait_seconds: wait, next: None, batch: None, error: None }
    }

    /// Parses a task input that must be a job state.
    pub fn from_value(value: Value, task: &str) -> Result<Self, HandlerError> {
        serde_json::from_value(value).map_err(|e| HandlerError::BadConfig(format!("the {task} task input is not a job state: {e}: pass the previous task's result ($)")))
    }
}

/// The job id of an execution: its name when that is a valid id (admitted runs are named by
/// their id), else one derived from the name and the config's name (a console run).
pub fn job_id_for_execution(execution_name: &str, config_name: Option<&str>) -> JobId {
    JobId::parse(execution_name).unwrap_or_else(|_| JobId::for_name(config_name.unwrap_or("console"), execution_name))
}
