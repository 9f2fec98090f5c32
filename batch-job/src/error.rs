//! The scorer's one error type and the process exit code each failure maps to.

use stepscore_core::ports::StoreError;

use crate::artifact::ArtifactError;

/// Exit code: the job succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: bad arguments or environment (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;
/// Exit code: bad input data or a bad model artifact (BSD `EX_DATAERR`); retrying cannot help.
pub const EXIT_DATA: u8 = 65;
/// Exit code: the input or the model does not exist or cannot be read (BSD `EX_NOINPUT`).
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit code: a bug or an unexpected local failure (BSD `EX_SOFTWARE`).
pub const EXIT_INTERNAL: u8 = 70;
/// Exit code: a transient infrastructure failure (S3 throttling, 5xx, network); retry the job
/// (BSD `EX_TEMPFAIL`, the code `retry-strategy.json` retries on).
pub const EXIT_TRANSIENT: u8 = 75;

/// Where in the input a bad row was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPlace {
    /// The file or object.
    pub source: String,
    /// 1-based physical line number (the header is line 1; Parquet: the row number), when
    /// known: a shard that starts in the middle of a file knows only byte offsets.
    pub line: Option<u64>,
    /// Byte offset of the row's first byte in the file (Parquet: of the row's row group).
    pub byte_offset: u64,
    /// What `line` counts: `line` (CSV, JSON Lines) or `row` (Parquet, 1-based data rows).
    pub unit: &'static str,
}

impl std::fmt::Display for RowPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} {} {line}", self.source, self.unit),
            None => write!(f, "{} at byte offset {}", self.source, self.byte_offset),
        }
    }
}

/// Why a train or score run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments or environment.
    #[error("{message}")]
    Usage { message: String },
    /// A data row that cannot be scored under the `fail` policy.
    #[error(
        "bad row at {place}: {reason} (use --on-bad-row skip to write such rows to the rejects file and go on)"
    )]
    BadRow { place: RowPlace, reason: String },
    /// The input as a whole is unusable (header, missing columns, too long a line).
    #[error("{source_name}: {message}")]
    BadInput {
        source_name: String,
        message: String,
    },
    /// The rows in an input (by an independent count) are not the rows scored plus the rows
    /// rejected: the reader lost or invented rows, so nothing is published.
    #[error(
        "{source_name}: {rows_in} row(s) in the input, but {scored} scored + {rejected} rejected = {}; the CSV reader lost track of records, so the job fails instead of publishing incomplete output (report this with the input)",
        scored + rejected
    )]
    RowsUnaccounted {
        source_name: String,
        rows_in: u64,
        scored: u64,
        rejected: u64,
    },
    /// The model failed while scoring (whatever the bad-row policy: the rows are not at fault).
    #[error(
        "model {model} failed scoring the rows of {source_name} from byte offset {byte_offset}: {message}"
    )]
    ModelFault {
        model: String,
        source_name: String,
        byte_offset: u64,
        message: String,
    },
    /// The model artifact is unusable.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The training data cannot be fitted.
    #[error("cannot train on {source_name}: {message}")]
    Training {
        source_name: String,
        message: String,
    },
    /// An input, model or output location does not exist or cannot be read.
    #[error("{what} {location} does not exist or cannot be read: {message}")]
    NotFound {
        what: &'static str,
        location: String,
        message: String,
    },
    /// A failure of the object store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A local file failure.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A stream from the object store broke mid-way (network).
    #[error("reading or writing {location} failed mid-stream: {source}")]
    Stream {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// A bug or an unexpected failure.
    #[error("internal error: {message}")]
    Internal { message: String },
}

impl Error {
    /// The process exit code for this failure (see the crate docs for the table).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => EXIT_USAGE,
            Error::BadRow { .. }
            | Error::BadInput { .. }
            | Error::RowsUnaccounted { .. }
            | Error::ModelFault { .. }
            | Error::Artifact(_)
            | Error::Training { .. } => EXIT_DATA,
            Error::NotFound { .. } => EXIT_NO_INPUT,
            Error::Store(e) => match e {
                StoreError::NotFound { .. } | StoreError::AccessDenied { .. } => EXIT_NO_INPUT,
                // the input was replaced while it was read (its ETag pinned, so no bytes of two
                // uploads mixed): the next attempt reads the new object whole
                StoreError::Transient { .. } | StoreError::Changed { .. } => EXIT_TRANSIENT,
                StoreError::InvalidKey { .. } => EXIT_USAGE,
                StoreError::TooLarge { .. } => EXIT_DATA,
                StoreError::Other { .. } => EXIT_INTERNAL,
            },
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    EXIT_NO_INPUT
                }
                _ => EXIT_INTERNAL,
            },
            Error::Stream { .. } => EXIT_TRANSIENT,
            Error::Internal { .. } => EXIT_INTERNAL,
        }
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
        }
    }
}
