//! `stepscore watch`: serves the pipeline and runs any config copied into the bucket's `jobs/`
//! (the scanner registers it), showing running jobs' progress and printing each job as it ends;
//! with `--on-complete`, runs a command for each job status change event.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::Args;
use stepscore_core::JobId;
use stepscore_core::ports::ListFilter;
use stepscore_core::record::JobRecord;
use stepscore_local::{Found, ScanConfig, Scanner};

use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::on_complete::OnComplete;
use crate::pipeline::{self, PipelineOptions};
use crate::print::say;
use crate::progress::{Mode, ProgressView};

/// Arguments of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Stop after this many seconds (default: run until interrupted)
    #[arg(long)]
    pub seconds: Option<f64>,
    /// A copied-in config runs once its size and time are unchanged this many seconds (and it
    /// parses as JSON, or 30 s passed); write to a temp name and rename to skip the wait
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
    /// Run this shell command (`sh -c`) once for each job that reaches SUCCEEDED or FAILED,
    /// with the "stepscore Job Status Change" event as JSON on its stdin; events handed to it
    /// are remembered in the state directory, so a restarted watch does not repeat them
    #[arg(long, value_name = "COMMAND")]
    pub on_complete: Option<String>,
}

/// `stepscore watch`: serve, and run any config copied into the bucket's jobs/ folder.
pub async fn run(args: &WatchArgs, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let server = rt.serve().map_err(env_fail)?;
    let jobs_dir = rt.store().root().join(&g.bucket).join("jobs");
    std::fs::create_dir_all(&jobs_dir).map_err(env_fail)?;
    let mut scan = ScanConfig::new(&g.bucket);
    scan.settle = Duration::from_secs_f64(args.settle);
    let scanner = Scanner::open(&rt, scan).map_err(env_fail)?;
    say(
        g,
        format!(
            "watching {} (copy a job config there); Ctrl-C to stop",
            jobs_dir.display()
        ),
    );
    let mut reported: HashSet<String> = rt
        .jobs(&ListFilter {
            status: None,
            limit: usize::MAX,
        })
        .await
        .map_err(env_fail)?
        .into_iter()
        .filter(|j| j.status.is_terminal())
        .map(|j| j.id.to_string())
        .collect();
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut on_complete = args
        .on_complete
        .as_deref()
        .map(|command| OnComplete::open(rt.events(), &g.state_dir, command))
        .transpose()
        .map_err(env_fail)?;
    let mut view = ProgressView::new(Mode::of(g));
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        // a failed scan is retried on the next tick: watch keeps serving
        match scanner.scan_async().await {
            Ok(found) => {
                for f in found {
                    match f {
                        Found::Registered { uri, version_id } => say(
                            g,
                            format!(
                                "new config {uri} -> job {}",
                                JobId::for_object(uri.bucket(), uri.key(), &version_id)
                            ),
                        ),
                        Found::Unusable { path, reason } if !g.quiet => {
                            eprintln!("stepscore: skipping {path}: {reason}");
                        }
                        Found::Unusable { .. } => {}
                    }
                }
            }
            Err(e) => eprintln!("stepscore: {e}; retrying"),
        }
        match rt
            .jobs(&ListFilter {
                status: None,
                limit: 200,
            })
            .await
        {
            Ok(jobs) => {
                for j in jobs {
                    view.show(&j);
                    if j.status.is_terminal() && reported.insert(j.id.to_string()) {
                        print_watched(g, &j)?;
                    }
                }
            }
            Err(e) => eprintln!("stepscore: cannot list jobs: {e}; retrying"),
        }
        if let Some(hook) = &mut on_complete {
            // a failure to read the log or record a delivery is retried on the next tick
            if let Err(e) = hook.deliver_new().await {
                eprintln!("stepscore: --on-complete: {e}; retrying");
            }
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
        tokio::select! {
            _ = &mut interrupt => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    view.clear();
    server.shutdown();
    Ok(())
}

/// Prints a job that ended while watching: one line, or its record as JSON.
fn print_watched(g: &Global, j: &JobRecord) -> Result<(), Failure> {
    if g.json {
        println!("{}", serde_json::to_string(j).map_err(env_fail)?);
    } else {
        println!(
            "job {} {}{}",
            j.id,
            j.status,
            j.failure_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
