//! [`DirStore`]: the object store as a directory tree, one folder per bucket.
//!
//! Layout: `<root>/<bucket>/<key>` holds the object's bytes and nothing else, so another process
//! (the scorer, given `STEPSCORE_LOCAL_S3_ROOT=<root>`) or a person can read it as plain files.
//! What S3 keeps beside an object (ETag, version id) lives in `<root>/.stepscore-meta/<bucket>/`,
//! one sidecar per key named by a digest of the key: outside every bucket folder (a name starting
//! with `.` is never a valid bucket), so `list` can never return it.
//!
//! The store is a versioned bucket: every put (and every file the scanner registers) is a new
//! version id, and a read by version id ([`ObjectStore::get_bytes_at`](stepscore_core::ports::ObjectStore::get_bytes_at)) returns that version's
//! bytes after the key is overwritten, as S3 does, for objects up to [`KEPT_VERSION_BYTES`] (job
//! configs, manifests): their bytes are hard-linked under
//! `.stepscore-meta/<bucket>/versions/<key digest>/<version id>` when the version is created, so
//! keeping them copies nothing, and a put that renames a new file into place leaves the old
//! one's bytes to the link. A key keeps its [`KEPT_NONCURRENT_VERSIONS`] newest earlier
//! versions; older ones, and earlier versions of larger objects (scoring outputs), are gone, as
//! if a lifecycle rule had expired them: a read by their id is [`StoreError::Changed`]. A file
//! rewritten in place by hand shares its inode with the link, so every read is checked against
//! the version's MD5 ETag and never returns other bytes.
//!
//! Keys are mapped to paths segment by segment and rejected when they could escape the bucket
//! folder: `..` and `.` segments, absolute keys, NUL, backslashes, empty segments, and any path
//! that passes through a symbolic link. Writes go to a temp file in the target directory, are
//! fsynced and renamed into place, so a reader sees the old object or the new one, never a part.
//!
//! # Layout
//! - `keys`: key-to-path mapping, refusing every key that could leave its bucket folder.
//! - `sidecar`: the metadata sidecar of a key (ETag, version id, sequencer, earlier versions).
//! - `versions`: the versions a key keeps, their bytes, reads at a version, version ids.
//! - `register`: registering a file written by something else as an object version.
//! - `events`: the S3 event of a put and the notification filter that selects it.
//! - `object_store`: the [`ObjectStore`](stepscore_core::ports::ObjectStore) impl (head, list,
//!   get, get at a version, put).
//! - `files`: plain-file primitives the parts share (stamps, digests, durable directories).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use stepscore_core::ObjectUri;
use stepscore_core::ports::StoreError;

mod events;
mod files;
mod keys;
mod object_store;
mod register;
mod sidecar;
mod versions;

pub use events::{EventSink, NotificationFilter, s3_event};
pub use files::FileStamp;
pub use register::Registered;
pub use versions::{KEPT_NONCURRENT_VERSIONS, KEPT_VERSION_BYTES, new_version_id};

/// The object store as a directory tree.
#[derive(Clone)]
pub struct DirStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    region: String,
    filter: NotificationFilter,
    sink: Option<EventSink>,
}

impl fmt::Debug for DirStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirStore")
            .field("root", &self.inner.root)
            .field("region", &self.inner.region)
            .field("filter", &self.inner.filter)
            .field("events", &self.inner.sink.is_some())
            .finish()
    }
}

/// The folder under the root that holds sidecars; not a valid bucket name, so never listed.
const META_DIR: &str = ".stepscore-meta";
/// Temp files are named with this prefix; keys may not use it.
const TMP_PREFIX: &str = ".stepscore-tmp-";

impl DirStore {
    /// A store rooted at `root` (created if missing), emitting no events.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::build(
            root.into(),
            "local".into(),
            NotificationFilter::default(),
            None,
        )
    }

    /// A store rooted at `root` that sends the S3 event of every put matching `filter` to `sink`.
    pub fn with_events(
        root: impl Into<PathBuf>,
        region: impl Into<String>,
        filter: NotificationFilter,
        sink: EventSink,
    ) -> Result<Self, StoreError> {
        Self::build(root.into(), region.into(), filter, Some(sink))
    }

    fn build(
        root: PathBuf,
        region: String,
        filter: NotificationFilter,
        sink: Option<EventSink>,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root.join(META_DIR)).map_err(|e| StoreError::Other {
            uri: root.display().to_string(),
            message: format!("cannot create the store root: {e}"),
        })?;
        Ok(DirStore {
            inner: Arc::new(Inner {
                root,
                region,
                filter,
                sink,
            }),
        })
    }

    /// The root folder: one folder per bucket (what `STEPSCORE_LOCAL_S3_ROOT` points at).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Creates a bucket folder (puts create their bucket too).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let uri = ObjectUri::new(bucket, "").map_err(|e| StoreError::InvalidKey {
            key: bucket.into(),
            reason: e.to_string(),
        })?;
        std::fs::create_dir_all(self.inner.root.join(uri.bucket())).map_err(|e| other(&uri, e))
    }

    /// The region named in this store's events.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The notification filter of this store's events.
    pub fn filter(&self) -> &NotificationFilter {
        &self.inner.filter
    }
}

/// The error of a key with no object (S3's NoSuchKey).
fn not_found(uri: &ObjectUri) -> StoreError {
    StoreError::NotFound {
        uri: uri.to_string(),
    }
}

/// The error of a file operation that failed on `uri`.
fn other(uri: &ObjectUri, e: io::Error) -> StoreError {
    StoreError::Other {
        uri: uri.to_string(),
        message: e.to_string(),
    }
}
