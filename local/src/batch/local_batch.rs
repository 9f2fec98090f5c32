//! [`LocalBatch`]: the local Batch opened on the state database, its executor thread, and
//! the reads `status` and `logs` use.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use stepscore_core::ports::BatchError;

use super::BatchConfig;
use super::error::LocalBatchError;
use super::executor::{self, Executor};
use super::jobs_table::{self, LocalJob, load_job, transient};

/// AWS Batch on one machine.
#[derive(Clone)]
pub struct LocalBatch {
    inner: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    config: BatchConfig,
    conn: Mutex<Connection>,
    wake: Mutex<Sender<()>>,
    stop: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl fmt::Debug for LocalBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBatch")
            .field("db", &self.inner.path)
            .finish()
    }
}

impl LocalBatch {
    /// Opens the local Batch on the database at `db_path` and starts its executor thread,
    /// first recovering jobs a previous process left running.
    pub fn start(db_path: &Path, config: BatchConfig) -> Result<Self, LocalBatchError> {
        Self::open_inner(db_path, config, true)
    }

    /// Opens the local Batch without running jobs: submit and describe work (jobs wait for the
    /// process that [`start`](Self::start)s an executor on the same database).
    pub fn open(db_path: &Path, config: BatchConfig) -> Result<Self, LocalBatchError> {
        Self::open_inner(db_path, config, false)
    }

    fn open_inner(db_path: &Path, config: BatchConfig, run: bool) -> Result<Self, LocalBatchError> {
        config.check().map_err(LocalBatchError::Config)?;
        let dberr = |e: rusqlite::Error| LocalBatchError::Database {
            path: db_path.display().to_string(),
            message: e.to_string(),
        };
        let conn = jobs_table::open(db_path).map_err(dberr)?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            path: db_path.to_path_buf(),
            config: config.clone(),
            conn: Mutex::new(conn),
            wake: Mutex::new(tx),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        if run {
            let exec = Executor::open(db_path, config)?;
            // the thread holds no strong handle: dropping the last LocalBatch stops it too
            let weak = Arc::downgrade(&shared);
            let stopped = move || weak.upgrade().is_none_or(|s| s.stop.load(Ordering::SeqCst));
            let handle = executor::spawn(exec, stopped, rx).map_err(|e| {
                LocalBatchError::Config(format!("cannot start the executor thread: {e}"))
            })?;
            *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
        Ok(LocalBatch { inner: shared })
    }

    /// Stops the executor, killing running attempts (they are retried after the next start,
    /// like jobs on a lost host).
    pub fn shutdown(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = self.inner.wake.lock().map(|w| w.send(()));
        let handle = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// The connection the port's calls and the reads share.
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the executor (a job submitted or terminated), so it need not wait for its tick.
    pub(super) fn wake_executor(&self) {
        let _ = self.inner.wake.lock().map(|w| w.send(()));
    }

    /// The configuration.
    pub fn config(&self) -> &BatchConfig {
        &self.inner.config
    }

    /// Every job (array children included), newest first.
    pub fn jobs(&self) -> Result<Vec<LocalJob>, BatchError> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT id FROM batch_jobs ORDER BY seq DESC")
            .map_err(transient)?;
        let ids: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(transient)?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(j) = load_job(&c, &id).map_err(transient)? {
                out.push(j);
            }
        }
        Ok(out)
    }

    /// One job, with an array parent's status derived from its children.
    pub fn job(&self, job_id: &str) -> Result<Option<LocalJob>, BatchError> {
        let c = self.conn();
        load_job(&c, job_id).map_err(transient)
    }

    /// Asks the executor running job `job_id` (or its array children) to reclaim its spot
    /// attempt now, as [`SpotReclaim`](super::SpotReclaim) injection does: the attempt is killed
    /// with a `Host EC2 (instance …) terminated.` reason and the retry strategy decides. Returns
    /// how many running attempts were marked (0 when none runs).
    pub fn request_reclaim(&self, job_id: &str) -> Result<usize, BatchError> {
        let n = self
            .conn()
            .execute(
                "UPDATE batch_jobs SET reclaim_requested = 1
                 WHERE (id = ?1 OR parent_id = ?1) AND status = 'RUNNING'",
                [job_id],
            )
            .map_err(transient)?;
        self.wake_executor();
        Ok(n)
    }

    /// The stdout and stderr files of each attempt of a job, oldest first.
    pub fn log_files(&self, job_id: &str) -> Vec<(u32, PathBuf, PathBuf)> {
        let dir = self.inner.config.logs_dir.join(job_id);
        (1..=10)
            .map(|n| {
                (
                    n,
                    dir.join(format!("attempt-{n}.stdout")),
                    dir.join(format!("attempt-{n}.stderr")),
                )
            })
            .filter(|(_, o, e)| o.exists() || e.exists())
            .collect()
    }
}
