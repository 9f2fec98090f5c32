//! [`IntrinsicError`]: why a call could not be parsed or evaluated, with AWS's cause and a
//! detail that says how to fix it.

use thiserror::Error;

use crate::jsonpath::JsonPathError;

/// Why an intrinsic function could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IntrinsicError {
    /// The text is not a well-formed intrinsic function call.
    #[error("Invalid intrinsic function '{text}': {reason} (at character {position})")]
    Syntax {
        /// The call text as written.
        text: String,
        /// Zero-based character offset of the problem.
        position: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Calls nest deeper than AWS allows.
    #[error(
        "Invalid intrinsic function '{text}': calls nest deeper than {limit} levels; Step Functions allows at most {limit} nested intrinsic functions in a field"
    )]
    TooDeep {
        /// The call text as written.
        text: String,
        /// The nesting limit.
        limit: usize,
    },
    /// A function was called with the wrong number of arguments. AWS accepts such a definition
    /// and fails when the call runs, so this is a run-time error too.
    #[error("Invalid arguments in {function}")]
    ArgumentCount {
        /// The function's name, e.g. `States.Hash`.
        function: &'static str,
        /// What the function accepts, e.g. "takes exactly 2 arguments".
        expected: &'static str,
        /// How many arguments the call has.
        given: usize,
    },
    /// A path argument selects nothing. AWS words this like a missing `.$` path and names the
    /// field, which only the caller knows: see [`IntrinsicError::cause_for_field`].
    #[error("The JSONPath '{path}' used by {function} could not be found in the input '{input}'")]
    Path {
        /// The function's name.
        function: &'static str,
        /// The path text.
        path: String,
        /// The JSON text of the state input the call ran against.
        input: String,
        /// Why it could not be resolved.
        source: JsonPathError,
    },
    /// An argument had the wrong type or value, or the function failed on it. The text is
    /// AWS's cause; [`IntrinsicError::detail`] says what exactly is wrong.
    #[error("Invalid arguments in {function}")]
    Invalid {
        /// The function's name.
        function: &'static str,
        /// What is wrong with the arguments.
        reason: String,
    },
}

impl IntrinsicError {
    /// The Step Functions error name this failure raises, which Retry/Catch match.
    pub fn error_name(&self) -> &'static str {
        // AWS raises States.Runtime (not States.IntrinsicFailure) for failing intrinsics.
        "States.Runtime"
    }

    /// AWS's cause when this error comes from the payload field `field` (e.g. `value.$`):
    /// a missing path argument reads "The JSONPath '$.x' specified for the field 'value.$' could
    /// not be found in the input '{...}'"; other errors read as their `Display`.
    pub fn cause_for_field(&self, field: &str) -> String {
        match self {
            IntrinsicError::Path {
                path,
                input,
                source: JsonPathError::NotFound { .. } | JsonPathError::UndefinedVariable { .. },
                ..
            } => {
                format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'"
                )
            }
            other => other.to_string(),
        }
    }

    /// A diagnostic beyond AWS's terse cause: which argument is wrong and how to fix it.
    pub fn detail(&self) -> String {
        match self {
            IntrinsicError::ArgumentCount {
                function,
                expected,
                given,
            } => {
                format!(
                    "{function} {expected}, but {given} {} given",
                    if *given == 1 { "was" } else { "were" }
                )
            }
            IntrinsicError::Invalid { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}
