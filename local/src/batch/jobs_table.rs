//! The `batch_jobs` table: its schema, and how a job is read from it (an array parent's
//! status and reason derived from its children, as AWS does).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use stepscore_core::batch::{ArrayChildFailure, BatchStatus};
use stepscore_core::ports::BatchError;

use crate::db;

use super::reasons::{ARRAY_CHILD_FAILED_REASON, EXITED_REASON};

/// One job as the local Batch keeps it (for `status`, `logs`, listings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalJob {
    /// Batch job id (`<parent>:<index>` for an array child).
    pub job_id: String,
    /// Job name.
    pub job_name: String,
    /// Queue.
    pub job_queue: String,
    /// Status.
    pub status: BatchStatus,
    /// statusReason.
    pub status_reason: Option<String>,
    /// Last attempt's exit code.
    pub exit_code: Option<i32>,
    /// Last attempt's container reason.
    pub container_reason: Option<String>,
    /// Attempts started.
    pub attempts: u32,
    /// The parent's id, for an array child.
    pub parent_id: Option<String>,
    /// Array index, for an array child.
    pub array_index: Option<u32>,
    /// Array size, for an array parent.
    pub array_size: Option<u32>,
}

/// Opens the database at `db_path` with the `batch_jobs` table (created, or brought up to date
/// when an older stepscore made it).
pub(super) fn open(db_path: &Path) -> rusqlite::Result<Connection> {
    let conn = db::open(db_path)?;
    conn.execute_batch(SCHEMA)?;
    // TerminateJob's reason, set by whichever process asked; the executor that runs the job
    // ends it (a database from an older stepscore lacks the column)
    db::add_column(&conn, "batch_jobs", "terminate_reason", "TEXT")?;
    // a spot reclaim asked for by hand (the console), carried out by the executor running the
    // attempt, as `SpotReclaim` injection does
    db::add_column(
        &conn,
        "batch_jobs",
        "reclaim_requested",
        "INTEGER NOT NULL DEFAULT 0",
    )?;
    Ok(conn)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batch_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    request TEXT NOT NULL,
    parent_id TEXT,
    array_index INTEGER,
    array_size INTEGER,
    status TEXT NOT NULL,
    status_reason TEXT,
    exit_code INTEGER,
    container_reason TEXT,
    attempts INTEGER NOT NULL,
    compute_environment TEXT,
    pid INTEGER,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_jobs_status ON batch_jobs(status, seq);
CREATE INDEX IF NOT EXISTS batch_jobs_parent ON batch_jobs(parent_id);
";

/// One job, `None` when no job has this id.
pub(super) fn load_job(c: &Connection, id: &str) -> rusqlite::Result<Option<LocalJob>> {
    let job = c
        .query_row(
            "SELECT id, name, queue, status, status_reason, exit_code, container_reason, attempts, parent_id, array_index, array_size
             FROM batch_jobs WHERE id = ?1",
            params![id],
            |r| {
                let status: String = r.get(3)?;
                Ok(LocalJob {
                    job_id: r.get(0)?,
                    job_name: r.get(1)?,
                    job_queue: r.get(2)?,
                    status: BatchStatus::parse(&status).unwrap_or(BatchStatus::Failed),
                    status_reason: r.get(4)?,
                    exit_code: r.get(5)?,
                    container_reason: r.get(6)?,
                    attempts: r.get(7)?,
                    parent_id: r.get(8)?,
                    array_index: r.get(9)?,
                    array_size: r.get(10)?,
                })
            },
        )
        .optional()?;
    let Some(mut job) = job else { return Ok(None) };
    if job.array_size.is_some() {
        // an array parent's state is its children's, summarised the way AWS does
        let s = child_summary(c, &job.job_id)?;
        let n = |k: &str| s.get(k).copied().unwrap_or(0);
        let total: u32 = s.values().sum();
        job.status = if n("SUCCEEDED") + n("FAILED") == total {
            if n("FAILED") > 0 {
                BatchStatus::Failed
            } else {
                BatchStatus::Succeeded
            }
        } else if n("RUNNING") > 0 || n("SUCCEEDED") + n("FAILED") > 0 {
            BatchStatus::Running
        } else if n("STARTING") > 0 {
            BatchStatus::Starting
        } else if n("RUNNABLE") > 0 {
            BatchStatus::Runnable
        } else {
            BatchStatus::Pending
        };
        job.status_reason = match job.status {
            BatchStatus::Failed => Some(ARRAY_CHILD_FAILED_REASON.into()),
            BatchStatus::Succeeded => Some(EXITED_REASON.into()),
            _ => None,
        };
    }
    Ok(Some(job))
}

/// An array parent's failed children, as ListJobs with `arrayJobId` and `FAILED` lists them.
pub(super) fn failed_children(
    c: &Connection,
    parent: &str,
) -> rusqlite::Result<Vec<ArrayChildFailure>> {
    let mut st = c.prepare_cached(
        "SELECT array_index, status_reason, exit_code, container_reason FROM batch_jobs
         WHERE parent_id = ?1 AND status = 'FAILED' ORDER BY array_index",
    )?;
    st.query_map(params![parent], |r| {
        Ok(ArrayChildFailure {
            index: r.get(0)?,
            status_reason: r.get(1)?,
            exit_code: r.get(2)?,
            container_reason: r.get(3)?,
        })
    })?
    .collect()
}

/// How many of an array parent's children are in each status (every status named).
pub(super) fn child_summary(
    c: &Connection,
    parent: &str,
) -> rusqlite::Result<BTreeMap<String, u32>> {
    let mut summary: BTreeMap<String, u32> = [
        "STARTING",
        "FAILED",
        "RUNNING",
        "SUCCEEDED",
        "RUNNABLE",
        "SUBMITTED",
        "PENDING",
    ]
    .into_iter()
    .map(|s| (s.to_owned(), 0))
    .collect();
    let mut st = c.prepare_cached(
        "SELECT status, COUNT(*) FROM batch_jobs WHERE parent_id = ?1 GROUP BY status",
    )?;
    let rows = st.query_map(params![parent], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
    })?;
    for row in rows {
        let (s, n) = row?;
        summary.insert(s, n);
    }
    Ok(summary)
}

/// Now, as the table keeps times: microseconds since the Unix epoch.
pub(super) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A database failure as the port reports it: transient, the caller may retry.
pub(super) fn transient(e: rusqlite::Error) -> BatchError {
    BatchError::Transient {
        message: format!("local Batch database: {e}"),
    }
}
