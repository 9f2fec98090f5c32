//! [`LocalRuntime`]: the whole pipeline on one machine, opened on a state directory.
//!
//! ```text
//! <state>/buckets/<bucket>/<key>   objects (DirStore; STEPSCORE_LOCAL_S3_ROOT for the scorer)
//! <state>/state.db                 job records, Batch jobs, executions, the S3 event outbox,
//!                                  the state machines `asl run` recorded, the loaded schedules
//! <state>/logs/<batch job id>/     stdout and stderr of each Batch attempt
//! <state>/runtime.lock             held by the one process that runs things (`serve`)
//! ```
//!
//! Any number of processes may open a runtime to drop configs, start executions and read status;
//! one process at a time [`serve`](LocalRuntime::serve)s: it delivers S3 events to the admit
//! function, runs executions in the ASL interpreter (persisting a snapshot after every state),
//! and runs the local Batch. Killed at any point, the next `serve` resumes every unfinished
//! execution from its last snapshot and redelivers undelivered events.
//!
//! # Layout
//! - `local_runtime`: [`LocalRuntime`] opened on a state directory, and what it is made of.
//! - `config`, `error`: [`RuntimeConfig`] and [`RuntimeError`].
//! - `names`, `placeholders`: the local world's ARNs and the state machine's `${placeholders}`.
//! - `lambda`: in-process Lambda functions and their registry.
//! - `status`: what the CLI reads (executions, histories, job records, Batch logs).
//! - `server`: [`Server`], the serving process's tasks and `runtime.lock`.
//! - `outbox`: the S3 event outbox and its delivery to admit.
//! - `runner`, `dispatcher`: executions run in the interpreter, and their tasks.
//! - `execution_ends`: ended executions delivered to cleanup, as EventBridge does.
//! - `schedules`: schedules fired into the schedule function, and recorded as loaded (next and
//!   last fire) for viewers.
//! - `clock`: [`ScaledClock`].
//! - `refused`: how serving tasks wait after state.db refused a write.

mod clock;
mod config;
mod dispatcher;
mod error;
mod execution_ends;
mod lambda;
mod local_runtime;
pub mod map_run;
mod outbox;
mod placeholders;
mod refused;
mod runner;
mod schedules;
mod server;
mod status;

pub use crate::names::database_path;
pub use crate::names::{
    LOCAL_ACCOUNT, LOCAL_REGION, STATE_MACHINE_NAME, function_arn, function_name_for_tests,
};
pub use clock::ScaledClock;
pub use config::RuntimeConfig;
pub use error::RuntimeError;
pub use execution_ends::{CLEANUP_FUNCTION, execution_status_change};
pub use lambda::{LambdaError, LambdaFn, LambdaFuture};
pub use local_runtime::{LocalRuntime, WeakRuntime};
pub use placeholders::{fill_placeholders, local_placeholders};
pub use server::Server;
/// What [`LocalRuntime::stop_job`] reports and fails with (the handlers' own types).
pub use stepscore_handlers::{HandlerError, StopReport};
