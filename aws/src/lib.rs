//! AWS adapters for the stepscore ports: S3, DynamoDB, Step Functions and Batch.
//!
//! Each adapter wraps one AWS SDK client and implements one port of `stepscore-core`, mapping the
//! SDK's errors onto the port's transient/permanent split (throttling, 5xx, timeouts and network
//! failures are transient; everything else is not), because the Lambda error names the state
//! machine retries on are derived from that split.
//!
//! # Layout
//! - [`settings`]: [`AwsSettings`] (region, endpoint override) and the shared SDK config.
//! - [`s3`]: [`S3Store`], the object store (streaming gets with ranges, multipart puts).
//! - [`dynamo`]: [`DynamoTable`], the job table (conditional writes on the stored progress).
//! - [`sfn`]: [`SfnExecutions`], idempotent StartExecution.
//! - [`batch`]: [`BatchClient`], SubmitJob and DescribeJobs.
//! - [`policy`]: `iam/policies.json` (every principal's permissions, the one source Terraform
//!   reads) and an IAM policy evaluator.
//! - [`calllog`]: the AWS call log (`STEPSCORE_AWS_CALL_LOG`): each SDK call as the IAM action
//!   and resource it needs, for the tests that evaluate them against the policies.
//!
//! # Architecture invariant
//! This is the only crate that knows the AWS SDK types; nothing it returns mentions them.

pub mod batch;
pub mod calllog;
pub mod dynamo;
mod errors;
pub mod iam;
#[cfg(feature = "test-support")]
pub mod moto;
pub mod policy;
pub mod s3;
pub mod settings;
pub mod sfn;

pub use aws_config::SdkConfig;
pub use batch::BatchClient;
pub use dynamo::DynamoTable;
pub use s3::S3Store;
pub use settings::AwsSettings;
pub use sfn::SfnExecutions;
