//! [`Diagnostic`]: one problem found in a definition, in the shape AWS's
//! ValidateStateMachineDefinition reports it.

use serde::{Deserialize, Serialize};

/// One problem found in a definition, shaped like ValidateStateMachineDefinition's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// AWS diagnostic code, e.g. `SCHEMA_VALIDATION_FAILED`.
    pub code: String,
    /// JSON pointer of the offending field, e.g. `/States/Foo/Next`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Human-readable message (AWS's text where known).
    pub message: String,
    /// `ERROR` or `WARNING`.
    pub severity: String,
}

impl Diagnostic {
    pub(super) fn error(
        code: &str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code: code.to_string(),
            location: Some(location.into()),
            message: message.into(),
            severity: "ERROR".to_string(),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{}: {} at {}", self.code, self.message, loc),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}
