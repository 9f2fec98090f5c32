//! Why the local Batch could not start.

/// Why the local Batch could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalBatchError {
    /// The database could not be opened, prepared or written.
    #[error("local Batch database {path}: {message}")]
    Database { path: String, message: String },
    /// The configuration is inconsistent.
    #[error("local Batch configuration: {0}")]
    Config(String),
}
