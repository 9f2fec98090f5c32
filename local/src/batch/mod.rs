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
//!
//! # Layout
//! - `config`: [`BatchConfig`] — compute environments, queues, job definitions, reclaims.
//! - `local_batch`: [`LocalBatch`], opened on the state database, with its reads; `error`.
//! - `service`: the [`BatchService`](stepscore_core::ports::BatchService) port over it
//!   (SubmitJob, ListJobs by name, TerminateJob, DescribeJobs).
//! - `jobs_table`: the `batch_jobs` table and how a job (an array parent's summary) is read.
//! - `executor`: the thread that moves jobs through their states and runs attempts.
//! - `reasons`: the statusReasons AWS gives, which the pipeline acts on.

mod config;
mod error;
mod executor;
mod jobs_table;
mod local_batch;
mod reasons;
mod service;

pub use config::{
    BatchConfig, ComputeEnvironment, JobDefinition, JobQueue, ON_DEMAND_QUEUE,
    SCORING_JOB_DEFINITION, SPOT_QUEUE, SpotReclaim, default_scorer_path,
};
pub use error::LocalBatchError;
pub use jobs_table::LocalJob;
pub use local_batch::LocalBatch;
pub use reasons::{ARRAY_CHILD_FAILED_REASON, EXITED_REASON, TIMEOUT_REASON};
