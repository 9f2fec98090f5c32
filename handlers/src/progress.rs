//! Check's reading of the scorer's progress reports into the job record.
//!
//! Best effort by design: the reports are written by the scorer every few seconds and may be
//! missing (not yet written), from an earlier attempt, or garbled; none of that may fail a
//! check, which decides the job's fate. What cannot be used is logged and left out.

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use stepscore_core::live::LiveProgress;
use stepscore_core::manifest::{MANIFEST_VERSION, ScoringProgress, progress_name};
use stepscore_core::ports::{Clock, JobTable, ObjectStore, StoreError, Updated};

use crate::job::Job;

/// Largest progress report read: the scorer's are a few hundred bytes.
pub const MAX_PROGRESS_BYTES: u64 = 64 * 1024;

/// Reports read at once: an array job's are read like finalize reads its manifests, a few dozen
/// in flight, so 10,000 shards take seconds.
pub const PROGRESS_READS_IN_FLIGHT: usize = 64;

/// Reads every shard's progress report of the job's running attempt and copies the summed
/// figures into its record. Returns the figures written (`None` when there were none to write,
/// or the table kept newer ones); never fails.
pub async fn copy_progress(
    store: &dyn ObjectStore,
    table: &dyn JobTable,
    clock: &dyn Clock,
    job: &Job,
) -> Option<LiveProgress> {
    let reports = read_reports(store, job).await;
    if reports.is_empty() {
        return None;
    }
    let live = LiveProgress::sum(job.attempt, job.config.shards, &reports, clock.now());
    match table.record_live(&job.job_id, &live).await {
        Ok(Updated::Applied(_)) => {
            tracing::debug!(job_id = %job.job_id, rows_read = live.rows_read, bytes_read = live.bytes_read, "progress recorded");
            Some(live)
        }
        Ok(Updated::Ignored(r)) => {
            tracing::debug!(job_id = %job.job_id, status = %r.status, "progress not newer than the record's; left as it is");
            None
        }
        Err(e) => {
            tracing::warn!(job_id = %job.job_id, error = %e, "cannot record the job's progress; the check goes on");
            None
        }
    }
}

/// The progress reports of the job's current attempt, one per shard that has written one.
async fn read_reports(store: &dyn ObjectStore, job: &Job) -> Vec<ScoringProgress> {
    let shards = job.config.shards;
    let mut reports = Vec::new();
    let mut next = 0u32;
    let mut pending = FuturesUnordered::new();
    loop {
        while next < shards && pending.len() < PROGRESS_READS_IN_FLIGHT {
            let i = next;
            next += 1;
            pending.push(read_report(store, job, i));
        }
        let Some(report) = pending.next().await else {
            break;
        };
        reports.extend(report);
    }
    reports
}

/// Shard `i`'s report, when it has a usable one for this attempt.
async fn read_report(store: &dyn ObjectStore, job: &Job, i: u32) -> Option<ScoringProgress> {
    let uri = job.config.output.join(&progress_name(i));
    let bytes = match store.get_bytes(&uri, MAX_PROGRESS_BYTES).await {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => {
            tracing::debug!(uri = %uri, "no progress report yet");
            return None;
        }
        Err(e) => {
            tracing::warn!(uri = %uri, error = %e, "cannot read the progress report; ignored");
            return None;
        }
    };
    let report: ScoringProgress = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(uri = %uri, error = %e, "the progress report is not a ScoringProgress document; ignored");
            return None;
        }
    };
    if report.version > MANIFEST_VERSION {
        tracing::warn!(uri = %uri, version = report.version, "the progress report is of a newer format than this build reads ({MANIFEST_VERSION}); ignored: upgrade stepscore");
        return None;
    }
    let this_attempt = job.batch_job_id.as_deref();
    let usable = report.job_id == job.job_id.as_str()
        && report.shard_index == i
        && match (&report.batch_job_id, this_attempt) {
            // an array child is `<parent>:<index>`
            (Some(reported), Some(ours)) => reported.split(':').next() == Some(ours),
            _ => true,
        };
    if !usable {
        tracing::debug!(uri = %uri, job_id = %report.job_id, shard = report.shard_index, batch_job_id = ?report.batch_job_id, "the progress report is another job's, shard's or attempt's; ignored");
        return None;
    }
    Some(report)
}
