//! [`DirStore`]: the object store as a directory tree, one folder per bucket.
//!
//! Layout: `<root>/<bucket>/<key>` holds the object's bytes and nothing else, so another process
//! (the scorer, given `STEPSCORE_LOCAL_S3_ROOT=<root>`) or a person can read it as plain files.
//! What S3 keeps beside an object (ETag, version id) lives in `<root>/.stepscore-meta/<bucket>/`,
//! one sidecar per key named by a digest of the key: outside every bucket folder (a name starting
//! with `.` is never a valid bucket), so `list` can never return it.
//!
//! The store is a versioned bucket: every put (and every file the scanner registers) is a new
//! version id, and a read by version id ([`ObjectStore::get_bytes_at`]) returns that version's
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

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{
    ByteStream, ObjectMeta, ObjectStore, ObjectVersion, StoreError, unquoted,
};
use stepscore_core::uri::bucket_name_problem;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Receives the S3 event JSON of each object created under the notification filter. An error
/// (the event could not be kept) fails the put that made it: a put returns only once its event
/// is where it will be delivered from.
pub type EventSink = Arc<dyn Fn(Value) -> Result<(), String> + Send + Sync>;

/// Which puts emit an event, like an S3 bucket notification's prefix/suffix filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Keys must start with this.
    pub prefix: String,
    /// Keys must end with this.
    pub suffix: String,
}

impl Default for NotificationFilter {
    /// The pipeline's notification: job configs under `jobs/`.
    fn default() -> Self {
        NotificationFilter {
            prefix: "jobs/".into(),
            suffix: ".json".into(),
        }
    }
}

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
/// The folder, beside a bucket's sidecars, holding the kept bytes of object versions.
const VERSIONS_DIR: &str = "versions";

/// Objects up to this size keep their bytes as a version when overwritten (job configs are at
/// most 64 KiB, manifests a few KiB); larger ones keep only their current version.
pub const KEPT_VERSION_BYTES: u64 = 1024 * 1024;

/// How many earlier versions of a key keep their bytes, newest first: enough for any burst of
/// overwrites admit could lag behind, bounded so an often rewritten key does not fill the disk.
pub const KEPT_NONCURRENT_VERSIONS: usize = 16;

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

    /// The file holding an object, after checking the key cannot escape its bucket.
    pub fn path_of(&self, uri: &ObjectUri) -> Result<PathBuf, StoreError> {
        let segments = object_segments(uri)?;
        let mut path = self.inner.root.join(uri.bucket());
        refuse_symlink(uri, &path)?;
        for s in segments {
            path.push(s);
            refuse_symlink(uri, &path)?;
        }
        Ok(path)
    }

    /// The version this store registered for the file now at `uri`, when the file is still the
    /// one registered (same size and modification time); `None` for a file written by something
    /// else, or changed since. Blocking.
    pub fn registered_version(&self, uri: &ObjectUri, file: FileStamp) -> Option<Registered> {
        let sidecar = read_sidecar(&self.meta_path(uri), uri)?;
        if sidecar.size != file.size || sidecar.mtime_nanos != file.mtime_nanos {
            return None;
        }
        Some(self.registered(uri, sidecar))
    }

    /// Registers the file now at `uri` as object version `version_id` without touching its
    /// bytes: digests it and writes its metadata, as a PUT would have. `Ok(None)` when the file
    /// is no longer `expected` (it changed while being digested). The caller announces the
    /// version ([`s3_event`] with the returned sequencer). Blocking.
    pub fn register_version(
        &self,
        uri: &ObjectUri,
        version_id: &str,
        expected: FileStamp,
    ) -> Result<Option<Registered>, StoreError> {
        let path = self.path_of(uri)?;
        let etag = match md5_file(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(other(uri, e)),
        };
        // digested what was expected only if the file did not change under the read
        match FileStamp::of(&path) {
            Ok(now) if now == expected => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(other(uri, e)),
        }
        if expected.size <= KEPT_VERSION_BYTES {
            self.keep_registered_bytes(uri, &path, version_id, expected);
        }
        let meta_path = self.meta_path(uri);
        let previous = read_sidecar(&meta_path, uri);
        let sequencer = next_sequencer(previous.as_ref());
        let sidecar = Sidecar {
            key: uri.key().into(),
            etag,
            version_id: version_id.into(),
            size: expected.size,
            mtime_nanos: expected.mtime_nanos,
            sequencer: Some(sequencer),
            noncurrent: self.demote(uri, previous, version_id),
        };
        write_sidecar(&meta_path, &sidecar).map_err(|e| other(uri, e))?;
        Ok(Some(self.registered(uri, sidecar)))
    }

    /// Links the file a registration digested as its version's kept bytes, unless it was
    /// replaced meanwhile (then the version keeps no bytes beyond the live file). Best effort:
    /// a version whose bytes cannot be kept is only readable while current.
    fn keep_registered_bytes(
        &self,
        uri: &ObjectUri,
        path: &Path,
        version_id: &str,
        expected: FileStamp,
    ) {
        let Some(kept) = self.version_path(uri, version_id) else {
            return;
        };
        // linked under a temp name and renamed: a registration repeated after a crash replaces
        // its earlier link instead of failing on it
        let result = (|| {
            let dir = kept.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
            std::fs::hard_link(path, &tmp)?;
            // the same inode, size and mtime as digested, or a replacement got linked
            if FileStamp::of(&tmp)? != expected {
                std::fs::remove_file(&tmp)?;
                return Ok(false);
            }
            std::fs::rename(&tmp, &kept)?;
            Ok::<_, io::Error>(true)
        })();
        if let Err(e) = result {
            tracing::debug!(uri = %uri, version_id, error = %e, "cannot keep a version's bytes; it is readable by id only while current");
        }
    }

    /// Links a put's temp file as its new version's kept bytes. Best effort, as above.
    fn keep_new_bytes(&self, uri: &ObjectUri, tmp: &Path, version_id: &str) {
        let Some(kept) = self.version_path(uri, version_id) else {
            return;
        };
        let result = kept
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::hard_link(tmp, &kept));
        if let Err(e) = result {
            tracing::debug!(uri = %uri, version_id, error = %e, "cannot keep a version's bytes; it is readable by id only while current");
        }
    }

    /// The region named in this store's events.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The notification filter of this store's events.
    pub fn filter(&self) -> &NotificationFilter {
        &self.inner.filter
    }

    fn registered(&self, uri: &ObjectUri, s: Sidecar) -> Registered {
        let last_modified = std::time::UNIX_EPOCH
            .checked_add(std::time::Duration::from_nanos(
                u64::try_from(s.mtime_nanos).unwrap_or(u64::MAX),
            ))
            .map(DateTime::<Utc>::from);
        Registered {
            meta: ObjectMeta {
                uri: uri.clone(),
                size: s.size,
                etag: Some(s.etag),
                version_id: Some(s.version_id),
                last_modified,
            },
            // sidecars from before sequencers were kept: the mtime orders PUTs of a key too
            sequencer: s
                .sequencer
                .unwrap_or_else(|| format!("{:016X}", s.mtime_nanos)),
        }
    }

    fn meta_path(&self, uri: &ObjectUri) -> PathBuf {
        let digest = hex::encode(Md5::digest(uri.key().as_bytes()));
        self.inner
            .root
            .join(META_DIR)
            .join(uri.bucket())
            .join(format!("{digest}.json"))
    }

    /// Where a version's kept bytes live; `None` for a version id that cannot be a file name
    /// (this store issues none such, but ids reach it from events).
    fn version_path(&self, uri: &ObjectUri, version_id: &str) -> Option<PathBuf> {
        let usable = !version_id.is_empty()
            && !version_id.starts_with('.')
            && version_id.len() <= 255
            && version_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !usable {
            return None;
        }
        let digest = hex::encode(Md5::digest(uri.key().as_bytes()));
        Some(
            self.inner
                .root
                .join(META_DIR)
                .join(uri.bucket())
                .join(VERSIONS_DIR)
                .join(digest)
                .join(version_id),
        )
    }

    /// The earlier versions once `current` replaces `previous`'s current version: that one
    /// (when its bytes were kept) and those before it, newest first, at most
    /// [`KEPT_NONCURRENT_VERSIONS`]; the bytes of the ones that drop off are removed.
    fn demote(
        &self,
        uri: &ObjectUri,
        previous: Option<Sidecar>,
        current: &str,
    ) -> Vec<KeptVersion> {
        let Some(previous) = previous else {
            return Vec::new();
        };
        let was_kept = |id: &str| self.version_path(uri, id).is_some_and(|p| p.is_file());
        let mut versions = Vec::with_capacity(previous.noncurrent.len() + 1);
        // a registration repeated after a crash re-registers the current version: not earlier
        if previous.version_id != current && was_kept(&previous.version_id) {
            versions.push(KeptVersion {
                version_id: previous.version_id,
                etag: previous.etag,
                size: previous.size,
            });
        }
        versions.extend(
            previous
                .noncurrent
                .into_iter()
                .filter(|v| v.version_id != current),
        );
        for expired in versions.split_off(versions.len().min(KEPT_NONCURRENT_VERSIONS)) {
            if let Some(path) = self.version_path(uri, &expired.version_id)
                && let Err(e) = std::fs::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(uri = %uri, version_id = %expired.version_id, error = %e, "cannot remove an expired version's bytes");
            }
        }
        versions
    }

    fn get_bytes_at_blocking(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(uri)?;
        let changed = |current: Option<String>| StoreError::Changed {
            uri: uri.to_string(),
            expected: version.clone(),
            current,
        };
        let too_large = |size: u64| StoreError::TooLarge {
            uri: uri.to_string(),
            size,
            limit,
        };
        match version {
            ObjectVersion::Id(id) => {
                let sidecar = read_sidecar(&self.meta_path(uri), uri);
                let Some((wanted, is_current)) = sidecar.as_ref().and_then(|s| s.version(id))
                else {
                    return Err(changed(None));
                };
                if wanted.size > limit {
                    return Err(too_large(wanted.size));
                }
                // its kept bytes, else (while it is current) the object's own file
                let kept = self.version_path(uri, id);
                for file in kept.into_iter().chain(is_current.then_some(path)) {
                    match read_small(&file, limit) {
                        Ok(Small::Bytes(bytes)) if md5_hex(&bytes) == wanted.etag => {
                            return Ok(bytes);
                        }
                        // rewritten in place since (a link shares its bytes), or never kept
                        Ok(_) => {}
                        Err(e) if is_missing(&e) => {}
                        Err(e) => return Err(other(uri, e)),
                    }
                }
                Err(changed(None))
            }
            ObjectVersion::ETag(etag) => {
                let wanted = unquoted(etag);
                match read_small(&path, limit) {
                    Ok(Small::Bytes(bytes)) => {
                        let now = md5_hex(&bytes);
                        if now == wanted {
                            Ok(bytes)
                        } else {
                            Err(changed(Some(now)))
                        }
                    }
                    // S3 checks If-Match before it sends the body: a stale ETag is Changed even
                    // for an object too large to read
                    Ok(Small::Over(size)) => match self.head_blocking(uri)?.etag {
                        Some(now) if now != wanted => Err(changed(Some(now))),
                        _ => Err(too_large(size)),
                    },
                    Err(e) if is_missing(&e) => Err(not_found(uri)),
                    Err(e) => Err(other(uri, e)),
                }
            }
        }
    }

    fn emit(&self, uri: &ObjectUri, meta: &ObjectMeta, sequencer: &str) -> Result<(), StoreError> {
        let Some(sink) = &self.inner.sink else {
            return Ok(());
        };
        let f = &self.inner.filter;
        if !(uri.key().starts_with(&f.prefix) && uri.key().ends_with(&f.suffix)) {
            return Ok(());
        }
        let event = s3_event(&self.inner.region, uri, meta, sequencer);
        tracing::debug!(uri = %uri, "object created event");
        sink(event).map_err(|e| StoreError::Other {
            uri: uri.to_string(),
            message: format!(
                "stored as version {}, but its S3 event could not be kept, so nothing will process it: {e}; put the object again",
                meta.version_id.as_deref().unwrap_or("(none)")
            ),
        })
    }

    fn head_blocking(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        let path = self.path_of(uri)?;
        let md = match std::fs::metadata(&path) {
            Ok(md) if md.is_file() => md,
            Ok(_) => return Err(not_found(uri)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(uri)),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(not_found(uri)),
            Err(e) => return Err(other(uri, e)),
        };
        let mtime = md.modified().map_err(|e| other(uri, e))?;
        let mtime_nanos = nanos(mtime);
        let sidecar = read_sidecar(&self.meta_path(uri), uri)
            .filter(|s| s.size == md.len() && s.mtime_nanos == mtime_nanos);
        let (etag, version_id) = match sidecar {
            Some(s) => (s.etag, Some(s.version_id)),
            // written by something other than this store (a person, a tool): digest it now
            None => (md5_file(&path).map_err(|e| other(uri, e))?, None),
        };
        Ok(ObjectMeta {
            uri: uri.clone(),
            size: md.len(),
            etag: Some(etag),
            version_id,
            last_modified: Some(DateTime::<Utc>::from(mtime)),
        })
    }

    fn list_blocking(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError> {
        let bucket_dir = self.inner.root.join(prefix.bucket());
        if !bucket_dir.is_dir() {
            return Err(not_found(prefix));
        }
        refuse_symlink(prefix, &bucket_dir)?;
        // Walk only the folder the prefix's complete segments name.
        let key = prefix.key();
        let dir_part = match key.rfind('/') {
            Some(i) => &key[..i],
            None => "",
        };
        let mut start = bucket_dir.clone();
        if !dir_part.is_empty() {
            for s in check_segments(key, dir_part.split('/'))? {
                start.push(s);
                refuse_symlink(prefix, &start)?;
            }
        }
        let mut keys = Vec::new();
        let base = if dir_part.is_empty() {
            String::new()
        } else {
            format!("{dir_part}/")
        };
        walk(&start, &base, &mut keys).map_err(|e| other(prefix, e))?;
        keys.retain(|k| k.starts_with(key));
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let uri = ObjectUri::new(prefix.bucket(), k).map_err(|e| StoreError::Other {
                uri: prefix.to_string(),
                message: e.to_string(),
            })?;
            match self.head_blocking(&uri) {
                Ok(m) => out.push(m),
                // deleted between the walk and the head
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn open_for_read(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<(std::fs::File, u64), StoreError> {
        let path = self.path_of(uri)?;
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(not_found(uri));
            }
            Err(e) => return Err(other(uri, e)),
        };
        let md = file.metadata().map_err(|e| other(uri, e))?;
        if !md.is_file() {
            return Err(not_found(uri));
        }
        let size = md.len();
        match range {
            None => Ok((file, size)),
            Some(r) => {
                if r.start > r.end || (r.start >= size && size > 0) || r.start > size {
                    return Err(StoreError::Other {
                        uri: uri.to_string(),
                        message: format!(
                            "range {}..{} is not satisfiable for an object of {size} bytes (InvalidRange)",
                            r.start, r.end
                        ),
                    });
                }
                file.seek(SeekFrom::Start(r.start))
                    .map_err(|e| other(uri, e))?;
                Ok((file, r.end.min(size) - r.start))
            }
        }
    }
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        let this = self.clone();
        let uri = uri.clone();
        blocking(move || this.head_blocking(&uri)).await
    }

    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError> {
        let this = self.clone();
        let prefix = prefix.clone();
        blocking(move || this.list_blocking(&prefix)).await
    }

    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        let this = self.clone();
        let u = uri.clone();
        let (file, len) = blocking(move || this.open_for_read(&u, range)).await?;
        Ok(Box::pin(tokio::fs::File::from_std(file).take(len)))
    }

    async fn get_bytes_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let (this, uri, version) = (self.clone(), uri.clone(), version.clone());
        blocking(move || this.get_bytes_at_blocking(&uri, &version, limit)).await
    }

    async fn put(&self, uri: &ObjectUri, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        // a put creates its bucket, so it must be a name S3 would create
        if let Some(reason) = bucket_name_problem(uri.bucket()) {
            return Err(StoreError::InvalidKey {
                key: uri.to_string(),
                reason,
            });
        }
        let path = self.path_of(uri)?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| StoreError::InvalidKey {
                key: uri.key().into(),
                reason: "names no file".into(),
            })?;
        {
            let (this, uri, dir) = (self.clone(), uri.clone(), dir.clone());
            blocking(move || create_dirs_checked(&this, &uri, &dir)).await?;
        }
        let tmp = dir.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        let result = write_temp(uri, &tmp, &mut body).await;
        let (hash, size) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let this = self.clone();
        let u = uri.clone();
        let (meta, sequencer) = blocking(move || {
            // An existing folder at the key (from `key/child`) cannot become a file.
            if path.is_dir() {
                let _ = std::fs::remove_file(&tmp);
                return Err(StoreError::InvalidKey {
                    key: u.key().into(),
                    reason: "a folder of other keys already exists at this path".into(),
                });
            }
            let version_id = new_version_id();
            if size <= KEPT_VERSION_BYTES {
                // linked before the rename: once a later put replaces the file, the link is
                // all that holds these bytes
                this.keep_new_bytes(&u, &tmp, &version_id);
            }
            std::fs::rename(&tmp, &path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                if let Some(kept) = this.version_path(&u, &version_id) {
                    let _ = std::fs::remove_file(kept);
                }
                other(&u, e)
            })?;
            sync_dir(&dir).map_err(|e| other(&u, e))?;
            let md = std::fs::metadata(&path).map_err(|e| other(&u, e))?;
            let mtime = md.modified().map_err(|e| other(&u, e))?;
            let meta_path = this.meta_path(&u);
            let previous = read_sidecar(&meta_path, &u);
            let sequencer = next_sequencer(previous.as_ref());
            let sidecar = Sidecar {
                key: u.key().into(),
                etag: hash.clone(),
                version_id: version_id.clone(),
                size,
                mtime_nanos: nanos(mtime),
                sequencer: Some(sequencer.clone()),
                noncurrent: this.demote(&u, previous, &version_id),
            };
            write_sidecar(&meta_path, &sidecar).map_err(|e| other(&u, e))?;
            Ok((
                ObjectMeta {
                    uri: u.clone(),
                    size,
                    etag: Some(hash),
                    version_id: Some(version_id),
                    last_modified: Some(DateTime::<Utc>::from(mtime)),
                },
                sequencer,
            ))
        })
        .await?;
        tracing::debug!(uri = %uri, size = meta.size, "object stored");
        // the sink may do IO (the runtime writes an outbox row): keep it off the async threads
        let (this, u, m) = (self.clone(), uri.clone(), meta.clone());
        blocking(move || this.emit(&u, &m, &sequencer)).await?;
        Ok(meta)
    }
}

/// What identifies one state of a file cheaply: its size and modification time (what the
/// store's metadata is checked against) and its inode (a rename into place changes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_nanos: u128,
    /// The inode number.
    pub inode: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` (not following a final symbolic link).
    pub fn of(path: &Path) -> io::Result<Self> {
        Ok(Self::from_metadata(&std::fs::symlink_metadata(path)?))
    }

    /// The stamp of already-read metadata.
    pub fn from_metadata(md: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            size: md.len(),
            mtime_nanos: md.modified().map(nanos).unwrap_or(0),
            inode: md.ino(),
        }
    }
}

/// An object version this store registered: its metadata and its PUT's event sequencer.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// Size, ETag, version id, last modified.
    pub meta: ObjectMeta,
    /// The sequencer of the version's `ObjectCreated` event.
    pub sequencer: String,
}

/// The S3 `ObjectCreated:Put` notification for one object, as AWS delivers it to Lambda.
pub fn s3_event(region: &str, uri: &ObjectUri, meta: &ObjectMeta, sequencer: &str) -> Value {
    let now = Utc::now();
    // S3 URL-encodes the key in events (spaces as '+'), which handlers must decode
    let key = form_urlencode(uri.key());
    let mut object = serde_json::Map::new();
    object.insert("key".into(), json!(key));
    object.insert("size".into(), json!(meta.size));
    if let Some(e) = &meta.etag {
        object.insert("eTag".into(), json!(e));
    }
    if let Some(v) = &meta.version_id {
        object.insert("versionId".into(), json!(v));
    }
    object.insert("sequencer".into(), json!(sequencer));
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "LOCAL"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
                "x-amz-id-2": uuid::Uuid::new_v4().to_string()
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "stepscore-jobs",
                "bucket": {
                    "name": uri.bucket(),
                    "ownerIdentity": {"principalId": "LOCAL"},
                    "arn": format!("arn:aws:s3:::{}", uri.bucket())
                },
                "object": Value::Object(object)
            }
        }]
    })
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    key: String,
    etag: String,
    version_id: String,
    size: u64,
    mtime_nanos: u128,
    /// The S3 event sequencer of this version's PUT (absent in sidecars written before it was
    /// kept); the next PUT of the key gets a greater one.
    #[serde(default)]
    sequencer: Option<String>,
    /// Earlier versions of the key whose bytes are kept, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    noncurrent: Vec<KeptVersion>,
}

impl Sidecar {
    /// Version `id` of the key, and whether it is the current one.
    fn version(&self, id: &str) -> Option<(KeptVersion, bool)> {
        if self.version_id == id {
            let current = KeptVersion {
                version_id: self.version_id.clone(),
                etag: self.etag.clone(),
                size: self.size,
            };
            return Some((current, true));
        }
        self.noncurrent
            .iter()
            .find(|v| v.version_id == id)
            .map(|v| (v.clone(), false))
    }
}

/// An earlier version of a key whose bytes the store keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptVersion {
    version_id: String,
    /// Its MD5, checked on every read: a file rewritten in place changes a linked version too.
    etag: String,
    size: u64,
}

fn read_sidecar(path: &Path, uri: &ObjectUri) -> Option<Sidecar> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
        .filter(|s| s.key == uri.key())
}

/// The sequencer of a key's next PUT: S3 promises that a later PUT of a key carries a greater
/// sequencer, so it is the clock in nanoseconds, or one past the previous PUT's when the clock
/// has not moved past it (two PUTs in one tick, or a clock stepped back). Fixed width, so
/// sequencers of one key compare as strings, as AWS documents.
fn next_sequencer(previous: Option<&Sidecar>) -> String {
    let now = nanos(std::time::SystemTime::now());
    let after = previous
        .and_then(|s| s.sequencer.as_deref())
        .and_then(|s| u128::from_str_radix(s, 16).ok())
        .map_or(0, |p| p + 1);
    format!("{:016X}", now.max(after))
}

fn form_urlencode(key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // What S3 leaves unescaped in event keys: unreserved characters and '/'
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/')
        .remove(b' ');
    utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
}

/// A new object version id: ordered by time, unique.
pub fn new_version_id() -> String {
    // Ordered by time (like S3's, later puts sort later), unique by the counter and random tail
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:x}.{n:x}.{}",
        nanos(std::time::SystemTime::now()),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn nanos(t: std::time::SystemTime) -> u128 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The key's segments, checked: every way a key could name something outside its bucket folder
/// (or something this store cannot hold as a file) is refused with the reason.
fn object_segments(uri: &ObjectUri) -> Result<Vec<&str>, StoreError> {
    let key = uri.key();
    if key.is_empty() {
        return Err(invalid(key, "an object needs a non-empty key"));
    }
    if key.ends_with('/') {
        return Err(invalid(
            key,
            "ends in '/', which names a folder; give an object key",
        ));
    }
    check_segments(key, key.split('/'))
}

fn check_segments<'a>(
    key: &str,
    segments: impl Iterator<Item = &'a str>,
) -> Result<Vec<&'a str>, StoreError> {
    if key.starts_with('/') {
        return Err(invalid(
            key,
            "starts with '/', an absolute path; keys are relative to the bucket",
        ));
    }
    if key.contains('\0') {
        return Err(invalid(key, "contains a NUL byte"));
    }
    if key.contains('\\') {
        return Err(invalid(
            key,
            "contains a backslash, which some systems read as a path separator; use '/'",
        ));
    }
    let mut out = Vec::new();
    for s in segments {
        match s {
            "" => {
                return Err(invalid(
                    key,
                    "has an empty path segment ('//'), which a directory store cannot hold",
                ));
            }
            "." | ".." => {
                return Err(invalid(
                    key,
                    &format!("has a '{s}' segment, which could leave the bucket"),
                ));
            }
            s if s.starts_with(TMP_PREFIX) => {
                return Err(invalid(
                    key,
                    &format!("has a segment starting with '{TMP_PREFIX}', reserved for temp files"),
                ));
            }
            s if s.len() > 255 => {
                return Err(invalid(
                    key,
                    "has a path segment over 255 bytes, longer than a file name may be",
                ));
            }
            s => out.push(s),
        }
    }
    Ok(out)
}

fn refuse_symlink(uri: &ObjectUri, path: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Err(invalid(
            uri.key(),
            &format!(
                "resolves through the symbolic link {}, which could leave the bucket",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

fn create_dirs_checked(store: &DirStore, uri: &ObjectUri, dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => invalid(
            uri.key(),
            "a parent of this key is already an object, so it cannot also be a folder",
        ),
        _ => other(uri, e),
    })?;
    // a symlink could have been planted between the check and the create
    store.path_of(uri).map(|_| ())
}

async fn write_temp(
    uri: &ObjectUri,
    tmp: &Path,
    body: &mut (dyn AsyncRead + Send + Unpin),
) -> Result<(String, u64), StoreError> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .await
        .map_err(|e| other(uri, e))?;
    let mut hasher = Md5::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = body.read(&mut buf).await.map_err(|e| StoreError::Other {
            uri: uri.to_string(),
            message: format!("reading the body to store failed: {e}"),
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        file.write_all(&buf[..n]).await.map_err(|e| other(uri, e))?;
    }
    file.flush().await.map_err(|e| other(uri, e))?;
    file.sync_all().await.map_err(|e| other(uri, e))?;
    Ok((hex::encode(hasher.finalize()), size))
}

fn write_sidecar(path: &Path, sidecar: &Sidecar) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(sidecar).map_err(io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A file read whole, or found to be over the limit.
enum Small {
    Bytes(Vec<u8>),
    Over(u64),
}

/// Reads a regular file of at most `limit` bytes (something else at the path is NotFound).
fn read_small(path: &Path, limit: u64) -> io::Result<Small> {
    let file = std::fs::File::open(path)?;
    let md = file.metadata()?;
    if !md.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    if md.len() > limit {
        return Ok(Small::Over(md.len()));
    }
    let mut buf = Vec::with_capacity(md.len() as usize);
    // take() guards against a file that grew since its metadata was read
    file.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Ok(Small::Over(buf.len() as u64));
    }
    Ok(Small::Bytes(buf))
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn md5_file(path: &Path) -> io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn walk(dir: &Path, base: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    // names that are not UTF-8 cannot be keys; BTreeMap keeps the walk deterministic
    let mut children = BTreeMap::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(TMP_PREFIX) {
            continue;
        }
        children.insert(name, entry.file_type()?);
    }
    for (name, ft) in children {
        if ft.is_symlink() {
            continue;
        }
        let key = format!("{base}{name}");
        if ft.is_dir() {
            walk(&dir.join(&name), &format!("{key}/"), out)?;
        } else if ft.is_file() {
            out.push(key);
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other {
            uri: String::new(),
            message: format!("store worker thread failed: {e}"),
        })?
}

fn invalid(key: &str, reason: &str) -> StoreError {
    StoreError::InvalidKey {
        key: key.escape_debug().to_string(),
        reason: reason.into(),
    }
}

fn not_found(uri: &ObjectUri) -> StoreError {
    StoreError::NotFound {
        uri: uri.to_string(),
    }
}

fn other(uri: &ObjectUri, e: io::Error) -> StoreError {
    StoreError::Other {
        uri: uri.to_string(),
        message: e.to_string(),
    }
}
