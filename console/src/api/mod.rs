//! The JSON API, one module per page: `meta` (overview, state machine, schedules),
//! `executions` and `stream` (list, detail, live updates), `jobs` (records, logs), `batch`
//! (queues, reclaim injection) and `runs` (validate, start, stop).

pub(crate) mod batch;
pub(crate) mod executions;
pub(crate) mod jobs;
pub(crate) mod meta;
pub(crate) mod runs;
pub(crate) mod stream;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Any `/api/…` path no route takes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such API route (the routes are listed in console/src/app.rs)")
}

/// A path parameter, or a JSON error saying why it could not be read.
pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("bad path: {e}")))
}

/// The query string, or a JSON error saying what in it is wrong.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

/// A JSON request body of type `T`, or a JSON error naming what is wrong with it.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not the JSON expected: {e}"))
    })
}
