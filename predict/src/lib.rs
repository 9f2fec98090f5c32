//! Online scoring: one model artifact served over HTTP with the KServe v1 predict protocol.
//!
//! The same [`PredictService`] answers the local server (`stepscore serve`, [`server`]) and the
//! `stepscore-predict` Lambda function behind API Gateway (in `stepscore-lambda`). It scores with
//! the batch scorer's own model code (`stepscore_batch::model`): the artifact is checked by the
//! same rules and a row scores to the same value as in a batch job.
//!
//! # Layout
//! - [`source`]: where the artifact lives (local path or `s3://`), its bytes and version.
//! - [`served`]: a loaded model with its version and feature lookup.
//! - [`reload`]: the model serving now, reloaded when the artifact changes.
//! - [`instances`]: the request body read into rows, every bad row and feature named.
//! - [`reply`]: the JSON answers.
//! - [`service`]: routing, limits and status codes, independent of the transport.
//! - [`server`]: the local HTTP server (axum on hyper).

pub mod instances;
pub mod reload;
pub mod reply;
pub mod served;
pub mod server;
pub mod service;
pub mod source;

pub use reload::{CheckOutcome, LoadError, ReloadingModel};
pub use service::{Limits, PredictService, Reply};
pub use source::{ModelSource, ModelUri};
