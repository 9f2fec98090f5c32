//! [`LocalBatch`]: AWS Batch on one machine — job queues with priorities over compute
//! environments with vCPU and memory capacity, AWS's job states, retry strategies, attempt
//! timeouts, array jobs, per-attempt logs and spot-reclaim injection, running each attempt as a
//! child process with the environment a Batch container gets.
//!
//! Jobs live in the state database (table `batch_jobs`), so Batch's view survives a restart.
//! One executor thread moves jobs along: `SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING →
//! SUCCEEDED | FAILED`, a failed attempt going back to `RUNNABLE` while the retry strategy says
//! `RETRY` and attempts remain (as AWS does).
//!
//! # Restart
//! A job that was `STARTING` or `RUNNING` when the executor's process died has lost its host,
//! exactly as when an EC2 instance disappears: its orphaned child (if still alive and provably
//! that job's, by its environment) is killed, and the attempt fails with statusReason
//! `Host EC2 (instance i-…) terminated.` — the retry strategy then decides (the scoring strategy
//! retries host loss), and an exhausted spot job lets the state machine fall back to on-demand.
//! The scorer's outputs are written atomically per part, so a re-run replaces them, never mixes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use stepscore_core::batch::{
    ArrayChildFailure, BatchJobView, BatchStatus, RetryAction, SubmitJobRequest,
};
use stepscore_core::ports::{BatchError, BatchService, SubmittedJob};

use crate::db;

/// The statusReason AWS gives an attempt killed for running past its timeout.
pub const TIMEOUT_REASON: &str = "Job attempt duration exceeded timeout";
/// The statusReason AWS gives a container that ran (successfully or not).
pub const EXITED_REASON: &str = "Essential container in task exited";
/// The statusReason AWS gives a failed array parent.
pub const ARRAY_CHILD_FAILED_REASON: &str = "Array Child Job failed";

/// A compute environment: a pool of vCPUs and memory, spot or on-demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeEnvironment {
    /// Its name (`AWS_BATCH_CE_NAME`).
    pub name: String,
    /// Total vCPUs.
    pub vcpus: u32,
    /// Total memory, MiB.
    pub memory_mib: u32,
    /// True for spot capacity (subject to reclaim injection).
    pub spot: bool,
}

/// A job queue feeding one compute environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobQueue {
    /// Its name (what SubmitJob's jobQueue names).
    pub name: String,
    /// Higher runs first when queues share a compute environment.
    pub priority: i32,
    /// The compute environment it places jobs on.
    pub compute_environment: String,
}

/// What a job definition runs: the container's command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDefinition {
    /// Program and arguments.
    pub command: Vec<String>,
}

/// Injected spot interruptions: the way AWS reclaims a spot instance under a running job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotReclaim {
    /// Kill a spot attempt this many seconds after it starts running.
    pub after_seconds: f64,
    /// Reclaim at most this many attempts (then spot runs undisturbed).
    pub times: u32,
    /// Only once the attempt's stdout or stderr contains this text (a progress line of the
    /// scorer, say): reclaims at a given point of the work rather than at a time.
    #[serde(default)]
    pub when_output_contains: Option<String>,
}

/// The local Batch's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchConfig {
    /// Compute environments.
    pub compute_environments: Vec<ComputeEnvironment>,
    /// Job queues.
    pub queues: Vec<JobQueue>,
    /// Job definitions by name.
    pub job_definitions: BTreeMap<String, JobDefinition>,
    /// Where each attempt's stdout and stderr are kept.
    pub logs_dir: PathBuf,
    /// Spot interruptions to inject, if any.
    pub spot_reclaim: Option<SpotReclaim>,
    /// Environment given to every container (e.g. `STEPSCORE_LOCAL_S3_ROOT`).
    pub environment: BTreeMap<String, String>,
    /// How often the executor looks at running jobs.
    pub tick: Duration,
}

/// The spot queue's name in the local world.
pub const SPOT_QUEUE: &str = "stepscore-spot";
/// The on-demand queue's name in the local world.
pub const ON_DEMAND_QUEUE: &str = "stepscore-on-demand";
/// The scoring job definition's name in the local world.
pub const SCORING_JOB_DEFINITION: &str = "stepscore-scoring";

impl BatchConfig {
    /// The pipeline's local Batch: a spot and an on-demand environment of `vcpus` and
    /// `memory_mib` each, their queues, and the scoring definition running `scorer`.
    pub fn pipeline(logs_dir: PathBuf, scorer: PathBuf, vcpus: u32, memory_mib: u32) -> Self {
        let ce = |name: &str, spot| ComputeEnvironment {
            name: name.into(),
            vcpus,
            memory_mib,
            spot,
        };
        BatchConfig {
            compute_environments: vec![
                ce("stepscore-spot-ce", true),
                ce("stepscore-on-demand-ce", false),
            ],
            queues: vec![
                JobQueue {
                    name: SPOT_QUEUE.into(),
                    priority: 10,
                    compute_environment: "stepscore-spot-ce".into(),
                },
                JobQueue {
                    name: ON_DEMAND_QUEUE.into(),
                    priority: 10,
                    compute_environment: "stepscore-on-demand-ce".into(),
                },
            ],
            job_definitions: BTreeMap::from([(
                SCORING_JOB_DEFINITION.into(),
                JobDefinition {
                    command: vec![scorer.display().to_string()],
                },
            )]),
            logs_dir,
            spot_reclaim: None,
            environment: BTreeMap::new(),
            tick: Duration::from_millis(50),
        }
    }
}

/// Where the `stepscore-batch` binary is: next to the current executable, else on `PATH`.
pub fn default_scorer_path() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let candidates = exe.iter().flat_map(|e| e.parent()).flat_map(|d| {
        [
            d.join("stepscore-batch"),
            d.parent()
                .map(|p| p.join("stepscore-batch"))
                .unwrap_or_default(),
        ]
    });
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    PathBuf::from("stepscore-batch")
}

/// Why the local Batch could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalBatchError {
    /// The database could not be opened or prepared.
    #[error("local Batch database {path}: {message}")]
    Database { path: String, message: String },
    /// The configuration is inconsistent.
    #[error("local Batch configuration: {0}")]
    Config(String),
}

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
        for q in &config.queues {
            if !config
                .compute_environments
                .iter()
                .any(|c| c.name == q.compute_environment)
            {
                return Err(LocalBatchError::Config(format!(
                    "queue '{}' names compute environment '{}', which is not configured",
                    q.name, q.compute_environment
                )));
            }
        }
        let dberr = |e: rusqlite::Error| LocalBatchError::Database {
            path: db_path.display().to_string(),
            message: e.to_string(),
        };
        let conn = db::open(db_path).map_err(dberr)?;
        conn.execute_batch(SCHEMA).map_err(dberr)?;
        // TerminateJob's reason, set by whichever process asked; the executor that runs the job
        // ends it (a database from an older stepscore lacks the column)
        db::add_column(&conn, "batch_jobs", "terminate_reason", "TEXT").map_err(dberr)?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            path: db_path.to_path_buf(),
            config: config.clone(),
            conn: Mutex::new(conn),
            wake: Mutex::new(tx),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        if !run {
            return Ok(LocalBatch { inner: shared });
        }
        let exec_conn = db::open(db_path).map_err(dberr)?;
        let mut exec = Executor {
            conn: exec_conn,
            config,
            running: HashMap::new(),
            reclaims_done: 0,
        };
        exec.recover();
        let weak = Arc::downgrade(&shared);
        let handle = std::thread::Builder::new()
            .name("local-batch".into())
            .spawn(move || {
                loop {
                    let stop = weak.upgrade().is_none_or(|s| s.stop.load(Ordering::SeqCst));
                    if stop {
                        exec.kill_all();
                        return;
                    }
                    exec.tick();
                    let wait = if exec.running.is_empty() {
                        exec.config.tick * 4
                    } else {
                        exec.config.tick
                    };
                    match rx.recv_timeout(wait) {
                        Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => {
                            exec.kill_all();
                            return;
                        }
                    }
                }
            })
            .map_err(|e| {
                LocalBatchError::Config(format!("cannot start the executor thread: {e}"))
            })?;
        *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
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

    /// The configuration.
    pub fn config(&self) -> &BatchConfig {
        &self.inner.config
    }

    /// Every job (array children included), newest first.
    pub fn jobs(&self) -> Result<Vec<LocalJob>, BatchError> {
        let c = self.inner.conn.lock().unwrap_or_else(|e| e.into_inner());
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
        let c = self.inner.conn.lock().unwrap_or_else(|e| e.into_inner());
        load_job(&c, job_id).map_err(transient)
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

    fn submit_blocking(&self, r: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        let cfg = &self.inner.config;
        if !cfg.queues.iter().any(|q| q.name == r.job_queue) {
            return Err(BatchError::Client {
                message: format!(
                    "job queue '{}' does not exist; the local queues are {}",
                    r.job_queue,
                    cfg.queues
                        .iter()
                        .map(|q| q.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if !cfg.job_definitions.contains_key(&r.job_definition) {
            return Err(BatchError::Client {
                message: format!(
                    "job definition '{}' does not exist; the local definitions are {}",
                    r.job_definition,
                    cfg.job_definitions
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let Some(n) = r.array_size
            && !(2..=10_000).contains(&n)
        {
            return Err(BatchError::Client {
                message: format!("arrayProperties.size {n} must be between 2 and 10000"),
            });
        }
        if !(1..=10).contains(&r.retry_strategy.attempts) {
            return Err(BatchError::Client {
                message: format!(
                    "retryStrategy.attempts {} must be between 1 and 10",
                    r.retry_strategy.attempts
                ),
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        let request = serde_json::to_string(r).map_err(|e| BatchError::Client {
            message: e.to_string(),
        })?;
        let now = now_us();
        let mut c = self.inner.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = c.transaction().map_err(transient)?;
        tx.execute(
            "INSERT INTO batch_jobs (id, name, queue, request, parent_id, array_index, array_size, status, attempts, created_us, updated_us)
             VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5, 'SUBMITTED', 0, ?6, ?6)",
            params![id, r.job_name, r.job_queue, request, r.array_size, now],
        )
        .map_err(transient)?;
        if let Some(n) = r.array_size {
            for i in 0..n {
                tx.execute(
                    "INSERT INTO batch_jobs (id, name, queue, request, parent_id, array_index, array_size, status, attempts, created_us, updated_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 'SUBMITTED', 0, ?7, ?7)",
                    params![format!("{id}:{i}"), r.job_name, r.job_queue, request, id, i, now],
                )
                .map_err(transient)?;
            }
        }
        tx.commit().map_err(transient)?;
        drop(c);
        tracing::info!(job_id = %id, job_name = %r.job_name, queue = %r.job_queue, array_size = ?r.array_size, "batch job submitted");
        let _ = self.inner.wake.lock().map(|w| w.send(()));
        Ok(SubmittedJob {
            job_id: id,
            job_name: r.job_name.clone(),
        })
    }
}

#[async_trait]
impl BatchService for LocalBatch {
    async fn submit(&self, request: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        let this = self.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || this.submit_blocking(&request))
            .await
            .map_err(|e| BatchError::Transient {
                message: e.to_string(),
            })?
    }

    async fn find_by_name(
        &self,
        job_queue: &str,
        job_name: &str,
    ) -> Result<Option<SubmittedJob>, BatchError> {
        let this = self.clone();
        let (queue, name) = (job_queue.to_owned(), job_name.to_owned());
        let id = tokio::task::spawn_blocking(move || {
            let c = this.inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            c.query_row(
                "SELECT id FROM batch_jobs WHERE queue = ?1 AND name = ?2 AND parent_id IS NULL
                 ORDER BY created_us LIMIT 1",
                params![queue, name],
                |r| r.get::<_, String>(0),
            )
            .optional()
        })
        .await
        .map_err(|e| BatchError::Transient {
            message: e.to_string(),
        })?
        .map_err(transient)?;
        Ok(id.map(|job_id| SubmittedJob {
            job_id,
            job_name: job_name.to_owned(),
        }))
    }

    async fn terminate(&self, job_id: &str, reason: &str) -> Result<(), BatchError> {
        let inner = self.inner.clone();
        let (id, reason) = (job_id.to_owned(), reason.to_owned());
        tokio::task::spawn_blocking(move || {
            let c = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            // a job (or an array parent's children) not yet placed is cancelled here; one placed
            // on a host is ended by the executor running it, which reads the reason. Ended jobs
            // are left as they are.
            c.execute(
                "UPDATE batch_jobs SET terminate_reason = ?1
                 WHERE (id = ?2 OR parent_id = ?2) AND status NOT IN ('SUCCEEDED', 'FAILED')",
                params![reason, id],
            )?;
            c.execute(
                "UPDATE batch_jobs SET status = 'FAILED', status_reason = ?1, updated_us = ?3
                 WHERE (id = ?2 OR parent_id = ?2) AND status IN ('SUBMITTED', 'PENDING', 'RUNNABLE')",
                params![reason, id, now_us()],
            )
        })
        .await
        .map_err(|e| BatchError::Transient {
            message: e.to_string(),
        })?
        .map_err(transient)?;
        let _ = self.inner.wake.lock().map(|w| w.send(()));
        Ok(())
    }

    async fn describe(&self, job_id: &str) -> Result<Option<BatchJobView>, BatchError> {
        let this = self.clone();
        let id = job_id.to_owned();
        let job = tokio::task::spawn_blocking(move || {
            let c = this.inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            let job = load_job(&c, &id)?;
            let summary = match &job {
                Some(j) if j.array_size.is_some() => Some(child_summary(&c, &j.job_id)?),
                _ => None,
            };
            let failed_children = match &job {
                Some(j) if j.array_size.is_some() && j.status == BatchStatus::Failed => {
                    failed_children(&c, &j.job_id)?
                }
                _ => Vec::new(),
            };
            Ok::<_, rusqlite::Error>(job.map(|j| (j, summary, failed_children)))
        })
        .await
        .map_err(|e| BatchError::Transient {
            message: e.to_string(),
        })?
        .map_err(transient)?;
        Ok(job.map(|(j, summary, failed_children)| BatchJobView {
            job_id: j.job_id,
            job_queue: j.job_queue,
            status: j.status,
            status_reason: j.status_reason,
            exit_code: j.exit_code,
            container_reason: j.container_reason,
            attempts: j.attempts,
            array_status_summary: summary,
            array_size: j.array_size,
            failed_children,
        }))
    }
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

fn load_job(c: &Connection, id: &str) -> rusqlite::Result<Option<LocalJob>> {
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
fn failed_children(c: &Connection, parent: &str) -> rusqlite::Result<Vec<ArrayChildFailure>> {
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

fn child_summary(c: &Connection, parent: &str) -> rusqlite::Result<BTreeMap<String, u32>> {
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

/// Why the executor killed an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kill {
    Timeout,
    Reclaim,
    Terminated,
}

struct Running {
    child: Child,
    started: Instant,
    timeout: Duration,
    compute_environment: String,
    vcpus: u32,
    memory_mib: u32,
    reclaim_at: Option<Instant>,
    killed: Option<Kill>,
    attempt: u32,
    logs: [PathBuf; 2],
    retry: stepscore_core::batch::RetryStrategy,
}

struct Executor {
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

impl Executor {
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

    /// Jobs a previous process left placed on a host: that host is gone.
    fn recover(&mut self) {
        for row in self.rows(&["STARTING", "RUNNING"]) {
            if let Some(pid) = row.pid {
                kill_orphan(pid, &row.id, row.attempts);
            }
            let reason = host_terminated_reason();
            tracing::warn!(job_id = %row.id, attempt = row.attempts, "job was running when the executor stopped: treating its host as lost");
            let action = row.request.retry_strategy.decide(&reason, "", None);
            let next = if action == RetryAction::Retry
                && row.attempts < row.request.retry_strategy.attempts
            {
                BatchStatus::Runnable
            } else {
                BatchStatus::Failed
            };
            self.set(
                &row.id,
                next,
                &[
                    ("status_reason", reason.into()),
                    ("exit_code", rusqlite::types::Value::Null),
                    ("container_reason", rusqlite::types::Value::Null),
                    ("pid", rusqlite::types::Value::Null),
                ],
            );
        }
        // a job TerminateJob named while it ran is not run again
        if let Err(e) = self.conn.execute(
            "UPDATE batch_jobs SET status = 'FAILED', status_reason = terminate_reason
             WHERE terminate_reason IS NOT NULL AND status IN ('SUBMITTED', 'PENDING', 'RUNNABLE')",
            [],
        ) {
            tracing::warn!(error = %e, "local Batch could not end jobs terminated while it was down");
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

    fn launch(&mut self, row: Row, q: &JobQueue, ce: &ComputeEnvironment) {
        let attempt = row.attempts + 1;
        self.set(
            &row.id,
            BatchStatus::Starting,
            &[
                ("attempts", i64::from(attempt).into()),
                ("compute_environment", ce.name.clone().into()),
            ],
        );
        let fail_to_start = |this: &mut Self, message: String| {
            tracing::warn!(job_id = %row.id, attempt, error = %message, "container failed to start");
            let status_reason = "Task failed to start".to_string();
            let reason = format!("CannotStartContainerError: {message}");
            let retry = row
                .request
                .retry_strategy
                .decide(&status_reason, &reason, None)
                == RetryAction::Retry
                && attempt < row.request.retry_strategy.attempts;
            this.set(
                &row.id,
                if retry {
                    BatchStatus::Runnable
                } else {
                    BatchStatus::Failed
                },
                &[
                    ("status_reason", status_reason.into()),
                    ("container_reason", reason.into()),
                    ("exit_code", rusqlite::types::Value::Null),
                ],
            );
        };
        let Some(def) = self
            .config
            .job_definitions
            .get(&row.request.job_definition)
            .cloned()
        else {
            return fail_to_start(
                self,
                format!(
                    "job definition '{}' is not configured",
                    row.request.job_definition
                ),
            );
        };
        let Some((program, args)) = def.command.split_first() else {
            return fail_to_start(
                self,
                format!(
                    "job definition '{}' has an empty command",
                    row.request.job_definition
                ),
            );
        };
        let dir = self.config.logs_dir.join(&row.id);
        let files = std::fs::create_dir_all(&dir).and_then(|_| {
            Ok((
                std::fs::File::create(dir.join(format!("attempt-{attempt}.stdout")))?,
                std::fs::File::create(dir.join(format!("attempt-{attempt}.stderr")))?,
            ))
        });
        let (out, err) = match files {
            Ok(f) => f,
            Err(e) => {
                return fail_to_start(
                    self,
                    format!("cannot create log files in {}: {e}", dir.display()),
                );
            }
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "PATH" | "HOME" | "TMPDIR" | "LANG" | "RUST_LOG" | "RUST_BACKTRACE"
                )
            }))
            .envs(&self.config.environment)
            .envs(&row.request.environment)
            .env("AWS_BATCH_JOB_ID", &row.id)
            .env("AWS_BATCH_JOB_ATTEMPT", attempt.to_string())
            .env("AWS_BATCH_JQ_NAME", &q.name)
            .env("AWS_BATCH_CE_NAME", &ce.name)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(i) = row.array_index {
            cmd.env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string());
        }
        match cmd.spawn() {
            Ok(child) => {
                let pid = child.id();
                let reclaim_at = match &self.config.spot_reclaim {
                    Some(r) if ce.spot && self.reclaims_done < r.times => {
                        Some(Instant::now() + Duration::from_secs_f64(r.after_seconds.max(0.0)))
                    }
                    _ => None,
                };
                self.set(
                    &row.id,
                    BatchStatus::Running,
                    &[("pid", i64::from(pid).into())],
                );
                tracing::info!(job_id = %row.id, attempt, pid, queue = %q.name, compute_environment = %ce.name, "batch job running");
                self.running.insert(
                    row.id.clone(),
                    Running {
                        child,
                        started: Instant::now(),
                        timeout: Duration::from_secs(row.request.timeout_seconds.max(1)),
                        compute_environment: ce.name.clone(),
                        vcpus: row.request.vcpus.max(1),
                        memory_mib: row.request.memory_mib,
                        reclaim_at,
                        killed: None,
                        attempt,
                        logs: [
                            dir.join(format!("attempt-{attempt}.stdout")),
                            dir.join(format!("attempt-{attempt}.stderr")),
                        ],
                        retry: row.request.retry_strategy.clone(),
                    },
                );
            }
            Err(e) => fail_to_start(self, format!("cannot run '{program}': {e}")),
        }
    }

    /// Ends the running attempts whose job TerminateJob named (its reason is in the row).
    fn terminate_requested(&mut self) {
        let requested: Vec<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, terminate_reason FROM batch_jobs
                 WHERE terminate_reason IS NOT NULL AND status IN ('STARTING', 'RUNNING')",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "local Batch could not read termination requests; retrying next tick");
                Vec::new()
            });
        for (id, reason) in requested {
            match self.running.get_mut(&id) {
                Some(r) if r.killed.is_none() => {
                    tracing::warn!(job_id = %id, reason = %reason, "terminating a running attempt");
                    r.killed = Some(Kill::Terminated);
                    let _ = r.child.kill();
                }
                Some(_) => {}
                // placed by a process that is gone: nothing runs it any more
                None => self.set(
                    &id,
                    BatchStatus::Failed,
                    &[
                        ("status_reason", reason.into()),
                        ("pid", rusqlite::types::Value::Null),
                    ],
                ),
            }
        }
    }

    fn reap(&mut self) {
        self.terminate_requested();
        let now = Instant::now();
        let mut finished = Vec::new();
        for (id, r) in self.running.iter_mut() {
            if r.killed.is_none() {
                if now.duration_since(r.started) > r.timeout {
                    tracing::warn!(job_id = %id, "attempt timed out; killing it");
                    r.killed = Some(Kill::Timeout);
                    let _ = r.child.kill();
                } else if r.reclaim_at.is_some_and(|t| now >= t)
                    && output_reached(&r.logs, self.config.spot_reclaim.as_ref())
                {
                    tracing::warn!(job_id = %id, "injecting a spot reclaim");
                    r.killed = Some(Kill::Reclaim);
                    let _ = r.child.kill();
                }
            }
            match r.child.try_wait() {
                Ok(Some(status)) => finished.push((id.clone(), status)),
                Ok(None) => {}
                Err(e) => tracing::warn!(job_id = %id, error = %e, "cannot poll a running attempt"),
            }
        }
        for (id, status) in finished {
            let Some(r) = self.running.remove(&id) else {
                continue;
            };
            if r.killed == Some(Kill::Reclaim) {
                self.reclaims_done += 1;
            }
            self.finish(&id, r, status);
        }
    }

    fn finish(&mut self, id: &str, r: Running, status: std::process::ExitStatus) {
        use rusqlite::types::Value as V;
        use std::os::unix::process::ExitStatusExt;
        // a container killed by a signal reports 128 + the signal, as Docker does
        let code = status.code().or_else(|| status.signal().map(|s| 128 + s));
        let (status_reason, exit_code) = match r.killed {
            Some(Kill::Timeout) => (TIMEOUT_REASON.to_string(), None),
            Some(Kill::Reclaim) => (host_terminated_reason(), None),
            Some(Kill::Terminated) => (self.terminate_reason(id), None),
            None => (EXITED_REASON.to_string(), code),
        };
        let ok = r.killed.is_none() && code == Some(0);
        let next = if ok {
            BatchStatus::Succeeded
        } else if matches!(r.killed, Some(Kill::Timeout | Kill::Terminated)) {
            // AWS retries neither an attempt that ran past its timeout nor a terminated job
            BatchStatus::Failed
        } else if r.retry.decide(&status_reason, "", exit_code) == RetryAction::Retry
            && r.attempt < r.retry.attempts
        {
            BatchStatus::Runnable
        } else {
            BatchStatus::Failed
        };
        tracing::info!(job_id = %id, attempt = r.attempt, exit_code = ?exit_code, status_reason = %status_reason, next = next.as_str(), "batch attempt ended");
        self.set(
            id,
            next,
            &[
                ("status_reason", status_reason.into()),
                (
                    "exit_code",
                    exit_code.map(i64::from).map(V::Integer).unwrap_or(V::Null),
                ),
                ("container_reason", V::Null),
                ("pid", V::Null),
            ],
        );
    }

    /// The reason TerminateJob gave job `id`.
    fn terminate_reason(&self, id: &str) -> String {
        self.conn
            .query_row(
                "SELECT terminate_reason FROM batch_jobs WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .ok()
            .flatten()
            .unwrap_or_else(|| "Terminated by TerminateJob".into())
    }

    fn kill_all(&mut self) {
        for (id, mut r) in self.running.drain() {
            tracing::info!(job_id = %id, "stopping a running attempt at shutdown");
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// True when the reclaim has no output condition, or the attempt's output meets it.
fn output_reached(logs: &[PathBuf; 2], reclaim: Option<&SpotReclaim>) -> bool {
    let Some(text) = reclaim.and_then(|r| r.when_output_contains.as_deref()) else {
        return true;
    };
    logs.iter().any(|p| {
        std::fs::read(p).is_ok_and(|b| b.windows(text.len().max(1)).any(|w| w == text.as_bytes()))
    })
}

fn host_terminated_reason() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("Host EC2 (instance i-{}) terminated.", &hex[..17])
}

/// Kills a previous process's child when it is still running and is provably this job's
/// attempt (its environment names the job and attempt), so a reused pid is never hit.
fn kill_orphan(pid: u32, job_id: &str, attempt: u32) {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return;
    };
    let want_id = format!("AWS_BATCH_JOB_ID={job_id}");
    let want_attempt = format!("AWS_BATCH_JOB_ATTEMPT={attempt}");
    let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
    let has = |w: &str| vars.contains(&w.as_bytes());
    if has(&want_id) && has(&want_attempt) {
        let Some(p) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return;
        };
        match rustix::process::kill_process(p, rustix::process::Signal::KILL) {
            Ok(()) => tracing::warn!(
                job_id,
                pid,
                "killed an orphaned attempt left by a previous process"
            ),
            Err(e) => tracing::warn!(job_id, pid, error = %e, "cannot kill an orphaned attempt"),
        }
    }
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn transient(e: rusqlite::Error) -> BatchError {
    BatchError::Transient {
        message: format!("local Batch database: {e}"),
    }
}
