//! The stepscore domain: what a scoring job is, how its record may change, and the ports through
//! which the rest of the system reaches the outside world.
//!
//! This crate does no IO and knows no AWS SDK, no Lambda runtime and no SQLite: the handlers and
//! the batch job are written against the ports here, and each world (AWS, the embedded local
//! runtime) supplies adapters for them.
//!
//! # Layout
//! - [`uri`]: `s3://bucket/key` object locations.
//! - [`id`]: job ids, derived deterministically from the S3 object that carried the config.
//! - [`config`]: the job config a user drops into `jobs/`: strict parsing and validation.
//! - [`strict_json`]: a user's JSON read strictly (duplicate keys refused, a BOM read).
//! - [`status`]: job status names (AWS Batch's) and the rule that status never moves backwards.
//! - [`record`]: the job record kept in the job table, and the updates applied to it.
//! - [`manifest`]: the scoring manifest the batch job writes and finalize reads.
//! - [`live`]: a running job's progress figures, summed from the scorer's progress reports.
//! - [`event`]: the "stepscore Job Status Change" event published when a job ends.
//! - [`batch`]: the shape of a Batch submission and of a Batch job as the pipeline sees it.
//! - [`status_reason`]: the Batch statusReason texts AWS documents that the pipeline acts on
//!   (spot reclaimed, no capacity), in one place.
//! - [`ports`]: object store, job table, batch service, executions, notifier, clock.
//! - The contract suites (feature `test-support`), one per port, each run against every
//!   implementation of it (the AWS adapter over moto, the embedded adapter, the handlers' test
//!   fake): `store_contract`, `table_contract`, `batch_contract`, `executions_contract`.

pub mod batch;
#[cfg(any(test, feature = "test-support"))]
pub mod batch_contract;
pub mod config;
#[cfg(test)]
mod contract_toys;
pub mod event;
#[cfg(any(test, feature = "test-support"))]
pub mod executions_contract;
pub mod id;
pub mod live;
pub mod manifest;
pub mod ports;
pub mod record;
pub mod status;
pub mod status_reason;
#[cfg(any(test, feature = "test-support"))]
pub mod store_contract;
pub mod strict_json;
#[cfg(any(test, feature = "test-support"))]
pub mod table_contract;
pub mod uri;

pub use id::{JobId, Sequencer};
pub use status::JobStatus;
pub use uri::ObjectUri;
