//! The pipeline's functions on AWS Lambda: one thin `lambda_runtime` binary per handler of
//! `stepscore-handlers` (`src/bin/stepscore-<name>.rs`, the names `handlers/lambda-functions.json`
//! lists), wired to the AWS adapters of `stepscore-aws`.
//!
//! A crate of its own so the handlers stay free of the Lambda runtime and the AWS SDKs: the
//! embedded world (`stepscore-local`) runs the same handler functions in process.
//!
//! # Layout
//! - [`runtime`]: what every binary shares: tracing setup, required environment variables, the
//!   adapters built once per process, and the runtime loop that reports a handler's error
//!   under its `stepscore.*` name.
//! - [`http_api`]: what the functions behind API Gateway HTTP APIs share: the path without the
//!   stage, the body decoded, headers, JSON responses.
//! - [`jobs`]: the `stepscore-jobs` function: `POST /jobs` and `GET /jobs/<id>` events answered
//!   by the handlers' front door (`stepscore-intake`, the job queue's consumer, is a thin binary
//!   over the handlers' `intake`).
//! - [`predict`]: the `stepscore-predict` function: its settings, the model loaded through the S3
//!   adapter, and API Gateway HTTP API (payload format 2.0) events answered by
//!   `stepscore_predict::PredictService`.
//!
//! The tests here run the handlers over the AWS adapters against moto: the whole pipeline pass
//! (`tests/lambda/pipeline.rs`), finalize over 10,000 manifests, and every component's calls
//! evaluated against its principal in `iam/policies.json` (`tests/iam.rs`).

pub mod http_api;
pub mod jobs;
pub mod predict;
pub mod runtime;
