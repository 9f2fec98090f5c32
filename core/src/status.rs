//! Job status names and the rule that a job's status never moves backwards.
//!
//! The names are AWS Batch's (`SUBMITTED`, `RUNNABLE`, …) plus `PENDING` for a job admitted but
//! not yet submitted. A job can run several Batch attempts (a spot reclaim resubmits on the
//! on-demand queue), so order is judged on `(attempt, status)`: attempt 2's `SUBMITTED` comes after
//! attempt 1's `RUNNING`. `SUCCEEDED` and `FAILED` are terminal: nothing comes after them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Admitted and recorded; not yet submitted to Batch.
    Pending,
    /// Submitted to a Batch queue.
    Submitted,
    /// Waiting in the queue for compute capacity.
    Runnable,
    /// Placed on a host; the container is starting.
    Starting,
    /// The scoring container runs.
    Running,
    /// Scored; outputs and manifest written.
    Succeeded,
    /// Ended without a result; the record carries the reason.
    Failed,
}

impl JobStatus {
    /// Every status, in life order.
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Pending,
        JobStatus::Submitted,
        JobStatus::Runnable,
        JobStatus::Starting,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
    ];

    /// The AWS name, e.g. `RUNNABLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Submitted => "SUBMITTED",
            JobStatus::Runnable => "RUNNABLE",
            JobStatus::Starting => "STARTING",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }

    /// True for `SUCCEEDED` and `FAILED`: the record never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }

    fn rank(self) -> u64 {
        match self {
            JobStatus::Pending => 0,
            JobStatus::Submitted => 1,
            JobStatus::Runnable => 2,
            JobStatus::Starting => 3,
            JobStatus::Running => 4,
            JobStatus::Succeeded | JobStatus::Failed => 9,
        }
    }
}

/// A point in a job's life, totally ordered: a record may only move to a greater progress.
///
/// Stored as one number (`attempt * 10 + rank`, terminal = `u64::MAX`) so a table can enforce the
/// rule in a single conditional write (`progress < :new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Progress(u64);

impl Progress {
    /// The progress of `status` reached in Batch attempt `attempt` (0 before any submission).
    pub fn of(status: JobStatus, attempt: u32) -> Self {
        if status.is_terminal() {
            Progress(u64::MAX)
        } else {
            Progress(u64::from(attempt) * 10 + status.rank())
        }
    }

    /// The stored number.
    pub fn value(self) -> u64 {
        self.0
    }

    /// Rebuilds a progress from its stored number.
    pub fn from_value(value: u64) -> Self {
        Progress(value)
    }
}

/// A status name that is not one of the seven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job status '{0}': expected one of PENDING, SUBMITTED, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED"
)]
pub struct UnknownStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    #[test]
    fn status_moves_forward_within_an_attempt() {
        assert!(Progress::of(Submitted, 1) < Progress::of(Runnable, 1));
        assert!(Progress::of(Running, 1) > Progress::of(Starting, 1));
        assert!(Progress::of(Pending, 0) < Progress::of(Submitted, 1));
    }

    #[test]
    fn a_resubmission_comes_after_the_previous_attempt() {
        assert!(Progress::of(Submitted, 2) > Progress::of(Running, 1));
    }

    #[test]
    fn terminal_statuses_come_after_everything_and_equal_each_other() {
        assert!(Progress::of(Failed, 0) > Progress::of(Running, 99));
        assert_eq!(Progress::of(Succeeded, 1), Progress::of(Failed, 3));
    }

    #[test]
    fn names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("DONE".parse::<JobStatus>().is_err());
    }
}
