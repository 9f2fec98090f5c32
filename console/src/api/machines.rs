//! The state machines: the pipeline's and every definition recorded by `stepscore asl run`,
//! each with its graph (of the version asked for, or the latest).

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use stepscore_local::runtime::{LOCAL_ACCOUNT, LOCAL_REGION, STATE_MACHINE_NAME};
use stepscore_local::views::{self, MachineFilter};

use super::{path, query};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult};

/// The ARN of the recorded state machine `name`.
pub(crate) fn recorded_arn(name: &str) -> String {
    format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{name}")
}

/// The state machine a `state_machine=` parameter (or path segment) names: the pipeline's by
/// its name, any other name a recorded one.
pub(crate) fn filter(name: &str) -> ApiResult<MachineFilter> {
    if name == STATE_MACHINE_NAME {
        return Ok(MachineFilter::Pipeline);
    }
    if !stepscore_local::machines::is_valid_name(name) {
        return Err(ApiError::bad_request(format!(
            "'{name}' is not a state machine name: those are 1-80 letters, digits, '-' and '_'"
        )));
    }
    Ok(MachineFilter::Recorded(name.to_owned()))
}

/// `GET /api/state-machines`: the pipeline's state machine, then the recorded ones by name,
/// each with its count of executions and when the newest started.
pub(crate) async fn list(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    let (pipeline, recorded) = s
        .read(|c| Ok((views::pipeline_executions(c)?, views::recorded_machines(c)?)))
        .await?;
    let mut machines = vec![json!({
        "name": STATE_MACHINE_NAME,
        "arn": s.rt.executions().state_machine_arn(),
        "kind": "pipeline",
        "version": null,
        "file": "state-machines/scoring-pipeline.asl.json",
        "updated_at": null,
        "executions": pipeline.0,
        "last_start": pipeline.1,
    })];
    for m in recorded {
        machines.push(json!({
            "name": m.name,
            "arn": recorded_arn(&m.name),
            "kind": "recorded",
            "version": m.version,
            "file": m.file,
            "updated_at": m.updated_at,
            "executions": m.executions,
            "last_start": m.last_start,
        }));
    }
    Ok(Json(json!({"state_machines": machines})))
}

/// The query string of one state machine.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionQuery {
    version: Option<u32>,
}

/// `GET /api/state-machines/{name}?version=`: the definition and its graph (the recorded
/// version asked for, else the latest).
pub(crate) async fn detail(
    State(s): State<Shared>,
    name: Result<Path<String>, PathRejection>,
    q: Result<Query<VersionQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let version = query(q)?.version;
    Ok(Json(describe(&s, &name, version).await?))
}

/// The state machine `name` (version `version`, else the latest) as the page draws it.
pub(crate) async fn describe(s: &Shared, name: &str, version: Option<u32>) -> ApiResult<Value> {
    let recorded = match filter(name)? {
        MachineFilter::Pipeline => return Ok(pipeline(s)),
        MachineFilter::Recorded(n) => n,
    };
    let wanted = recorded.clone();
    let found = s
        .read(move |c| views::machine_definition(c, &wanted, version))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(match version {
                Some(v) => format!("no version {v} of a state machine named '{recorded}'"),
                None => format!(
                    "no state machine named '{recorded}': run a definition with `stepscore asl run` to record one"
                ),
            })
        })?;
    // a recorded text was valid JSON when `asl run` read it; anything else is shown as text
    let definition: Value =
        serde_json::from_str(&found.definition).unwrap_or(Value::String(found.definition));
    Ok(json!({
        "name": found.name,
        "arn": recorded_arn(&found.name),
        "kind": "recorded",
        "version": found.version,
        "latest_version": found.latest_version,
        "file": found.file,
        "created_at": found.created_at,
        "graph": crate::graph::build(&definition),
        "definition": definition,
    }))
}

/// The pipeline's state machine, its placeholders filled.
pub(crate) fn pipeline(s: &Shared) -> Value {
    json!({
        "name": STATE_MACHINE_NAME,
        "arn": s.rt.executions().state_machine_arn(),
        "kind": "pipeline",
        "version": null,
        "graph": s.graph,
        "definition": s.definition,
    })
}
