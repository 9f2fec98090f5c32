//! The object store a Distributed Map reads its items from and writes its results to: S3 on
//! AWS, whatever the embedder provides here (the local runtime's directory store). The
//! interpreter does no IO of its own, so this port is how a Map Run reaches objects.
//!
//! Calls are synchronous: the interpreter runs on a thread of its own, and an embedder over an
//! async store blocks on it there. Errors are text that names the object and what went wrong;
//! the engine turns them into `States.ItemReaderFailed` or `States.ResultWriterFailed`.

use std::io::{Read, Write};

/// One object of a listing, with the fields `ListObjectsV2` returns for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// The ETag, with its quotes (`"…"`), as S3 returns it.
    pub etag: String,
    /// When it was last written, RFC 3339 (`2024-01-01T00:00:00.000Z`).
    pub last_modified: String,
    /// Size in bytes.
    pub size: u64,
    /// Storage class (`STANDARD`).
    pub storage_class: String,
}

/// An object being written; nothing is visible under its key until [`ObjectSink::commit`].
pub trait ObjectSink: Write {
    /// Publishes the bytes written so far as the object; returns its size.
    fn commit(self: Box<Self>) -> Result<u64, String>;
}

/// Objects for Distributed Map: `ItemReader` reads, `ResultWriter` writes.
pub trait ItemStore: Send + Sync {
    /// Up to `max_keys` objects under `prefix` whose keys sort after `start_after`, in key
    /// order (one `ListObjectsV2` page).
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<Vec<ObjectInfo>, String>;

    /// Streams an object's bytes.
    fn get(&self, bucket: &str, key: &str) -> Result<Box<dyn Read + Send + '_>, String>;

    /// Starts writing an object.
    fn create(&self, bucket: &str, key: &str) -> Result<Box<dyn ObjectSink + '_>, String>;

    /// The child executions of a Map Run already finished, by child index, so that a Map Run
    /// resumed after its process died runs none of them twice. The default keeps nothing.
    fn finished_children(&self, _map_run_arn: &str) -> Result<Vec<ChildRecord>, String> {
        Ok(Vec::new())
    }

    /// Records a finished child execution before the Map Run goes on; the default keeps nothing.
    fn record_child(&self, _map_run_arn: &str, _child: &ChildRecord) -> Result<(), String> {
        Ok(())
    }

    /// Keeps a child execution's history (for `stepscore history`); the default drops it.
    fn keep_child_history(
        &self,
        _map_run_arn: &str,
        _child: &ChildRecord,
        _history: &crate::history::History,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// One finished child execution of a Map Run, as a Map Run journal keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChildRecord {
    /// 0-based position among the Map Run's children (batches, or items without a batcher).
    pub index: u64,
    /// Execution name (a UUID-shaped id derived from the Map Run and the index).
    pub name: String,
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// The child's input, as JSON text.
    pub input: String,
    /// The output (succeeded) as JSON text.
    pub output: Option<String>,
    /// Error name (failed).
    pub error: Option<String>,
    /// Cause (failed).
    pub cause: Option<String>,
    /// Items the child processed (its batch size).
    pub items: u64,
    /// Start time, RFC 3339.
    pub start_date: String,
    /// End time, RFC 3339.
    pub stop_date: String,
}
