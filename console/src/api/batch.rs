//! The local Batch: jobs per queue and status, and spot-reclaim injection for a running job.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use stepscore_core::batch::BatchStatus;

use super::{body, path};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult};

/// The most jobs the list shows (newest first); the counts cover every job.
const LIST_LIMIT: usize = 200;

/// `GET /api/batch`: each queue with its compute environment and its jobs by status, and the
/// newest jobs.
pub(crate) async fn overview(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    let batch = s.rt.batch().clone();
    let jobs = tokio::task::spawn_blocking(move || batch.jobs())
        .await
        .map_err(|e| ApiError::internal(format!("reading Batch jobs did not finish: {e}")))?
        .map_err(|e| ApiError::internal(format!("cannot read the local Batch: {e}")))?;
    let config = s.rt.batch().config();
    let mut counts: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for j in &jobs {
        *counts
            .entry(j.job_queue.as_str())
            .or_default()
            .entry(j.status.as_str())
            .or_default() += 1;
    }
    let queues: Vec<Value> = config
        .queues
        .iter()
        .map(|q| {
            let ce = config
                .compute_environments
                .iter()
                .find(|c| c.name == q.compute_environment);
            json!({
                "name": q.name,
                "priority": q.priority,
                "compute_environment": q.compute_environment,
                "spot": ce.is_some_and(|c| c.spot),
                "vcpus": ce.map(|c| c.vcpus),
                "counts": counts.get(q.name.as_str()).cloned().unwrap_or_default(),
            })
        })
        .collect();
    let list: Vec<_> = jobs.into_iter().take(LIST_LIMIT).collect();
    Ok(Json(json!({"queues": queues, "jobs": list})))
}

/// `POST /api/batch/jobs/{id}/reclaim {}`: reclaims the running spot attempt of Batch job
/// `id` now, as `--reclaim-spot-after` does: it ends with `Host EC2 (instance …) terminated.`
/// and the retry strategy (then the pipeline's on-demand fallback) takes over.
pub(crate) async fn reclaim(
    State(s): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let _: Value = body(&bytes)?;
    let id = path(id)?;
    let batch = s.rt.batch().clone();
    let lookup = id.clone();
    let job = tokio::task::spawn_blocking(move || batch.job(&lookup))
        .await
        .map_err(|e| ApiError::internal(format!("reading the Batch job did not finish: {e}")))?
        .map_err(|e| ApiError::internal(format!("cannot read the local Batch: {e}")))?
        .ok_or_else(|| ApiError::not_found(format!("no Batch job '{id}'")))?;
    let config = s.rt.batch().config();
    let spot = config
        .queues
        .iter()
        .find(|q| q.name == job.job_queue)
        .and_then(|q| {
            config
                .compute_environments
                .iter()
                .find(|c| c.name == q.compute_environment)
        })
        .is_some_and(|c| c.spot);
    if !spot {
        return Err(ApiError::conflict(format!(
            "Batch job '{id}' runs on queue {}, which has no spot capacity to reclaim",
            job.job_queue
        )));
    }
    if job.status != BatchStatus::Running {
        return Err(ApiError::conflict(format!(
            "Batch job '{id}' is {}: only a RUNNING attempt can be reclaimed",
            job.status.as_str()
        )));
    }
    let marked =
        s.rt.batch()
            .request_reclaim(&id)
            .map_err(|e| ApiError::internal(format!("cannot record the reclaim: {e}")))?;
    if marked == 0 {
        return Err(ApiError::conflict(format!(
            "Batch job '{id}' stopped running before the reclaim was recorded"
        )));
    }
    Ok(Json(
        json!({"batch_job_id": id, "reclaim_requested": marked}),
    ))
}
