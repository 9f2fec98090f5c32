//! A running job's progress, for the Jobs page's bar. The one place that knows where progress
//! comes from: the job record's `live` figures (copied by the check task from the scorer's
//! reports, `JobTable::record_live`), the source issue 13 defines for every reader; before the
//! first check has copied any, the `progress-<i>.json` reports ([`ScoringProgress`]) the scorer
//! writes under the job's output prefix, summed over its shards.

use serde::Serialize;
use serde_json::Value;
use stepscore_core::ObjectUri;
use stepscore_core::live::LiveProgress;
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
    /// Where the figures were read: `record` (the job record's `live`) or `reports` (the
    /// scorer's progress objects, before the record has any).
    pub source: &'static str,
}

/// The progress of `record`'s run: its `live` figures when they belong to its current attempt,
/// else the reports under its output prefix; `None` before either has any (or when the config
/// names no output).
pub async fn job_progress(store: &DirStore, record: &JobRecord) -> Option<JobProgress> {
    if let Some(live) = record.live.as_ref().filter(|l| l.attempt == record.attempt) {
        return Some(from_live(live));
    }
    // The check task copies figures only when it runs, one poll interval (up to 360 s in the
    // pipeline's state machine) after the submission, and a new attempt's copy only after its
    // own first check: until then the reports are the only figures there are, and a bar that
    // stayed empty while the scorer already reports would look stuck to the person watching.
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

/// The bar's figures from the record's `live`.
fn from_live(live: &LiveProgress) -> JobProgress {
    JobProgress {
        rows_read: live.rows_read,
        rows_scored: live.rows_scored,
        rows_rejected: live.rows_rejected,
        bytes_read: live.bytes_read,
        bytes_total: live.bytes_total,
        fraction: live.fraction(),
        rows_per_second: live.rows_per_second(),
        eta_seconds: live.eta_seconds(),
        shards_reporting: live.shards_reporting,
        shard_count: live.shard_count,
        done: live.shards_reporting > 0 && live.shards_done == live.shards_reporting,
        source: "record",
    }
}

/// Seconds left at the rate so far, once any byte was read.
fn eta(bytes_read: u64, bytes_total: u64, seconds: f64) -> Option<f64> {
    (bytes_read > 0 && seconds > 0.0)
        .then(|| bytes_total.saturating_sub(bytes_read) as f64 * seconds / bytes_read as f64)
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
    let eta_seconds = eta(bytes_read, bytes_total, seconds);
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
        source: "reports",
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
        assert_eq!(p.source, "reports");
        assert!(summarize(&[]).is_none());
    }

    /// A running record of attempt `attempt` whose output is `s3://bucket/out/<id>/`.
    fn running(id: &str, attempt: u32) -> JobRecord {
        let id = stepscore_core::JobId::parse(id).unwrap();
        let config = serde_json::json!({"output": format!("s3://bucket/out/{id}/")});
        let mut r = JobRecord::pending(id, "test", config, chrono::Utc::now());
        r.status = stepscore_core::JobStatus::Running;
        r.attempt = attempt;
        r
    }

    /// The figures the check task would copy for `rows` rows of one shard of 2,000 bytes.
    fn live(attempt: u32, rows: u64) -> LiveProgress {
        let mut p = report(0, 1000, 10.0, false);
        p.job_id = "j-1".into();
        p.shard_count = 1;
        p.rows_read = rows;
        p.rows_scored = rows;
        p.bytes_total = 2000;
        LiveProgress::sum(attempt, 1, &[p], chrono::Utc::now())
    }

    async fn put_report(store: &DirStore, record: &JobRecord, rows: u64) {
        let mut p = report(0, 100, 1.0, false);
        p.job_id = record.id.as_str().into();
        p.shard_count = 1;
        p.rows_read = rows;
        let uri =
            ObjectUri::parse(&format!("s3://bucket/out/{}/progress-0.json", record.id)).unwrap();
        store
            .put_bytes(&uri, serde_json::to_vec(&p).unwrap())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_records_live_figures_are_shown_though_no_progress_object_exists() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let mut r = running("j-1", 1);
        r.live = Some(live(1, 4321));
        let p = job_progress(&store, &r)
            .await
            .expect("the record's figures");
        assert_eq!(p.rows_read, 4321);
        assert_eq!(p.rows_scored, 4321);
        assert_eq!((p.bytes_read, p.bytes_total), (1000, 2000));
        assert_eq!(p.fraction, Some(0.5));
        assert_eq!(p.eta_seconds, Some(10.0));
        assert_eq!(p.source, "record");
    }

    #[tokio::test]
    async fn the_record_wins_over_the_reports_and_the_reports_fill_in_before_its_first_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let mut r = running("j-2", 2);
        put_report(&store, &r, 77).await;
        // no figures yet: the scorer's report
        let p = job_progress(&store, &r).await.unwrap();
        assert_eq!((p.rows_read, p.source), (77, "reports"));
        // figures of the attempt before (a spot reclaim): not this attempt's, the report again
        r.live = Some(live(1, 5000));
        let p = job_progress(&store, &r).await.unwrap();
        assert_eq!((p.rows_read, p.source), (77, "reports"));
        // this attempt's figures: the record, whatever the objects say
        r.live = Some(live(2, 60));
        let p = job_progress(&store, &r).await.unwrap();
        assert_eq!((p.rows_read, p.source), (60, "record"));
    }
}
