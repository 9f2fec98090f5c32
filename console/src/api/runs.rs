//! Validating a pasted config, starting a run from it (a put under the bucket's `jobs/`, as
//! `stepscore run` and `stepscore put` do) and stopping a job (`stepscore stop`'s function).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stepscore_core::{JobId, ObjectUri};

use super::{body, path};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult};
use crate::validate::{Checked, Problem, check};

/// The most a pasted config may weigh.
const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// A config sent by the page.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfigBody {
    /// The config's text, as pasted or uploaded.
    config: String,
}

fn config_text(bytes: &Bytes) -> ApiResult<String> {
    let b: ConfigBody = body(bytes)?;
    if b.config.len() > MAX_CONFIG_BYTES {
        return Err(ApiError::bad_request(format!(
            "the config is {} bytes; a job config is at most {MAX_CONFIG_BYTES}",
            b.config.len()
        )));
    }
    Ok(b.config)
}

/// The config's problems, as admit finds them: its fields (`validate::check`), then whether the
/// model and input it names exist (admit's own check on the store).
async fn check_all(s: &Shared, text: &str) -> ApiResult<Checked> {
    let mut checked = check(text, &s.bucket);
    if let Some(config) = &checked.config {
        let missing =
            s.rt.missing_objects(config)
                .await
                .map_err(|e| ApiError::internal(format!("cannot read the bucket: {e}")))?;
        for m in missing {
            checked.problems.push(Problem {
                field: m.field,
                message: m.message,
                source: "stepscore",
            });
        }
        if !checked.problems.is_empty() {
            checked.config = None;
        }
    }
    Ok(checked)
}

/// `POST /api/validate {"config": "<text>"}`: every problem, at its field.
pub(crate) async fn validate(State(s): State<Shared>, bytes: Bytes) -> ApiResult<Json<Value>> {
    let text = config_text(&bytes)?;
    let checked = check_all(&s, &text).await?;
    Ok(Json(json!({
        "valid": checked.problems.is_empty(),
        "problems": checked.problems,
        "config": checked.config.map(|c| c.to_json()),
    })))
}

/// `POST /api/runs {"config": "<text>"}`: puts a valid config at
/// `s3://<bucket>/jobs/<name>.json` (the S3 event reaches admit, which starts the execution
/// named by the job id) and makes sure a process serves the pipeline. 422 with every problem
/// when the config is not valid.
pub(crate) async fn start(State(s): State<Shared>, bytes: Bytes) -> ApiResult<Response> {
    let text = config_text(&bytes)?;
    let checked = check_all(&s, &text).await?;
    let Some(config) = checked.config else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": "Unprocessable Entity",
                "message": "the config has problems: fix each at its field",
                "problems": checked.problems,
            })),
        )
            .into_response());
    };
    let key = ObjectUri::new(&s.bucket, format!("jobs/{}.json", config.name))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let serving = s.serving.ensure().await?;
    let meta = s.rt.drop_config(&key, text.into_bytes()).await?;
    let version = meta
        .version_id
        .clone()
        .or(meta.etag.clone())
        .unwrap_or_default();
    let id = JobId::for_object(key.bucket(), key.key(), &version);
    tracing::info!(job_id = %id, key = %key, "console started a run");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "job_id": id.as_str(),
            "execution_name": id.as_str(),
            "key": key.to_string(),
            "serving": serving,
        })),
    )
        .into_response())
}

/// `POST /api/jobs/{id}/stop {}`: stops every running execution of the job, as `stepscore
/// stop`; cleanup then terminates its Batch job and records it FAILED.
pub(crate) async fn stop(
    State(s): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let _: Value = body(&bytes)?;
    let id = JobId::parse(&path(id)?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let report =
        s.rt.stop_job(&id, "stopped from the stepscore console")
            .await
            .map_err(|e| match e {
                stepscore_local::runtime::HandlerError::NotFound(m) => ApiError::not_found(m),
                other => ApiError::internal(other.to_string()),
            })?;
    let serving = if report.stopped.is_empty() {
        s.serving.state().await?
    } else {
        s.serving.ensure().await?
    };
    Ok(Json(json!({
        "job_id": report.job_id.as_str(),
        "stopped": report.stopped,
        "status_before": report.status,
        "serving": serving,
    })))
}
