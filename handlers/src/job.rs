//! The job as it travels between the state machine's tasks, and the polling schedule.

use chrono::{DateTime, Utc};
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
    /// When the current submission was made (the spot wait is measured from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// Why the next submission goes on demand (a reclaim, no spot capacity), recorded with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Which execution of this job the state machine is running: 1 for the first, then one more
    /// each time a long job continues in a new execution (see [`MAX_CHECKS_PER_EXECUTION`]).
    #[serde(default = "first_execution")]
    pub execution: u32,
    /// Status checks made in the current execution.
    #[serde(default)]
    pub checks_in_execution: u32,
}

fn first_execution() -> u32 {
    1
}

/// Status checks one execution makes before the job continues in a new execution.
///
/// AWS fails an execution at 25,000 history events. A check costs 9 events (Wait entered and
/// exited; CheckStatus entered, scheduled, started, succeeded, exited; Choice entered and
/// exited), and each retried Lambda error 3 more. 1,000 checks are about 9,000 events, so even
/// with every check retried twice an execution stays under 15,000; at the 360 s cap they cover
/// 100 hours, so a 14-day job runs in 4 executions.
pub const MAX_CHECKS_PER_EXECUTION: u32 = 1_000;

/// Most executions a job can have: a 14-day timeout (the longest a config accepts) plus queueing
/// at the 360 s cap needs 4; the bound is what `stepscore stop` searches.
pub const MAX_EXECUTIONS_PER_JOB: u32 = 16;

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
            submitted_at: None,
            fallback_reason: None,
            execution: 1,
            checks_in_execution: 0,
        }
    }
}
