//! `stepscore schedule <schedules.json>`: fires job configs from templates on EventBridge
//! cron()/rate()/at() schedules, serving the pipeline that runs them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::read_file;
use crate::Global;
use crate::exit::{Failure, env_fail, invalid};
use crate::pipeline::{self, PipelineOptions};
use crate::print::say;

/// Arguments of `schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Schedules: a JSON object `{ name: { "expression", "timezone", "template" } }` — the same
    /// shape as Terraform's `schedules` variable
    pub schedules: PathBuf,
    /// Stop after this many seconds of (scaled) time (default: run until interrupted)
    #[arg(long)]
    pub seconds: Option<f64>,
}

/// `stepscore schedule <schedules.json>`.
pub async fn run(args: &ScheduleArgs, g: &Global) -> Result<(), Failure> {
    let bytes = read_file(&args.schedules)?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("{} is not JSON: {e}", args.schedules.display())))?;
    let now = chrono::Utc::now();
    let schedules = stepscore_local::schedule::schedules_from_json(&doc, now)
        .map_err(|e| invalid(format!("{}: {e}", args.schedules.display())))?;
    if schedules.is_empty() {
        return Err(invalid(format!(
            "{} has no enabled schedules",
            args.schedules.display()
        )));
    }
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    for s in &schedules {
        let next = s
            .next_after(now)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into());
        say(g, format!("schedule {}: next fire {next}", s.name));
    }
    let scheduler = stepscore_local::Scheduler::new(schedules);
    let server = rt.serve().map_err(env_fail)?;
    let until = args
        .seconds
        .map(|s| now + chrono::Duration::milliseconds((s * 1000.0) as i64));
    let fired = tokio::select! {
        n = rt.run_schedules(&scheduler, now, until) => n,
        _ = tokio::signal::ctrl_c() => 0,
    };
    server
        .wait_idle(Duration::from_secs(600))
        .await
        .map_err(env_fail)?;
    server.shutdown();
    say(g, format!("{fired} schedule fire(s)"));
    Ok(())
}
