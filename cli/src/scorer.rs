//! The scoring container's library run in process, as `train` and `score` (and `demo`'s
//! training step) use it: its storage for `s3://` locations, and its errors as exit classes.
//!
//! `s3://` locations go to the local state directory's buckets (the embedded world), or to S3
//! with `--aws` — the same choice the `stepscore-batch` container makes from its environment.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use stepscore_batch::{Error as BatchError, Storage};
use stepscore_core::ports::ObjectStore;

use crate::exit::Failure;

/// Storage for `s3://` locations: the state directory's buckets, or S3 when `aws` is set.
pub fn storage(
    state_dir: &Path,
    aws: bool,
    runtime: &tokio::runtime::Runtime,
) -> Result<Storage, Failure> {
    let store = object_store(state_dir, aws, runtime)?;
    Ok(Storage::with_store(store, runtime.handle().clone()))
}

/// The store of `s3://` locations: the state directory's buckets, or S3 when `aws` is set.
pub fn object_store(
    state_dir: &Path,
    aws: bool,
    runtime: &tokio::runtime::Runtime,
) -> Result<Arc<dyn ObjectStore>, Failure> {
    let store: Arc<dyn ObjectStore> = if aws {
        Arc::new(stepscore_aws::S3Store::new(&crate::aws::sdk_config(
            runtime,
        )))
    } else {
        let root = state_dir.join("buckets");
        Arc::new(stepscore_local::DirStore::open(&root).map_err(|e| {
            Failure::Environment(anyhow!(
                "cannot open the local buckets at {}: {e}",
                root.display()
            ))
        })?)
    };
    Ok(store)
}

/// Maps the scorer's error to the CLI's exit classes.
pub fn failure(e: BatchError) -> Failure {
    match e.exit_code() {
        64 | 65 => Failure::Invalid(e.into()),
        66 => Failure::NotFound(e.into()),
        _ => Failure::Environment(e.into()),
    }
}
