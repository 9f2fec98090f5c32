//! `stepscore train`: trains a model on a CSV with the scoring container's library and writes
//! its artifact.

use std::path::Path;

use anyhow::anyhow;
use stepscore_batch::TrainArgs;

use crate::Global;
use crate::exit::Failure;
use crate::scorer::{failure, storage};

/// `stepscore train`.
pub fn run(args: &TrainArgs, g: &Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let storage = storage(&g.state_dir, g.aws, &runtime)?;
    let trained = stepscore_batch::train(args, &storage).map_err(failure)?;
    let metrics = serde_json::to_string(&trained.header.metrics).unwrap_or_default();
    println!(
        "wrote {} ({:?}); holdout metrics {metrics}",
        args.output, args.algorithm
    );
    Ok(())
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
