//! Serving a state directory: the one process that holds `runtime.lock` delivers S3 events,
//! runs executions and runs the local Batch, until its [`Server`] is shut down.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::batch::LocalBatch;
use crate::executions::ExecutionState;

use super::execution_ends::execution_end_pump;
use super::outbox::event_pump;
use super::runner::execution_scheduler;
use super::{LocalRuntime, RuntimeError};

impl LocalRuntime {
    /// True when another process serves this state directory (holds `runtime.lock`); an error
    /// when the lock cannot be opened, so this process could not serve either.
    pub fn served_elsewhere(&self) -> Result<bool, RuntimeError> {
        // the lock is released when the file is dropped
        Ok(self.open_serving_lock()?.try_lock().is_err())
    }

    /// The state directory's `runtime.lock` file, created when missing (not yet locked).
    fn open_serving_lock(&self) -> Result<std::fs::File, RuntimeError> {
        let lock_path = self.inner.config.state_dir.join("runtime.lock");
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| RuntimeError::Database {
                path: lock_path.display().to_string(),
                message: format!("cannot open the serving lock: {e}"),
            })
    }

    /// Runs the pipeline: delivers S3 events, runs executions and Batch jobs, until the returned
    /// server is shut down (or dropped). Only one process per state directory may serve.
    pub fn serve(&self) -> Result<Server, RuntimeError> {
        let lock = self.open_serving_lock()?;
        if lock.try_lock().is_err() {
            return Err(RuntimeError::Busy(
                self.inner.config.state_dir.display().to_string(),
            ));
        }
        let db_path = self.inner.config.state_dir.join("state.db");
        let batch = LocalBatch::start(&db_path, self.inner.batch.config().clone())?;
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(Mutex::new(HashSet::new()));
        let handle = tokio::runtime::Handle::current();
        let pump = handle.spawn(event_pump(self.clone(), stop.clone()));
        let ends = handle.spawn(execution_end_pump(self.clone(), stop.clone()));
        let runner = handle.spawn(execution_scheduler(
            self.clone(),
            stop.clone(),
            active.clone(),
            handle.clone(),
        ));
        tracing::info!(state_dir = %self.inner.config.state_dir.display(), "local runtime serving");
        Ok(Server {
            runtime: self.clone(),
            stop,
            active,
            batch,
            tasks: vec![pump, ends, runner],
            _lock: lock,
        })
    }
}

/// A serving runtime; shut it down to stop (running Batch attempts are killed and retried on
/// the next serve, unfinished executions resume from their snapshots).
pub struct Server {
    runtime: LocalRuntime,
    stop: Arc<AtomicBool>,
    active: Arc<Mutex<HashSet<String>>>,
    batch: LocalBatch,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _lock: std::fs::File,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Server {
    /// True when nothing is left to do: no undelivered events and no unfinished executions.
    pub fn is_idle(&self) -> Result<bool, RuntimeError> {
        let pending = self
            .runtime
            .event_counts()?
            .get("PENDING")
            .copied()
            .unwrap_or(0);
        let running = self
            .runtime
            .list_executions(Some(ExecutionState::Running), 1)?
            .len();
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner()).len();
        let ends = self
            .runtime
            .inner
            .executions
            .undelivered_ends(stepscore_handlers::cleanup::CLEANUP_STATUSES, 1)
            .map_err(|e| self.runtime.dberr(e))?
            .len();
        Ok(pending == 0 && running == 0 && active == 0 && ends == 0)
    }

    /// Waits until idle (or `timeout`).
    pub async fn wait_idle(&self, timeout: Duration) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + timeout;
        // idle must hold twice in a row: an event delivered between the checks starts work
        let mut calm = 0;
        loop {
            if self.is_idle()? {
                calm += 1;
                if calm >= 2 {
                    return Ok(());
                }
            } else {
                calm = 0;
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::Timeout(format!(
                    "the pipeline was still busy after {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops serving.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in &self.tasks {
            t.abort();
        }
        self.batch.shutdown();
        tracing::info!("local runtime stopped");
    }
}
