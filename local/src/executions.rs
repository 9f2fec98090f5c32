//! [`LocalExecutions`]: Step Functions executions kept in the state database — the
//! [`Executions`] port (start idempotent by name) plus what `status`/`history` read.
//!
//! An execution row holds its input and the interpreter's latest snapshot (written after every
//! top-level state), so a process killed at any moment resumes each unfinished execution from
//! its last completed state.
//!
//! The table holds the executions of every state machine of the state directory: the pipeline's
//! (`state_machine` NULL, every row from before the column) and those of definitions run with
//! `stepscore asl run` (their recorded name and version, [`crate::machines`]). A
//! [`LocalExecutions`] lists and delivers only its own machine's, so the serving process never
//! runs another definition's execution with the pipeline's; names are unique across machines.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepscore_core::ports::{ExecutionError, Executions, Started, Stopped};
use tokio::sync::Notify;

use crate::db;

/// An execution's status, as DescribeExecution reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionState {
    /// Not finished.
    Running,
    /// Ended in success.
    Succeeded,
    /// Ended in failure.
    Failed,
    /// Ran past the state machine's TimeoutSeconds.
    TimedOut,
    /// Stopped (StopExecution).
    Aborted,
}

impl ExecutionState {
    /// The AWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Running => "RUNNING",
            ExecutionState::Succeeded => "SUCCEEDED",
            ExecutionState::Failed => "FAILED",
            ExecutionState::TimedOut => "TIMED_OUT",
            ExecutionState::Aborted => "ABORTED",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "SUCCEEDED" => ExecutionState::Succeeded,
            "FAILED" => ExecutionState::Failed,
            "TIMED_OUT" => ExecutionState::TimedOut,
            "ABORTED" => ExecutionState::Aborted,
            _ => ExecutionState::Running,
        }
    }
}

/// One execution, as DescribeExecution shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    /// Execution name.
    pub name: String,
    /// Execution ARN.
    pub execution_arn: String,
    /// Status.
    pub status: ExecutionState,
    /// Input.
    pub input: Value,
    /// Output, on success.
    pub output: Option<Value>,
    /// Error name, on failure.
    pub error: Option<String>,
    /// Cause, on failure.
    pub cause: Option<String>,
    /// When it started.
    pub start_date: DateTime<Utc>,
    /// When it ended.
    pub stop_date: Option<DateTime<Utc>>,
    /// The recorded state machine it ran (`None`: the pipeline's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine: Option<String>,
    /// The version of that state machine's definition it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine_version: Option<u32>,
}

impl From<stepscore_asl::ExecutionStatus> for ExecutionState {
    fn from(s: stepscore_asl::ExecutionStatus) -> Self {
        match s {
            stepscore_asl::ExecutionStatus::Running => ExecutionState::Running,
            stepscore_asl::ExecutionStatus::Succeeded => ExecutionState::Succeeded,
            stepscore_asl::ExecutionStatus::Failed => ExecutionState::Failed,
            stepscore_asl::ExecutionStatus::TimedOut => ExecutionState::TimedOut,
            stepscore_asl::ExecutionStatus::Aborted => ExecutionState::Aborted,
        }
    }
}

/// The executions of one local state machine.
#[derive(Clone)]
pub struct LocalExecutions {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    state_machine_arn: String,
    execution_prefix: String,
    /// The recorded state machine and version whose rows these are (`None`: the pipeline's).
    machine: Option<(String, u32)>,
    started: Notify,
}

impl std::fmt::Debug for LocalExecutions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalExecutions")
            .field("db", &self.inner.path)
            .field("state_machine", &self.inner.state_machine_arn)
            .finish()
    }
}

impl LocalExecutions {
    /// Opens the executions of the pipeline's state machine `name` (region, account for ARNs)
    /// in the database.
    pub fn open(db_path: &Path, region: &str, account: &str, name: &str) -> rusqlite::Result<Self> {
        Self::open_machine(db_path, region, account, name, None)
    }

    /// Opens the executions of version `version` of the recorded state machine `name` (a
    /// definition run with `stepscore asl run`): its rows carry both, and only they are listed.
    pub fn open_recorded(
        db_path: &Path,
        region: &str,
        account: &str,
        name: &str,
        version: u32,
    ) -> rusqlite::Result<Self> {
        Self::open_machine(
            db_path,
            region,
            account,
            name,
            Some((name.to_owned(), version)),
        )
    }

    fn open_machine(
        db_path: &Path,
        region: &str,
        account: &str,
        name: &str,
        machine: Option<(String, u32)>,
    ) -> rusqlite::Result<Self> {
        let conn = db::open(db_path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS executions (
                name TEXT PRIMARY KEY NOT NULL,
                arn TEXT NOT NULL,
                input TEXT NOT NULL,
                status TEXT NOT NULL,
                snapshot TEXT,
                output TEXT,
                error TEXT,
                cause TEXT,
                start_us INTEGER NOT NULL,
                stop_us INTEGER
             );
             CREATE INDEX IF NOT EXISTS executions_status ON executions(status, start_us);
             CREATE INDEX IF NOT EXISTS executions_start_name ON executions(start_us, name);
             CREATE INDEX IF NOT EXISTS executions_status_start_name
                ON executions(status, start_us, name);",
        )?;
        // Whether the execution's end has been delivered as an EventBridge "Execution Status
        // Change" (to cleanup). A database from before the column gets it with every ended
        // execution counted as delivered: those ended before there was anyone to tell.
        if db::add_column(
            &conn,
            "executions",
            "end_delivered",
            "INTEGER NOT NULL DEFAULT 0",
        )? {
            conn.execute(
                "UPDATE executions SET end_delivered = 1 WHERE status != 'RUNNING'",
                [],
            )?;
        }
        db::add_column(&conn, "executions", "state_machine", "TEXT")?;
        db::add_column(&conn, "executions", "state_machine_version", "INTEGER")?;
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS executions_machine_start_name
                ON executions(state_machine, start_us, name);",
        )?;
        Ok(LocalExecutions {
            inner: Arc::new(Inner {
                path: db_path.to_path_buf(),
                conn: Mutex::new(conn),
                state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{name}"),
                execution_prefix: format!("arn:aws:states:{region}:{account}:execution:{name}:"),
                machine,
                started: Notify::new(),
            }),
        })
    }

    /// The state machine's ARN.
    pub fn state_machine_arn(&self) -> &str {
        &self.inner.state_machine_arn
    }

    /// Resolves when an execution has been started since the last call (for the runner).
    pub async fn started(&self) {
        self.inner.started.notified().await
    }

    /// One execution.
    pub fn describe(&self, name: &str) -> rusqlite::Result<Option<ExecutionInfo>> {
        let c = self.lock();
        c.query_row(
            &format!("{SELECT} WHERE name = ?1"),
            params![name],
            row_info,
        )
        .optional()
    }

    /// Executions, newest first, optionally only those in one status.
    pub fn list(
        &self,
        status: Option<ExecutionState>,
        limit: usize,
    ) -> rusqlite::Result<Vec<ExecutionInfo>> {
        let c = self.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let machine = self.machine_name();
        match status {
            Some(s) => c
                .prepare(&format!(
                    "{SELECT} WHERE status = ?1 AND state_machine IS ?3
                     ORDER BY start_us DESC, name LIMIT ?2"
                ))?
                .query_map(params![s.as_str(), limit, machine], row_info)?
                .collect(),
            None => c
                .prepare(&format!(
                    "{SELECT} WHERE state_machine IS ?2 ORDER BY start_us DESC, name LIMIT ?1"
                ))?
                .query_map(params![limit, machine], row_info)?
                .collect(),
        }
    }

    /// The latest snapshot of an execution (`None` before its first state ran). Stored text
    /// that is not JSON is `FromSqlConversionFailure`, told apart from a failed read: it will
    /// not read better next time.
    pub fn snapshot(&self, name: &str) -> rusqlite::Result<Option<Value>> {
        let c = self.lock();
        let text: Option<Option<String>> = c
            .query_row(
                "SELECT snapshot FROM executions WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        text.flatten()
            .map(|t| {
                serde_json::from_str(&t).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e))
                })
            })
            .transpose()
    }

    /// Writes an execution's snapshot, and its outcome once it has ended.
    pub fn save(
        &self,
        name: &str,
        snapshot: &Value,
        status: ExecutionState,
        output: Option<&Value>,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> rusqlite::Result<()> {
        let c = self.lock();
        let stop = (status != ExecutionState::Running).then(|| Utc::now().timestamp_micros());
        c.execute(
            "UPDATE executions SET snapshot = ?1, status = ?2, output = ?3, error = ?4, cause = ?5, stop_us = ?6
             WHERE name = ?7 AND status = 'RUNNING'",
            params![
                snapshot.to_string(),
                status.as_str(),
                output.map(Value::to_string),
                error,
                cause,
                stop,
                name
            ],
        )?;
        Ok(())
    }

    /// Writes the snapshot of an execution that was stopped while a state ran (its row is
    /// ABORTED, which `save` leaves alone), so its history shows how that state ended.
    pub fn save_stopped_snapshot(&self, name: &str, snapshot: &Value) -> rusqlite::Result<()> {
        self.lock().execute(
            "UPDATE executions SET snapshot = ?1 WHERE name = ?2 AND status = 'ABORTED'",
            params![snapshot.to_string(), name],
        )?;
        Ok(())
    }

    /// Executions that ended in one of `statuses` whose end has not been delivered yet, oldest
    /// first.
    pub fn undelivered_ends(
        &self,
        statuses: &[&str],
        limit: usize,
    ) -> rusqlite::Result<Vec<ExecutionInfo>> {
        let c = self.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        c.prepare(&format!(
            "{SELECT} WHERE end_delivered = 0 AND status IN ({list}) AND state_machine IS ?2
             ORDER BY stop_us, name LIMIT ?1"
        ))?
        .query_map(params![limit, self.machine_name()], row_info)?
        .collect()
    }

    /// Records that execution `name`'s end has been delivered.
    pub fn mark_end_delivered(&self, name: &str) -> rusqlite::Result<()> {
        self.lock().execute(
            "UPDATE executions SET end_delivered = 1 WHERE name = ?1",
            params![name],
        )?;
        Ok(())
    }

    /// [`Executions::start`] on the calling thread (for a caller outside an async runtime, or
    /// one whose runtime must not be blocked inside: `stepscore asl run`).
    pub fn start_blocking(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        if !stepscore_core::id::is_execution_name(name) {
            return Err(ExecutionError::Other {
                name: name.into(),
                message: "execution names are 1-80 characters of letters, digits, '-' and '_'"
                    .into(),
            });
        }
        let arn = self.execution_arn(name);
        let (machine, version) = match &self.inner.machine {
            Some((m, v)) => (Some(m.as_str()), Some(*v)),
            None => (None, None),
        };
        let result = (|| {
            let c = self.lock();
            let n = c.execute(
                "INSERT INTO executions (name, arn, input, status, start_us, state_machine, state_machine_version)
                 VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, ?6)
                 ON CONFLICT(name) DO NOTHING",
                params![name, arn, input.to_string(), Utc::now().timestamp_micros(), machine, version],
            )?;
            if n == 1 {
                return Ok(Ok(Started::Started { execution_arn: arn.clone() }));
            }
            let existing: String = c.query_row("SELECT input FROM executions WHERE name = ?1", params![name], |r| r.get(0))?;
            let same = serde_json::from_str::<Value>(&existing).is_ok_and(|v| v == *input);
            Ok(if same {
                Ok(Started::AlreadyExists { execution_arn: arn.clone() })
            } else {
                Err(ExecutionError::NameConflict {
                    name: name.to_owned(),
                    message: "ExecutionAlreadyExists: start it under a new name, or with the same input".into(),
                })
            })
        })()
        .map_err(|e: rusqlite::Error| ExecutionError::Transient { name: String::new(), message: format!("executions database: {e}") })?;
        if let Ok(Started::Started { execution_arn }) = &result {
            tracing::info!(execution_arn = %execution_arn, "execution started");
            self.inner.started.notify_one();
        }
        result
    }

    /// The `state_machine` column of this machine's rows.
    fn machine_name(&self) -> Option<&str> {
        self.inner.machine.as_ref().map(|(n, _)| n.as_str())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const SELECT: &str = "SELECT name, arn, status, input, output, error, cause, start_us, stop_us,
    state_machine, state_machine_version FROM executions";

fn row_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionInfo> {
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    let status: String = r.get(2)?;
    Ok(ExecutionInfo {
        name: r.get(0)?,
        execution_arn: r.get(1)?,
        status: ExecutionState::parse(&status),
        input: json(r.get(3)?).unwrap_or(Value::Null),
        output: json(r.get(4)?),
        error: r.get(5)?,
        cause: r.get(6)?,
        start_date: time(r.get(7)?),
        stop_date: r.get::<_, Option<i64>>(8)?.map(time),
        state_machine: r.get(9)?,
        state_machine_version: r.get(10)?,
    })
}

#[async_trait]
impl Executions for LocalExecutions {
    fn execution_arn(&self, name: &str) -> String {
        format!("{}{name}", self.inner.execution_prefix)
    }

    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        let this = self.clone();
        let (name, input) = (name.to_owned(), input.clone());
        tokio::task::spawn_blocking(move || this.start_blocking(&name, &input))
            .await
            .map_err(|e| ExecutionError::Transient {
                name: String::new(),
                message: e.to_string(),
            })?
    }

    async fn stop(&self, name: &str, error: &str, cause: &str) -> Result<Stopped, ExecutionError> {
        let this = self.clone();
        let (name, error, cause) = (name.to_owned(), error.to_owned(), cause.to_owned());
        let arn = self.execution_arn(&name);
        tokio::task::spawn_blocking(move || {
            let c = this.lock();
            let status: Option<String> = c
                .query_row(
                    "SELECT status FROM executions WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(status) = status else {
                return Ok(Stopped::NotFound);
            };
            // the runner's snapshot writes are conditional on RUNNING, so from here on they
            // change nothing, and it stops before its next state
            let n = c.execute(
                "UPDATE executions SET status = 'ABORTED', error = ?1, cause = ?2, stop_us = ?3
                 WHERE name = ?4 AND status = 'RUNNING'",
                params![error, cause, Utc::now().timestamp_micros(), name],
            )?;
            Ok(if n == 1 {
                tracing::info!(execution_arn = %arn, "execution stopped");
                Stopped::Stopped { execution_arn: arn }
            } else {
                Stopped::AlreadyEnded {
                    execution_arn: arn,
                    status,
                }
            })
        })
        .await
        .map_err(|e| ExecutionError::Transient {
            name: String::new(),
            message: e.to_string(),
        })?
        .map_err(|e: rusqlite::Error| ExecutionError::Transient {
            name: String::new(),
            message: format!("executions database: {e}"),
        })
    }
}
