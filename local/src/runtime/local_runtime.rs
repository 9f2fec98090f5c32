//! [`LocalRuntime`]: the pipeline's adapters opened on one state directory, and the front door
//! the CLI uses (drop a config, start an execution).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use stepscore_asl::StateMachine;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{Executions, ObjectMeta, Started};

use crate::batch::LocalBatch;
use crate::events::EventsLog;
use crate::executions::LocalExecutions;
use crate::store::{DirStore, NotificationFilter};
use crate::table::SqliteTable;

use super::placeholders::fill_placeholders;
use super::{LambdaFn, RuntimeConfig, RuntimeError, ScaledClock, outbox};
use crate::names::{LOCAL_ACCOUNT, LOCAL_REGION, STATE_MACHINE_NAME};

/// The pipeline on one machine.
#[derive(Clone)]
pub struct LocalRuntime {
    pub(super) inner: Arc<Inner>,
}

/// What a runtime is made of; the sibling modules (server, runner, outbox, …) reach in.
pub(super) struct Inner {
    pub(super) config: RuntimeConfig,
    pub(super) machine: Arc<StateMachine>,
    pub(super) store: DirStore,
    pub(super) table: SqliteTable,
    pub(super) batch: LocalBatch,
    pub(super) executions: LocalExecutions,
    /// Finished children of Distributed Map runs.
    pub(super) map_runs: super::map_run::MapRunJournal,
    pub(super) functions: RwLock<BTreeMap<String, LambdaFn>>,
    /// The S3 event outbox's connection, for the pump and the counts.
    pub(super) outbox: Mutex<rusqlite::Connection>,
    /// Rung when this process adds to the outbox, so delivery does not wait for the next poll.
    pub(super) outbox_wake: Arc<tokio::sync::Notify>,
    pub(super) clock: ScaledClock,
    pub(super) events: EventsLog,
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
        let machine = parse_machine(&config)?;
        let db_path = dir.join("state.db");
        let dberr = |e: rusqlite::Error| RuntimeError::Database {
            path: db_path.display().to_string(),
            message: e.to_string(),
        };
        let outbox = outbox::open(&db_path).map_err(dberr)?;
        // the tables other processes record into (`asl run`'s state machines, the schedules a
        // `schedule` process loaded), so that a viewer finds them empty rather than missing
        crate::machines::create_schema(&outbox.conn).map_err(dberr)?;
        super::schedules::create_schema(&outbox.conn).map_err(dberr)?;
        let outbox_wake = outbox.wake.clone();
        let sink = outbox.sink;
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
        let map_runs = super::map_run::MapRunJournal::open(&db_path).map_err(dberr)?;
        let clock = ScaledClock::new(config.time_scale);
        let events = EventsLog::new(&dir);
        Ok(LocalRuntime {
            inner: Arc::new(Inner {
                config,
                machine: Arc::new(machine),
                store,
                table,
                batch,
                executions,
                map_runs,
                functions: RwLock::new(BTreeMap::new()),
                outbox: Mutex::new(outbox.conn),
                outbox_wake,
                clock,
                events,
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

    /// The events log: where finalize and cleanup publish a job's end.
    pub fn events(&self) -> &EventsLog {
        &self.inner.events
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
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

    /// Stops every running execution of job `id`, as `stepscore stop` does (the same function:
    /// `stepscore_handlers::stop_job`); the executions' ends then reach cleanup, which
    /// terminates the Batch job and fails the record.
    pub async fn stop_job(
        &self,
        id: &stepscore_core::JobId,
        cause: &str,
    ) -> Result<stepscore_handlers::StopReport, stepscore_handlers::HandlerError> {
        stepscore_handlers::stop_job(&self.inner.executions, &self.inner.table, id, cause).await
    }

    /// What admit would say about the objects `config` names: admit's own check, on this
    /// runtime's store.
    pub async fn missing_objects(
        &self,
        config: &stepscore_core::config::JobConfig,
    ) -> Result<Vec<stepscore_core::config::ConfigProblem>, stepscore_handlers::HandlerError> {
        stepscore_handlers::admit::missing_objects(&self.inner.store, config).await
    }

    pub(super) fn dberr(&self, e: rusqlite::Error) -> RuntimeError {
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

/// The state machine of `config`'s definition, its `${placeholders}` filled.
fn parse_machine(config: &RuntimeConfig) -> Result<StateMachine, RuntimeError> {
    let text = fill_placeholders(&config.definition, &config.placeholders)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| RuntimeError::Definition(format!("not JSON: {e}")))?;
    stepscore_asl::parse_definition(&value, stepscore_asl::ValidationOptions::default()).map_err(
        |d| {
            RuntimeError::Definition(
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        },
    )
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
