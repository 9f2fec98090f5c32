//! The local Batch's shape: compute environments, job queues, job definitions, injected spot
//! reclaims, and the pipeline's own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A compute environment: a pool of vCPUs and memory, spot or on-demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeEnvironment {
    /// Its name (`AWS_BATCH_CE_NAME`).
    pub name: String,
    /// Total vCPUs.
    pub vcpus: u32,
    /// Total memory, MiB.
    pub memory_mib: u32,
    /// True for spot capacity (subject to reclaim injection).
    pub spot: bool,
}

/// A job queue feeding one compute environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobQueue {
    /// Its name (what SubmitJob's jobQueue names).
    pub name: String,
    /// Higher runs first when queues share a compute environment.
    pub priority: i32,
    /// The compute environment it places jobs on.
    pub compute_environment: String,
}

/// What a job definition runs: the container's command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDefinition {
    /// Program and arguments.
    pub command: Vec<String>,
}

/// Injected spot interruptions: the way AWS reclaims a spot instance under a running job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotReclaim {
    /// Kill a spot attempt this many seconds after it starts running.
    pub after_seconds: f64,
    /// Reclaim at most this many attempts (then spot runs undisturbed).
    pub times: u32,
    /// Only once the attempt's stdout or stderr contains this text (a progress line of the
    /// scorer, say): reclaims at a given point of the work rather than at a time.
    #[serde(default)]
    pub when_output_contains: Option<String>,
}

/// The local Batch's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchConfig {
    /// Compute environments.
    pub compute_environments: Vec<ComputeEnvironment>,
    /// Job queues.
    pub queues: Vec<JobQueue>,
    /// Job definitions by name.
    pub job_definitions: BTreeMap<String, JobDefinition>,
    /// Where each attempt's stdout and stderr are kept.
    pub logs_dir: PathBuf,
    /// Spot interruptions to inject, if any.
    pub spot_reclaim: Option<SpotReclaim>,
    /// Environment given to every container (e.g. `STEPSCORE_LOCAL_S3_ROOT`).
    pub environment: BTreeMap<String, String>,
    /// How often the executor looks at running jobs.
    pub tick: Duration,
}

/// The spot queue's name in the local world.
pub const SPOT_QUEUE: &str = "stepscore-spot";
/// The on-demand queue's name in the local world.
pub const ON_DEMAND_QUEUE: &str = "stepscore-on-demand";
/// The scoring job definition's name in the local world.
pub const SCORING_JOB_DEFINITION: &str = "stepscore-scoring";

impl BatchConfig {
    /// Why this configuration cannot run, if it cannot: a queue naming a compute environment
    /// that is not configured.
    pub(super) fn check(&self) -> Result<(), String> {
        match self.queues.iter().find(|q| {
            !self
                .compute_environments
                .iter()
                .any(|c| c.name == q.compute_environment)
        }) {
            Some(q) => Err(format!(
                "queue '{}' names compute environment '{}', which is not configured",
                q.name, q.compute_environment
            )),
            None => Ok(()),
        }
    }

    /// The pipeline's local Batch: a spot and an on-demand environment of `vcpus` and
    /// `memory_mib` each, their queues, and the scoring definition running `scorer`.
    pub fn pipeline(logs_dir: PathBuf, scorer: PathBuf, vcpus: u32, memory_mib: u32) -> Self {
        let ce = |name: &str, spot| ComputeEnvironment {
            name: name.into(),
            vcpus,
            memory_mib,
            spot,
        };
        BatchConfig {
            compute_environments: vec![
                ce("stepscore-spot-ce", true),
                ce("stepscore-on-demand-ce", false),
            ],
            queues: vec![
                JobQueue {
                    name: SPOT_QUEUE.into(),
                    priority: 10,
                    compute_environment: "stepscore-spot-ce".into(),
                },
                JobQueue {
                    name: ON_DEMAND_QUEUE.into(),
                    priority: 10,
                    compute_environment: "stepscore-on-demand-ce".into(),
                },
            ],
            job_definitions: BTreeMap::from([(
                SCORING_JOB_DEFINITION.into(),
                JobDefinition {
                    command: vec![scorer.display().to_string()],
                },
            )]),
            logs_dir,
            spot_reclaim: None,
            environment: BTreeMap::new(),
            tick: Duration::from_millis(50),
        }
    }
}

/// Where the `stepscore-batch` binary is: next to the current executable, else on `PATH`.
pub fn default_scorer_path() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let candidates = exe.iter().flat_map(|e| e.parent()).flat_map(|d| {
        [
            d.join("stepscore-batch"),
            d.parent()
                .map(|p| p.join("stepscore-batch"))
                .unwrap_or_default(),
        ]
    });
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    PathBuf::from("stepscore-batch")
}
