//! The event published when a job ends: "stepscore Job Status Change", to EventBridge on AWS and
//! to the events log of the state directory in the embedded world (the `Notifier` port).
//!
//! One event per terminal transition: the write that makes a record terminal also marks its
//! notification `pending` (an outbox on the record, [`Notification`](crate::record::Notification)); whoever made that write
//! publishes and then marks it `sent`, so a duplicate finalize or cleanup finds `sent` and
//! publishes nothing. A publisher that dies after publishing but before marking leaves
//! `pending`, and the next finalize or cleanup of the job (a task's retry, a resumed execution)
//! publishes again: at least once then, with the same [`JobStatusChange::event_id`], by which a
//! consumer drops the repeat.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::JobId;
use crate::record::JobRecord;
use crate::status::JobStatus;

/// The event's `source`.
pub const EVENT_SOURCE: &str = "stepscore";
/// The event's `detail-type`.
pub const EVENT_DETAIL_TYPE: &str = "stepscore Job Status Change";
/// The detail format this build publishes.
pub const EVENT_VERSION: u32 = 1;

/// The event's `detail`: a job that reached SUCCEEDED or FAILED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatusChange {
    /// Format version ([`EVENT_VERSION`]).
    pub version: u32,
    /// `<job id>/<status>`: the same for every publication of one transition, so a consumer
    /// can drop a repeat.
    pub event_id: String,
    /// The job.
    pub job_id: JobId,
    /// The config's `name`, when the config had one.
    pub name: Option<String>,
    /// `SUCCEEDED` or `FAILED`.
    pub status: JobStatus,
    /// Why it failed.
    pub reason: Option<String>,
    /// Rows scored: the manifests' sum on success, the last progress figures otherwise.
    pub rows_scored: u64,
    /// Rows rejected, counted the same way.
    pub rows_rejected: u64,
    /// The config's output prefix.
    pub output: Option<String>,
    /// Batch attempts made.
    pub attempts: u32,
    /// Seconds from admission to the end.
    pub total_seconds: f64,
    /// Seconds the scorer ran (its longest shard; 0 when it never reported).
    pub running_seconds: f64,
    /// The rest of the total: admission, queue waits, container start, polling.
    pub queued_seconds: f64,
    /// When the job was admitted.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

impl JobStatusChange {
    /// The event of a terminal record; `None` for a record that has not ended.
    pub fn of(record: &JobRecord) -> Option<Self> {
        if !record.status.is_terminal() {
            return None;
        }
        let live = record.live.as_ref().filter(|l| l.attempt == record.attempt);
        let (rows_scored, rows_rejected, running) = match (&record.metrics, live) {
            (Some(m), _) => (m.rows_scored, m.rows_rejected, m.duration_seconds),
            (None, Some(l)) => (l.rows_scored, l.rows_rejected, l.seconds),
            (None, None) => (0, 0, 0.0),
        };
        let total = (record.updated_at - record.created_at)
            .to_std()
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let running = if running.is_finite() {
            running.clamp(0.0, total)
        } else {
            0.0
        };
        let text = |field: &str| {
            record
                .config
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(JobStatusChange {
            version: EVENT_VERSION,
            event_id: format!("{}/{}", record.id, record.status),
            job_id: record.id.clone(),
            name: text("name"),
            status: record.status,
            reason: record.failure_reason.clone(),
            rows_scored,
            rows_rejected,
            output: text("output"),
            attempts: record.attempt,
            total_seconds: total,
            running_seconds: running,
            queued_seconds: total - running,
            created_at: record.created_at,
            finished_at: record.updated_at,
        })
    }
}

/// The event as EventBridge delivers it to a rule's target (the fields stepscore sets): what
/// the embedded world writes to its events log and hands to `watch --on-complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedEvent {
    /// [`EVENT_SOURCE`].
    pub source: String,
    /// [`EVENT_DETAIL_TYPE`].
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// When the job ended.
    pub time: DateTime<Utc>,
    /// The job's status change.
    pub detail: JobStatusChange,
}

impl PublishedEvent {
    /// `detail` with stepscore's source and detail-type.
    pub fn of(detail: &JobStatusChange) -> Self {
        PublishedEvent {
            source: EVENT_SOURCE.to_owned(),
            detail_type: EVENT_DETAIL_TYPE.to_owned(),
            time: detail.finished_at,
            detail: detail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveProgress;
    use crate::record::{JobUpdate, Metrics};
    use chrono::TimeZone;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000 + s, 0).unwrap()
    }

    fn record() -> JobRecord {
        JobRecord::pending(
            JobId::parse("daily-1").unwrap(),
            "s3://b/jobs/daily.json",
            json!({"name": "daily", "output": "s3://b/out/daily/"}),
            t(0),
        )
    }

    #[test]
    fn a_succeeded_job_reports_its_metrics_and_where_its_time_went() {
        let mut r = record();
        let mut done = JobUpdate::to(JobStatus::Succeeded, 1, t(100));
        done.metrics = Some(Metrics {
            rows_read: 10,
            rows_scored: 9,
            rows_rejected: 1,
            parts: 1,
            duration_seconds: 60.0,
        });
        assert!(r.apply(&done));
        let e = JobStatusChange::of(&r).unwrap();
        assert_eq!(e.event_id, "daily-1/SUCCEEDED");
        assert_eq!(
            (e.name.as_deref(), e.output.as_deref()),
            (Some("daily"), Some("s3://b/out/daily/"))
        );
        assert_eq!((e.rows_scored, e.rows_rejected, e.attempts), (9, 1, 1));
        assert_eq!(
            (e.total_seconds, e.running_seconds, e.queued_seconds),
            (100.0, 60.0, 40.0)
        );
        let published = serde_json::to_value(PublishedEvent::of(&e)).unwrap();
        assert_eq!(published["detail-type"], "stepscore Job Status Change");
        assert_eq!(published["source"], "stepscore");
        assert_eq!(published["detail"]["status"], "SUCCEEDED");
    }

    #[test]
    fn a_failed_job_reports_its_reason_and_last_progress_figures() {
        let mut r = record();
        assert!(r.apply(&JobUpdate::to(JobStatus::Running, 1, t(10))));
        let live = LiveProgress::sum(1, 1, &[], t(20));
        let live = LiveProgress {
            rows_scored: 500,
            rows_rejected: 5,
            seconds: 25.0,
            sequence: 1,
            ..live
        };
        assert!(r.apply_live(&live));
        let mut fail = JobUpdate::to(JobStatus::Failed, 1, t(30));
        fail.failure_reason = Some("exit code 65".into());
        assert!(r.apply(&fail));
        let e = JobStatusChange::of(&r).unwrap();
        assert_eq!(
            (e.status, e.reason.as_deref()),
            (JobStatus::Failed, Some("exit code 65"))
        );
        assert_eq!((e.rows_scored, e.rows_rejected), (500, 5));
        assert_eq!(
            (e.total_seconds, e.running_seconds, e.queued_seconds),
            (30.0, 25.0, 5.0)
        );
    }

    #[test]
    fn a_running_job_has_no_event() {
        assert_eq!(JobStatusChange::of(&record()), None);
    }
}
