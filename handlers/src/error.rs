//! The handlers' one error type and its Lambda error names.

use stepscore_core::ports::{
    BatchError, ExecutionError, NotifyError, QueueError, StoreError, TableError,
};

/// Error name of a failure that may go away on retry; the state machine retries it.
pub const TRANSIENT: &str = "stepscore.Transient";
/// Error name of an invalid job config or task input.
pub const BAD_CONFIG: &str = "stepscore.BadConfig";
/// Error name of a job, record or Batch job that does not exist.
pub const NOT_FOUND: &str = "stepscore.NotFound";
/// Error name of any other failure.
pub const INTERNAL: &str = "stepscore.Internal";

/// Why a handler failed; [`HandlerError::error_type`] is the name Retry/Catch match.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A port call failed in a way that may go away on retry.
    #[error("{0}")]
    Transient(String),
    /// The job config or the task input is invalid.
    #[error("{0}")]
    BadConfig(String),
    /// Something the handler needs does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Any other failure.
    #[error("{0}")]
    Internal(String),
}

impl HandlerError {
    /// The fixed Lambda error name (`errorType`) of this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Transient(_) => TRANSIENT,
            HandlerError::BadConfig(_) => BAD_CONFIG,
            HandlerError::NotFound(_) => NOT_FOUND,
            HandlerError::Internal(_) => INTERNAL,
        }
    }

    /// An invalid task input, naming the handler that received it.
    pub(crate) fn bad_input(handler: &str, e: serde_json::Error) -> Self {
        HandlerError::BadConfig(format!(
            "{handler} received an input it cannot read: {e}; check the state machine's Parameters for this task"
        ))
    }
}

macro_rules! from_port_error {
    ($($t:ty),*) => {$(
        impl From<$t> for HandlerError {
            fn from(e: $t) -> Self {
                if e.is_transient() {
                    HandlerError::Transient(e.to_string())
                } else {
                    HandlerError::Internal(e.to_string())
                }
            }
        }
    )*};
}
from_port_error!(
    StoreError,
    TableError,
    ExecutionError,
    BatchError,
    NotifyError,
    QueueError
);
