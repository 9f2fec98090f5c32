//! [`Scanner`]: configs that reach a bucket's `jobs/` folder without the store (`cp`, `mv`, an
//! editor's save, files already there) become S3 events, each content version exactly once.
//!
//! A put through [`DirStore`] emits its S3 event itself. A file copied into the bucket folder
//! by hand has no event, no version id and no metadata, so the scanner is an event source of its
//! own: it walks the folder, waits until a file is completely written, registers the file as an
//! object version in the store's metadata (never touching its bytes) and writes the
//! `ObjectCreated:Put` event into the runtime's outbox, whence admit receives it like any other.
//!
//! What the scanner has seen is durable, in `state.db` (`watch_files`, one row per entry: its
//! size, modification time and inode, the version it was registered as, its state), never in
//! memory, so a killed scanner resumes exactly where it was:
//!
//! ```text
//! (new stamp) ──▶ SETTLING ──stable for `settle`, content complete──▶ ADOPTING(version id)
//!                    │                                                    │ metadata written
//!                    │ already registered by the store (`stepscore put`)  ▼
//!                    └──────────────────────────────────────────────▶ DELIVERED ◀─ event and row
//!                                                                                   in one commit
//! ```
//!
//! The version id is chosen and committed before anything is written, so a scan killed between
//! the metadata and the event registers the same version again, and the job id (a digest of the
//! version) is the same: a config is admitted once however often the scan dies. A file whose
//! metadata the store already wrote (`stepscore put`, or an earlier registration) keeps its
//! version and gets no second event.
//!
//! "Completely written" is decided from the outside, since a copy in progress holds no lock: the
//! file's stamp (size, mtime, inode) must be unchanged for `settle` across scans, and the
//! content must parse as JSON. A half-written JSON document does not parse, so a writer that
//! pauses longer than `settle` is still waited for; after `max_wait` without becoming JSON the
//! file is admitted as it is, so a broken config still gets its FAILED record. Writing to a temp
//! name and renaming into place (what editors and `stepscore put` do) is never seen half-way.
//!
//! Entries that cannot be configs (symbolic links, FIFOs and other special files, names that
//! are not UTF-8, keys over S3's 1,024 bytes, unreadable files) are reported once and skipped;
//! the scan goes on. Names starting with `.` (editor swap and temp files) and names outside the
//! notification filter are ignored, as an S3 notification filter would.

use std::collections::HashSet;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusqlite::{OptionalExtension, params};
use stepscore_core::ObjectUri;
use stepscore_core::config::MAX_CONFIG_BYTES;

use crate::db;
use crate::runtime::LocalRuntime;
use crate::store::{DirStore, FileStamp, Registered, new_version_id, s3_event};

/// S3's limit on a key's length, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// How a scanner decides.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// The bucket whose folder is scanned.
    pub bucket: String,
    /// A file's stamp must be unchanged this long before it is registered.
    pub settle: Duration,
    /// A file that is still not JSON after this long is registered anyway (admit rejects it
    /// with its reason).
    pub max_wait: Duration,
}

impl ScanConfig {
    /// Scans `bucket`'s folder with a one-second settle time and a 30-second wait for content
    /// that is not JSON yet.
    pub fn new(bucket: impl Into<String>) -> Self {
        ScanConfig {
            bucket: bucket.into(),
            settle: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// Why a scan failed as a whole (single entries never fail a scan: they are reported).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The state database failed.
    #[error("state database {path}: {message}")]
    Database { path: String, message: String },
    /// The bucket folder cannot be walked.
    #[error("cannot scan {path}: {message}")]
    Folder { path: String, message: String },
}

/// What a scan found worth telling.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A file was registered as a new object version and its S3 event queued.
    Registered {
        /// The object.
        uri: ObjectUri,
        /// Its version id.
        version_id: String,
    },
    /// An entry that cannot be a config; reported once while it stays as it is.
    Unusable {
        /// The entry, relative to the bucket folder (lossy when the name is not UTF-8).
        path: String,
        /// Why, and what to do.
        reason: String,
    },
}

/// Scans one bucket folder; cheap to clone (clones share the database connection).
#[derive(Clone)]
pub struct Scanner {
    inner: Arc<Inner>,
}

struct Inner {
    store: DirStore,
    config: ScanConfig,
    db_path: PathBuf,
    conn: Mutex<rusqlite::Connection>,
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("bucket", &self.inner.config.bucket)
            .field("db", &self.inner.db_path)
            .finish()
    }
}

/// A row of `watch_files`.
#[derive(Debug, Clone)]
struct Row {
    stamp: FileStamp,
    first_seen_ns: i64,
    state: String,
    version_id: Option<String>,
    etag: Option<String>,
    reason: Option<String>,
}

impl Scanner {
    /// A scanner of `config.bucket` in `runtime`'s store, delivering into its event outbox.
    pub fn open(runtime: &LocalRuntime, config: ScanConfig) -> Result<Self, ScanError> {
        let db_path = crate::runtime::database_path(&runtime.config().state_dir);
        let dberr = |e: rusqlite::Error| ScanError::Database {
            path: db_path.display().to_string(),
            message: e.to_string(),
        };
        let conn = db::open(&db_path).map_err(dberr)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS watch_files (
                bucket TEXT NOT NULL,
                path BLOB NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns TEXT NOT NULL,
                inode INTEGER NOT NULL,
                first_seen_ns INTEGER NOT NULL,
                state TEXT NOT NULL,
                version_id TEXT,
                etag TEXT,
                reason TEXT,
                PRIMARY KEY (bucket, path)
             );",
        )
        .map_err(dberr)?;
        Ok(Scanner {
            inner: Arc::new(Inner {
                store: runtime.store().clone(),
                config,
                db_path,
                conn: Mutex::new(conn),
                wake: runtime.outbox_wake(),
            }),
        })
    }

    /// One pass over the bucket folder (blocking IO): registers every settled new version and
    /// queues its event; returns what it registered and the unusable entries it found for the
    /// first time.
    pub fn scan(&self) -> Result<Vec<Found>, ScanError> {
        let inner = &self.inner;
        let bucket_dir = inner.store.root().join(&inner.config.bucket);
        let jobs_prefix = inner.store.filter().prefix.clone();
        // walk only the folder the prefix's complete segments name (`jobs/`)
        let start = Path::new(jobs_prefix.rsplit_once('/').map_or("", |(dir, _)| dir));
        let mut entries = Vec::new();
        let complete = walk(&bucket_dir, start, &mut entries).map_err(|e| ScanError::Folder {
            path: bucket_dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut conn = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = Vec::new();
        let mut present = HashSet::new();
        for entry in entries {
            let rel_bytes = entry.rel.as_os_str().as_bytes().to_vec();
            // only what the notification would cover: jobs/…*.json, no dot files
            let lossy = entry.rel.to_string_lossy().into_owned();
            let name = entry
                .rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !lossy.starts_with(&jobs_prefix)
                || !lossy.ends_with(&inner.store.filter().suffix)
                || name.starts_with('.')
            {
                continue;
            }
            present.insert(rel_bytes.clone());
            let outcome = self.consider(&mut conn, &bucket_dir, &entry, &rel_bytes, &lossy);
            match outcome {
                Ok(Some(f)) => found.push(f),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(path = %lossy, error = %e, "cannot record a scanned config; it is looked at again next scan");
                }
            }
        }
        if complete {
            // forget vanished entries: one copied in again later is a new upload
            self.prune(&conn, &present).map_err(|e| self.dberr(e))?;
        }
        Ok(found)
    }

    /// [`scan`](Self::scan) off the async threads.
    pub async fn scan_async(&self) -> Result<Vec<Found>, ScanError> {
        let this = self.clone();
        let folder = self.inner.store.root().join(&self.inner.config.bucket);
        tokio::task::spawn_blocking(move || this.scan())
            .await
            .unwrap_or_else(|e| {
                Err(ScanError::Folder {
                    path: folder.display().to_string(),
                    message: format!("the scanner thread failed: {e}"),
                })
            })
    }

    fn consider(
        &self,
        conn: &mut rusqlite::Connection,
        bucket_dir: &Path,
        entry: &Entry,
        rel: &[u8],
        lossy: &str,
    ) -> rusqlite::Result<Option<Found>> {
        let inner = &self.inner;
        let bucket = inner.config.bucket.as_str();
        let row = load(conn, bucket, rel)?;
        let now = unix_nanos(SystemTime::now());
        let stamp = entry.stamp;
        let key = match usable_key(entry, lossy) {
            Ok(key) => key,
            Err(reason) => return self.unusable(conn, rel, lossy, stamp, row, reason, now),
        };
        let uri = match ObjectUri::new(bucket, key.clone()) {
            Ok(u) => u,
            Err(e) => {
                return self.unusable(conn, rel, lossy, stamp, row, e.to_string(), now);
            }
        };
        let unchanged = row.as_ref().is_some_and(|r| r.stamp == stamp);
        let Some(row) = row.clone().filter(|_| unchanged) else {
            // new, or changed since last seen: wait for it to settle
            start_settling(conn, bucket, rel, stamp, row, now)?;
            return Ok(None);
        };
        match row.state.as_str() {
            // reported already; a changed entry (new stamp) is looked at again
            "DELIVERED" | "UNUSABLE" => Ok(None),
            "ADOPTING" => {
                let version = row.version_id.clone().unwrap_or_else(new_version_id);
                self.adopt(conn, rel, &uri, stamp, &row, &version, lossy)
            }
            _ => {
                let age = Duration::from_nanos(u64::try_from(now - row.first_seen_ns).unwrap_or(0));
                if age < inner.config.settle {
                    return Ok(None);
                }
                if let Some(reg) = inner.store.registered_version(&uri, stamp) {
                    self.put_through_the_store(conn, rel, &uri, &reg)?;
                    return Ok(None);
                }
                let path = bucket_dir.join(&entry.rel);
                let content = match read_head(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        return self.unusable(
                            conn,
                            rel,
                            lossy,
                            stamp,
                            Some(row),
                            format!("cannot be read ({e}): make it readable by this user"),
                            now,
                        );
                    }
                };
                let complete = content.len() > MAX_CONFIG_BYTES
                    || serde_json::from_slice::<serde::de::IgnoredAny>(&content).is_ok();
                if !complete && age < inner.config.max_wait {
                    return Ok(None);
                }
                if let (Some(etag), Some(version)) = (&row.etag, &row.version_id)
                    && content.len() <= MAX_CONFIG_BYTES
                    && *etag == hex::encode(<md5::Md5 as md5::Digest>::digest(&content))
                {
                    // rewritten with the same bytes (touched, copied again): the same version
                    set_delivered(conn, bucket, rel, version, Some(etag))?;
                    return Ok(None);
                }
                let version = new_version_id();
                conn.execute(
                    "UPDATE watch_files SET state = 'ADOPTING', version_id = ?3 WHERE bucket = ?1 AND path = ?2",
                    params![bucket, rel, version],
                )?;
                self.adopt(conn, rel, &uri, stamp, &row, &version, lossy)
            }
        }
    }

    /// Marks an entry put through the store (`stepscore put`, which queued its event) as
    /// delivered, queueing its event when the putting process died before it could.
    fn put_through_the_store(
        &self,
        conn: &mut rusqlite::Connection,
        rel: &[u8],
        uri: &ObjectUri,
        reg: &Registered,
    ) -> rusqlite::Result<()> {
        let version = reg.meta.version_id.clone().unwrap_or_default();
        let tx = conn.transaction()?;
        if !event_queued(&tx, &version)? {
            enqueue(&tx, &self.inner.store, uri, reg)?;
        }
        let bucket = self.inner.config.bucket.as_str();
        set_delivered(&tx, bucket, rel, &version, reg.meta.etag.as_deref())?;
        tx.commit()?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Registers the file as `version` (committed before) and queues its event.
    #[allow(clippy::too_many_arguments)]
    fn adopt(
        &self,
        conn: &mut rusqlite::Connection,
        rel: &[u8],
        uri: &ObjectUri,
        stamp: FileStamp,
        row: &Row,
        version: &str,
        lossy: &str,
    ) -> rusqlite::Result<Option<Found>> {
        let inner = &self.inner;
        let bucket = inner.config.bucket.as_str();
        let reg = match inner.store.registered_version(uri, stamp) {
            Some(reg) if reg.meta.version_id.as_deref() == Some(version) => Some(reg),
            _ => match inner.store.register_version(uri, version, stamp) {
                Ok(r) => r,
                Err(e) => {
                    let now = unix_nanos(SystemTime::now());
                    return self.unusable(
                        conn,
                        rel,
                        lossy,
                        stamp,
                        Some(row.clone()),
                        format!("cannot be registered: {e}"),
                        now,
                    );
                }
            },
        };
        let Some(reg) = reg else {
            // changed while being digested: the next scan sees the new stamp
            return Ok(None);
        };
        let tx = conn.transaction()?;
        enqueue(&tx, &inner.store, uri, &reg)?;
        set_delivered(&tx, bucket, rel, version, reg.meta.etag.as_deref())?;
        tx.commit()?;
        inner.wake.notify_one();
        tracing::info!(uri = %uri, version_id = version, "config registered from the bucket folder");
        Ok(Some(Found::Registered {
            uri: uri.clone(),
            version_id: version.to_owned(),
        }))
    }

    /// Records an unusable entry; reports it when it was not reported for the same reason.
    #[allow(clippy::too_many_arguments)]
    fn unusable(
        &self,
        conn: &rusqlite::Connection,
        rel: &[u8],
        lossy: &str,
        stamp: FileStamp,
        row: Option<Row>,
        reason: String,
        now: i64,
    ) -> rusqlite::Result<Option<Found>> {
        let bucket = self.inner.config.bucket.as_str();
        let reported = row
            .as_ref()
            .is_some_and(|r| r.state == "UNUSABLE" && r.reason.as_deref() == Some(&reason));
        if reported {
            return Ok(None);
        }
        upsert(
            conn,
            bucket,
            rel,
            &Row {
                stamp,
                first_seen_ns: now,
                state: "UNUSABLE".into(),
                version_id: None,
                etag: None,
                reason: Some(reason.clone()),
            },
        )?;
        tracing::info!(path = lossy, reason = %reason, "skipping an entry that cannot be a job config");
        Ok(Some(Found::Unusable {
            path: lossy.to_owned(),
            reason,
        }))
    }

    fn prune(
        &self,
        conn: &rusqlite::Connection,
        present: &HashSet<Vec<u8>>,
    ) -> rusqlite::Result<()> {
        let bucket = self.inner.config.bucket.as_str();
        let known: Vec<Vec<u8>> = conn
            .prepare_cached("SELECT path FROM watch_files WHERE bucket = ?1")?
            .query_map(params![bucket], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for path in known.into_iter().filter(|p| !present.contains(p)) {
            conn.execute(
                "DELETE FROM watch_files WHERE bucket = ?1 AND path = ?2",
                params![bucket, path],
            )?;
        }
        Ok(())
    }

    fn dberr(&self, e: rusqlite::Error) -> ScanError {
        ScanError::Database {
            path: self.inner.db_path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// One entry under the bucket folder.
struct Entry {
    /// Path relative to the bucket folder.
    rel: PathBuf,
    kind: Kind,
    stamp: FileStamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Symlink,
    Special,
}

/// Walks `dir` without following symbolic links; false when some folder could not be read (so
/// absent entries must not be forgotten).
fn walk(root: &Path, rel: &Path, out: &mut Vec<Entry>) -> io::Result<bool> {
    walk_from(root, rel, out, true)
}

fn walk_from(root: &Path, rel: &Path, out: &mut Vec<Entry>, top: bool) -> io::Result<bool> {
    let dir = root.join(rel);
    let read = match std::fs::read_dir(&dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) if top => return Err(e),
        Err(e) => {
            tracing::warn!(folder = %dir.display(), error = %e, "cannot read a folder in the bucket; its configs wait");
            return Ok(false);
        }
    };
    let mut complete = true;
    for item in read {
        let Ok(item) = item else {
            complete = false;
            continue;
        };
        let rel = rel.join(item.file_name());
        let Ok(md) = std::fs::symlink_metadata(root.join(&rel)) else {
            // vanished between the listing and the look
            continue;
        };
        let ft = md.file_type();
        if ft.is_dir() {
            complete &= walk_from(root, &rel, out, false)?;
            continue;
        }
        let kind = if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Special
        };
        out.push(Entry {
            rel,
            kind,
            stamp: FileStamp::from_metadata(&md),
        });
    }
    Ok(complete)
}

/// The entry's key, or why it cannot be an object.
fn usable_key(entry: &Entry, lossy: &str) -> Result<String, String> {
    match entry.kind {
        Kind::Symlink => {
            return Err(
                "is a symbolic link, which the store does not follow (it could leave the bucket): copy the file itself".into(),
            );
        }
        Kind::Special => {
            return Err("is not a regular file (a FIFO, socket or device): write the config to a regular file".into());
        }
        Kind::File => {}
    }
    let Some(key) = entry.rel.to_str() else {
        return Err(format!(
            "has a name that is not UTF-8, and S3 keys are UTF-8: rename it (shown here as '{lossy}')"
        ));
    };
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "names a key of {} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes: use a shorter path",
            key.len()
        ));
    }
    Ok(key.to_owned())
}

/// Up to one byte past the config size limit: enough to tell JSON from a part of it.
fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

fn load(conn: &rusqlite::Connection, bucket: &str, rel: &[u8]) -> rusqlite::Result<Option<Row>> {
    conn.prepare_cached(
        "SELECT size, mtime_ns, inode, first_seen_ns, state, version_id, etag, reason
         FROM watch_files WHERE bucket = ?1 AND path = ?2",
    )?
    .query_row(params![bucket, rel], |r| {
        let mtime: String = r.get(1)?;
        Ok(Row {
            stamp: FileStamp {
                size: r.get::<_, i64>(0)? as u64,
                mtime_nanos: mtime.parse().unwrap_or(0),
                inode: r.get::<_, i64>(2)? as u64,
            },
            first_seen_ns: r.get(3)?,
            state: r.get(4)?,
            version_id: r.get(5)?,
            etag: r.get(6)?,
            reason: r.get(7)?,
        })
    })
    .optional()
}

/// Records a new or changed entry as settling from `now`, keeping what it was registered as
/// (`previous`), to recognise a rewrite of the same bytes.
fn start_settling(
    conn: &rusqlite::Connection,
    bucket: &str,
    rel: &[u8],
    stamp: FileStamp,
    previous: Option<Row>,
    now: i64,
) -> rusqlite::Result<()> {
    let (version_id, etag) = previous
        .filter(|r| r.state == "DELIVERED")
        .map(|r| (r.version_id, r.etag))
        .unwrap_or_default();
    let row = Row {
        stamp,
        first_seen_ns: now,
        state: "SETTLING".into(),
        version_id,
        etag,
        reason: None,
    };
    upsert(conn, bucket, rel, &row)
}

fn upsert(
    conn: &rusqlite::Connection,
    bucket: &str,
    rel: &[u8],
    row: &Row,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO watch_files (bucket, path, size, mtime_ns, inode, first_seen_ns, state, version_id, etag, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (bucket, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
           inode = excluded.inode, first_seen_ns = excluded.first_seen_ns, state = excluded.state,
           version_id = excluded.version_id, etag = excluded.etag, reason = excluded.reason",
    )?
    .execute(params![
        bucket,
        rel,
        row.stamp.size as i64,
        row.stamp.mtime_nanos.to_string(),
        row.stamp.inode as i64,
        row.first_seen_ns,
        row.state,
        row.version_id,
        row.etag,
        row.reason
    ])?;
    Ok(())
}

fn set_delivered(
    conn: &rusqlite::Connection,
    bucket: &str,
    rel: &[u8],
    version: &str,
    etag: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE watch_files SET state = 'DELIVERED', version_id = ?3, etag = ?4, reason = NULL
         WHERE bucket = ?1 AND path = ?2",
        params![bucket, rel, version, etag],
    )?;
    Ok(())
}

/// True when the outbox holds an event of this object version (version ids are unique, so
/// finding the id in an event's text finds that version's event).
fn event_queued(conn: &rusqlite::Connection, version: &str) -> rusqlite::Result<bool> {
    if version.is_empty() {
        return Ok(false);
    }
    conn.prepare_cached("SELECT 1 FROM s3_events WHERE instr(event, ?1) > 0 LIMIT 1")?
        .query_row(params![format!("\"versionId\":\"{version}\"")], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

fn enqueue(
    conn: &rusqlite::Connection,
    store: &DirStore,
    uri: &ObjectUri,
    reg: &Registered,
) -> rusqlite::Result<()> {
    let event = s3_event(store.region(), uri, &reg.meta, &reg.sequencer);
    conn.execute(
        "INSERT INTO s3_events (event) VALUES (?1)",
        params![event.to_string()],
    )?;
    Ok(())
}

fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
