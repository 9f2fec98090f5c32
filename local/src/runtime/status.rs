//! What the CLI reads of a runtime: executions, their histories, job records and Batch logs,
//! and waiting for an execution to end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepscore_asl::ExecutionSnapshot;

use crate::executions::{ExecutionInfo, ExecutionState};

use super::{LocalRuntime, RuntimeError};

impl LocalRuntime {
    /// One execution.
    pub fn execution(&self, name: &str) -> Result<Option<ExecutionInfo>, RuntimeError> {
        self.inner
            .executions
            .describe(name)
            .map_err(|e| self.dberr(e))
    }

    /// Executions, newest first.
    pub fn list_executions(
        &self,
        status: Option<ExecutionState>,
        limit: usize,
    ) -> Result<Vec<ExecutionInfo>, RuntimeError> {
        self.inner
            .executions
            .list(status, limit)
            .map_err(|e| self.dberr(e))
    }

    /// An execution's history events, in GetExecutionHistory's shape (`{"events": […]}`). A
    /// stopped execution ends with `ExecutionAborted`, as on AWS: the interpreter's snapshot
    /// stops at the last state it ran, so the event is added from the executions table. A
    /// Distributed Map's child execution (named as in its Map Run's results) has its own.
    pub fn history(&self, name: &str) -> Result<Option<Value>, RuntimeError> {
        let snap = self
            .inner
            .executions
            .snapshot(name)
            .map_err(|e| self.dberr(e))?;
        let Some(mut history) = snap
            .and_then(|s| serde_json::from_value::<ExecutionSnapshot>(s).ok())
            .map(|s| s.history.to_aws_json())
        else {
            let child = self
                .inner
                .map_runs
                .history(name)
                .map_err(|e| self.dberr(e))?;
            return Ok(child.map(|h| h.to_aws_json()));
        };
        if let Some(info) = self.execution(name)?
            && info.status == ExecutionState::Aborted
            && let Some(events) = history["events"].as_array_mut()
        {
            let last = events.last().and_then(|e| e["id"].as_u64()).unwrap_or(0);
            let at = info.stop_date.unwrap_or(info.start_date);
            events.push(json!({
                "id": last + 1,
                "previousEventId": last,
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "type": "ExecutionAborted",
                "executionAbortedEventDetails": {"error": info.error, "cause": info.cause},
            }));
        }
        Ok(Some(history))
    }

    /// Waits until execution `name` ends (or `timeout` passes).
    pub async fn wait_execution(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<ExecutionInfo, RuntimeError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.execution(name)?
                && e.status != ExecutionState::Running
            {
                return Ok(e);
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::Timeout(format!(
                    "execution '{name}' did not end within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Follows an execution: calls `on_event` with each new history event (GetExecutionHistory
    /// shape) as it is recorded, and returns the execution once it has ended (or at `timeout`).
    pub async fn watch(
        &self,
        name: &str,
        timeout: Duration,
        mut on_event: impl FnMut(&Value),
    ) -> Result<ExecutionInfo, RuntimeError> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0u64;
        loop {
            let info = self.execution(name)?;
            if let Some(h) = self.history(name)? {
                for ev in h["events"].as_array().into_iter().flatten() {
                    let id = ev["id"].as_u64().unwrap_or(0);
                    if id > seen {
                        seen = id;
                        on_event(ev);
                    }
                }
            }
            match info {
                Some(e) if e.status != ExecutionState::Running => return Ok(e),
                _ if Instant::now() > deadline => {
                    return Err(RuntimeError::Timeout(format!(
                        "execution '{name}' did not end within {timeout:?}"
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The job record with this id.
    pub async fn job(
        &self,
        id: &stepscore_core::JobId,
    ) -> Result<Option<stepscore_core::record::JobRecord>, stepscore_core::ports::TableError> {
        use stepscore_core::ports::JobTable;
        self.inner.table.get(id).await
    }

    /// Job records, most recently updated first.
    pub async fn jobs(
        &self,
        filter: &stepscore_core::ports::ListFilter,
    ) -> Result<Vec<stepscore_core::record::JobRecord>, stepscore_core::ports::TableError> {
        use stepscore_core::ports::JobTable;
        self.inner.table.list(filter).await
    }

    /// The log files of every Batch attempt of a Batch job (and of its array children), as
    /// `(batch job id, attempt, stdout, stderr)`, in order.
    pub fn batch_logs(
        &self,
        batch_job_id: &str,
    ) -> Result<Vec<(String, u32, PathBuf, PathBuf)>, RuntimeError> {
        let mut ids = vec![batch_job_id.to_owned()];
        if let Ok(Some(job)) = self.inner.batch.job(batch_job_id)
            && let Some(n) = job.array_size
        {
            ids.extend((0..n).map(|i| format!("{batch_job_id}:{i}")));
        }
        Ok(ids
            .into_iter()
            .flat_map(|id| {
                self.inner
                    .batch
                    .log_files(&id)
                    .into_iter()
                    .map(move |(n, o, e)| (id.clone(), n, o, e))
            })
            .collect())
    }
}
