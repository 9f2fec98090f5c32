//! The executions list (keyset pages, filter by status, search by job id) and one execution's
//! detail: DescribeExecution's fields, the GetExecutionHistory events and each state's run.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use stepscore_core::JobId;
use stepscore_local::ExecutionState;
use stepscore_local::runtime::STATE_MACHINE_NAME;
use stepscore_local::views::{self, ExecutionCursor, ExecutionQuery};

use super::{path, query};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult};
use crate::states::{StateStatus, add_current, state_runs};

/// The list's query string.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    state_machine: Option<String>,
    status: Option<String>,
    search: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// An execution status from its AWS name.
pub(crate) fn parse_status(text: &str) -> ApiResult<ExecutionState> {
    Ok(match text {
        "RUNNING" => ExecutionState::Running,
        "SUCCEEDED" => ExecutionState::Succeeded,
        "FAILED" => ExecutionState::Failed,
        "TIMED_OUT" => ExecutionState::TimedOut,
        "ABORTED" => ExecutionState::Aborted,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown execution status '{other}': use RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"
            )));
        }
    })
}

/// `GET /api/executions?state_machine=&status=&search=&after=&limit=`: a page, newest first,
/// and the cursor of the next; each row names its state machine.
pub(crate) async fn list(
    State(s): State<Shared>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let status = match q.status.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(parse_status(t)?),
        None => None,
    };
    let search = q
        .search
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    if let Some(t) = &search
        && (t.len() > 80
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(ApiError::bad_request(format!(
            "'{t}' cannot begin a job id or execution name: those are letters, digits, '-' and '_'"
        )));
    }
    let after = match q.after.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(ExecutionCursor::decode(t).ok_or_else(|| {
            ApiError::bad_request(format!("'{t}' is not a page cursor this API returned"))
        })?),
        None => None,
    };
    let state_machine = match q.state_machine.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(super::machines::filter(t)?),
        None => None,
    };
    let query = ExecutionQuery {
        state_machine,
        status,
        name_prefix: search,
        after,
        limit: q.limit.unwrap_or(50).clamp(1, 500),
    };
    let (rows, next) = s.read(move |c| views::execution_page(c, &query)).await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let machine = r
                .state_machine
                .clone()
                .unwrap_or_else(|| STATE_MACHINE_NAME.to_owned());
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["state_machine"] = json!(machine);
            v
        })
        .collect();
    Ok(Json(json!({
        "executions": rows,
        "next": next.map(|n| n.encode()),
    })))
}

/// `GET /api/executions/{name}`: the execution, its job, its history events and each state's
/// run.
pub(crate) async fn detail(
    State(s): State<Shared>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    Ok(Json(describe(&s, &name, 0).await?))
}

/// The detail of execution `name`, with its history events from the `skip`-th on (all of
/// them for 0) and every state's run.
pub(crate) async fn describe(s: &Shared, name: &str, skip: usize) -> ApiResult<Value> {
    if !stepscore_core::id::is_execution_name(name) {
        return Err(ApiError::bad_request(format!(
            "'{name}' is not an execution name: those are 1-80 letters, digits, '-' and '_'"
        )));
    }
    let info =
        s.rt.execution(name)?
            .ok_or_else(|| ApiError::not_found(format!("no execution named '{name}'")))?;
    let history = s.rt.history(name)?;
    let events: Vec<Value> = history
        .as_ref()
        .and_then(|h| h["events"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut states: BTreeMap<_, _> = state_runs(&events);
    let snapshot = s.rt.executions().snapshot(name)?;
    let current = match info.status {
        ExecutionState::Running => Some(StateStatus::InProgress),
        ExecutionState::Aborted => Some(StateStatus::Aborted),
        ExecutionState::TimedOut | ExecutionState::Failed => Some(StateStatus::Failed),
        ExecutionState::Succeeded => None,
    };
    if let (Some(snap), Some(status)) = (&snapshot, current)
        && let Some(next) = snap.get("next_state").and_then(Value::as_str)
    {
        add_current(&mut states, next, snap.get("document").cloned(), status);
    }
    // a recorded state machine's execution runs no job
    let (job_id, machine) = match &info.state_machine {
        None => (
            job_of(s, name, &info.execution_arn).await?,
            json!({
                "name": STATE_MACHINE_NAME,
                "kind": "pipeline",
                "version": null,
                "arn": s.rt.executions().state_machine_arn(),
            }),
        ),
        Some(m) => (
            None,
            json!({
                "name": m,
                "kind": "recorded",
                "version": info.state_machine_version,
                "arn": super::machines::recorded_arn(m),
            }),
        ),
    };
    let total = events.len();
    Ok(json!({
        "state_machine": machine,
        "execution": {
            "name": info.name,
            "execution_arn": info.execution_arn,
            "state_machine_arn": machine["arn"],
            "status": info.status,
            "start_date": info.start_date,
            "stop_date": info.stop_date,
            "input": info.input,
            "output": info.output,
            "error": info.error,
            "cause": info.cause,
        },
        "job_id": job_id,
        "states": states,
        "event_count": total,
        "events": events.into_iter().skip(skip).collect::<Vec<_>>(),
    }))
}

/// The job an execution runs: named by the job id (`<id>` or `<id>-c<n>`), or recorded by
/// register as the job's execution.
async fn job_of(s: &Shared, name: &str, arn: &str) -> ApiResult<Option<String>> {
    let mut candidates = vec![name.to_owned()];
    if let Some((stem, n)) = name.rsplit_once("-c")
        && !n.is_empty()
        && n.chars().all(|c| c.is_ascii_digit())
    {
        candidates.push(stem.to_owned());
    }
    let arn = arn.to_owned();
    s.read(move |c| {
        for id in candidates {
            if JobId::parse(&id).is_ok() && views::job_exists(c, &id)? {
                return Ok(Some(id));
            }
        }
        views::job_of_execution(c, &arn)
    })
    .await
}
