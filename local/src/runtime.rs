//! [`LocalRuntime`]: the whole pipeline on one machine, opened on a state directory.
//!
//! ```text
//! <state>/buckets/<bucket>/<key>   objects (DirStore; STEPSCORE_LOCAL_S3_ROOT for the scorer)
//! <state>/state.db                 job records, Batch jobs, executions, the S3 event outbox
//! <state>/logs/<batch job id>/     stdout and stderr of each Batch attempt
//! <state>/runtime.lock             held by the one process that runs things (`serve`)
//! ```
//!
//! Any number of processes may open a runtime to drop configs, start executions and read status;
//! one process at a time [`serve`](LocalRuntime::serve)s: it delivers S3 events to the admit
//! function, runs executions in the ASL interpreter (persisting a snapshot after every state),
//! and runs the local Batch. Killed at any point, the next `serve` resumes every unfinished
//! execution from its last snapshot and redelivers undelivered events.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde_json::{Value, json};
use stepscore_asl::{
    Execution, ExecutionConfig, ExecutionSnapshot, ExecutionStatus, StateMachine, TaskDispatcher,
    TaskOutcome, TaskRequest,
};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ExecutionError, Executions, ObjectMeta, Started, StoreError};

use crate::batch::{BatchConfig, LocalBatch};
use crate::db;
use crate::executions::{ExecutionInfo, ExecutionState, LocalExecutions};
use crate::store::{DirStore, NotificationFilter};
use crate::table::SqliteTable;

/// The region in local ARNs.
pub const LOCAL_REGION: &str = "local";
/// The account in local ARNs.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The state machine's name in the local world.
pub const STATE_MACHINE_NAME: &str = "stepscore-scoring-pipeline";

/// The local ARN of a Lambda function, e.g. `arn:aws:lambda:local:000000000000:function:stepscore-submit`.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}")
}

/// The values the local world gives the state machine's `${placeholders}`.
pub fn local_placeholders() -> BTreeMap<String, String> {
    BTreeMap::from([
        // the embedded world's ARNs are in the commercial partition, like function_arn's
        ("partition".into(), "aws".into()),
        (
            "register_function_arn".into(),
            function_arn("stepscore-register"),
        ),
        (
            "submit_function_arn".into(),
            function_arn("stepscore-submit"),
        ),
        ("check_function_arn".into(), function_arn("stepscore-check")),
        (
            "finalize_function_arn".into(),
            function_arn("stepscore-finalize"),
        ),
        ("spot_job_queue".into(), crate::batch::SPOT_QUEUE.into()),
        (
            "on_demand_job_queue".into(),
            crate::batch::ON_DEMAND_QUEUE.into(),
        ),
        (
            "job_definition".into(),
            crate::batch::SCORING_JOB_DEFINITION.into(),
        ),
    ])
}

/// Fills `${name}` placeholders in a definition template; an unknown or unfilled one is an error.
pub fn fill_placeholders(
    template: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, RuntimeError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(RuntimeError::Definition(format!(
                "unterminated placeholder at '{}'",
                &rest[i..rest.len().min(i + 30)]
            )));
        };
        let name = &after[..end];
        let v = values.get(name).ok_or_else(|| {
            RuntimeError::Definition(format!(
                "placeholder '${{{name}}}' has no local value; known: {}",
                values.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        // values land inside JSON strings
        let escaped = serde_json::to_string(v).unwrap_or_default();
        out.push_str(&escaped[1..escaped.len() - 1]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An error a Lambda function returns: its `errorType` is what Retry/Catch match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct LambdaError {
    /// The error name (`errorType`).
    pub error_type: String,
    /// The message (`errorMessage`).
    pub error_message: String,
}

/// What a function invocation returns.
pub type LambdaFuture = Pin<Box<dyn Future<Output = Result<Value, LambdaError>> + Send>>;
/// An in-process Lambda function: event in, payload or error out.
pub type LambdaFn = Arc<dyn Fn(Value) -> LambdaFuture + Send + Sync>;

/// How a runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The state machine definition template (`${placeholders}` are filled with local names).
    pub definition: String,
    /// Placeholder values (default: [`local_placeholders`]).
    pub placeholders: BTreeMap<String, String>,
    /// Wait states and polling run this many times faster than real time (1.0 = real time).
    /// Scaled time starts at the real time when the runtime opens, so after a restart it
    /// restarts from the real time too (timestamps of a resumed run may step back).
    pub time_scale: f64,
    /// The local Batch (its logs dir and environment are set from the state dir when empty).
    pub batch: BatchConfig,
}

impl RuntimeConfig {
    /// The pipeline's runtime on `state_dir` running `definition` with the scorer at `scorer`.
    pub fn new(
        state_dir: impl Into<PathBuf>,
        definition: impl Into<String>,
        scorer: PathBuf,
    ) -> Self {
        let state_dir = state_dir.into();
        let batch = BatchConfig::pipeline(state_dir.join("logs"), scorer, 4, 8192);
        RuntimeConfig {
            state_dir,
            definition: definition.into(),
            placeholders: local_placeholders(),
            time_scale: 1.0,
            batch,
        }
    }
}

/// Why the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The state machine definition is unusable.
    #[error("state machine definition: {0}")]
    Definition(String),
    /// The state directory's database failed.
    #[error("state database {path}: {message}")]
    Database { path: String, message: String },
    /// Another process is serving this state directory.
    #[error(
        "another stepscore process is running the pipeline in {0} (its lock is held); stop it or use another state directory"
    )]
    Busy(String),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The local Batch failed to start.
    #[error(transparent)]
    Batch(#[from] crate::batch::LocalBatchError),
    /// Starting an execution failed.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// Waiting ran out of time.
    #[error("{0}")]
    Timeout(String),
}

/// The pipeline on one machine.
#[derive(Clone)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimeConfig,
    machine: Arc<StateMachine>,
    store: DirStore,
    table: SqliteTable,
    batch: LocalBatch,
    executions: LocalExecutions,
    functions: RwLock<BTreeMap<String, LambdaFn>>,
    outbox: Mutex<rusqlite::Connection>,
    /// Rung when this process adds to the outbox, so delivery does not wait for the next poll.
    outbox_wake: Arc<tokio::sync::Notify>,
    clock: ScaledClock,
}

impl std::fmt::Debug for LocalRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRuntime")
            .field("state_dir", &self.inner.config.state_dir)
            .finish()
    }
}

impl LocalRuntime {
    /// Opens (creating if needed) the runtime on its state directory; runs nothing until
    /// [`serve`](Self::serve).
    pub fn open(mut config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let dir = config.state_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::Database {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let text = fill_placeholders(&config.definition, &config.placeholders)?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| RuntimeError::Definition(format!("not JSON: {e}")))?;
        let machine =
            stepscore_asl::parse_definition(&value, stepscore_asl::ValidationOptions::default())
                .map_err(|d| {
                    RuntimeError::Definition(
                        d.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?;
        let db_path = dir.join("state.db");
        let dberr = |e: rusqlite::Error| RuntimeError::Database {
            path: db_path.display().to_string(),
            message: e.to_string(),
        };
        let outbox = db::open(&db_path).map_err(dberr)?;
        outbox
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS s3_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    event TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'PENDING',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT
                 );
                 CREATE INDEX IF NOT EXISTS s3_events_state ON s3_events(state, seq);",
            )
            .map_err(dberr)?;
        let sink_db = db_path.clone();
        let sink_conn = Mutex::new(db::open(&db_path).map_err(dberr)?);
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let wake = outbox_wake.clone();
        // S3 notifications are durable: the event is in the outbox before put returns
        let sink: crate::store::EventSink = Arc::new(move |event: Value| {
            let c = sink_conn.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = c.execute(
                "INSERT INTO s3_events (event) VALUES (?1)",
                params![event.to_string()],
            ) {
                tracing::error!(db = %sink_db.display(), error = %e, "cannot record an S3 event; the object was stored but admit will not see it");
            }
            wake.notify_one();
        });
        let store = DirStore::with_events(
            dir.join("buckets"),
            LOCAL_REGION,
            NotificationFilter::default(),
            sink,
        )?;
        let table = SqliteTable::open(&db_path).map_err(|e| RuntimeError::Database {
            path: db_path.display().to_string(),
            message: e.to_string(),
        })?;
        config
            .batch
            .environment
            .entry("STEPSCORE_LOCAL_S3_ROOT".into())
            .or_insert_with(|| store.root().display().to_string());
        if config.time_scale > 1.0 {
            // Batch shows each job state for a tick, which compressed time compresses too; the
            // floor keeps the executor from spinning on the database
            config.batch.tick = config
                .batch
                .tick
                .div_f64(config.time_scale)
                .max(Duration::from_millis(2));
        }
        let batch = LocalBatch::open(&db_path, config.batch.clone())?;
        let executions =
            LocalExecutions::open(&db_path, LOCAL_REGION, LOCAL_ACCOUNT, STATE_MACHINE_NAME)
                .map_err(dberr)?;
        let clock = ScaledClock::new(config.time_scale);
        Ok(LocalRuntime {
            inner: Arc::new(Inner {
                config,
                machine: Arc::new(machine),
                store,
                table,
                batch,
                executions,
                functions: RwLock::new(BTreeMap::new()),
                outbox: Mutex::new(outbox),
                outbox_wake,
                clock,
            }),
        })
    }

    /// A handle that does not keep the runtime alive (for functions the runtime owns).
    pub fn downgrade(&self) -> WeakRuntime {
        WeakRuntime(Arc::downgrade(&self.inner))
    }

    /// The object store.
    pub fn store(&self) -> &DirStore {
        &self.inner.store
    }

    /// Rung after an event is added to the outbox, so delivery does not wait for its poll.
    pub(crate) fn outbox_wake(&self) -> Arc<tokio::sync::Notify> {
        self.inner.outbox_wake.clone()
    }

    /// The job table.
    pub fn table(&self) -> &SqliteTable {
        &self.inner.table
    }

    /// The local Batch (submit/describe; jobs run while serving).
    pub fn batch(&self) -> &LocalBatch {
        &self.inner.batch
    }

    /// The executions.
    pub fn executions(&self) -> &LocalExecutions {
        &self.inner.executions
    }

    /// The runtime's clock (scaled real time), for handlers that need one.
    pub fn clock(&self) -> ScaledClock {
        self.inner.clock.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Registers the in-process Lambda function `name` (e.g. `stepscore-admit`).
    pub fn register_function(&self, name: &str, f: LambdaFn) {
        self.inner
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), f);
    }

    /// Invokes a registered function the way Lambda would.
    pub async fn invoke(&self, function: &str, event: Value) -> Result<Value, LambdaError> {
        let f = self.function(function)?;
        match tokio::spawn(f(event)).await {
            Ok(r) => r,
            Err(e) => Err(LambdaError {
                error_type: "Lambda.Unknown".into(),
                error_message: format!("function '{function}' crashed: {e}"),
            }),
        }
    }

    fn function(&self, function: &str) -> Result<LambdaFn, LambdaError> {
        let name = function_name(function);
        self.inner
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| LambdaError {
                error_type: "Lambda.ResourceNotFoundException".into(),
                error_message: format!("Function not found: {}", function_arn(name)),
            })
    }

    /// Drops a job config into the bucket (as `aws s3 cp` would); the S3 event reaches admit.
    pub async fn drop_config(
        &self,
        uri: &ObjectUri,
        bytes: Vec<u8>,
    ) -> Result<ObjectMeta, RuntimeError> {
        use stepscore_core::ports::ObjectStore;
        Ok(self.inner.store.put_bytes(uri, bytes).await?)
    }

    /// Starts an execution by hand (like the console), idempotent by name.
    pub async fn start_execution(
        &self,
        name: &str,
        input: &Value,
    ) -> Result<Started, RuntimeError> {
        Ok(self.inner.executions.start(name, input).await?)
    }

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
    /// stops at the last state it ran, so the event is added from the executions table.
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
            return Ok(None);
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

    /// Undelivered S3 events and events that failed delivery (the dead-letter queue).
    pub fn event_counts(&self) -> Result<BTreeMap<String, u64>, RuntimeError> {
        let c = self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = c
            .prepare("SELECT state, COUNT(*) FROM s3_events GROUP BY state")
            .map_err(|e| self.dberr(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|r| r.collect::<Result<BTreeMap<_, _>, _>>())
            .map_err(|e| self.dberr(e))?;
        Ok(rows)
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

    /// Fires `scheduler`'s schedules from `from` until `until` (or forever) into the
    /// `stepscore-schedule` function, as EventBridge Scheduler does (context attributes filled,
    /// failed invocations retried three times, then dropped with an error log as to a DLQ);
    /// returns the number of fires.
    pub async fn run_schedules(
        &self,
        scheduler: &crate::schedule::Scheduler,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> usize {
        const RETRIES: u32 = 3;
        let scale = self.inner.config.time_scale;
        scheduler
            .run(from, until, scale, |fire| {
                let rt = self.clone();
                async move {
                    let arn = format!("arn:aws:scheduler:{LOCAL_REGION}:{LOCAL_ACCOUNT}:schedule/default/{}", fire.schedule);
                    for attempt in 1..=RETRIES + 1 {
                        let input = crate::schedule::fill_context_attributes(&fire.input, &fire, &arn, attempt);
                        match rt.invoke("stepscore-schedule", input).await {
                            Ok(_) => return,
                            Err(e) => tracing::warn!(schedule = %fire.schedule, attempt, error = %e, "schedule target failed"),
                        }
                    }
                    tracing::error!(schedule = %fire.schedule, scheduled_time = %fire.scheduled_time, "schedule fire dropped after retries (dead letter)");
                }
            })
            .await
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

    fn dberr(&self, e: rusqlite::Error) -> RuntimeError {
        RuntimeError::Database {
            path: self
                .inner
                .config
                .state_dir
                .join("state.db")
                .display()
                .to_string(),
            message: e.to_string(),
        }
    }
}

/// A [`LocalRuntime`] handle that does not keep it alive.
#[derive(Clone, Debug)]
pub struct WeakRuntime(std::sync::Weak<Inner>);

impl WeakRuntime {
    /// The runtime, if it is still open.
    pub fn upgrade(&self) -> Option<LocalRuntime> {
        self.0.upgrade().map(|inner| LocalRuntime { inner })
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

/// Real time, optionally running faster: `now` advances `scale` times faster than the wall
/// clock from the moment the clock was made, and sleeps are shortened to match.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    scale: f64,
    origin: DateTime<Utc>,
    origin_instant: Instant,
    stop: Option<Arc<AtomicBool>>,
}

impl ScaledClock {
    /// A clock `scale` times faster than real time (1.0 is real time).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        ScaledClock {
            scale,
            origin: Utc::now(),
            origin_instant: Instant::now(),
            stop: None,
        }
    }

    fn with_stop(&self, stop: Arc<AtomicBool>) -> Self {
        ScaledClock {
            stop: Some(stop),
            ..self.clone()
        }
    }
}

impl stepscore_asl::Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        if self.scale == 1.0 {
            return Utc::now();
        }
        let real = self.origin_instant.elapsed().mul_f64(self.scale);
        self.origin + chrono::Duration::from_std(real).unwrap_or_default()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) {
        // sleep in slices so a shutting-down server is not held by a long Wait state
        loop {
            let left = (deadline - stepscore_asl::Clock::now(self))
                .to_std()
                .unwrap_or_default();
            if left.is_zero() || self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                return;
            }
            std::thread::sleep(left.div_f64(self.scale).min(Duration::from_millis(100)));
        }
    }
}

impl stepscore_core::ports::Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        stepscore_asl::Clock::now(self)
    }
}

/// The function name in a FunctionName, exposed for tests of the resolution rule.
#[doc(hidden)]
pub fn function_name_for_tests(f: &str) -> &str {
    function_name(f)
}

/// The function name in a FunctionName (a name, a partial or full ARN, maybe qualified).
fn function_name(f: &str) -> &str {
    if let Some(rest) = f.strip_prefix("arn:") {
        // arn:aws:lambda:region:account:function:name[:qualifier]
        return rest.split(':').nth(5).unwrap_or(f);
    }
    f.split(':').next().unwrap_or(f)
}

struct Dispatcher {
    runtime: LocalRuntime,
    handle: tokio::runtime::Handle,
}

/// The optimized integration that starts an execution (fire and forget; no `.sync`).
const START_EXECUTION_RESOURCE: &str = "arn:aws:states:::states:startExecution";

impl Dispatcher {
    /// `states:startExecution` on this state machine: StartExecution's result
    /// (`ExecutionArn`, `StartDate`), idempotent by name and input as on AWS.
    fn start_execution(&self, request: &TaskRequest<'_>) -> TaskOutcome {
        let p = request.input;
        let ours = self.runtime.inner.executions.state_machine_arn().to_owned();
        let failed = |error: &str, cause: String| TaskOutcome::Failed {
            error: error.into(),
            cause: Some(cause),
        };
        match p.get("StateMachineArn").and_then(Value::as_str) {
            Some(arn) if arn == ours => {}
            other => {
                return failed(
                    "States.TaskFailed",
                    format!(
                        "Task '{}' starts state machine {}; the local runtime runs only {ours}",
                        request.state_name,
                        other.unwrap_or("(no StateMachineArn)")
                    ),
                );
            }
        }
        let name = p
            .get("Name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // Input may be given as JSON or as a string of JSON, as StartExecution takes it
        let input = match p.get("Input") {
            None => json!({}),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    return failed(
                        "StepFunctions.InvalidExecutionInputException",
                        format!("Input of Task '{}' is not JSON: {e}", request.state_name),
                    );
                }
            },
            Some(v) => v.clone(),
        };
        let started = self
            .handle
            .block_on(self.runtime.inner.executions.start(&name, &input));
        match started {
            Ok(s) => TaskOutcome::Succeeded(json!({
                "ExecutionArn": s.execution_arn(),
                "StartDate": stepscore_core::ports::Clock::now(&self.runtime.clock()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })),
            Err(ExecutionError::NameConflict { message, .. }) => {
                failed("StepFunctions.ExecutionAlreadyExistsException", message)
            }
            Err(e) if e.is_transient() => {
                failed("StepFunctions.AWSStepFunctionsException", e.to_string())
            }
            Err(e) => failed("States.TaskFailed", e.to_string()),
        }
    }
}

impl TaskDispatcher for Dispatcher {
    fn dispatch(
        &self,
        request: &TaskRequest<'_>,
        _clock: &dyn stepscore_asl::Clock,
    ) -> TaskOutcome {
        let (function, payload, wrap) = if request.resource == "arn:aws:states:::lambda:invoke" {
            let Some(f) = request.input.get("FunctionName").and_then(Value::as_str) else {
                return TaskOutcome::Failed {
                    error: "States.Runtime".into(),
                    cause: Some(format!(
                        "Task '{}' calls lambda:invoke without a FunctionName parameter",
                        request.state_name
                    )),
                };
            };
            (
                f.to_owned(),
                request
                    .input
                    .get("Payload")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
                true,
            )
        } else if request.resource.starts_with("arn:aws:lambda:") {
            (request.resource.to_owned(), request.input.clone(), false)
        } else if request.resource == START_EXECUTION_RESOURCE {
            return self.start_execution(request);
        } else {
            return TaskOutcome::Failed {
                error: "States.TaskFailed".into(),
                cause: Some(format!(
                    "resource '{}' of Task '{}' is not available locally; the local runtime runs Lambda functions (arn:aws:states:::lambda:invoke)",
                    request.resource, request.state_name
                )),
            };
        };
        tracing::debug!(function = %function, state = request.state_name, "invoking local function");
        match self.handle.block_on(self.runtime.invoke(&function, payload)) {
            Ok(out) if wrap => TaskOutcome::Succeeded(stepscore_asl::env::lambda_invoke_result(out)),
            Ok(out) => TaskOutcome::Succeeded(out),
            Err(e) => TaskOutcome::Failed {
                cause: Some(json!({"errorMessage": e.error_message, "errorType": e.error_type, "trace": []}).to_string()),
                error: e.error_type,
            },
        }
    }
}

async fn event_pump(runtime: LocalRuntime, stop: Arc<AtomicBool>) {
    const MAX_ATTEMPTS: u32 = 3;
    while !stop.load(Ordering::SeqCst) {
        let batch: Vec<(i64, String, u32)> = {
            let c = runtime
                .inner
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            c.prepare_cached("SELECT seq, event, attempts FROM s3_events WHERE state = 'PENDING' ORDER BY seq LIMIT 64")
                .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the S3 event outbox");
                    Vec::new()
                })
        };
        if batch.is_empty() {
            // another process (`stepscore put` beside `watch`) only shows up by polling
            let _ = tokio::time::timeout(
                Duration::from_millis(50),
                runtime.inner.outbox_wake.notified(),
            )
            .await;
            continue;
        }
        // S3 invokes admit asynchronously, many at once
        let mut deliveries = Vec::new();
        for (seq, event, attempts) in batch {
            let rt = runtime.clone();
            deliveries.push(tokio::spawn(async move {
                let value: Value = serde_json::from_str(&event).unwrap_or(Value::Null);
                let result = rt.invoke("stepscore-admit", value).await;
                (seq, attempts, result)
            }));
        }
        for d in deliveries {
            let Ok((seq, attempts, result)) = d.await else {
                continue;
            };
            let c = runtime
                .inner
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let r = match result {
                Ok(_) => c.execute(
                    "UPDATE s3_events SET state = 'DELIVERED', attempts = ?1 WHERE seq = ?2",
                    params![attempts + 1, seq],
                ),
                Err(e) => {
                    // Lambda retries a failed async invocation twice, then sends it to the DLQ
                    let state = if attempts + 1 >= MAX_ATTEMPTS {
                        "DEAD_LETTER"
                    } else {
                        "PENDING"
                    };
                    tracing::warn!(seq, attempt = attempts + 1, error = %e, state, "admit failed on an S3 event");
                    c.execute("UPDATE s3_events SET state = ?1, attempts = ?2, last_error = ?3 WHERE seq = ?4", params![state, attempts + 1, e.to_string(), seq])
                }
            };
            if let Err(e) = r {
                tracing::warn!(seq, error = %e, "cannot record an S3 event's delivery; it will be delivered again");
            }
        }
    }
}

async fn execution_scheduler(
    runtime: LocalRuntime,
    stop: Arc<AtomicBool>,
    active: Arc<Mutex<HashSet<String>>>,
    handle: tokio::runtime::Handle,
) {
    while !stop.load(Ordering::SeqCst) {
        match runtime.list_executions(Some(ExecutionState::Running), usize::MAX) {
            Ok(running) => {
                for e in running {
                    let mut set = active.lock().unwrap_or_else(|x| x.into_inner());
                    if set.insert(e.name.clone()) {
                        drop(set);
                        spawn_runner(
                            runtime.clone(),
                            e,
                            stop.clone(),
                            active.clone(),
                            handle.clone(),
                        );
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list running executions"),
        }
        tokio::select! {
            _ = runtime.inner.executions.started() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

fn spawn_runner(
    runtime: LocalRuntime,
    info: ExecutionInfo,
    stop: Arc<AtomicBool>,
    active: Arc<Mutex<HashSet<String>>>,
    handle: tokio::runtime::Handle,
) {
    let name = info.name.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("exec-{name}"))
        .spawn({
            let active = active.clone();
            let name = name.clone();
            move || {
                run_execution(&runtime, info, &stop, handle);
                active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&name);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(execution = %name, error = %e, "cannot start a thread for an execution; will retry");
        active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name);
    }
}

fn run_execution(
    runtime: &LocalRuntime,
    info: ExecutionInfo,
    stop: &Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
) {
    let inner = &runtime.inner;
    let clock = inner.clock.with_stop(stop.clone());
    let machine = inner.machine.clone();
    let dispatcher = Dispatcher {
        runtime: runtime.clone(),
        handle,
    };
    let saved = inner.executions.snapshot(&info.name).ok().flatten();
    let fail = |message: String| {
        tracing::error!(execution = %info.name, error = %message, "execution cannot run");
        let _ = inner.executions.save(
            &info.name,
            &Value::Null,
            ExecutionState::Failed,
            None,
            Some("States.Runtime"),
            Some(&message),
        );
    };
    let mut exec = match saved.map(serde_json::from_value::<ExecutionSnapshot>) {
        Some(Ok(snap)) => {
            tracing::info!(execution = %info.name, next_state = ?snap.next_state, "resuming execution from its snapshot");
            match Execution::resume(&machine, snap) {
                Ok(e) => e,
                Err(e) => return fail(e.to_string()),
            }
        }
        Some(Err(e)) => return fail(format!("stored snapshot is unreadable: {e}")),
        None => {
            let config = ExecutionConfig {
                state_machine_name: STATE_MACHINE_NAME.into(),
                execution_name: info.name.clone(),
                region: LOCAL_REGION.into(),
                account: LOCAL_ACCOUNT.into(),
                role_arn: format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/stepscore-state-machine"),
                ..ExecutionConfig::default()
            };
            match Execution::start(&machine, info.input.clone(), config, &clock) {
                Ok(e) => e,
                Err(e) => return fail(e.to_string()),
            }
        }
    };
    save(inner, &info.name, &exec);
    loop {
        if stopped_by_request(inner, &info.name) {
            return;
        }
        let done = exec.step(&clock, &dispatcher);
        if stop.load(Ordering::SeqCst) {
            // the step may have been cut short by shutdown: keep the last whole snapshot
            return;
        }
        save(inner, &info.name, &exec);
        if let Some(outcome) = done {
            tracing::info!(execution = %info.name, status = ?outcome.status, error = ?outcome.error, "execution ended");
            return;
        }
    }
}

/// True when execution `name` was stopped (StopExecution) while this runner ran it: its row is
/// ABORTED, so it must not run another state.
fn stopped_by_request(inner: &Inner, name: &str) -> bool {
    match inner.executions.describe(name) {
        Ok(Some(e)) => e.status == ExecutionState::Aborted,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(execution = name, error = %e, "cannot read the execution's status; running on");
            false
        }
    }
}

/// Delivers the end of every execution that stopped ABORTED, TIMED_OUT or FAILED to the cleanup
/// function, as EventBridge delivers Step Functions' "Execution Status Change" events: at least
/// once (the row is marked delivered only after cleanup returned), retried while it fails.
async fn execution_end_pump(runtime: LocalRuntime, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let ended = runtime
            .inner
            .executions
            .undelivered_ends(stepscore_handlers::cleanup::CLEANUP_STATUSES, 16)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read ended executions");
                Vec::new()
            });
        let idle = ended.is_empty();
        for e in ended {
            let event = execution_status_change(&runtime, &e);
            match runtime.invoke(CLEANUP_FUNCTION, event).await {
                Ok(_) => {
                    if let Err(err) = runtime.inner.executions.mark_end_delivered(&e.name) {
                        tracing::warn!(execution = %e.name, error = %err, "cannot record that an execution's end was delivered; it will be delivered again");
                    }
                }
                Err(err) => {
                    tracing::warn!(execution = %e.name, error = %err, "cleanup failed on an ended execution; retrying")
                }
            }
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else {
            tokio::task::yield_now().await;
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

fn save(inner: &Inner, name: &str, exec: &Execution<'_>) {
    let snap = match serde_json::to_value(exec.snapshot()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(execution = name, error = %e, "cannot serialize an execution snapshot");
            return;
        }
    };
    let o = exec.outcome();
    let status = match o.status {
        ExecutionStatus::Running => ExecutionState::Running,
        ExecutionStatus::Succeeded => ExecutionState::Succeeded,
        ExecutionStatus::Failed => ExecutionState::Failed,
        ExecutionStatus::TimedOut => ExecutionState::TimedOut,
    };
    for attempt in 0..20 {
        match inner.executions.save(
            name,
            &snap,
            status,
            o.output.as_ref(),
            o.error.as_deref(),
            o.cause.as_deref(),
        ) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(execution = name, attempt, error = %e, "cannot save an execution snapshot; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Where a state directory's database lives.
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("state.db")
}
