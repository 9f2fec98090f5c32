//! The job as it travels between the state machine's tasks, and the polling schedule.

use serde::{Deserialize, Serialize};
use stepscore_core::JobId;
use stepscore_core::config::JobConfig;

/// Longest wait between two status checks, seconds.
///
/// 360 s keeps a 24-hour job at about 245 checks (under 2,300 history events, below 10 % of the
/// 25,000-event limit) while a job that ends sooner is still seen within minutes.
pub const MAX_WAIT_SECONDS: u32 = 360;

/// Growth of the wait per check: ×1.5 reaches the cap from 30 s in 7 checks.
pub const WAIT_GROWTH: f64 = 1.5;

/// The job as the state machine carries it: references and counters, never data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job id (also the execution name and the record's key).
    pub job_id: JobId,
    /// The validated config (at most 64 KiB).
    pub config: JobConfig,
    /// Batch submissions made so far.
    pub attempt: u32,
    /// The queue the current (or next) submission goes to.
    pub queue_kind: QueueKind,
    /// The polling schedule's state.
    pub poll: Poll,
    /// The current submission's Batch job id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_job_id: Option<String>,
    /// The current submission's queue name or ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// Which of the two job queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueKind {
    /// The spot queue.
    Spot,
    /// The on-demand queue.
    OnDemand,
}

/// The polling schedule's state: the Wait state reads `wait_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// The next wait before a status check.
    pub wait_seconds: u32,
    /// Checks made for the current submission.
    pub checks: u32,
}

impl Poll {
    /// The schedule of a fresh submission.
    pub fn start(config: &JobConfig) -> Self {
        Poll {
            wait_seconds: next_wait(config.poll_interval_seconds, 0),
            checks: 0,
        }
    }

    /// The schedule after one more check.
    pub fn after_check(self, config: &JobConfig) -> Self {
        let checks = self.checks.saturating_add(1);
        Poll {
            wait_seconds: next_wait(config.poll_interval_seconds, checks),
            checks,
        }
    }
}

/// The wait before check `checks + 1`: `initial × 1.5^checks`, capped at [`MAX_WAIT_SECONDS`]
/// (an initial interval above the cap is kept as given).
pub fn next_wait(initial: u32, checks: u32) -> u32 {
    let cap = MAX_WAIT_SECONDS.max(initial);
    let grown = f64::from(initial.max(1)) * WAIT_GROWTH.powi(checks.min(64) as i32);
    if grown >= f64::from(cap) {
        cap
    } else {
        grown.round() as u32
    }
}

impl Job {
    /// A job just registered: no submission yet.
    pub fn registered(job_id: JobId, config: JobConfig) -> Self {
        let queue_kind = if config.capacity.starts_on_spot() {
            QueueKind::Spot
        } else {
            QueueKind::OnDemand
        };
        Job {
            job_id,
            poll: Poll::start(&config),
            config,
            attempt: 0,
            queue_kind,
            batch_job_id: None,
            queue: None,
        }
    }
}
