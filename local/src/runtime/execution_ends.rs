//! Execution-end delivery: the ends EventBridge would send to the cleanup function.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::executions::ExecutionInfo;

use super::{LocalRuntime, refused};
use crate::names::{LOCAL_ACCOUNT, LOCAL_REGION};

/// Delivers the end of every execution that stopped ABORTED, TIMED_OUT or FAILED to the cleanup
/// function, as EventBridge delivers Step Functions' "Execution Status Change" events: at least
/// once (the row is marked delivered only after cleanup returned), retried while it fails. While
/// state.db refuses the mark, the pump pauses before it delivers again.
pub(super) async fn execution_end_pump(runtime: LocalRuntime, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let ended = runtime
            .inner
            .executions
            .undelivered_ends(stepscore_handlers::cleanup::CLEANUP_STATUSES, 16)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read ended executions; reading them again");
                Vec::new()
            });
        if ended.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        for e in ended {
            if let Err(err) = deliver_end(&runtime, &e).await {
                tracing::error!(execution = %e.name, db = %runtime.inner.config.state_dir.join("state.db").display(), error = %err, "cannot record that an execution's end was delivered; it is delivered again after a pause");
                // the next ends would meet the same database
                tokio::time::sleep(refused::PAUSE).await;
                break;
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Delivers execution `e`'s end to cleanup and, once cleanup returned, marks it delivered; an
/// error when the database refuses the mark (a failing cleanup is tried again on the next round).
async fn deliver_end(runtime: &LocalRuntime, e: &ExecutionInfo) -> rusqlite::Result<()> {
    let event = execution_status_change(runtime, e);
    match runtime.invoke(CLEANUP_FUNCTION, event).await {
        Ok(_) => runtime.inner.executions.mark_end_delivered(&e.name),
        Err(err) => {
            tracing::warn!(execution = %e.name, error = %err, "cleanup failed on an ended execution; retrying");
            Ok(())
        }
    }
}

/// The function the ends of executions go to.
pub const CLEANUP_FUNCTION: &str = "stepscore-cleanup";

/// The EventBridge event Step Functions sends when execution `e` changes status.
pub fn execution_status_change(runtime: &LocalRuntime, e: &ExecutionInfo) -> Value {
    let millis = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": stepscore_handlers::cleanup::EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": LOCAL_ACCOUNT,
        "time": e.stop_date.unwrap_or(e.start_date).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": LOCAL_REGION,
        "resources": [e.execution_arn],
        "detail": {
            "executionArn": e.execution_arn,
            "stateMachineArn": runtime.inner.executions.state_machine_arn(),
            "name": e.name,
            "status": e.status.as_str(),
            "startDate": millis(Some(e.start_date)),
            "stopDate": millis(e.stop_date),
            "input": e.input.to_string(),
            "inputDetails": {"included": true},
            "output": e.output.as_ref().map(Value::to_string),
            "outputDetails": e.output.as_ref().map(|_| json!({"included": true})),
            "error": e.error,
            "cause": e.cause,
        }
    })
}
