//! Key-to-path mapping: a key names `<root>/<bucket>/<segments>` only when it cannot reach
//! anything outside its bucket folder (`..`, absolute paths, symbolic links, ...), and the store
//! can hold it as a file.

use std::io;
use std::path::{Path, PathBuf};

use stepscore_core::ObjectUri;
use stepscore_core::ports::StoreError;

use super::{DirStore, TMP_PREFIX, other};

impl DirStore {
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

pub(super) fn check_segments<'a>(
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

pub(super) fn refuse_symlink(uri: &ObjectUri, path: &Path) -> Result<(), StoreError> {
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

pub(super) fn create_dirs_checked(
    store: &DirStore,
    uri: &ObjectUri,
    dir: &Path,
) -> Result<(), StoreError> {
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

fn invalid(key: &str, reason: &str) -> StoreError {
    StoreError::InvalidKey {
        key: key.escape_debug().to_string(),
        reason: reason.into(),
    }
}
