//! `stepscore logs <job>`: the scoring container's stdout and stderr of each of a job's Batch
//! attempts, from the local Batch's log files.

use anyhow::anyhow;

use super::{JobArg, job_id};
use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::pipeline::{self, PipelineOptions};

/// `stepscore logs <job>`.
pub async fn run(args: &JobArg, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let id = job_id(&args.job)?;
    let record =
        rt.job(&id).await.map_err(env_fail)?.ok_or_else(|| {
            Failure::NotFound(anyhow!("no job '{id}' in {}", g.state_dir.display()))
        })?;
    if record.attempts.is_empty() {
        println!(
            "job {id} was never submitted to Batch ({}), so it has no logs",
            record.status
        );
    }
    for a in &record.attempts {
        for (batch_id, attempt, stdout, stderr) in
            rt.batch_logs(&a.batch_job_id).map_err(env_fail)?
        {
            for (stream, path) in [("stdout", stdout), ("stderr", stderr)] {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.is_empty() {
                    continue;
                }
                println!(
                    "==> {batch_id} attempt {attempt} {stream} ({}) <==",
                    path.display()
                );
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
            }
        }
    }
    Ok(())
}
