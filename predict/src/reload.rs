//! The model a process serves, reloaded when its artifact changes.
//!
//! Requests take the current model as an `Arc` and keep it until they answer, so a reload never
//! touches a request in flight: it builds the new model beside the old one and swaps the pointer.
//! A check is due at most every `check_every`; the request that finds it due makes it (a HEAD on
//! S3, a `stat` locally, then a read and parse only when the stamp moved) while concurrent
//! requests go on with the model they have. A new artifact that cannot be read or parsed leaves
//! the old model serving, with a warning, and is tried again at the next check.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use stepscore_batch::model::Model;
use tracing::{info, warn};

use crate::served::ServedModel;
use crate::source::{ModelSource, SourceError, Stamp};

/// Why the model could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The artifact could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The artifact is not a usable model.
    #[error(transparent)]
    Artifact(#[from] stepscore_batch::artifact::ArtifactError),
    /// The thread parsing the artifact ended without an answer (a panic in the parser).
    #[error("loading model {uri} stopped: {message}")]
    Interrupted { uri: String, message: String },
}

/// What a due check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Not due yet, or another request is checking.
    NotDue,
    /// The artifact has not changed.
    Unchanged,
    /// A new version now serves.
    Reloaded { version: String },
    /// The artifact changed but could not be loaded (or could not be checked); the old model
    /// still serves.
    Failed { message: String },
}

/// The served model, its source, and when to look at the source again.
#[derive(Debug)]
pub struct ReloadingModel {
    source: ModelSource,
    check_every: Duration,
    current: RwLock<Current>,
    next_check: Mutex<Instant>,
    /// Held while a check runs, so two checks never overlap.
    checking: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone)]
struct Current {
    model: Arc<ServedModel>,
    stamp: Stamp,
}

impl ReloadingModel {
    /// Loads the artifact from `source`; it is checked for a new version at most every
    /// `check_every`.
    pub async fn load(source: ModelSource, check_every: Duration) -> Result<Self, LoadError> {
        let (model, stamp) = read(&source).await?;
        info!(model = %source.uri(), version = %model.version, "model loaded");
        Ok(Self {
            source,
            check_every,
            current: RwLock::new(Current {
                model: Arc::new(model),
                stamp,
            }),
            next_check: Mutex::new(Instant::now() + check_every),
            checking: tokio::sync::Mutex::new(()),
        })
    }

    /// Where the artifact is read from.
    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// The model serving now; keep it for the whole request.
    pub fn current(&self) -> Arc<ServedModel> {
        // a poisoned lock still holds a whole `Current`: the swap is one assignment
        match self.current.read() {
            Ok(c) => c.model.clone(),
            Err(poisoned) => poisoned.into_inner().model.clone(),
        }
    }

    /// Checks the source when a check is due, reloading a changed artifact.
    pub async fn check_if_due(&self) -> CheckOutcome {
        {
            let mut next = match self.next_check.lock() {
                Ok(n) => n,
                Err(poisoned) => poisoned.into_inner(),
            };
            let now = Instant::now();
            if now < *next {
                return CheckOutcome::NotDue;
            }
            *next = now + self.check_every;
        }
        let Ok(_guard) = self.checking.try_lock() else {
            return CheckOutcome::NotDue;
        };
        self.check_now().await
    }

    /// Checks the source now (`check_if_due` when due, and tests).
    pub async fn check_now(&self) -> CheckOutcome {
        let known = self.current_stamp();
        let stamp = match self.source.stamp().await {
            Ok(s) => s,
            Err(e) => {
                warn!(model = %self.source.uri(), error = %e, "cannot check the model artifact; the loaded model keeps serving");
                return CheckOutcome::Failed {
                    message: e.to_string(),
                };
            }
        };
        if stamp == known {
            return CheckOutcome::Unchanged;
        }
        match read(&self.source).await {
            Ok((model, stamp)) => {
                let version = model.version.clone();
                let previous = self.swap(Current {
                    model: Arc::new(model),
                    stamp,
                });
                info!(model = %self.source.uri(), version = %version, previous = %previous, "model reloaded");
                CheckOutcome::Reloaded { version }
            }
            Err(e) => {
                warn!(model = %self.source.uri(), error = %e, "the model artifact changed but cannot be loaded; the previous version keeps serving");
                CheckOutcome::Failed {
                    message: e.to_string(),
                }
            }
        }
    }

    fn current_stamp(&self) -> Stamp {
        match self.current.read() {
            Ok(c) => c.stamp.clone(),
            Err(poisoned) => poisoned.into_inner().stamp.clone(),
        }
    }

    /// Installs `next`, returning the version it replaced.
    fn swap(&self, next: Current) -> String {
        let mut current = match self.current.write() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let previous = std::mem::replace(&mut *current, next);
        previous.model.version.clone()
    }
}

/// Reads and parses the artifact; parsing (a large forest takes a while) runs off the async
/// workers, beside the hashing that names a local file's version.
async fn read(source: &ModelSource) -> Result<(ServedModel, Stamp), LoadError> {
    let fetched = source.fetch().await?;
    let name = source.uri().to_string();
    let (model, version) = tokio::task::spawn_blocking(move || {
        let parse = || Model::from_slice(&fetched.bytes, &name);
        let (model, version) = if fetched.etag.is_some() {
            (parse(), fetched.version())
        } else {
            std::thread::scope(|s| {
                // the MD5 of a local file costs about as much as the parse: on a second thread,
                // or here after the parse when no thread can be started
                let hashing = std::thread::Builder::new().spawn_scoped(s, || fetched.version());
                let model = parse();
                let version = match hashing {
                    Ok(h) => h.join().unwrap_or_else(|_| fetched.version()),
                    Err(_) => fetched.version(),
                };
                (model, version)
            })
        };
        (model.map(|m| (m, fetched.stamp)), version)
    })
    .await
    .map_err(|e| LoadError::Interrupted {
        uri: source.uri().to_string(),
        message: e.to_string(),
    })?;
    let (model, stamp) = model?;
    Ok((ServedModel::new(model, version), stamp))
}
