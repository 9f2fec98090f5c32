//! `stepscore score`: scores a CSV (or every CSV under a prefix) with a model artifact, with the
//! scoring container's library.

use stepscore_batch::ScoreArgs;

use crate::Global;
use crate::exit::Failure;
use crate::scorer::{failure, storage};

/// `stepscore score`.
pub fn run(args: &ScoreArgs, g: &Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let storage = storage(&g.state_dir, g.aws, &runtime)?;
    let job = args.to_job().map_err(failure)?;
    let manifest = stepscore_batch::score(&job, &storage).map_err(failure)?;
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
