//! [`JsonPathError`]: why a path could not be parsed, resolved or written, in Jayway's and AWS's
//! words.

use thiserror::Error;

/// Why a path could not be parsed, resolved or written.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum JsonPathError {
    /// The text is not a valid JSONPath.
    #[error("Invalid JSONPath '{path}': {reason} (at character {position})")]
    Syntax {
        /// The path text as written.
        path: String,
        /// Zero-based character offset of the problem.
        position: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Filters or sub-paths nest deeper than the parser allows.
    #[error(
        "Invalid JSONPath '{path}': nesting is deeper than {limit} levels; flatten the filter expression"
    )]
    TooDeep {
        /// The path text as written.
        path: String,
        /// The nesting limit.
        limit: usize,
    },
    /// A definite path selected nothing; `message` is Jayway's text, which AWS quotes.
    #[error("{message}")]
    NotFound {
        /// The path text as written.
        path: String,
        /// Jayway's explanation, e.g. "No results for path: $['a']".
        message: String,
    },
    /// A variable path names a variable that has no value.
    #[error(
        "The variable '${name}' referenced by '{path}' is not defined; assign it in an earlier state"
    )]
    UndefinedVariable {
        /// The path text as written.
        path: String,
        /// The variable name without `$`.
        name: String,
    },
    /// A ResultPath cannot be applied to the value it should write into.
    #[error("Unable to apply ReferencePath {path} to input {input}")]
    ResultPathMatch {
        /// The path text as written.
        path: String,
        /// The JSON text of the value the path was applied to.
        input: String,
    },
    /// The path cannot be used to write a value (it is not a plain input reference path).
    #[error("The path '{path}' cannot be written to: {reason}")]
    NotWritable {
        /// The path text as written.
        path: String,
        /// Why, and what would work instead.
        reason: String,
    },
}

impl JsonPathError {
    /// The Step Functions error name this failure raises at run time.
    pub fn error_name(&self) -> &'static str {
        match self {
            JsonPathError::ResultPathMatch { .. } => "States.ResultPathMatchFailure",
            _ => "States.Runtime",
        }
    }
}
