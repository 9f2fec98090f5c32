//! The executor's reads and writes of the `batch_jobs` table: the jobs in given statuses, and
//! status changes — a guard written before its action, or an outcome kept until it is written.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use stepscore_core::batch::{BatchStatus, SubmitJobRequest};

use crate::db;

use super::super::jobs_table::now_us;
use super::Executor;

/// A job as the executor acts on it.
pub(super) struct Row {
    pub(super) id: String,
    pub(super) queue: String,
    pub(super) request: SubmitJobRequest,
    pub(super) array_index: Option<u32>,
    pub(super) attempts: u32,
    pub(super) pid: Option<u32>,
}

/// Column values a status change writes beside the status.
pub(super) type Fields = Vec<(&'static str, Value)>;

/// Outcomes of attempts that ended but could not be written yet, by job id.
pub(super) type Unrecorded = BTreeMap<String, (BatchStatus, Fields)>;

impl Executor {
    /// The jobs (array children, never their parents) in `statuses`, first submitted first. A
    /// job whose stored request cannot be read is failed, naming it and the problem, rather
    /// than left to be skipped on every tick.
    pub(super) fn rows(&self, statuses: &[&str]) -> Vec<Row> {
        let sql = format!(
            "SELECT id, queue, request, array_index, attempts, pid FROM batch_jobs
             WHERE array_size IS NULL AND status IN ({}) ORDER BY seq",
            statuses
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let read = self.conn.prepare_cached(&sql).and_then(|mut st| {
            st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        });
        let rows = match read {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(db = %self.path.display(), error = %e, "local Batch could not read its jobs; retrying next tick");
                return Vec::new();
            }
        };
        rows.into_iter()
            .filter_map(|(id, queue, request, array_index, attempts, pid)| {
                match serde_json::from_str(&request) {
                    Ok(request) => Some(Row {
                        id,
                        queue,
                        request,
                        array_index,
                        attempts,
                        pid,
                    }),
                    Err(e) => {
                        self.fail_unreadable(&id, &e);
                        None
                    }
                }
            })
            .collect()
    }

    fn fail_unreadable(&self, id: &str, e: &serde_json::Error) {
        let reason = format!(
            "local Batch cannot read job {id}'s stored request ({}, batch_jobs.request): {e}; submit the job again",
            self.path.display()
        );
        tracing::error!(job_id = id, error = %e, "unreadable batch job request: failing the job");
        self.step(id, BatchStatus::Failed, &[("status_reason", reason.into())]);
    }

    /// Writes job `id`'s status and `fields`. Contention is waited out by the busy timeout (and a
    /// few more tries); any other failure is returned, for the caller to hold back what the
    /// change guards.
    pub(super) fn set(
        &self,
        id: &str,
        status: BatchStatus,
        fields: &[(&str, Value)],
    ) -> rusqlite::Result<()> {
        let mut sql = String::from("UPDATE batch_jobs SET status = ?1, updated_us = ?2");
        let mut args: Vec<Value> = vec![status.as_str().to_owned().into(), now_us().into()];
        for (col, v) in fields {
            args.push(v.clone());
            sql.push_str(&format!(", {col} = ?{}", args.len()));
        }
        args.push(id.to_owned().into());
        sql.push_str(&format!(" WHERE id = ?{}", args.len()));
        let mut tries = 1;
        loop {
            match self
                .conn
                .execute(&sql, rusqlite::params_from_iter(args.iter()))
            {
                Ok(_) => {
                    tracing::debug!(job_id = %id, status = status.as_str(), "batch job status");
                    return Ok(());
                }
                Err(e) if db::is_busy(&e) && tries < 5 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// A step that only the row records (no process hangs on it): one the database refuses is
    /// taken again from the unchanged row on a later tick.
    pub(super) fn step(&self, id: &str, status: BatchStatus, fields: &[(&str, Value)]) {
        if let Err(e) = self.set(id, status, fields) {
            tracing::warn!(job_id = %id, status = status.as_str(), db = %self.path.display(), error = %e, "local Batch could not record a job's status; trying again next tick");
        }
    }

    /// Records how an attempt ended. The attempt is over whether or not the row says so, so an
    /// outcome the database refuses is kept and written again on every tick until it goes in;
    /// meanwhile the row still shows the attempt running.
    pub(super) fn record(&mut self, id: &str, status: BatchStatus, fields: Fields) {
        if let Err(e) = self.set(id, status, &fields) {
            tracing::error!(job_id = %id, status = status.as_str(), db = %self.path.display(), error = %e, "local Batch could not record how an attempt ended; writing it again every tick");
            self.unrecorded.insert(id.to_owned(), (status, fields));
        }
    }

    /// Writes the outcomes [`record`](Self::record) could not, keeping those still refused.
    pub(super) fn record_unrecorded(&mut self) {
        for (id, (status, fields)) in std::mem::take(&mut self.unrecorded) {
            match self.set(&id, status, &fields) {
                Ok(()) => {
                    tracing::info!(job_id = %id, status = status.as_str(), "recorded an attempt's end the database had refused")
                }
                Err(_) => {
                    self.unrecorded.insert(id, (status, fields));
                }
            }
        }
    }
}
