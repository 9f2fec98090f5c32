//! Where the model artifact lives (a local path or an `s3://` object) and how its bytes and
//! identity are read.
//!
//! A source answers two questions: *has it changed?* ([`ModelSource::stamp`], cheap: S3's ETag
//! from a HEAD, a file's size and modification time) and *what is in it now?*
//! ([`ModelSource::fetch`]: the bytes with their version). On S3 the bytes are read by the ETag
//! the HEAD returned (`If-Match`), so the version a response names is the one that scored it.
//! A local file's version is the MD5 of its bytes ([`Fetched::version`]), which costs about as
//! much as parsing the artifact, so the loader hashes and parses at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use md5::{Digest, Md5};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, ObjectVersion, StoreError, unquoted};

/// The largest artifact read into memory (the scoring container's limit).
pub const MAX_ARTIFACT_BYTES: u64 = stepscore_batch::storage::MAX_ARTIFACT_BYTES;

/// Where the artifact is: `s3://bucket/key` or a local path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// A file on this machine.
    Local(PathBuf),
    /// An object in the object store.
    Object(ObjectUri),
}

impl ModelUri {
    /// `s3://...` is an object; anything else a local path.
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        if text.starts_with("s3://") {
            ObjectUri::parse(text)
                .map(ModelUri::Object)
                .map_err(|e| SourceError::BadUri {
                    uri: text.to_owned(),
                    message: e.to_string(),
                })
        } else if text.is_empty() {
            Err(SourceError::BadUri {
                uri: String::new(),
                message: "it is empty; give a local path or s3://bucket/key".into(),
            })
        } else {
            Ok(ModelUri::Local(PathBuf::from(text)))
        }
    }

    /// The file name without its extension (`s3://b/models/churn.json` → `churn`): the model's
    /// default name.
    pub fn stem(&self) -> String {
        let file = match self {
            ModelUri::Local(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ModelUri::Object(u) => u.file_name().to_owned(),
        };
        Path::new(&file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "model".to_owned())
    }
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelUri::Local(p) => write!(f, "{}", p.display()),
            ModelUri::Object(u) => write!(f, "{u}"),
        }
    }
}

/// Why the artifact's bytes or identity could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The model URI is not usable.
    #[error("model URI '{uri}' is not valid: {message}")]
    BadUri { uri: String, message: String },
    /// An `s3://` URI was given but no object store is configured.
    #[error("{uri} is an S3 location but no object store is configured; pass a local path")]
    NoStore { uri: String },
    /// A local file could not be read.
    #[error("cannot read model file {path}: {message}")]
    File { path: String, message: String },
    /// The object store refused or failed.
    #[error("cannot read model {0}")]
    Store(#[from] StoreError),
}

/// What identifies the artifact's current content, cheaply: compared between checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(String);

/// The artifact's bytes as read, with their identity.
#[derive(Debug)]
pub struct Fetched {
    /// The artifact.
    pub bytes: Vec<u8>,
    /// The stamp the source had when these bytes were read.
    pub stamp: Stamp,
    /// S3's ETag of these bytes; `None` for a local file.
    pub etag: Option<String>,
}

impl Fetched {
    /// The version a response names: S3's ETag, or the MD5 of a local file (which is the ETag
    /// the same file gets from a single-part upload to S3). For a local file this hashes every
    /// byte (about 13 ms for a 7.7 MB artifact).
    pub fn version(&self) -> String {
        match &self.etag {
            Some(etag) => etag.clone(),
            None => hex(&Md5::digest(&self.bytes)),
        }
    }
}

/// A model URI with the store that reads its `s3://` form.
#[derive(Clone)]
pub struct ModelSource {
    uri: ModelUri,
    reader: Reader,
}

#[derive(Clone)]
enum Reader {
    Local(PathBuf),
    Object(ObjectUri, Arc<dyn ObjectStore>),
}

impl fmt::Debug for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelSource")
            .field("uri", &self.uri)
            .finish()
    }
}

impl ModelSource {
    /// A source over `uri`; `store` reads `s3://` URIs (a local path needs none).
    pub fn new(uri: ModelUri, store: Option<Arc<dyn ObjectStore>>) -> Result<Self, SourceError> {
        let reader = match (&uri, store) {
            (ModelUri::Local(p), _) => Reader::Local(p.clone()),
            (ModelUri::Object(u), Some(store)) => Reader::Object(u.clone(), store),
            (ModelUri::Object(u), None) => {
                return Err(SourceError::NoStore { uri: u.to_string() });
            }
        };
        Ok(Self { uri, reader })
    }

    /// Where the artifact is.
    pub fn uri(&self) -> &ModelUri {
        &self.uri
    }

    /// The artifact's current stamp: one HEAD on S3, one `stat` locally.
    pub async fn stamp(&self) -> Result<Stamp, SourceError> {
        match &self.reader {
            Reader::Local(path) => local_stamp(path).await,
            Reader::Object(uri, store) => {
                let meta = store.head(uri).await?;
                Ok(Stamp(
                    meta.etag
                        .map(|e| unquoted(&e).to_owned())
                        .unwrap_or_default(),
                ))
            }
        }
    }

    /// Reads the artifact as it is now.
    pub async fn fetch(&self) -> Result<Fetched, SourceError> {
        match &self.reader {
            Reader::Local(path) => {
                // the stamp is taken first: a file replaced while it is read gets a newer stamp,
                // so the next check reads it again
                let stamp = local_stamp(path).await?;
                let bytes = tokio::fs::read(path)
                    .await
                    .map_err(|e| file_error(path, &e))?;
                if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
                    return Err(SourceError::File {
                        path: path.display().to_string(),
                        message: format!(
                            "it is {} bytes, over the {MAX_ARTIFACT_BYTES}-byte limit",
                            bytes.len()
                        ),
                    });
                }
                Ok(Fetched {
                    bytes,
                    stamp,
                    etag: None,
                })
            }
            Reader::Object(uri, store) => {
                let meta = store.head(uri).await?;
                let etag = meta
                    .etag
                    .map(|e| unquoted(&e).to_owned())
                    .unwrap_or_default();
                let bytes = if etag.is_empty() {
                    store.get_bytes(uri, MAX_ARTIFACT_BYTES).await?
                } else {
                    store
                        .get_bytes_at(uri, &ObjectVersion::etag(&etag), MAX_ARTIFACT_BYTES)
                        .await?
                };
                Ok(Fetched {
                    bytes,
                    stamp: Stamp(etag.clone()),
                    etag: Some(etag),
                })
            }
        }
    }
}

async fn local_stamp(path: &Path) -> Result<Stamp, SourceError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| file_error(path, &e))?;
    if !meta.is_file() {
        return Err(SourceError::File {
            path: path.display().to_string(),
            message: "it is not a file".into(),
        });
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(Stamp(format!("{}-{modified}", meta.len())))
}

fn file_error(path: &Path, e: &std::io::Error) -> SourceError {
    SourceError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
