//! The overview, the state machine's graph and the schedules.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde_json::{Value, json};

use crate::app::Shared;
use crate::error::ApiResult;

/// `GET /api/overview`: the state directory, who serves it, executions and jobs by status.
pub(crate) async fn overview(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    let (executions, jobs) = s
        .read(|c| {
            Ok((
                stepscore_local::views::execution_counts(c)?,
                stepscore_local::views::job_counts(c)?,
            ))
        })
        .await?;
    let serving = s.serving.state().await?;
    let to_map = |v: Vec<(String, u64)>| v.into_iter().collect::<BTreeMap<_, _>>();
    Ok(Json(json!({
        "state_dir": s.rt.config().state_dir.display().to_string(),
        "bucket": s.bucket,
        "state_machine_arn": s.rt.executions().state_machine_arn(),
        "serving": serving,
        "executions": to_map(executions),
        "jobs": to_map(jobs),
    })))
}

/// `GET /api/state-machine`: the pipeline's definition (placeholders filled) and its graph.
pub(crate) async fn state_machine(State(s): State<Shared>) -> Json<Value> {
    Json(json!({
        "name": "scoring-pipeline",
        "arn": s.rt.executions().state_machine_arn(),
        "graph": s.graph,
        "definition": s.definition,
    }))
}

/// `GET /api/schedules`: the loaded schedules, each with its next three fire times.
pub(crate) async fn schedules(State(s): State<Shared>) -> Json<Value> {
    let now = Utc::now();
    let list: Vec<Value> = s
        .schedules
        .parsed
        .iter()
        .map(|sch| {
            let spec = &s.schedules.document[&sch.name];
            let mut next = Vec::new();
            let mut after = now;
            while next.len() < 3 {
                match sch.next_after(after) {
                    Some(t) => {
                        next.push(t.to_rfc3339());
                        after = t;
                    }
                    None => break,
                }
            }
            json!({
                "name": sch.name,
                "expression": sch.expression.to_string(),
                "timezone": sch.time_zone.name(),
                "description": spec.get("description").and_then(Value::as_str).unwrap_or_default(),
                "next": next,
                "template": sch.input,
            })
        })
        .collect();
    Json(json!({"source": s.schedules.source, "now": now.to_rfc3339(), "schedules": list}))
}

/// `GET /api/config-schema`: `schemas/job-config.schema.json`, for the Start page's fields.
pub(crate) async fn config_schema() -> ApiResult<Json<Value>> {
    serde_json::from_str(crate::validate::JOB_CONFIG_SCHEMA)
        .map(Json)
        .map_err(|e| {
            crate::error::ApiError::internal(format!("the bundled config schema is not JSON: {e}"))
        })
}
