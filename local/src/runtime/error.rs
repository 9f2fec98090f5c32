//! Why the runtime failed.

use stepscore_core::ports::{ExecutionError, StoreError};

/// Why the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The state machine definition is unusable.
    #[error("state machine definition: {0}")]
    Definition(String),
    /// The state directory's database failed.
    #[error("state database {path}: {message}")]
    Database { path: String, message: String },
    /// Another process is serving this state directory.
    #[error(
        "another stepscore process is running the pipeline in {0} (its lock is held); stop it or use another state directory"
    )]
    Busy(String),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The local Batch failed to start.
    #[error(transparent)]
    Batch(#[from] crate::batch::LocalBatchError),
    /// Starting an execution failed.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// Waiting ran out of time.
    #[error("{0}")]
    Timeout(String),
}
