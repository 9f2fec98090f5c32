//! The pipeline's Lambda handlers: plain async functions over the core ports, each wrapped by a
//! thin `lambda_runtime` binary on AWS (crate `stepscore-lambda`) and called in process by the
//! embedded runtime (`stepscore-local`).
//!
//! # Layout
//! - [`admit`]: `admit` (S3 ObjectCreated on `jobs/`) and `schedule` (EventBridge Scheduler), one
//!   shared admission path: validate, check model and input, write the record, start the
//!   execution named by the job id.
//! - [`front_door`]: `POST /jobs` (check the config as admission will, queue it, 202 with the
//!   job id) and `GET /jobs/<id>` (the record), the HTTP API for batch jobs.
//! - [`intake`]: the job queue's consumer: admits each queued submission through admission's
//!   path; what cannot be admitted goes to the dead-letter queue with its reason.
//! - [`columns`]: admission's check of a feature map against the model and the first input
//!   object's header.
//! - [`tasks`]: the state machine's tasks `register`, `submit`, `check`, `finalize`.
//! - [`cleanup`]: `cleanup` (an execution ended ABORTED, TIMED_OUT or FAILED: terminate its
//!   Batch job, fail the record) and `stop_job` (`stepscore stop`).
//! - [`progress`]: check's copy of the scorer's progress reports into the record.
//! - [`notify`]: the "stepscore Job Status Change" event finalize and cleanup publish, once per
//!   terminal transition (the record is the outbox).
//! - [`job`]: the job as it travels between tasks, and the growing polling interval.
//! - [`error`]: [`HandlerError`] and the fixed error names (`stepscore.Transient`, …) the state
//!   machine's Retry/Catch match.
//! - [`contract`]: `lambda-functions.json`, the deployment contract Terraform is checked against.
//!
//! # Invariants
//! Handlers see only ports: among stepscore crates this one depends on `stepscore-core` alone,
//! and on no AWS SDK, Lambda runtime or SQLite (`cli/tests/cli/architecture.rs` holds it to
//! that). The AWS types it reads are the S3 and SQS events (`aws_lambda_events`, pure serde
//! data, the shapes AWS documents). A duplicated event admits nothing twice (job ids are derived from the
//! object version or scheduled time), and a record's status only moves forward.

pub mod admit;
pub mod cleanup;
pub mod columns;
pub mod contract;
pub mod error;
pub mod front_door;
pub mod intake;
pub mod job;
pub mod notify;
pub mod progress;
pub mod tasks;

pub use admit::{
    AdmitPorts, Admitted, DEFAULT_JOBS_PREFIX, Refused, ScheduledRun, admit, check_config, schedule,
};
pub use cleanup::{CleanupOutput, StopReport, cleanup, stop_job};
pub use error::HandlerError;
pub use front_door::{FrontDoorPorts, JobsReply, JobsRequest, handle_jobs_request};
pub use intake::{IntakePorts, QueuedJob, Taken, intake};
pub use job::{Job, MAX_CHECKS_PER_EXECUTION, MAX_EXECUTIONS_PER_JOB, Poll, QueueKind, next_wait};
pub use tasks::{check, exit_code_meaning, finalize, register, submit};

pub use contract::LAMBDA_FUNCTIONS_JSON;

/// The scoring state machine definition, with `${placeholders}` unfilled.
pub const STATE_MACHINE_JSON: &str = include_str!("../../state-machines/scoring-pipeline.asl.json");
