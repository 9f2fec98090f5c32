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

/// The name of shard `index`'s predictions under the output prefix.
pub fn part_name(index: u32) -> String {
    format!("part-{index}.csv")
}

/// The name of shard `index`'s rejected rows under the output prefix.
pub fn rejects_name(index: u32) -> String {
    format!("rejects-{index}.csv")
}
