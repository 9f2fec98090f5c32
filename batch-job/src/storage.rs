//! Where data lives: local paths or `s3://` URIs, read and written as blocking streams.
//!
//! The scorer's loops are synchronous (rayon); object stores are async. [`Storage`] bridges
//! them: it blocks on the runtime for calls, reads object bodies through `SyncIoBridge`, and
//! writes by feeding a bounded channel that the store's `put` consumes as a stream, so neither
//! direction ever holds a whole object in memory.

use std::fmt;
use std::io::{BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, ObjectVersion, StoreError};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// What an object being written hands to its upload at a time. The upload copies it into part
/// buffers, so anything queued is held twice: 256 KiB chunks, four queued, keep that to about a
/// MiB (with 1 MiB chunks the bench's S3 output peaked about 2 MiB higher).
const OBJECT_CHUNK: usize = 256 << 10;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::error::Error;

/// A local path or an object in the object store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// A file or directory on this machine.
    Local(PathBuf),
    /// `s3://bucket/key`.
    Object(ObjectUri),
}

impl Location {
    /// `s3://...` is an object; anything else a local path.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.starts_with("s3://") {
            ObjectUri::parse(text)
                .map(Location::Object)
                .map_err(|e| Error::usage(e.to_string()))
        } else if text.is_empty() {
            Err(Error::usage("an empty path was given"))
        } else {
            Ok(Location::Local(PathBuf::from(text)))
        }
    }

    /// `name` under this directory or prefix.
    pub fn join(&self, name: &str) -> Self {
        match self {
            Location::Local(p) => Location::Local(p.join(name)),
            Location::Object(u) => Location::Object(u.join(name)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Object(u) => write!(f, "{u}"),
        }
    }
}

/// One input file or object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputObject {
    /// Where it is.
    pub location: Location,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, when the store has one.
    pub etag: Option<String>,
}

/// Local files plus, optionally, an object store for `s3://` locations.
#[derive(Clone)]
pub struct Storage {
    store: Option<(Arc<dyn ObjectStore>, Handle)>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("store", &self.store.as_ref().map(|(s, _)| s))
            .finish()
    }
}

/// The largest model artifact read into memory.
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

impl Storage {
    /// Local paths only; an `s3://` location is a usage error.
    pub fn local_only() -> Self {
        Self { store: None }
    }

    /// Local paths plus `store` for `s3://` locations, driven on `handle`'s runtime. The
    /// blocking methods must not be called from inside that runtime's async tasks.
    pub fn with_store(store: Arc<dyn ObjectStore>, handle: Handle) -> Self {
        Self {
            store: Some((store, handle)),
        }
    }

    fn store(&self, uri: &ObjectUri) -> Result<(&dyn ObjectStore, &Handle), Error> {
        self.store
            .as_ref()
            .map(|(s, h)| (s.as_ref(), h))
            .ok_or_else(|| {
                Error::usage(format!(
                    "{uri} is an S3 location but no object store is configured; pass a local path"
                ))
            })
    }

    /// The inputs at `loc`: the file or object itself, or every file under a directory / every
    /// object under a prefix, sorted by name.
    pub fn list_inputs(&self, loc: &Location) -> Result<Vec<InputObject>, Error> {
        let not_found = |message: String| Error::NotFound {
            what: "input",
            location: loc.to_string(),
            message,
        };
        match loc {
            Location::Local(p) => {
                let meta = std::fs::metadata(p).map_err(|e| not_found(e.to_string()))?;
                if meta.is_file() {
                    return Ok(vec![InputObject {
                        location: loc.clone(),
                        size: meta.len(),
                        etag: None,
                    }]);
                }
                let mut files = Vec::new();
                walk(p, &mut files).map_err(|e| Error::io(p.display(), e))?;
                files.sort();
                if files.is_empty() {
                    return Err(not_found("the directory holds no files".into()));
                }
                Ok(files
                    .into_iter()
                    .map(|(path, size)| InputObject {
                        location: Location::Local(path),
                        size,
                        etag: None,
                    })
                    .collect())
            }
            Location::Object(uri) => {
                let (store, handle) = self.store(uri)?;
                if uri.is_prefix() {
                    let mut objects: Vec<InputObject> = handle
                        .block_on(store.list(uri))
                        .map_err(|e| store_error("input", e))?
                        .into_iter()
                        // folder markers are not data
                        .filter(|m| !m.uri.key().ends_with('/'))
                        .map(|m| InputObject {
                            location: Location::Object(m.uri),
                            size: m.size,
                            etag: m.etag,
                        })
                        .collect();
                    objects.sort_by(|a, b| a.location.cmp(&b.location));
                    if objects.is_empty() {
                        return Err(not_found("no objects under this prefix".into()));
                    }
                    Ok(objects)
                } else {
                    let m = handle
                        .block_on(store.head(uri))
                        .map_err(|e| store_error("input", e))?;
                    Ok(vec![InputObject {
                        location: loc.clone(),
                        size: m.size,
                        etag: m.etag,
                    }])
                }
            }
        }
    }

    /// Opens `loc` (or its byte range `[start, end)`) for reading.
    pub fn open(
        &self,
        loc: &Location,
        range: Option<Range<u64>>,
    ) -> Result<Box<dyn Read + Send>, Error> {
        match loc {
            Location::Local(p) => {
                use std::io::{Seek, SeekFrom};
                let mut f = std::fs::File::open(p).map_err(|e| Error::io(p.display(), e))?;
                match range {
                    Some(r) => {
                        f.seek(SeekFrom::Start(r.start))
                            .map_err(|e| Error::io(p.display(), e))?;
                        Ok(Box::new(f.take(r.end - r.start)))
                    }
                    None => Ok(Box::new(f)),
                }
            }
            Location::Object(uri) => {
                let (store, handle) = self.store(uri)?;
                let body = handle
                    .block_on(store.get(uri, range))
                    .map_err(|e| store_error("input", e))?;
                Ok(Box::new(SyncIoBridge::new_with_handle(
                    body,
                    handle.clone(),
                )))
            }
        }
    }

    /// Opens `input` (or its byte range `[start, end)`) as [`list_inputs`](Self::list_inputs)
    /// saw it: an object is read at the ETag listed, the one its manifest records, so every
    /// read of one input in an attempt (its header, what precedes a shard's range, the range)
    /// gets the same bytes, and an object replaced in between fails the attempt with
    /// [`StoreError::Changed`] (exit 75) rather than mixing two uploads. An object listed
    /// without an ETag, and a local file, are read as they are now.
    pub fn open_input(
        &self,
        input: &InputObject,
        range: Option<Range<u64>>,
    ) -> Result<Box<dyn Read + Send>, Error> {
        let (Location::Object(uri), Some(etag)) = (&input.location, &input.etag) else {
            return self.open(&input.location, range);
        };
        let (store, handle) = self.store(uri)?;
        let body = handle
            .block_on(store.get_at(uri, &ObjectVersion::etag(etag), range))
            .map_err(|e| store_error("input", e))?;
        Ok(Box::new(SyncIoBridge::new_with_handle(
            body,
            handle.clone(),
        )))
    }

    /// Reads a whole small file or object (a model artifact).
    pub fn read_small(&self, loc: &Location, what: &'static str) -> Result<Vec<u8>, Error> {
        match loc {
            Location::Local(p) => std::fs::read(p).map_err(|e| Error::NotFound {
                what,
                location: loc.to_string(),
                message: e.to_string(),
            }),
            Location::Object(uri) => {
                let (store, handle) = self.store(uri)?;
                handle
                    .block_on(store.get_bytes(uri, MAX_ARTIFACT_BYTES))
                    .map_err(|e| store_error(what, e))
            }
        }
    }

    /// Creates (or replaces) `loc`; nothing is visible there until [`OutputSink::finish`].
    pub fn create(&self, loc: &Location) -> Result<OutputSink, Error> {
        match loc {
            Location::Local(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
                }
                let tmp = tmp_path(p);
                let f = std::fs::File::create(&tmp).map_err(|e| Error::io(tmp.display(), e))?;
                Ok(OutputSink {
                    location: loc.to_string(),
                    kind: SinkKind::Local {
                        file: BufWriter::with_capacity(1 << 20, f),
                        tmp,
                        path: p.clone(),
                    },
                })
            }
            Location::Object(uri) => {
                self.store(uri)?;
                let Some((store, handle)) = self.store.clone() else {
                    return Err(Error::Internal {
                        message: "object store missing after check".into(),
                    });
                };
                // about a MiB in flight at most: the channel is the back-pressure
                let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                });
                let target = uri.clone();
                let task = handle.spawn(async move {
                    store
                        .put(&target, Box::pin(StreamReader::new(stream)))
                        .await
                });
                Ok(OutputSink {
                    location: loc.to_string(),
                    kind: SinkKind::Object {
                        tx: Some(tx),
                        buf: Vec::with_capacity(OBJECT_CHUNK),
                        task: Some(task),
                        handle,
                    },
                })
            }
        }
    }

    /// Writes a small file or object from memory (a manifest, an artifact).
    pub fn write_small(&self, loc: &Location, bytes: &[u8]) -> Result<(), Error> {
        let mut sink = self.create(loc)?;
        sink.write_all(bytes)
            .map_err(|e| sink_error(&loc.to_string(), e))?;
        sink.finish()
    }
}

fn tmp_path(p: &Path) -> PathBuf {
    let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    p.with_file_name(name)
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        // hidden files (.DS_Store, editors' swap files) are not data
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), out)?;
        } else if meta.is_file() {
            out.push((entry.path(), meta.len()));
        }
    }
    Ok(())
}

/// A store failure, with NotFound for the thing named `what`.
pub(crate) fn store_error(what: &'static str, e: StoreError) -> Error {
    match e {
        StoreError::NotFound { uri } => Error::NotFound {
            what,
            location: uri,
            message: "no such object or bucket".into(),
        },
        other => Error::Store(other),
    }
}

/// A read of an object that broke mid-stream: the store's own error when the stream carries one
/// (an object replaced mid-read is [`StoreError::Changed`]), else a broken stream.
pub(crate) fn stream_error(location: &Location, e: std::io::Error) -> Error {
    let broken = |source| Error::Stream {
        location: location.to_string(),
        source,
    };
    if !e.get_ref().is_some_and(|inner| inner.is::<StoreError>()) {
        return broken(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<StoreError>()) {
        Some(Ok(store)) => store_error("input", *store),
        // not reached after the check above; kept total rather than panicking
        Some(Err(other)) => broken(std::io::Error::new(kind, other)),
        None => broken(std::io::Error::from(kind)),
    }
}

fn sink_error(location: &str, e: std::io::Error) -> Error {
    Error::Stream {
        location: location.to_owned(),
        source: e,
    }
}

/// An output being written: a temporary file renamed into place, or an object upload fed
/// through a bounded channel.
pub struct OutputSink {
    location: String,
    kind: SinkKind,
}

impl fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputSink")
            .field("location", &self.location)
            .finish()
    }
}

enum SinkKind {
    Local {
        file: BufWriter<std::fs::File>,
        tmp: PathBuf,
        path: PathBuf,
    },
    Object {
        tx: Option<mpsc::Sender<std::io::Result<Bytes>>>,
        buf: Vec<u8>,
        task:
            Option<tokio::task::JoinHandle<Result<stepscore_core::ports::ObjectMeta, StoreError>>>,
        handle: Handle,
    },
}

impl OutputSink {
    /// Where this sink writes.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Completes the write, making the output visible.
    pub fn finish(mut self) -> Result<(), Error> {
        match &mut self.kind {
            SinkKind::Local { file, tmp, path } => {
                file.flush().map_err(|e| Error::io(tmp.display(), e))?;
                std::fs::rename(&*tmp, &*path).map_err(|e| Error::io(path.display(), e))?;
                Ok(())
            }
            SinkKind::Object { .. } => {
                let flushed = self.flush_object();
                let result = self.join_upload();
                match (flushed, result) {
                    (_, Err(e)) => Err(e),
                    (Err(e), Ok(())) => Err(sink_error(&self.location, e)),
                    (Ok(()), Ok(())) => Ok(()),
                }
            }
        }
    }

    /// Abandons the write: nothing appears at the location.
    pub fn abort(mut self) {
        match &mut self.kind {
            SinkKind::Local { tmp, .. } => {
                let _ = std::fs::remove_file(&*tmp);
            }
            SinkKind::Object { tx, .. } => {
                if let Some(tx) = tx.take() {
                    // an error in the body makes the store abandon the upload
                    let _ = tx.blocking_send(Err(std::io::Error::other(
                        "the scorer failed; upload abandoned",
                    )));
                }
                let _ = self.join_upload();
            }
        }
    }

    fn flush_object(&mut self) -> std::io::Result<()> {
        if let SinkKind::Object { tx, buf, .. } = &mut self.kind
            && !buf.is_empty()
        {
            {
                let data = Bytes::from(std::mem::replace(buf, Vec::with_capacity(OBJECT_CHUNK)));
                let sender = tx
                    .as_ref()
                    .ok_or_else(|| std::io::Error::other("upload closed"))?;
                sender
                    .blocking_send(Ok(data))
                    .map_err(|_| std::io::Error::other("the upload stopped early"))?;
            }
        }
        Ok(())
    }

    fn join_upload(&mut self) -> Result<(), Error> {
        if let SinkKind::Object {
            tx, task, handle, ..
        } = &mut self.kind
        {
            tx.take();
            if let Some(task) = task.take() {
                return match handle.block_on(task) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(store_error("output", e)),
                    Err(e) => Err(Error::Internal {
                        message: format!("upload task of {} failed: {e}", self.location),
                    }),
                };
            }
        }
        Ok(())
    }
}

impl Write for OutputSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match &mut self.kind {
            SinkKind::Local { file, .. } => file.write(data),
            SinkKind::Object { buf, .. } => {
                buf.extend_from_slice(data);
                if buf.len() >= OBJECT_CHUNK {
                    self.flush_object()?;
                }
                Ok(data.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.kind {
            SinkKind::Local { file, .. } => file.flush(),
            SinkKind::Object { .. } => self.flush_object(),
        }
    }
}

impl Drop for OutputSink {
    fn drop(&mut self) {
        // a sink dropped without finish() (a panic, an early return) must not publish anything
        match &mut self.kind {
            SinkKind::Local { tmp, .. } => {
                let _ = std::fs::remove_file(tmp);
            }
            SinkKind::Object { tx, handle, .. } => {
                if let Some(tx) = tx.take() {
                    handle.spawn(async move {
                        let _ = tx
                            .send(Err(std::io::Error::other(
                                "the scorer stopped; upload abandoned",
                            )))
                            .await;
                    });
                }
            }
        }
    }
}
