//! Registering a file written by something else (a person copying a config in, found by the
//! scanner) as an object version, as a PUT would have, without touching its bytes.

use std::io;

use chrono::{DateTime, Utc};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectMeta, StoreError};

use super::files::{FileStamp, md5_file};
use super::sidecar::{Sidecar, next_sequencer, read_sidecar, write_sidecar};
use super::versions::KEPT_VERSION_BYTES;
use super::{DirStore, other};

/// An object version this store registered: its metadata and its PUT's event sequencer.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// Size, ETag, version id, last modified.
    pub meta: ObjectMeta,
    /// The sequencer of the version's `ObjectCreated` event.
    pub sequencer: String,
}

impl DirStore {
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
    /// version ([`s3_event`](super::s3_event) with the returned sequencer). Blocking.
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
}
