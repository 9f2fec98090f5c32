//! Distributed Map in the embedded world: the interpreter's [`ItemStore`] port over the
//! directory store (items read straight from the bucket's files, results put through
//! `ObjectStore::put` so they get versions and events like any other object) and the Map Run
//! journal in `state.db`.
//!
//! - `journal`: [`MapRunJournal`], the finished children of every Map Run.

mod journal;

use std::io::{Read, Write};
use std::path::PathBuf;

use stepscore_asl::History;
use stepscore_asl::store::{ChildRecord, ItemStore, ObjectInfo, ObjectSink};
use stepscore_core::ObjectUri;
use stepscore_core::ports::ObjectStore;
use stepscore_dirstore::DirStore;

pub use journal::MapRunJournal;

/// The object store and Map Run journal a Distributed Map runs against.
#[derive(Debug, Clone)]
pub struct DirItemStore {
    store: DirStore,
    journal: Option<MapRunJournal>,
    handle: tokio::runtime::Handle,
    scratch: PathBuf,
}

impl DirItemStore {
    /// Items and results in `store` (calls block on `handle`, so use it from a thread that is
    /// not one of the runtime's workers); `journal` keeps finished children for a resume, and
    /// `scratch` holds results files while they are written.
    pub fn new(
        store: DirStore,
        journal: Option<MapRunJournal>,
        handle: tokio::runtime::Handle,
        scratch: PathBuf,
    ) -> Self {
        DirItemStore {
            store,
            journal,
            handle,
            scratch,
        }
    }

    /// Whether finished children are journaled (a Map Run then resumes where it stopped).
    pub fn journal_enabled(&self) -> bool {
        self.journal.is_some()
    }

    fn uri(bucket: &str, key: &str) -> Result<ObjectUri, String> {
        ObjectUri::new(bucket, key).map_err(|e| format!("s3://{bucket}/{key}: {e}"))
    }
}

impl ItemStore for DirItemStore {
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<Vec<ObjectInfo>, String> {
        let uri = Self::uri(bucket, prefix)?;
        let all = self
            .handle
            .block_on(self.store.list(&uri))
            .map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|m| start_after.is_none_or(|a| m.uri.key() > a))
            .take(max_keys)
            .map(|m| ObjectInfo {
                key: m.uri.key().to_string(),
                etag: format!("\"{}\"", m.etag.unwrap_or_default().trim_matches('"')),
                last_modified: m
                    .last_modified
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default(),
                size: m.size,
                storage_class: "STANDARD".into(),
            })
            .collect())
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Box<dyn Read + Send + '_>, String> {
        let uri = Self::uri(bucket, key)?;
        let path = self.store.path_of(&uri).map_err(|e| e.to_string())?;
        match std::fs::File::open(&path) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => {
                Ok(Box::new(std::io::BufReader::with_capacity(256 * 1024, f)))
            }
            Ok(_) => Err(format!("{uri} does not exist")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("{uri} does not exist"))
            }
            Err(e) => Err(format!("{uri} could not be read: {e}")),
        }
    }

    fn create(&self, bucket: &str, key: &str) -> Result<Box<dyn ObjectSink + '_>, String> {
        let uri = Self::uri(bucket, key)?;
        std::fs::create_dir_all(&self.scratch)
            .map_err(|e| format!("{}: {e}", self.scratch.display()))?;
        let file = tempfile::NamedTempFile::new_in(&self.scratch)
            .map_err(|e| format!("a scratch file for {uri} could not be made: {e}"))?;
        Ok(Box::new(DirSink {
            owner: self,
            uri,
            out: std::io::BufWriter::with_capacity(256 * 1024, file),
        }))
    }

    fn finished_children(&self, map_run_arn: &str) -> Result<Vec<ChildRecord>, String> {
        match &self.journal {
            Some(j) => j.children(map_run_arn),
            None => Ok(Vec::new()),
        }
    }

    fn record_child(&self, map_run_arn: &str, child: &ChildRecord) -> Result<(), String> {
        match &self.journal {
            Some(j) => j.record(map_run_arn, child),
            None => Ok(()),
        }
    }

    fn keep_child_history(
        &self,
        map_run_arn: &str,
        child: &ChildRecord,
        history: &History,
    ) -> Result<(), String> {
        match &self.journal {
            Some(j) => j.keep_history(map_run_arn, child, history),
            None => Ok(()),
        }
    }
}

/// A results file written to a scratch file, then put into the store whole.
struct DirSink<'s> {
    owner: &'s DirItemStore,
    uri: ObjectUri,
    out: std::io::BufWriter<tempfile::NamedTempFile>,
}

impl Write for DirSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl ObjectSink for DirSink<'_> {
    fn commit(self: Box<Self>) -> Result<u64, String> {
        let uri = self.uri.clone();
        let file = self
            .out
            .into_inner()
            .map_err(|e| format!("writing {uri}: {}", e.error()))?;
        let path = file.path().to_path_buf();
        let owner = self.owner;
        let meta = owner
            .handle
            .block_on(async {
                let f = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| e.to_string())?;
                owner
                    .store
                    .put(&uri, Box::pin(f))
                    .await
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| format!("{uri} could not be written: {e}"))?;
        drop(file);
        Ok(meta.size)
    }
}
