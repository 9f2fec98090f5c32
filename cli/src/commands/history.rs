//! `stepscore history <job>`: a job's execution history, like the console's event table.

use anyhow::anyhow;

use super::JobArg;
use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::pipeline::{self, PipelineOptions};
use crate::print::event_line;

/// `stepscore history <job>`.
pub async fn run(args: &JobArg, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let h = rt.history(&args.job).map_err(env_fail)?.ok_or_else(|| {
        Failure::NotFound(anyhow!(
            "no execution named '{}' in {}",
            args.job,
            g.state_dir.display()
        ))
    })?;
    if g.json {
        println!("{h}");
        return Ok(());
    }
    println!("{:>4}  {:<24}  {:<28} STEP", "ID", "TIMESTAMP", "TYPE");
    for ev in h["events"].as_array().into_iter().flatten() {
        println!("{}", event_line(ev));
    }
    Ok(())
}
