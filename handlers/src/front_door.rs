//! The HTTP front door for batch jobs: `POST /jobs` and `GET /jobs/<id>`, behind API Gateway on
//! AWS (the `stepscore-jobs` function translates its events).
//!
//! `POST /jobs` checks the config as admission will (every problem, 422), names the job, puts a
//! [`QueuedJob`] on the job queue and answers `202 {"job_id", "status": "QUEUED",
//! "status_url"}`: the client waits for nothing slow, and a burst of submissions is smoothed by
//! the queue. Intake ([`crate::intake`]) admits it. `GET /jobs/<id>` answers the job's record.
//!
//! The job id is the config's `name` and a digest of the request id, or of the client's
//! `Idempotency-Key` header when it sends one: a client that retries a POST whose answer it
//! never saw sends the same key and gets the same job, not a second run.

use serde_json::{Value, json};
use stepscore_core::JobId;
use stepscore_core::config::MAX_CONFIG_BYTES;
use stepscore_core::ports::{JobTable, MessageQueue, ObjectStore};

use crate::admit::{Refused, check_config};
use crate::error::HandlerError;
use crate::intake::{QUEUED_JOB_VERSION, QueuedJob};

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The ports the front door touches.
#[derive(Debug, Clone, Copy)]
pub struct FrontDoorPorts<'a> {
    /// Where models and inputs live (the config's check reads them).
    pub store: &'a dyn ObjectStore,
    /// The job table (`GET /jobs/<id>`, and a repeated idempotency key).
    pub table: &'a dyn JobTable,
    /// The job queue intake admits from.
    pub queue: &'a dyn MessageQueue,
    /// The key prefix job configs are admitted under (an output there is refused).
    pub jobs_prefix: &'a str,
}

/// One HTTP request, as the function's trigger delivered it.
#[derive(Debug, Clone, Copy)]
pub struct JobsRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path without the stage (`/jobs`, `/jobs/<id>`).
    pub path: &'a str,
    /// The body's bytes.
    pub body: &'a [u8],
    /// The request's id (API Gateway's `requestContext.requestId`).
    pub request_id: &'a str,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<&'a str>,
}

/// The answer: a status and a JSON body (`{"error", "problems"?}` on failure).
#[derive(Debug, Clone, PartialEq)]
pub struct JobsReply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// The methods the path takes, for a 405's `Allow` header.
    pub allow: Option<&'static str>,
}

impl JobsReply {
    fn ok(status: u16, body: Value) -> Self {
        JobsReply {
            status,
            body,
            allow: None,
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::ok(status, json!({"error": message.into()}))
    }

    fn refused(refused: Refused) -> Self {
        Self::ok(
            422,
            json!({"error": refused.reason, "problems": refused.problems}),
        )
    }

    /// A failure of ours, not the client's: 503 when a retry may succeed, else 500.
    fn failed(e: HandlerError) -> Self {
        match e {
            HandlerError::Transient(m) => Self::error(
                503,
                format!(
                    "{m}; this may pass: send the same request again (with the same Idempotency-Key)"
                ),
            ),
            other => Self::error(500, other.to_string()),
        }
    }
}

/// Answers one request; never fails: a client's mistake is a 4xx, a failure of ours 500/503.
pub async fn handle_jobs_request(ports: FrontDoorPorts<'_>, request: JobsRequest<'_>) -> JobsReply {
    let path = request.path.trim_end_matches('/');
    let (allow, route) = match path.strip_prefix("/jobs") {
        Some("") => ("POST", Route::Submit),
        Some(rest) if rest.starts_with('/') && !rest[1..].contains('/') => {
            ("GET", Route::Status(&rest[1..]))
        }
        _ => {
            return JobsReply::error(
                404,
                format!(
                    "no route {} {}: the job API answers POST /jobs and GET /jobs/<job id>",
                    request.method, request.path
                ),
            );
        }
    };
    if !request.method.eq_ignore_ascii_case(allow) {
        return JobsReply {
            allow: Some(allow),
            ..JobsReply::error(
                405,
                format!(
                    "{} {} is not allowed: use {allow}",
                    request.method, request.path
                ),
            )
        };
    }
    match route {
        Route::Submit => submit_job(ports, request).await,
        Route::Status(id) => job_status(ports, id).await,
    }
}

enum Route<'a> {
    Submit,
    Status(&'a str),
}

async fn submit_job(ports: FrontDoorPorts<'_>, request: JobsRequest<'_>) -> JobsReply {
    if request.body.is_empty() {
        return JobsReply::error(
            400,
            "the request has no body: send the job config as the JSON body (Content-Type: application/json)",
        );
    }
    if request.body.len() > MAX_CONFIG_BYTES {
        return JobsReply::error(
            413,
            format!(
                "the job config is {} bytes; the limit is {MAX_CONFIG_BYTES} bytes (64 KiB): pass data by URI, not inline",
                request.body.len()
            ),
        );
    }
    let document: Value = match stepscore_core::strict_json::from_slice(request.body) {
        Ok(v) => v,
        Err(e) => {
            return JobsReply::error(
                400,
                format!(
                    "the request body is not valid JSON: {e}; send the job config as a JSON object"
                ),
            );
        }
    };
    let key = match request.idempotency_key {
        None => None,
        Some(k)
            if k.is_empty()
                || k.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS
                || k.chars().any(|c| !c.is_ascii_graphic()) =>
        {
            return JobsReply::error(
                400,
                format!(
                    "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters (a UUID serves well)"
                ),
            );
        }
        Some(k) => Some(k),
    };
    let source = format!("http:{}", request.request_id);
    let config = match check_config(ports.store, ports.jobs_prefix, &document, &source).await {
        Ok(Ok(config)) => config,
        Ok(Err(refused)) => return JobsReply::refused(refused),
        Err(e) => return JobsReply::failed(e),
    };
    let salt = match key {
        Some(k) => format!("idempotency-key:{k}"),
        None => format!("request:{}", request.request_id),
    };
    let id = JobId::for_name(&config.name, &salt);
    let status_url = format!("/jobs/{id}");
    // a repeated key: the job exists already, nothing is queued again
    match ports.table.get(&id).await {
        Ok(Some(record)) => {
            return JobsReply::ok(
                200,
                json!({"job_id": id, "status": record.status, "status_url": status_url, "duplicate": true}),
            );
        }
        Ok(None) => {}
        Err(e) => return JobsReply::failed(e.into()),
    }
    let message = QueuedJob {
        version: QUEUED_JOB_VERSION,
        job_id: id.to_string(),
        source,
        config: document,
    };
    let body = match serde_json::to_string(&message) {
        Ok(b) => b,
        Err(e) => {
            return JobsReply::error(500, format!("the queue message cannot be written: {e}"));
        }
    };
    match ports.queue.send(&body, &[]).await {
        Ok(message_id) => {
            tracing::info!(job_id = %id, message_id = %message_id, "job submission queued");
            JobsReply::ok(
                202,
                json!({"job_id": id, "status": "QUEUED", "status_url": status_url}),
            )
        }
        Err(e) => JobsReply::failed(e.into()),
    }
}

async fn job_status(ports: FrontDoorPorts<'_>, id: &str) -> JobsReply {
    let id = match JobId::parse(id) {
        Ok(id) => id,
        Err(e) => return JobsReply::error(400, e.to_string()),
    };
    match ports.table.get(&id).await {
        Ok(Some(record)) => match serde_json::to_value(&record) {
            Ok(body) => JobsReply::ok(200, body),
            Err(e) => JobsReply::error(
                500,
                format!("the record of job {id} cannot be written: {e}"),
            ),
        },
        Ok(None) => JobsReply::error(
            404,
            format!(
                "no job '{id}': a job accepted by POST /jobs appears here once the queue's consumer admits it, usually within seconds; an id never answered by POST /jobs does not exist"
            ),
        ),
        Err(e) => JobsReply::failed(e.into()),
    }
}
