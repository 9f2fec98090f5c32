//! The job table (with each running job's progress), one job with its Batch attempts, and an
//! attempt's container logs — named by job, Batch job and attempt, never by a path.

use std::io::{Read, Seek, SeekFrom};

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use stepscore_core::JobId;
use stepscore_core::JobStatus;
use stepscore_core::ports::ListFilter;
use stepscore_core::record::JobRecord;

use super::{path, query};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult};
use crate::progress::job_progress;

/// The most of a log the page gets: its last 256 KiB.
const LOG_TAIL: u64 = 256 * 1024;

/// The jobs list's query string.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

fn parse_job_id(text: &str) -> ApiResult<JobId> {
    JobId::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))
}

async fn with_progress(s: &Shared, record: JobRecord) -> Value {
    let progress = if record.status.is_terminal() {
        None
    } else {
        job_progress(s.rt.store(), &record).await
    };
    let mut v = serde_json::to_value(&record).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("progress".into(), json!(progress));
    }
    v
}

/// `GET /api/jobs?status=&limit=`: job records, most recently updated first, with progress.
pub(crate) async fn list(
    State(s): State<Shared>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let status = match q.status.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<JobStatus>().map_err(|_| {
            ApiError::bad_request(format!(
                "unknown job status '{t}': use PENDING, SUBMITTED, RUNNING, SUCCEEDED or FAILED"
            ))
        })?),
        None => None,
    };
    let filter = ListFilter {
        status,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let records =
        s.rt.jobs(&filter)
            .await
            .map_err(|e| ApiError::internal(format!("cannot list the job table: {e}")))?;
    let mut jobs = Vec::with_capacity(records.len());
    for r in records {
        jobs.push(with_progress(&s, r).await);
    }
    Ok(Json(json!({"jobs": jobs})))
}

/// `GET /api/jobs/{id}`: the record, its progress, and each Batch attempt's log files (by
/// Batch job id and attempt number).
pub(crate) async fn detail(
    State(s): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_job_id(&path(id)?)?;
    let record = load(&s, &id).await?;
    let mut logs = Vec::new();
    for a in &record.attempts {
        for (batch_job_id, attempt, stdout, stderr) in s.rt.batch_logs(&a.batch_job_id)? {
            logs.push(json!({
                "record_attempt": a.number,
                "queue": a.queue,
                "batch_job_id": batch_job_id,
                "attempt": attempt,
                "stdout": stdout.exists(),
                "stderr": stderr.exists(),
            }));
        }
    }
    let mut v = with_progress(&s, record).await;
    if let Some(o) = v.as_object_mut() {
        o.insert("logs".into(), Value::Array(logs));
    }
    Ok(Json(v))
}

async fn load(s: &Shared, id: &JobId) -> ApiResult<JobRecord> {
    s.rt.job(id)
        .await
        .map_err(|e| ApiError::internal(format!("cannot read the job table: {e}")))?
        .ok_or_else(|| ApiError::not_found(format!("no job '{id}' in the job table")))
}

/// The logs query: which Batch job (one of the job's attempts, or an array child), attempt
/// and stream.
#[derive(Debug, Deserialize)]
pub(crate) struct LogQuery {
    batch_job: String,
    attempt: u32,
    stream: String,
}

/// `GET /api/jobs/{id}/logs?batch_job=&attempt=&stream=stdout|stderr`: the log's last 256 KiB.
/// The file is found among the job's own attempts' logs, so no request names a path.
pub(crate) async fn logs(
    State(s): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_job_id(&path(id)?)?;
    let q = query(q)?;
    let record = load(&s, &id).await?;
    let mut found = None;
    for a in &record.attempts {
        for (batch_job_id, attempt, stdout, stderr) in s.rt.batch_logs(&a.batch_job_id)? {
            if batch_job_id == q.batch_job && attempt == q.attempt {
                found = Some(match q.stream.as_str() {
                    "stdout" => stdout,
                    "stderr" => stderr,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "unknown log stream '{other}': use stdout or stderr"
                        )));
                    }
                });
            }
        }
    }
    let file = found.ok_or_else(|| {
        ApiError::not_found(format!(
            "job {id} has no attempt {} of Batch job '{}' with logs",
            q.attempt, q.batch_job
        ))
    })?;
    let (text, truncated) = tokio::task::spawn_blocking(move || tail(&file))
        .await
        .map_err(|e| ApiError::internal(format!("reading the log did not finish: {e}")))??;
    Ok(Json(json!({"text": text, "truncated": truncated})))
}

fn tail(file: &std::path::Path) -> ApiResult<(String, bool)> {
    let mut f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), false)),
        Err(e) => return Err(ApiError::internal(format!("cannot read the log: {e}"))),
    };
    let len = f
        .metadata()
        .map_err(|e| ApiError::internal(format!("cannot read the log: {e}")))?
        .len();
    let truncated = len > LOG_TAIL;
    if truncated {
        f.seek(SeekFrom::Start(len - LOG_TAIL))
            .map_err(|e| ApiError::internal(format!("cannot read the log: {e}")))?;
    }
    let mut bytes = Vec::new();
    f.take(LOG_TAIL)
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::internal(format!("cannot read the log: {e}")))?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), truncated))
}
