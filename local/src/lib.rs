//! The embedded world: every port of `stepscore-core` implemented on one machine, and a runtime
//! that runs the pipeline's state machine with in-process Lambda functions, no cloud and no
//! docker.
//!
//! # Layout
//! - [`store`]: [`DirStore`] (crate `stepscore-dirstore`, re-exported), S3 as a directory tree
//!   (`<root>/<bucket>/<key>`, metadata kept outside the bucket folders), atomic puts, MD5
//!   ETags, a version id per put (a versioned bucket: earlier versions of small objects stay
//!   readable by id), and the S3 `ObjectCreated:Put` event for configs under `jobs/`.
//! - [`table`]: [`SqliteTable`], the job table with DynamoDB's conditional-write semantics (one
//!   `UPDATE … WHERE progress < ?`), WAL mode, safe across processes.
//! - [`batch`]: [`LocalBatch`], AWS Batch: queues with priorities over spot and on-demand
//!   capacity, AWS's job states, retry strategies, attempt timeouts, array jobs, per-attempt
//!   logs, spot-reclaim injection; each attempt is a child process (`batch/executor/`).
//! - [`schedule`]: EventBridge Scheduler's `cron()`/`rate()`/`at()` in IANA time zones, and a
//!   [`Scheduler`] that fires templates.
//! - [`scanner`]: [`Scanner`], the event source for configs copied into a bucket folder by
//!   hand: each completely written content version registered once (durable cursor in
//!   `state.db`), its S3 event queued in the outbox; the bytes are never rewritten.
//! - [`executions`]: [`LocalExecutions`], the executions port, persisted with snapshots.
//! - [`machines`]: state machines run with `stepscore asl run`, recorded by name and version
//!   with their executions ([`Recorder`](machines::Recorder)), for the console and `history`.
//! - [`events`]: [`EventsLog`](events::EventsLog), the `Notifier`: "stepscore Job Status
//!   Change" events appended to `events.jsonl` in the state directory, and the record of which
//!   ones `watch --on-complete` delivered.
//! - `names`: the local world's names (region, account, the pipeline's state machine, where the
//!   database lives), a leaf both `runtime` and `machines` use.
//! - [`pipeline`]: the pipeline's Lambda functions (`stepscore-handlers`) wired to the runtime.
//! - [`runtime`]: [`LocalRuntime`], all of the above on one state directory; `serve` runs it
//!   (`runtime/`: one file per job — server, outbox, runner, dispatcher, execution ends, …).
//! - [`views`]: read-only queries for viewers beside the serving process (the console):
//!   keyset pages of executions, counts by status.
//! - [`db`]: the state database shared by the table, Batch, executions and the event outbox.
//!
//! # Architecture invariants
//! - The bucket folders hold object bytes only, so the scorer (`STEPSCORE_LOCAL_S3_ROOT`) and
//!   people can read them as plain files; nothing this crate writes is ever listed as a key.
//! - Every state change is in the state database before it is acted on: an S3 event is in the
//!   outbox before `put` returns, an execution's snapshot is saved after every top-level state,
//!   a Batch job's status before its process starts. A process killed at any point loses
//!   nothing; the next `serve` redelivers, resumes and re-runs from there.
//! - A write the database refuses stops the action it guards, and says so: the put fails, the
//!   process does not start (or is stopped when its pid cannot be kept), the execution waits at
//!   its last saved state, the delivery is made again after a pause. Nothing unreadable is
//!   skipped or restarted from scratch: it is retried, or FAILED with a reason naming it.
//! - A Batch attempt whose process died with its runtime is a lost host (statusReason
//!   `Host EC2 (instance i-…) terminated.`): the retry strategy decides, as on AWS.
//! - Exactly one process serves a state directory (`runtime.lock`); any number may read it,
//!   drop configs and start executions.
//!
//! # For the CLI
//! Open a [`LocalRuntime`] on a [`RuntimeConfig`], register the Lambda functions, then: drop a
//! config ([`LocalRuntime::drop_config`]), start by hand ([`LocalRuntime::start_execution`]),
//! read [`LocalRuntime::job`]/[`LocalRuntime::jobs`], [`LocalRuntime::execution`],
//! [`LocalRuntime::list_executions`], [`LocalRuntime::history`], [`LocalRuntime::batch_logs`],
//! follow one with [`LocalRuntime::watch`], run schedules with [`LocalRuntime::run_schedules`],
//! and run everything with [`LocalRuntime::serve`] (inside a tokio runtime).

pub mod batch;
pub mod db;
pub mod events;
pub mod executions;
pub mod machines;
mod names;
pub mod pipeline;
pub mod runtime;
pub mod scanner;
pub mod schedule;
pub mod table;
pub mod views;

/// The directory object store, its own crate so the scoring container links it without SQLite.
pub use stepscore_dirstore::store;

pub use batch::{BatchConfig, LocalBatch};
pub use executions::{ExecutionInfo, ExecutionState, LocalExecutions};
pub use runtime::{LambdaError, LambdaFn, LocalRuntime, RuntimeConfig, ScaledClock, Server};
pub use scanner::{Found, ScanConfig, Scanner};
pub use schedule::{Fire, Schedule, ScheduleExpression, Scheduler};
pub use store::{DirStore, EventSink, NotificationFilter};
pub use table::SqliteTable;
