//! How a runtime is set up, and where a state directory keeps its database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::batch::BatchConfig;

use super::placeholders::local_placeholders;

/// How a runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The state machine definition template (`${placeholders}` are filled with local names).
    pub definition: String,
    /// Placeholder values (default: [`local_placeholders`]).
    pub placeholders: BTreeMap<String, String>,
    /// Wait states and polling run this many times faster than real time (1.0 = real time).
    /// Scaled time starts at the real time when the runtime opens, so after a restart it
    /// restarts from the real time too (timestamps of a resumed run may step back).
    pub time_scale: f64,
    /// The local Batch (its logs dir and environment are set from the state dir when empty).
    pub batch: BatchConfig,
}

impl RuntimeConfig {
    /// The pipeline's runtime on `state_dir` running `definition` with the scorer at `scorer`.
    pub fn new(
        state_dir: impl Into<PathBuf>,
        definition: impl Into<String>,
        scorer: PathBuf,
    ) -> Self {
        let state_dir = state_dir.into();
        let batch = BatchConfig::pipeline(state_dir.join("logs"), scorer, 4, 8192);
        RuntimeConfig {
            state_dir,
            definition: definition.into(),
            placeholders: local_placeholders(),
            time_scale: 1.0,
            batch,
        }
    }
}
