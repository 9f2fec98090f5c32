//! The API's errors: every failure is a JSON body `{"error": "<what>", "message": "<why>"}` with
//! the HTTP status that classifies it, never a panic or an HTML page.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error: a status and a message that names the thing at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, and where possible how to fix it.
    pub message: String,
}

impl ApiError {
    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the thing it names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the thing exists but is not in a state that allows this.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 403: refused (cross-origin, foreign host).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 500: the state directory could not be read or written.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let name = self.status.canonical_reason().unwrap_or("Error").to_owned();
        (
            self.status,
            Json(json!({"error": name, "message": self.message})),
        )
            .into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(format!("cannot read the state database: {e}"))
    }
}

impl From<stepscore_local::runtime::RuntimeError> for ApiError {
    fn from(e: stepscore_local::runtime::RuntimeError) -> Self {
        ApiError::internal(e.to_string())
    }
}

/// The result of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;
