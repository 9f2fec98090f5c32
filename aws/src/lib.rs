//! AWS adapters for the stepscore ports: S3, DynamoDB, EventBridge, SQS, Step Functions and Batch.
//!
//! Each adapter wraps one AWS SDK client and implements one port of `stepscore-core`, mapping the
//! SDK's errors onto the port's transient/permanent split (throttling, 5xx, timeouts and network
//! failures are transient; everything else is not), because the Lambda error names the state
//! machine retries on are derived from that split.
//!
//! The S3 adapter and what every adapter shares (settings, the error split, the call log) are
//! `stepscore-aws-s3`, re-exported here: the scoring container links that crate alone, without
//! the SDKs of the other services.
//!
//! # Layout
//! - [`settings`]: [`AwsSettings`] (region, endpoint override) and the shared SDK config
//!   (re-exported).
//! - [`s3`]: [`S3Store`], the object store (re-exported).
//! - [`dynamo`]: [`DynamoTable`], the job table (conditional writes on the stored progress).
//! - [`events`]: [`EventBridgeNotifier`], the notifier (PutEvents on one bus).
//! - [`sfn`]: [`SfnExecutions`], idempotent StartExecution.
//! - [`sqs`]: [`SqsQueue`], the message queue (SendMessage): the job queue and its dead letters.
//! - [`batch`]: [`BatchClient`], SubmitJob and DescribeJobs.
//! - [`policy`]: `iam/policies.json` (every principal's permissions, the one source Terraform
//!   reads) and an IAM policy evaluator.
//! - [`calllog`]: the AWS call log (`STEPSCORE_AWS_CALL_LOG`): each SDK call as the IAM action
//!   and resource it needs, for the tests that evaluate them against the policies; this crate's
//!   services are mapped here, S3 in `stepscore-aws-s3`.
//! - [`iam`]: the IAM actions behind each port call, and those the pipeline's roles must grant.
//! - `moto` and `fixtures` (feature `test-support`): the moto server harness and what the tests
//!   over it share (unique names, a bucket, a Batch world).
//!
//! # Architecture invariant
//! This crate and `stepscore-aws-s3` are the only ones that know the AWS SDK types; nothing they
//! return mentions them.

pub mod batch;
pub mod calllog;
pub mod dynamo;
pub mod events;
#[cfg(feature = "test-support")]
pub mod fixtures;
pub mod iam;
#[cfg(feature = "test-support")]
pub mod moto;
pub mod policy;
pub mod sfn;
pub mod sqs;

pub use batch::BatchClient;
pub use dynamo::DynamoTable;
pub use events::EventBridgeNotifier;
pub use sfn::SfnExecutions;
pub use sqs::SqsQueue;
pub use stepscore_aws_s3::{AwsSettings, S3Store, SdkConfig, s3, settings};
