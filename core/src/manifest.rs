//! The scoring manifest: what one scoring container (or array child) did, written next to its
//! output part and read by the finalize step.

use serde::{Deserialize, Serialize};

/// The manifest format this build writes.
pub const MANIFEST_VERSION: u32 = 1;

/// What one scoring run (one array child, or the single job) produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringManifest {
    /// Format version.
    pub version: u32,
    /// The job id the run belonged to.
    pub job_id: String,
    /// The array index (0 for a single job).
    pub shard_index: u32,
    /// The array size (1 for a single job).
    pub shard_count: u32,
    /// Data rows read (excluding headers).
    pub rows_read: u64,
    /// Rows scored and written to the part.
    pub rows_scored: u64,
    /// Rows rejected under the `skip` policy.
    pub rows_rejected: u64,
    /// Wall time of the run, seconds.
    pub duration_seconds: f64,
    /// The model: URI, algorithm and format version.
    pub model: ModelIdentity,
    /// The inputs this shard read, with their identity (size, ETag) and the byte range.
    pub inputs: Vec<InputIdentity>,
    /// URI of the predictions part.
    pub output: String,
    /// URI of the rejects file, when rows were rejected.
    pub rejects: Option<String>,
}

/// Which model scored the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// Where the artifact was read from.
    pub uri: String,
    /// Algorithm name, e.g. `random-forest-classifier`.
    pub algorithm: String,
    /// The artifact's format version.
    pub format_version: u32,
}

/// One input object as the shard saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputIdentity {
    /// Where it was read from.
    pub uri: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag (or a content hash for local files), when known.
    pub etag: Option<String>,
    /// The byte range `[start, end)` this shard scored, when the file was split by range.
    pub range: Option<(u64, u64)>,
}

/// The name of shard `index`'s manifest under the output prefix.
pub fn manifest_name(index: u32) -> String {
    format!("manifest-{index}.json")
}

/// Why one scoring run (one array child, or the single job) failed, written under the output
/// prefix beside where its manifest would have been, so the record's reason can carry the
/// scorer's own message: Batch reports only the exit code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringFailure {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The job id the run belonged to.
    pub job_id: String,
    /// The array index (0 for a single job).
    pub shard_index: u32,
    /// The process exit code the run ended with.
    pub exit_code: u8,
    /// The scorer's error message (what is wrong, where, and the fix).
    pub message: String,
}

/// The longest failure message kept: the record's reason must stay well inside a DynamoDB item
/// and a Step Functions payload.
pub const MAX_FAILURE_MESSAGE_BYTES: usize = 2048;

/// The name of shard `index`'s failure report under the output prefix.
pub fn failure_name(index: u32) -> String {
    format!("failure-{index}.json")
}

/// How far one scoring run has got, rewritten under the output prefix every few seconds while it
/// runs (and once at its end), so that a long job shows progress with no service beside the
/// object store. Best effort: a progress object that cannot be written never fails the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringProgress {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The job id the run belongs to.
    pub job_id: String,
    /// The array index (0 for a single job).
    pub shard_index: u32,
    /// The array size (1 for a single job).
    pub shard_count: u32,
    /// Data rows read so far.
    pub rows_read: u64,
    /// Rows scored so far.
    pub rows_scored: u64,
    /// Rows rejected so far.
    pub rows_rejected: u64,
    /// Input bytes this shard has read.
    pub bytes_read: u64,
    /// Input bytes this shard reads in all.
    pub bytes_total: u64,
    /// Seconds since the run started.
    pub seconds: f64,
    /// True in the last report, written when the shard's output is complete.
    pub done: bool,
    /// The Batch job that wrote it (`AWS_BATCH_JOB_ID`, `<parent>:<index>` for an array child),
    /// so that a report left by an earlier attempt is told from the running one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_job_id: Option<String>,
}

impl ScoringProgress {
    /// Rows read per second so far.
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows_read as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Seconds left at the rate so far, from bytes (rows are not known in advance); `None`
    /// before anything was read.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.bytes_read == 0 || self.seconds <= 0.0 {
            return None;
        }
        let left = self.bytes_total.saturating_sub(self.bytes_read) as f64;
        Some(left * self.seconds / self.bytes_read as f64)
    }
}

/// The name of shard `index`'s progress report under the output prefix.
pub fn progress_name(index: u32) -> String {
    format!("progress-{index}.json")
}

/// The name of shard `index`'s predictions under the output prefix.
pub fn part_name(index: u32) -> String {
    format!("part-{index}.csv")
}

/// The name of shard `index`'s rejected rows under the output prefix.
pub fn rejects_name(index: u32) -> String {
    format!("rejects-{index}.csv")
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    fn at(bytes_read: u64, seconds: f64) -> ScoringProgress {
        ScoringProgress {
            version: MANIFEST_VERSION,
            job_id: "j-1".into(),
            shard_index: 0,
            shard_count: 1,
            rows_read: bytes_read / 100,
            rows_scored: bytes_read / 100,
            rows_rejected: 0,
            bytes_read,
            bytes_total: 1_000_000,
            seconds,
            done: false,
            batch_job_id: None,
        }
    }

    #[test]
    fn rate_and_eta_follow_the_bytes_read_so_far() {
        let p = at(250_000, 10.0);
        assert_eq!(p.rows_per_second(), 250.0);
        assert_eq!(p.eta_seconds(), Some(30.0));
        assert_eq!(at(0, 10.0).eta_seconds(), None);
        assert_eq!(at(0, 0.0).rows_per_second(), 0.0);
    }
}
