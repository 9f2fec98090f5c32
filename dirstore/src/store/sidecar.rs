//! The metadata sidecar: what S3 keeps beside an object (ETag, version id, the sequencer of its
//! PUT, the earlier versions whose bytes are kept), one JSON file per key at
//! `<root>/.stepscore-meta/<bucket>/<key digest>.json`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use stepscore_core::ObjectUri;

use super::files::nanos;
use super::{DirStore, META_DIR, TMP_PREFIX};

impl DirStore {
    /// The sidecar file of a key.
    pub(super) fn meta_path(&self, uri: &ObjectUri) -> PathBuf {
        let digest = hex::encode(Md5::digest(uri.key().as_bytes()));
        self.inner
            .root
            .join(META_DIR)
            .join(uri.bucket())
            .join(format!("{digest}.json"))
    }
}

/// What the store knows of a key's current version, and the earlier versions it keeps.
#[derive(Serialize, Deserialize)]
pub(super) struct Sidecar {
    /// The key, checked on every read: the sidecar's file name is only a digest of it.
    pub(super) key: String,
    /// The current version's MD5, hex.
    pub(super) etag: String,
    /// The current version's id.
    pub(super) version_id: String,
    /// The file's size and modification time when the current version was written: a file
    /// changed since is not that version.
    pub(super) size: u64,
    /// See `size`.
    pub(super) mtime_nanos: u128,
    /// The S3 event sequencer of this version's PUT (absent in sidecars written before it was
    /// kept); the next PUT of the key gets a greater one.
    #[serde(default)]
    pub(super) sequencer: Option<String>,
    /// Earlier versions of the key whose bytes are kept, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) noncurrent: Vec<KeptVersion>,
}

impl Sidecar {
    /// Version `id` of the key, and whether it is the current one.
    pub(super) fn version(&self, id: &str) -> Option<(KeptVersion, bool)> {
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
pub(super) struct KeptVersion {
    pub(super) version_id: String,
    /// Its MD5, checked on every read: a file rewritten in place changes a linked version too.
    pub(super) etag: String,
    pub(super) size: u64,
}

/// The sidecar of `uri`'s key; `None` when there is none, or it is unreadable or another key's.
pub(super) fn read_sidecar(path: &Path, uri: &ObjectUri) -> Option<Sidecar> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
        .filter(|s| s.key == uri.key())
}

/// The sequencer of a key's next PUT: S3 promises that a later PUT of a key carries a greater
/// sequencer, so it is the clock in nanoseconds, or one past the previous PUT's when the clock
/// has not moved past it (two PUTs in one tick, or a clock stepped back). Fixed width, so
/// sequencers of one key compare as strings, as AWS documents.
pub(super) fn next_sequencer(previous: Option<&Sidecar>) -> String {
    let now = nanos(std::time::SystemTime::now());
    let after = previous
        .and_then(|s| s.sequencer.as_deref())
        .and_then(|s| u128::from_str_radix(s, 16).ok())
        .map_or(0, |p| p + 1);
    format!("{:016X}", now.max(after))
}

/// Writes a sidecar atomically (a temp file renamed into place).
pub(super) fn write_sidecar(path: &Path, sidecar: &Sidecar) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(sidecar).map_err(io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
