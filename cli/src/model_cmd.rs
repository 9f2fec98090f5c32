//! `stepscore train` and `stepscore score`: the scoring container's library, run in process.
//!
//! `s3://` locations go to the local state directory's buckets (the embedded world), or to S3
//! with `--aws` — the same choice the `stepscore-batch` container makes from its environment.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use stepscore_batch::{Error as BatchError, ScoreArgs, Storage, TrainArgs};
use stepscore_core::ports::ObjectStore;

use crate::exit::Failure;

/// Storage for `s3://` locations: the state directory's buckets, or S3 when `aws` is set.
pub fn storage(
    state_dir: &Path,
    aws: bool,
    runtime: &tokio::runtime::Runtime,
) -> Result<Storage, Failure> {
    let store: Arc<dyn ObjectStore> = if aws {
        let config = runtime.block_on(
            stepscore_aws::AwsSettings::from_env()
                .component("stepscore-cli")
                .load(),
        );
        Arc::new(stepscore_aws::S3Store::new(&config))
    } else {
        let root = state_dir.join("buckets");
        Arc::new(stepscore_local::DirStore::open(&root).map_err(|e| {
            Failure::Environment(anyhow!(
                "cannot open the local buckets at {}: {e}",
                root.display()
            ))
        })?)
    };
    Ok(Storage::with_store(store, runtime.handle().clone()))
}

/// Maps the scorer's error to the CLI's exit classes.
pub fn failure(e: BatchError) -> Failure {
    match e.exit_code() {
        64 | 65 => Failure::Invalid(e.into()),
        66 => Failure::NotFound(e.into()),
        _ => Failure::Environment(e.into()),
    }
}

/// `stepscore train`.
pub fn train(args: &TrainArgs, storage: &Storage) -> Result<(), Failure> {
    let trained = stepscore_batch::train(args, storage).map_err(failure)?;
    let metrics = serde_json::to_string(&trained.header.metrics).unwrap_or_default();
    println!(
        "wrote {} ({:?}); holdout metrics {metrics}",
        args.output, args.algorithm
    );
    Ok(())
}

/// `stepscore score`.
pub fn score(args: &ScoreArgs, storage: &Storage) -> Result<(), Failure> {
    let job = args.to_job().map_err(failure)?;
    let manifest = stepscore_batch::score(&job, storage).map_err(failure)?;
    println!(
        "scored {} of {} rows ({} rejected) in {:.2}s -> {}",
        manifest.rows_scored,
        manifest.rows_read,
        manifest.rows_rejected,
        manifest.duration_seconds,
        manifest.output
    );
    Ok(())
}

/// `stepscore train` with the global options.
pub fn train_cmd(args: &TrainArgs, g: &crate::Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let storage = storage(&g.state_dir, g.aws, &runtime)?;
    train(args, &storage)
}

/// `stepscore score` with the global options.
pub fn score_cmd(args: &ScoreArgs, g: &crate::Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let storage = storage(&g.state_dir, g.aws, &runtime)?;
    score(args, &storage)
}

/// Trains from argv-style flags on the local world's storage (the demo's training step).
pub fn train_in(state_dir: &Path, flags: &[&str], quiet: bool) -> Result<(), Failure> {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: TrainArgs,
    }
    use clap::Parser;
    let argv = std::iter::once("train").chain(flags.iter().copied());
    let args = Wrapper::try_parse_from(argv)
        .map_err(|e| Failure::Invalid(anyhow!("{e}")))?
        .args;
    let runtime = crate::tokio_runtime()?;
    let storage = storage(state_dir, false, &runtime)?;
    let trained = stepscore_batch::train(&args, &storage).map_err(failure)?;
    if !quiet {
        eprintln!(
            "    holdout metrics {}",
            serde_json::to_string(&trained.header.metrics).unwrap_or_default()
        );
    }
    Ok(())
}
