//! The embedded world: every port of `stepscore-core` implemented on one machine, and a runtime
//! that runs the pipeline's state machine with the real handlers, no cloud and no docker.
//!
//! # Layout
//! - [`store`]: [`DirStore`], S3 as a directory tree (one folder per bucket), emitting S3 events.

pub mod store;

pub use store::{DirStore, EventSink, NotificationFilter};
pub mod db;
pub mod schedule;
pub mod table;

pub use schedule::{Fire, Schedule, ScheduleExpression, Scheduler};
pub use table::SqliteTable;
pub mod batch;

pub use batch::{BatchConfig, LocalBatch};
pub mod executions;
pub mod runtime;

pub use executions::{ExecutionInfo, ExecutionState, LocalExecutions};
pub use runtime::{LambdaError, LambdaFn, LocalRuntime, RuntimeConfig, ScaledClock, Server};
