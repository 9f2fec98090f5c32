//! The scoring container: train and score smartcore models on CSV, from S3 or local files.
//!
//! `stepscore-batch` is the AWS Batch job's entrypoint (and, through this library, the
//! `stepscore train` / `stepscore score` commands). `train` fits one of eight smartcore 0.7
//! algorithms on a CSV, measures it on a seeded holdout and writes a versioned JSON
//! [artifact](artifact). `score` streams an input CSV (one object or every object under a
//! prefix) through the model and writes predictions, rejected rows and a
//! [`ScoringManifest`](stepscore_core::manifest::ScoringManifest); as an array-job child it
//! scores only its shard.
//!
//! # Speed
//! Scoring does not call smartcore's predict for trees, forests, logistic and linear models:
//! the artifact carries a flattened [kernel] that scores blocks of rows from contiguous arrays,
//! parsed by a memchr/fast-float CSV path, on every core, in order, with bounded memory.
//!
//! # Exit codes
//! | code | meaning | Batch retries? |
//! |---|---|---|
//! | 0  | success | — |
//! | 64 | usage: bad arguments or environment | no |
//! | 65 | bad data (a bad row under `fail`, missing feature columns, rows the reader cannot account for), a bad model artifact, or a model failing while scoring | no |
//! | 66 | the input or the model does not exist or cannot be read | no |
//! | 70 | internal error | no |
//! | 75 | transient infrastructure failure (S3 throttling, 5xx, network), or an input replaced while it was read | yes (`retry-strategy.json`) |
//!
//! # Layout
//! - [`algorithm`]: the algorithms `train` offers and what each predicts.
//! - [`artifact`]: the model artifact format, reading and writing.
//! - [`kernel`]: flattened trees/forests, logistic and linear kernels.
//! - [`knn`]: the k-NN model, checked and rebuilt from an artifact.
//! - [`model`]: a loaded model ready to score.
//! - [`train`]: data loading, holdout split, fitting, metrics.
//! - [`csvread`]: header mapping, record splitting, field parsing, chunking.
//! - [`input`]: format and compression detection, gzip/zstd decoding, JSON Lines, Parquet.
//! - [`score`]: sharding, the ordered parallel pipeline, rejects and manifest.
//! - [`storage`]: local paths and `s3://` objects as blocking streams over the object store port.
//! - [`cli`]: argument structs and the environment contract.
//! - [`entry`]: the container's entry point (`stepscore-batch`'s `main`).
//! - [`error`]: the error type and exit codes.

pub mod algorithm;
pub mod artifact;
pub mod benchdata;
pub mod cli;
pub mod csvread;
pub mod entry;
pub mod error;
pub mod input;
pub mod kernel;
pub mod knn;
pub mod model;
pub mod score;
pub mod storage;
pub mod train;

pub use cli::{OnBadRow, ScoreArgs};
pub use error::Error;
pub use score::{ScoreJob, Shard, score};
pub use storage::{Location, Storage};
pub use train::{TrainArgs, train};
