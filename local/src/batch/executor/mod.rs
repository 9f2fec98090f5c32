//! The executor: one thread per serving process that moves jobs along `SUBMITTED → PENDING →
//! RUNNABLE → STARTING → RUNNING → SUCCEEDED | FAILED`, one step per tick, and runs each
//! attempt as a child process.
//!
//! - `launch`: placing a job on a compute environment and starting its process.
//! - `reap`: timeouts, reclaims, TerminateJob, and attempts that ended.
//! - `recover`: jobs a previous process left placed on a host.

mod launch;
mod reap;
mod recover;

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use stepscore_core::batch::{BatchStatus, SubmitJobRequest};

use crate::db;

use super::config::{BatchConfig, JobQueue};
use super::jobs_table::now_us;
use reap::Running;

/// The executor's state: its own connection, and the attempts it runs.
pub(super) struct Executor {
    conn: Connection,
    config: BatchConfig,
    running: HashMap<String, Running>,
    reclaims_done: u32,
}

struct Row {
    id: String,
    queue: String,
    request: SubmitJobRequest,
    array_index: Option<u32>,
    attempts: u32,
    pid: Option<u32>,
}

/// Starts the executor's thread: a tick, then a wait for a wake-up (a submit, a terminate) or
/// the next tick, until `stopped` says so or the waker is gone; running attempts are killed then.
pub(super) fn spawn(
    mut exec: Executor,
    stopped: impl Fn() -> bool + Send + 'static,
    wake: Receiver<()>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("local-batch".into())
        .spawn(move || {
            loop {
                if stopped() {
                    exec.kill_all();
                    return;
                }
                exec.tick();
                let wait = if exec.running.is_empty() {
                    exec.config.tick * 4
                } else {
                    exec.config.tick
                };
                match wake.recv_timeout(wait) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        exec.kill_all();
                        return;
                    }
                }
            }
        })
}

impl Executor {
    /// The executor of the database at `db_path`, after recovering the jobs a previous process
    /// left placed on a host.
    pub(super) fn open(db_path: &Path, config: BatchConfig) -> rusqlite::Result<Self> {
        let mut exec = Executor {
            conn: db::open(db_path)?,
            config,
            running: HashMap::new(),
            reclaims_done: 0,
        };
        exec.recover();
        Ok(exec)
    }

    fn rows(&self, statuses: &[&str]) -> Vec<Row> {
        let sql = format!(
            "SELECT id, queue, status, request, array_index, attempts, pid FROM batch_jobs
             WHERE array_size IS NULL AND status IN ({}) ORDER BY seq",
            statuses
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let result = self.conn.prepare_cached(&sql).and_then(|mut st| {
            st.query_map([], |r| {
                let status: String = r.get(2)?;
                let request: String = r.get(3)?;
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    status,
                    request,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        });
        match result {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|(id, queue, status, request, array_index, attempts, pid)| {
                    let request = serde_json::from_str(&request)
                        .map_err(|e| tracing::error!(job_id = %id, error = %e, "unreadable batch job request"))
                        .ok()?;
                    BatchStatus::parse(&status)?;
                    Some(Row { id, queue, request, array_index, attempts, pid })
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "local Batch could not read its jobs; retrying next tick");
                Vec::new()
            }
        }
    }

    fn set(&self, id: &str, status: BatchStatus, extra: &[(&str, rusqlite::types::Value)]) {
        let mut sql = String::from("UPDATE batch_jobs SET status = ?1, updated_us = ?2");
        let mut args: Vec<rusqlite::types::Value> =
            vec![status.as_str().to_owned().into(), now_us().into()];
        for (col, v) in extra {
            args.push(v.clone());
            sql.push_str(&format!(", {col} = ?{}", args.len()));
        }
        args.push(id.to_owned().into());
        sql.push_str(&format!(" WHERE id = ?{}", args.len()));
        // contention is waited out by the busy timeout; a persistent failure is logged and the
        // step is redone next tick from the unchanged row
        for _ in 0..5 {
            match self
                .conn
                .execute(&sql, rusqlite::params_from_iter(args.iter()))
            {
                Ok(_) => {
                    tracing::debug!(job_id = %id, status = status.as_str(), "batch job status");
                    return;
                }
                Err(e) => {
                    tracing::warn!(job_id = %id, error = %e, "local Batch could not record a job's status")
                }
            }
        }
    }

    fn tick(&mut self) {
        self.reap();
        // one step per tick, as AWS shows each state for a while
        for row in self.rows(&["PENDING"]) {
            self.set(&row.id, BatchStatus::Runnable, &[]);
        }
        for row in self.rows(&["SUBMITTED"]) {
            self.set(&row.id, BatchStatus::Pending, &[]);
        }
        self.place();
    }

    fn queue(&self, name: &str) -> Option<&JobQueue> {
        self.config.queues.iter().find(|q| q.name == name)
    }

    fn place(&mut self) {
        let mut runnable = self.rows(&["RUNNABLE"]);
        // higher-priority queues first; within a priority, first submitted first (stable sort)
        runnable.sort_by_key(|r| {
            std::cmp::Reverse(self.queue(&r.queue).map(|q| q.priority).unwrap_or(0))
        });
        for row in runnable {
            let Some(q) = self.queue(&row.queue).cloned() else {
                self.set(
                    &row.id,
                    BatchStatus::Failed,
                    &[(
                        "status_reason",
                        format!("job queue '{}' no longer exists", row.queue).into(),
                    )],
                );
                continue;
            };
            let Some(ce) = self
                .config
                .compute_environments
                .iter()
                .find(|c| c.name == q.compute_environment)
                .cloned()
            else {
                continue;
            };
            let (need_cpu, need_mem) = (row.request.vcpus.max(1), row.request.memory_mib);
            if need_cpu > ce.vcpus || need_mem > ce.memory_mib {
                self.set(&row.id, BatchStatus::Failed, &[(
                    "status_reason",
                    format!(
                        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement ({need_cpu} vCPU, {need_mem} MiB) is higher than compute environment '{}' can meet ({} vCPU, {} MiB)",
                        ce.name, ce.vcpus, ce.memory_mib
                    )
                    .into(),
                )]);
                continue;
            }
            let (used_cpu, used_mem) = self
                .running
                .values()
                .filter(|r| r.compute_environment == ce.name)
                .fold((0, 0), |(c, m), r| (c + r.vcpus, m + r.memory_mib));
            if used_cpu + need_cpu > ce.vcpus || used_mem + need_mem > ce.memory_mib {
                continue;
            }
            self.launch(row, &q, &ce);
        }
    }
}
