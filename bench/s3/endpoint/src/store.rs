//! [`Store`]: buckets as folders, ETags cached by file stamp, multipart uploads as part files.
//!
//! A file put there by hand (the bench links its data file in) has as ETag a digest of its
//! size, mtime and inode rather than of its bytes: hashing 2 GB would add seconds to the first
//! request of a timed run; the scorer only compares ETags, and a replaced file gets another. A
//! PutObject gets S3's ETag (the MD5 of its bytes); upload parts and multipart objects get
//! opaque ones (S3 documents a multipart ETag as opaque).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use md5::{Digest, Md5};

/// Size, mtime (ns) and inode: what changes when a file is replaced.
type Stamp = (u64, i64, u64);

#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    uploads: PathBuf,
    etags: Mutex<HashMap<PathBuf, (Stamp, String)>>,
}

impl Store {
    /// The store under `root`, with its folder of open multipart uploads.
    pub fn open(root: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(root)?;
        let uploads = root.join(".uploads");
        fs::create_dir_all(&uploads)?;
        Ok(Store {
            root,
            uploads,
            etags: Mutex::new(HashMap::new()),
        })
    }

    /// The file of `bucket`/`key`; `None` for a name that would leave the bucket's folder.
    pub fn path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        if !valid_bucket(bucket) {
            return None;
        }
        if key.is_empty() || key.split('/').any(|p| matches!(p, "" | "." | "..")) {
            return None;
        }
        let mut path = self.root.join(bucket);
        path.extend(key.split('/'));
        Some(path)
    }

    /// The folder of `bucket`, when it names one.
    pub fn bucket(&self, bucket: &str) -> Option<PathBuf> {
        let dir = self.root.join(bucket);
        (valid_bucket(bucket) && dir.is_dir()).then_some(dir)
    }

    /// The ETag of `path` (unquoted), whose metadata is `meta`.
    pub fn etag(&self, path: &Path, meta: &fs::Metadata) -> String {
        let stamp = stamp(meta);
        let mut etags = self.etags.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, tag)) = etags.get(path)
            && *known == stamp
        {
            return tag.clone();
        }
        let tag = hex::encode(Md5::digest(format!("{stamp:?}").as_bytes()));
        etags.insert(path.to_owned(), (stamp, tag.clone()));
        tag
    }

    /// Records `etag` as the ETag of the file now at `path`.
    pub fn remember(&self, path: &Path, etag: &str) -> io::Result<()> {
        let stamp = stamp(&fs::metadata(path)?);
        self.etags
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), (stamp, etag.to_owned()));
        Ok(())
    }

    /// A temp file beside `path` (hidden from listings), to be renamed into place.
    pub fn temp_beside(&self, path: &Path) -> io::Result<(PathBuf, File)> {
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        let file = File::create(&tmp)?;
        Ok((tmp, file))
    }

    /// A new multipart upload's id.
    pub fn create_upload(&self) -> io::Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        fs::create_dir(self.uploads.join(&id))?;
        Ok(id)
    }

    /// The folder of upload `id`, when it is open.
    pub fn upload(&self, id: &str) -> Option<PathBuf> {
        let dir = self.uploads.join(id);
        (!id.is_empty() && !id.contains(['/', '.']) && dir.is_dir()).then_some(dir)
    }

    /// Joins the parts `numbers` of upload folder `upload` into `path` (a temp file renamed into
    /// place; the kernel copies, by `copy_file_range`) and removes the upload.
    pub fn complete_upload(&self, upload: &Path, numbers: &[u32], path: &Path) -> io::Result<()> {
        let (tmp, mut out) = self.temp_beside(path)?;
        for n in numbers {
            let part = upload.join(part_name(*n));
            let mut f = File::open(&part).map_err(|e| {
                io::Error::new(e.kind(), format!("part {n} ({}): {e}", part.display()))
            })?;
            io::copy(&mut f, &mut out)?;
        }
        drop(out);
        fs::rename(&tmp, path)?;
        fs::remove_dir_all(upload)
    }

    /// The keys under `bucket_dir` starting with `prefix`, in key order, with their files.
    pub fn list(&self, bucket_dir: &Path, prefix: &str) -> io::Result<Vec<(String, PathBuf)>> {
        let mut found = Vec::new();
        walk(bucket_dir, bucket_dir, prefix, &mut found)?;
        found.sort();
        Ok(found)
    }
}

/// The file name of part `number` in its upload's folder.
pub fn part_name(number: u32) -> String {
    format!("{number:05}")
}

fn walk(base: &Path, dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(base, &path, prefix, out)?;
            continue;
        }
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let Ok(rel) = path.strip_prefix(base) else {
            continue;
        };
        let key = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if key.starts_with(prefix) {
            out.push((key, path));
        }
    }
    Ok(())
}

fn stamp(meta: &fs::Metadata) -> Stamp {
    (
        meta.len(),
        meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        meta.ino(),
    )
}

/// A bucket name that stays one folder under the root.
fn valid_bucket(bucket: &str) -> bool {
    !bucket.is_empty() && !bucket.starts_with('.') && !bucket.contains('/')
}
