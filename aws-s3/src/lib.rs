//! The S3 adapter of the object store port, and what every AWS adapter shares.
//!
//! A crate of its own so the scoring container, which needs S3 and nothing else of AWS, links
//! no DynamoDB, Step Functions or Batch SDK: those adapters are in `stepscore-aws`, which builds
//! on this crate and re-exports it.
//!
//! # Layout
//! - [`settings`]: [`AwsSettings`] (region, endpoint override, calling component) and the SDK
//!   config; [`with_call_log!`], how every adapter builds its client.
//! - [`s3`]: [`S3Store`], the object store (gets as concurrent ranged GETs pinned to one ETag,
//!   multipart puts).
//! - [`transfer`]: [`TransferSettings`], how transfers are split: part size, parts in flight,
//!   memory per transfer, attempts per part (`STEPSCORE_S3_PART_SIZE`,
//!   `STEPSCORE_S3_CONCURRENCY`, `STEPSCORE_S3_MEMORY`).
//! - `buffers`: read blocks and upload parts reused within a transfer (allocator churn held
//!   memory).
//! - `upload`: multipart uploads with concurrent parts, aborted on any failure.
//! - [`ranged`]: ranged parts fetched concurrently and read in order, generic over the fetch.
//! - [`errors`]: the transient/permanent split of SDK errors the ports' errors carry.
//! - [`calllog`]: the AWS call log (`STEPSCORE_AWS_CALL_LOG`): each SDK call as the IAM action
//!   and resource it needs, for the tests that evaluate them against `iam/policies.json`; S3's
//!   operations are mapped here.
//!
//! # Architecture invariant
//! Only this crate and `stepscore-aws` know the AWS SDK types; nothing the adapters return
//! mentions them.

mod buffers;
pub mod calllog;
pub mod errors;
pub mod ranged;
pub mod s3;
pub mod settings;
pub mod transfer;
mod upload;

pub use aws_config::SdkConfig;
pub use s3::S3Store;
pub use settings::AwsSettings;
pub use transfer::TransferSettings;
