//! The [`ObjectStore`] impl: each call runs its file work on the blocking pool.

use std::collections::BTreeMap;
use std::io::{self, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ByteStream, ObjectMeta, ObjectStore, ObjectVersion, StoreError};
use stepscore_core::uri::bucket_name_problem;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::files::{md5_file, nanos, sync_dir};
use super::keys::{check_segments, create_dirs_checked, refuse_symlink};
use super::sidecar::{Sidecar, next_sequencer, read_sidecar, write_sidecar};
use super::versions::{KEPT_VERSION_BYTES, Opened, new_version_id};
use super::{DirStore, TMP_PREFIX, not_found, other};

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

    /// The object's file, opened and then checked to hold `version`: a put renames a new file
    /// into place, so the open file keeps the version's bytes however often the key is
    /// overwritten while they stream. Earlier versions come from their kept bytes.
    async fn get_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        let (this, uri, version) = (self.clone(), uri.clone(), version.clone());
        match blocking(move || this.open_at(&uri, &version, range)).await? {
            Opened::File(file, len) => Ok(Box::pin(tokio::fs::File::from_std(file).take(len))),
            Opened::Bytes(bytes) => Ok(Box::pin(std::io::Cursor::new(bytes))),
        }
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
        let (this, u) = (self.clone(), uri.clone());
        let (meta, sequencer) =
            blocking(move || this.commit_put(&u, &tmp, &path, &dir, hash, size)).await?;
        tracing::debug!(uri = %uri, size = meta.size, "object stored");
        // the sink may do IO (the runtime writes an outbox row): keep it off the async threads
        let (this, u, m) = (self.clone(), uri.clone(), meta.clone());
        blocking(move || this.emit(&u, &m, &sequencer)).await?;
        Ok(meta)
    }
}

impl DirStore {
    pub(super) fn head_blocking(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
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

    pub(super) fn open_for_read(
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

    /// Puts a written temp file in place as the key's new current version and records its
    /// metadata: the put's commit, returning the version and its event sequencer. Blocking.
    fn commit_put(
        &self,
        uri: &ObjectUri,
        tmp: &Path,
        path: &Path,
        dir: &Path,
        etag: String,
        size: u64,
    ) -> Result<(ObjectMeta, String), StoreError> {
        // An existing folder at the key (from `key/child`) cannot become a file.
        if path.is_dir() {
            let _ = std::fs::remove_file(tmp);
            return Err(StoreError::InvalidKey {
                key: uri.key().into(),
                reason: "a folder of other keys already exists at this path".into(),
            });
        }
        let version_id = new_version_id();
        if size <= KEPT_VERSION_BYTES {
            // linked before the rename: once a later put replaces the file, the link is
            // all that holds these bytes
            self.keep_new_bytes(uri, tmp, &version_id);
        }
        std::fs::rename(tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(tmp);
            if let Some(kept) = self.version_path(uri, &version_id) {
                let _ = std::fs::remove_file(kept);
            }
            other(uri, e)
        })?;
        sync_dir(dir).map_err(|e| other(uri, e))?;
        let md = std::fs::metadata(path).map_err(|e| other(uri, e))?;
        let mtime = md.modified().map_err(|e| other(uri, e))?;
        let meta_path = self.meta_path(uri);
        let previous = read_sidecar(&meta_path, uri);
        let sequencer = next_sequencer(previous.as_ref());
        let sidecar = Sidecar {
            key: uri.key().into(),
            etag: etag.clone(),
            version_id: version_id.clone(),
            size,
            mtime_nanos: nanos(mtime),
            sequencer: Some(sequencer.clone()),
            noncurrent: self.demote(uri, previous, &version_id),
        };
        write_sidecar(&meta_path, &sidecar).map_err(|e| other(uri, e))?;
        Ok((
            ObjectMeta {
                uri: uri.clone(),
                size,
                etag: Some(etag),
                version_id: Some(version_id),
                last_modified: Some(DateTime::<Utc>::from(mtime)),
            },
            sequencer,
        ))
    }
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
