//! The versions a key keeps: the bytes of objects up to [`KEPT_VERSION_BYTES`] are hard-linked
//! under `.stepscore-meta/<bucket>/versions/<key digest>/<version id>` when the version is
//! created, the [`KEPT_NONCURRENT_VERSIONS`] newest earlier ones stay, and a read at a version
//! checks the bytes against the version's MD5 ETag.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use md5::{Digest, Md5};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectVersion, StoreError, unquoted};

use super::files::{FileStamp, is_missing, md5_hex, nanos};
use super::sidecar::{KeptVersion, Sidecar, read_sidecar};
use super::{DirStore, META_DIR, TMP_PREFIX, not_found, other};

/// The folder, beside a bucket's sidecars, holding the kept bytes of object versions.
const VERSIONS_DIR: &str = "versions";

/// Objects up to this size keep their bytes as a version when overwritten (job configs are at
/// most 64 KiB, manifests a few KiB); larger ones keep only their current version.
pub const KEPT_VERSION_BYTES: u64 = 1024 * 1024;

/// How many earlier versions of a key keep their bytes, newest first: enough for any burst of
/// overwrites admit could lag behind, bounded so an often rewritten key does not fill the disk.
pub const KEPT_NONCURRENT_VERSIONS: usize = 16;

impl DirStore {
    /// Links the file a registration digested as its version's kept bytes, unless it was
    /// replaced meanwhile (then the version keeps no bytes beyond the live file). Best effort:
    /// a version whose bytes cannot be kept is only readable while current.
    pub(super) fn keep_registered_bytes(
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
    pub(super) fn keep_new_bytes(&self, uri: &ObjectUri, tmp: &Path, version_id: &str) {
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

    /// Where a version's kept bytes live; `None` for a version id that cannot be a file name
    /// (this store issues none such, but ids reach it from events).
    pub(super) fn version_path(&self, uri: &ObjectUri, version_id: &str) -> Option<PathBuf> {
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
    pub(super) fn demote(
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

    /// The bytes of `uri` at `version` (a version id, or the ETag the current bytes must have).
    /// Blocking.
    pub(super) fn get_bytes_at_blocking(
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
}

/// A read at a version, opened: the object's file positioned at the range and the range's
/// length, or an earlier version's kept bytes of the range.
pub(super) enum Opened {
    File(std::fs::File, u64),
    Bytes(Vec<u8>),
}

impl DirStore {
    /// Opens `range` of `uri` (all of it for `None`) at `version`. Blocking.
    ///
    /// The file is opened first and checked after, by its own metadata: what is checked is what
    /// streams, whatever is renamed into place meanwhile. Its ETag is the sidecar's while the
    /// file has the size and modification time the sidecar recorded, else (a file written by
    /// something else) its MD5, read from the open file.
    pub(super) fn open_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Opened, StoreError> {
        let changed = |current: Option<String>| StoreError::Changed {
            uri: uri.to_string(),
            expected: version.clone(),
            current,
        };
        let sidecar = read_sidecar(&self.meta_path(uri), uri);
        if let ObjectVersion::Id(id) = version {
            let Some((wanted, is_current)) = sidecar.as_ref().and_then(|s| s.version(id)) else {
                return Err(changed(None));
            };
            if !is_current {
                // kept versions are small: read whole, checked against their MD5, then cut
                let kept = self.version_path(uri, id);
                let bytes = match kept.map(|k| read_small(&k, wanted.size)) {
                    Some(Ok(Small::Bytes(b))) if md5_hex(&b) == wanted.etag => b,
                    Some(Err(e)) if !is_missing(&e) => return Err(other(uri, e)),
                    _ => return Err(changed(None)),
                };
                let len = bytes.len() as u64;
                let r = range.unwrap_or(0..len);
                let (start, end) = (r.start.min(len), r.end.min(len).max(r.start.min(len)));
                return Ok(Opened::Bytes(bytes[start as usize..end as usize].to_vec()));
            }
        }
        let (file, len) = match self.open_for_read(uri, range) {
            // S3 answers a read by version id of a deleted key with NoSuchVersion
            Err(StoreError::NotFound { .. }) if matches!(version, ObjectVersion::Id(_)) => {
                return Err(changed(None));
            }
            other => other?,
        };
        let stamp = FileStamp::from_metadata(&file.metadata().map_err(|e| other(uri, e))?);
        let recorded = sidecar
            .as_ref()
            .filter(|s| s.size == stamp.size && s.mtime_nanos == stamp.mtime_nanos);
        let holds = match (version, recorded) {
            (ObjectVersion::Id(id), Some(s)) => s.version_id == *id,
            // rewritten since its version was recorded: it is not that version any more
            (ObjectVersion::Id(_), None) => false,
            (ObjectVersion::ETag(etag), _) => {
                let now = match recorded {
                    Some(s) => s.etag.clone(),
                    None => md5_open_file(&file).map_err(|e| other(uri, e))?,
                };
                if now != unquoted(etag) {
                    return Err(changed(Some(now)));
                }
                true
            }
        };
        if !holds {
            return Err(changed(None));
        }
        Ok(Opened::File(file, len))
    }
}

/// The MD5 of an open file's bytes, read without moving its position (which is the range's).
fn md5_open_file(file: &std::fs::File) -> io::Result<String> {
    use std::os::unix::fs::FileExt;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hex::encode(h.finalize()))
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
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Ok(Small::Over(buf.len() as u64));
    }
    Ok(Small::Bytes(buf))
}
