//! A running job's progress, for the Jobs page's bar. The one place that knows where progress
//! comes from: today the `progress-<i>.json` reports ([`ScoringProgress`]) the scorer writes
//! under the job's output prefix, summed over its shards. When the job record carries progress
//! figures, this function reads them from the record instead.

use serde::Serialize;
use serde_json::Value;
use stepscore_core::ObjectUri;
use stepscore_core::manifest::ScoringProgress;
use stepscore_core::ports::ObjectStore;
use stepscore_core::record::JobRecord;
use stepscore_local::DirStore;

/// At most this many shard reports are read per job (a 10,000-shard job is summed over a
/// sample; the bar says how many shards reported).
const MAX_REPORTS: usize = 64;

/// A job's progress over the shards that reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobProgress {
    /// Rows read so far.
    pub rows_read: u64,
    /// Rows scored so far.
    pub rows_scored: u64,
    /// Rows rejected so far.
    pub rows_rejected: u64,
    /// Input bytes read so far.
    pub bytes_read: u64,
    /// Input bytes in all (of the shards that reported).
    pub bytes_total: u64,
    /// `bytes_read / bytes_total`, when the total is known.
    pub fraction: Option<f64>,
    /// Rows per second so far.
    pub rows_per_second: f64,
    /// Seconds left at that rate.
    pub eta_seconds: Option<f64>,
    /// Shards whose report was read.
    pub shards_reporting: u32,
    /// Shards of the job.
    pub shard_count: u32,
    /// True when every shard that reported is done.
    pub done: bool,
}

/// The progress of `record`'s run, from the reports under its output prefix; `None` before any
/// report (or when the config names no output).
pub async fn job_progress(store: &DirStore, record: &JobRecord) -> Option<JobProgress> {
    let output = record.config.get("output").and_then(Value::as_str)?;
    let prefix = ObjectUri::parse(output).ok().filter(ObjectUri::is_prefix)?;
    let listed = store.list(&prefix).await.ok()?;
    let mut reports = Vec::new();
    for meta in listed
        .iter()
        .filter(|m| {
            let name = m.uri.file_name();
            name.starts_with("progress-") && name.ends_with(".json")
        })
        .take(MAX_REPORTS)
    {
        let Ok(bytes) = store.get_bytes(&meta.uri, 64 * 1024).await else {
            continue;
        };
        if let Ok(p) = serde_json::from_slice::<ScoringProgress>(&bytes)
            && p.job_id == record.id.as_str()
        {
            reports.push(p);
        }
    }
    summarize(&reports)
}

fn summarize(reports: &[ScoringProgress]) -> Option<JobProgress> {
    let first = reports.first()?;
    let sum = |f: fn(&ScoringProgress) -> u64| reports.iter().map(f).sum::<u64>();
    let bytes_read = sum(|p| p.bytes_read);
    let bytes_total = sum(|p| p.bytes_total);
    let rows_read = sum(|p| p.rows_read);
    let seconds = reports.iter().map(|p| p.seconds).fold(0.0, f64::max);
    let rows_per_second = if seconds > 0.0 {
        rows_read as f64 / seconds
    } else {
        0.0
    };
    let eta_seconds = (bytes_read > 0 && seconds > 0.0)
        .then(|| bytes_total.saturating_sub(bytes_read) as f64 * seconds / bytes_read as f64);
    Some(JobProgress {
        rows_read,
        rows_scored: sum(|p| p.rows_scored),
        rows_rejected: sum(|p| p.rows_rejected),
        bytes_read,
        bytes_total,
        fraction: (bytes_total > 0).then(|| (bytes_read as f64 / bytes_total as f64).min(1.0)),
        rows_per_second,
        eta_seconds,
        shards_reporting: u32::try_from(reports.len()).unwrap_or(u32::MAX),
        shard_count: first.shard_count,
        done: reports.iter().all(|p| p.done),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(index: u32, bytes_read: u64, seconds: f64, done: bool) -> ScoringProgress {
        ScoringProgress {
            version: stepscore_core::manifest::MANIFEST_VERSION,
            job_id: "j-1".into(),
            shard_index: index,
            shard_count: 2,
            rows_read: bytes_read / 10,
            rows_scored: bytes_read / 10,
            rows_rejected: 0,
            bytes_read,
            bytes_total: 1000,
            seconds,
            done,
            batch_job_id: None,
        }
    }

    #[test]
    fn shards_are_summed_and_the_eta_follows_the_bytes() {
        let p = summarize(&[report(0, 500, 10.0, false), report(1, 500, 5.0, true)]).unwrap();
        assert_eq!(p.bytes_read, 1000);
        assert_eq!(p.bytes_total, 2000);
        assert_eq!(p.fraction, Some(0.5));
        assert_eq!(p.rows_per_second, 10.0);
        assert_eq!(p.eta_seconds, Some(10.0));
        assert!(!p.done);
        assert_eq!(p.shards_reporting, 2);
        assert!(summarize(&[]).is_none());
    }
}
