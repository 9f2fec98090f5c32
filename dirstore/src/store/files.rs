//! Plain-file primitives the store's parts share: a file's stamp, MD5 digests, durable
//! directory entries, timestamps.

use std::io::{self, Read};
use std::path::Path;

use md5::{Digest, Md5};

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

/// Nanoseconds since the Unix epoch (0 before it).
pub(super) fn nanos(t: std::time::SystemTime) -> u128 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Makes a rename in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// True for the errors of a path where no file is (some parent may be a file).
pub(super) fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

pub(super) fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

pub(super) fn md5_file(path: &Path) -> io::Result<String> {
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
