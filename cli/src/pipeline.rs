//! Opens the embedded pipeline: the local runtime on the state directory, with the real handler
//! functions registered as its in-process Lambda functions.

use std::path::Path;

use anyhow::anyhow;
use stepscore_local::batch::{SCORING_JOB_DEFINITION, SpotReclaim, default_scorer_path};
use stepscore_local::{LocalRuntime, RuntimeConfig};

use crate::Global;
use crate::exit::Failure;

/// The hidden subcommand under which `stepscore` runs the scoring container itself, when no
/// `stepscore-batch` binary sits next to it (e.g. after `cargo run -p stepscore`). It runs the
/// same library entry point as `stepscore-batch`.
pub const BATCH_CONTAINER_SUBCOMMAND: &str = "batch-container";

/// Choices that change how the local world behaves.
#[derive(Debug, Default, Clone)]
pub struct PipelineOptions {
    /// Reclaim the first spot attempt this many (scaled) seconds after it starts running.
    pub reclaim_spot_after: Option<f64>,
}

/// The environment variable naming a program the local Batch runs as the scoring container
/// instead of `stepscore-batch` (another container's entry point, or a stand-in in tests); it
/// gets the same environment as the scorer would.
pub const LOCAL_SCORER_ENV: &str = "STEPSCORE_LOCAL_SCORER";

/// Opens the local runtime on `g.state_dir` with every handler registered.
pub fn open(g: &Global, options: &PipelineOptions) -> Result<LocalRuntime, Failure> {
    let chosen = std::env::var_os(LOCAL_SCORER_ENV).map(std::path::PathBuf::from);
    let scorer = chosen.clone().unwrap_or_else(default_scorer_path);
    let fallback = if chosen.is_some() {
        None
    } else {
        self_as_scorer(&scorer)
    };
    let mut config = RuntimeConfig::new(
        &g.state_dir,
        stepscore_local::pipeline::STATE_MACHINE_TEMPLATE,
        scorer,
    );
    config.time_scale = g.time_scale;
    if let Some(after) = options.reclaim_spot_after {
        config.batch.spot_reclaim = Some(SpotReclaim {
            after_seconds: after,
            times: 1,
            when_output_contains: None,
        });
    }
    if let Some(command) = fallback
        && let Some(def) = config.batch.job_definitions.get_mut(SCORING_JOB_DEFINITION)
    {
        def.command = command;
    }
    let rt = LocalRuntime::open(config).map_err(|e| {
        Failure::Environment(anyhow!(
            "cannot open the local pipeline in {}: {e}",
            g.state_dir.display()
        ))
    })?;
    stepscore_local::pipeline::register_pipeline_functions(&rt);
    Ok(rt)
}

/// `[stepscore, batch-container]` when no `stepscore-batch` binary is at `scorer`.
fn self_as_scorer(scorer: &Path) -> Option<Vec<String>> {
    if scorer.is_file() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    Some(vec![
        exe.display().to_string(),
        BATCH_CONTAINER_SUBCOMMAND.to_owned(),
    ])
}
