//! The executor: one thread per serving process that moves jobs along `SUBMITTED → PENDING →
//! RUNNABLE → STARTING → RUNNING → SUCCEEDED | FAILED`, one step per tick, and runs each
//! attempt as a child process.
//!
//! - `launch`: placing a job on a compute environment and starting its process.
//! - `reap`: timeouts, reclaims, TerminateJob, and attempts that ended.
//! - `recover`: jobs a previous process left placed on a host.
//! - `records`: the executor's reads and writes of the job rows.
//!
//! A status change that guards an action is written first, and the action waits while the
//! database refuses it: no process starts for a job not recorded as STARTING, none runs on
//! unrecorded as RUNNING. An attempt's end is kept until it is written.

mod launch;
mod reap;
mod records;
mod recover;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use stepscore_core::batch::BatchStatus;

use crate::db;

use super::config::{BatchConfig, JobQueue};
use super::error::LocalBatchError;
use reap::Running;
use records::Unrecorded;

/// The executor's state: its own connection, the attempts it runs, and the outcomes of ended
/// attempts the database has not taken yet.
pub(super) struct Executor {
    conn: Connection,
    path: PathBuf,
    config: BatchConfig,
    running: HashMap<String, Running>,
    unrecorded: Unrecorded,
    reclaims_done: u32,
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
    /// left placed on a host; an error when that cannot be recorded.
    pub(super) fn open(db_path: &Path, config: BatchConfig) -> Result<Self, LocalBatchError> {
        let dberr = |message: String| LocalBatchError::Database {
            path: db_path.display().to_string(),
            message,
        };
        let mut exec = Executor {
            conn: db::open(db_path).map_err(|e| dberr(e.to_string()))?,
            path: db_path.to_path_buf(),
            config,
            running: HashMap::new(),
            unrecorded: Unrecorded::new(),
            reclaims_done: 0,
        };
        exec.recover().map_err(dberr)?;
        Ok(exec)
    }

    fn tick(&mut self) {
        self.record_unrecorded();
        self.reap();
        // one step per tick, as AWS shows each state for a while
        for row in self.rows(&["PENDING"]) {
            self.step(&row.id, BatchStatus::Runnable, &[]);
        }
        for row in self.rows(&["SUBMITTED"]) {
            self.step(&row.id, BatchStatus::Pending, &[]);
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
                self.step(
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
                self.step(&row.id, BatchStatus::Failed, &[(
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
