//! The predict service, independent of how requests arrive: a method, a path and a body in, a
//! status and a JSON body out. The local server ([`crate::server`]) and the Lambda function
//! (API Gateway v2 events) are thin adapters over [`PredictService::handle`].
//!
//! Routes (KServe v1 / TF-Serving):
//! - `POST /v1/models/<name>:predict` with `{"instances": [...]}`;
//! - `GET /v1/models/<name>`: the model's metadata and the version serving;
//! - `GET /v1/models`: the names served.
//!
//! Every client mistake is a 4xx naming what is wrong: 400 not JSON or not the envelope, 404 no
//! such model or route, 405 wrong method, 413 too many bytes or rows, 422 bad rows (row and
//! feature). A 500 means the server failed.

use std::time::Duration;

use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use tracing::{debug, error};

use crate::instances::{self, RequestError};
use crate::reload::ReloadingModel;
use crate::reply;

/// What one request may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body, in bytes (checked before the body is read or parsed).
    pub max_body_bytes: usize,
    /// The most instances one request may score.
    pub max_rows: usize,
    /// How long a client may take to send its body (the local server; API Gateway has its own).
    pub body_timeout: Duration,
}

impl Default for Limits {
    /// 6 MiB (Lambda's synchronous payload limit), 10,000 rows, 10 s.
    fn default() -> Self {
        Self {
            max_body_bytes: 6 * 1024 * 1024,
            max_rows: 10_000,
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// A status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// A JSON document.
    pub body: Vec<u8>,
    /// For 405: the method the path takes.
    pub allow: Option<Method>,
}

impl Reply {
    fn ok(body: Vec<u8>) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            allow: None,
        }
    }

    /// An error answer `{"error": message}`.
    pub fn error(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: reply::error(message),
            allow: None,
        }
    }

    /// 413 for a body over `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        Self::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the request body is over {limit} bytes, the most one request may send; send fewer instances per request"
            ),
        )
    }
}

/// One model served under one name.
#[derive(Debug)]
pub struct PredictService {
    name: String,
    model: ReloadingModel,
    limits: Limits,
}

impl PredictService {
    /// Serves `model` as `name` within `limits`.
    pub fn new(name: impl Into<String>, model: ReloadingModel, limits: Limits) -> Self {
        Self {
            name: name.into(),
            model,
            limits,
        }
    }

    /// The name the model is served under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The request limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The reloading model (to check it or read its version).
    pub fn model(&self) -> &ReloadingModel {
        &self.model
    }

    /// Answers one request. `path` is the request path as sent (percent-encoding allowed).
    pub async fn handle(&self, method: &Method, path: &str, body: &[u8]) -> Reply {
        let decoded = percent_decode_str(path).decode_utf8_lossy();
        let path = decoded.trim_end_matches('/');
        let Some(route) = Route::of(path) else {
            return Reply::error(
                StatusCode::NOT_FOUND,
                &format!(
                    "no route {method} {path}; this server answers POST /v1/models/{0}:predict and GET /v1/models/{0}",
                    self.name
                ),
            );
        };
        let wanted = match route {
            Route::Predict(_) => Method::POST,
            Route::List | Route::Metadata(_) => Method::GET,
        };
        if *method != wanted && !(wanted == Method::GET && *method == Method::HEAD) {
            return Reply {
                allow: Some(wanted.clone()),
                ..Reply::error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("{path} takes {wanted}, not {method}"),
                )
            };
        }
        match route {
            Route::List => Reply::ok(
                serde_json::json!({ "models": [self.name] })
                    .to_string()
                    .into_bytes(),
            ),
            Route::Metadata(name) | Route::Predict(name) if name != self.name => Reply::error(
                StatusCode::NOT_FOUND,
                &format!(
                    "model '{name}' is not served here; this server serves '{0}' (POST /v1/models/{0}:predict)",
                    self.name
                ),
            ),
            Route::Metadata(_) => {
                let served = self.model.current();
                let source = self.model.source().uri().to_string();
                Reply::ok(reply::metadata(&self.name, &source, &served))
            }
            Route::Predict(_) => self.predict(body).await,
        }
    }

    async fn predict(&self, body: &[u8]) -> Reply {
        if body.len() > self.limits.max_body_bytes {
            return Reply::body_too_large(self.limits.max_body_bytes);
        }
        self.model.check_if_due().await;
        let served = self.model.current();
        let rows = match instances::parse(body, &served, self.limits.max_rows) {
            Ok(rows) => rows,
            Err(e) => {
                debug!(error = %e, "predict request refused");
                let message = e.to_string();
                return match e {
                    RequestError::Malformed(_) | RequestError::NotInstances(_) => {
                        Reply::error(StatusCode::BAD_REQUEST, &message)
                    }
                    RequestError::TooManyRows { .. } => {
                        Reply::error(StatusCode::PAYLOAD_TOO_LARGE, &message)
                    }
                    RequestError::Invalid { problems, more } => Reply {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        body: reply::problems(&message, &problems, more),
                        allow: None,
                    },
                };
            }
        };
        match reply::predictions(&self.name, &served, &rows) {
            Ok(body) => Reply::ok(body),
            Err(message) => {
                error!(model = %self.name, version = %served.version, error = %message, "scoring failed");
                Reply::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("the model failed to score the request: {message}"),
                )
            }
        }
    }
}

enum Route<'p> {
    List,
    Metadata(&'p str),
    Predict(&'p str),
}

impl<'p> Route<'p> {
    fn of(path: &'p str) -> Option<Self> {
        let rest = path.strip_prefix("/v1/models")?;
        if rest.is_empty() {
            return Some(Route::List);
        }
        let rest = rest.strip_prefix('/')?;
        Some(match rest.strip_suffix(":predict") {
            Some(name) => Route::Predict(name),
            None => Route::Metadata(rest),
        })
    }
}
