//! The job record: one row per job in the job table, and the updates that move it forward.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::JobId;
use crate::live::LiveProgress;
use crate::status::{JobStatus, Progress};

/// The record format this build writes.
pub const RECORD_VERSION: u32 = 1;

/// Everything the pipeline knows about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Format version of this record.
    pub version: u32,
    /// The job id (also the execution name).
    pub id: JobId,
    /// Current status.
    pub status: JobStatus,
    /// Batch attempts made so far (0 before the first submission).
    pub attempt: u32,
    /// Where the config came from (`s3://…`, `console`, `schedule:<name>`).
    pub source: String,
    /// The config as admitted: the validated config, or for a rejected config the raw document
    /// (or `null` when it could not be read).
    pub config: Value,
    /// The Step Functions execution, once started.
    pub execution_arn: Option<String>,
    /// One entry per Batch submission, oldest first.
    pub attempts: Vec<Attempt>,
    /// Metrics from the scoring manifest, on success.
    pub metrics: Option<Metrics>,
    /// Why the job failed, on failure.
    pub failure_reason: Option<String>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record's status last changed (progress figures carry their own time).
    pub updated_at: DateTime<Utc>,
    /// The running attempt's latest progress figures, copied by the check task from the
    /// scorer's progress reports; kept after the job ends as its last figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveProgress>,
    /// Whether the job's terminal status change has been published: set `pending` by the write
    /// that makes the record terminal, `sent` once published (see [`crate::event`]). Absent on
    /// a record that has not ended, and on a config refused at admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
}

impl JobRecord {
    /// A new `PENDING` record for an admitted job.
    pub fn pending(
        id: JobId,
        source: impl Into<String>,
        config: Value,
        now: DateTime<Utc>,
    ) -> Self {
        JobRecord {
            version: RECORD_VERSION,
            id,
            status: JobStatus::Pending,
            attempt: 0,
            source: source.into(),
            config,
            execution_arn: None,
            attempts: Vec::new(),
            metrics: None,
            failure_reason: None,
            created_at: now,
            updated_at: now,
            live: None,
            notification: None,
        }
    }

    /// A record created directly as `FAILED`: a config that was rejected, kept so it is visible.
    pub fn rejected(
        id: JobId,
        source: impl Into<String>,
        raw: Value,
        reason: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        JobRecord {
            status: JobStatus::Failed,
            failure_reason: Some(reason.into()),
            ..JobRecord::pending(id, source, raw, now)
        }
    }

    /// The record's place in the job's life.
    pub fn progress(&self) -> Progress {
        Progress::of(self.status, self.attempt)
    }

    /// Applies `update` if it moves the record forward; returns false (and changes nothing) when
    /// it would not — a duplicate or out-of-order update. Adapters that cannot run this code
    /// server-side (DynamoDB) encode the same rule in a condition on [`Progress`].
    pub fn apply(&mut self, update: &JobUpdate) -> bool {
        if update.progress() <= self.progress() {
            return false;
        }
        self.status = update.status;
        self.attempt = update.attempt;
        self.updated_at = update.at;
        if let Some(arn) = &update.execution_arn {
            self.execution_arn = Some(arn.clone());
        }
        if let Some(a) = &update.new_attempt {
            self.attempts.push(a.clone());
        }
        if let Some(m) = &update.metrics {
            self.metrics = Some(m.clone());
        }
        if let Some(r) = &update.failure_reason {
            self.failure_reason = Some(r.clone());
        }
        if update.status.is_terminal() {
            self.notification = Some(Notification::Pending);
        }
        true
    }

    /// Keeps `live` if it is newer than the figures the record has: of the record's current
    /// attempt, on a record that has not ended, and either the attempt's first figures or
    /// further on ([`LiveProgress::sequence`]) than the ones kept. Status and `updated_at` do
    /// not change. Returns false (and changes nothing) otherwise. Adapters that cannot run
    /// this code server-side (DynamoDB) encode the same rule in a condition.
    pub fn apply_live(&mut self, live: &LiveProgress) -> bool {
        if self.status.is_terminal() || live.attempt != self.attempt {
            return false;
        }
        if let Some(kept) = &self.live
            && kept.attempt == live.attempt
            && kept.sequence >= live.sequence
        {
            return false;
        }
        self.live = Some(live.clone());
        true
    }

    /// Marks the terminal status change published: `pending` becomes `sent`. Returns false
    /// (and changes nothing) when it was not pending: already sent, or nothing to send.
    pub fn mark_notified(&mut self) -> bool {
        if self.notification != Some(Notification::Pending) {
            return false;
        }
        self.notification = Some(Notification::Sent);
        true
    }
}

/// How far a terminal record's status change event has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notification {
    /// The record became terminal; the event is not known to be published yet.
    Pending,
    /// The event was published.
    Sent,
}

/// One Batch submission of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first submission.
    pub number: u32,
    /// The Batch job id.
    pub batch_job_id: String,
    /// The queue it was submitted to.
    pub queue: String,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// Why this submission went to the on-demand queue after a spot one (the spot attempt's
    /// reclaim, or the spot queue's lack of capacity); absent for a first submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

/// What the scoring manifest(s) reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Metrics {
    /// Data rows read (excluding headers).
    pub rows_read: u64,
    /// Rows scored and written.
    pub rows_scored: u64,
    /// Rows rejected under the `skip` policy.
    pub rows_rejected: u64,
    /// Number of output parts written.
    pub parts: u32,
    /// Longest shard's scoring time, seconds.
    pub duration_seconds: f64,
}

/// A move of a record to a later point in its life, with what is learned there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobUpdate {
    /// The new status.
    pub status: JobStatus,
    /// The attempt the status belongs to (the record's current one unless submitting anew).
    pub attempt: u32,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Set once the execution is known.
    pub execution_arn: Option<String>,
    /// Set when this update is a (re)submission.
    pub new_attempt: Option<Attempt>,
    /// Set on success.
    pub metrics: Option<Metrics>,
    /// Set on failure.
    pub failure_reason: Option<String>,
}

impl JobUpdate {
    /// An update to `status` in `attempt` with nothing else learned.
    pub fn to(status: JobStatus, attempt: u32, at: DateTime<Utc>) -> Self {
        JobUpdate {
            status,
            attempt,
            at,
            execution_arn: None,
            new_attempt: None,
            metrics: None,
            failure_reason: None,
        }
    }

    /// The point in the job's life this update moves to.
    pub fn progress(&self) -> Progress {
        Progress::of(self.status, self.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn forward_updates_apply_and_backward_ones_are_no_ops() {
        let mut r = JobRecord::pending(JobId::parse("j-1").unwrap(), "console", Value::Null, t(0));
        assert!(r.apply(&JobUpdate::to(JobStatus::Submitted, 1, t(1))));
        assert!(r.apply(&JobUpdate::to(JobStatus::Running, 1, t(3))));
        // a late RUNNABLE from the same attempt arrives after RUNNING
        assert!(!r.apply(&JobUpdate::to(JobStatus::Runnable, 1, t(2))));
        assert_eq!((r.status, r.updated_at), (JobStatus::Running, t(3)));
        // a duplicate is a no-op too
        assert!(!r.apply(&JobUpdate::to(JobStatus::Running, 1, t(4))));
    }

    #[test]
    fn terminal_records_never_change() {
        let mut r = JobRecord::pending(JobId::parse("j-1").unwrap(), "console", Value::Null, t(0));
        let mut fail = JobUpdate::to(JobStatus::Failed, 1, t(5));
        fail.failure_reason = Some("exit 65".into());
        assert!(r.apply(&fail));
        assert!(!r.apply(&JobUpdate::to(JobStatus::Succeeded, 1, t(6))));
        assert!(!r.apply(&JobUpdate::to(JobStatus::Submitted, 2, t(6))));
        assert_eq!(r.status, JobStatus::Failed);
        assert_eq!(r.failure_reason.as_deref(), Some("exit 65"));
    }
}
