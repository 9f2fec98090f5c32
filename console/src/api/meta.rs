//! The overview, the pipeline's state machine and the loaded schedules.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
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
    Json(super::machines::pipeline(&s))
}

/// `GET /api/schedules`: the schedules the runtime loaded (recorded in state.db by the
/// process running them), each with its last fire and, while loaded, its next three fire times;
/// and who serves the state directory (a schedule loaded by a process that is gone fires no
/// more, and nobody serves).
pub(crate) async fn schedules(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    let now = Utc::now();
    let loaded = s.read(stepscore_local::views::loaded_schedules).await?;
    let serving = s.serving.state().await?;
    let list: Vec<Value> = loaded
        .into_iter()
        .map(|sch| {
            let next = if sch.unloaded_at.is_none() {
                upcoming(&sch, 3)
            } else {
                Vec::new()
            };
            json!({
                "name": sch.name,
                "expression": sch.expression,
                "timezone": sch.timezone,
                "description": sch.description,
                "loaded": sch.unloaded_at.is_none(),
                "loaded_at": sch.loaded_at,
                "unloaded_at": sch.unloaded_at,
                "next_fire": sch.next_fire,
                "last_fire": sch.last_fire,
                "fires": sch.fires,
                "next": next,
                "template": sch.input.get("template").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(
        json!({"now": now.to_rfc3339(), "serving": serving, "schedules": list}),
    ))
}

/// The recorded next fire of `sch` and the ones after it, `n` in all, by the scheduler's own
/// rules (its expression in its zone, from its anchor).
fn upcoming(sch: &stepscore_local::views::LoadedSchedule, n: usize) -> Vec<DateTime<Utc>> {
    let (Ok(expression), Ok(zone)) = (
        stepscore_local::ScheduleExpression::parse(&sch.expression),
        stepscore_local::schedule::parse_time_zone(&sch.timezone),
    ) else {
        return sch.next_fire.into_iter().collect();
    };
    let mut out = Vec::new();
    let mut next = sch.next_fire;
    while let Some(t) = next
        && out.len() < n
    {
        out.push(t);
        next = expression.next_after(t, zone, sch.start);
    }
    out
}

/// `GET /api/config-schema`: `schemas/job-config.schema.json`, for the Start page's fields.
pub(crate) async fn config_schema() -> ApiResult<Json<Value>> {
    serde_json::from_str(crate::validate::JOB_CONFIG_SCHEMA)
        .map(Json)
        .map_err(|e| {
            crate::error::ApiError::internal(format!("the bundled config schema is not JSON: {e}"))
        })
}
