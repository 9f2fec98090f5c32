//! The S3 adapter of the object store port, and what every AWS adapter shares.
//!
//! A crate of its own so the scoring container, which needs S3 and nothing else of AWS, links
//! no DynamoDB, Step Functions or Batch SDK: those adapters are in `stepscore-aws`, which builds
//! on this crate and re-exports it.
//!
//! # Layout
//! - [`settings`]: [`AwsSettings`] (region, endpoint override, calling component) and the SDK
//!   config; [`with_call_log!`], how every adapter builds its client.
//! - [`s3`]: [`S3Store`], the object store (streaming gets with ranges, multipart puts).
//! - [`errors`]: the transient/permanent split of SDK errors the ports' errors carry.
//! - [`calllog`]: the AWS call log (`STEPSCORE_AWS_CALL_LOG`): each SDK call as the IAM action
//!   and resource it needs, for the tests that evaluate them against `iam/policies.json`; S3's
//!   operations are mapped here.
//!
//! # Architecture invariant
//! Only this crate and `stepscore-aws` know the AWS SDK types; nothing the adapters return
//! mentions them.

pub mod calllog;
pub mod errors;
pub mod s3;
pub mod settings;

pub use aws_config::SdkConfig;
pub use s3::S3Store;
pub use settings::AwsSettings;
