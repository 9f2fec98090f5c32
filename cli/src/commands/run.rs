//! `stepscore run <config>`: drops a config into the bucket's `jobs/`, serves the pipeline and
//! follows the job to its end, printing its execution's events as they happen and the outcome.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;
use stepscore_core::record::JobRecord;
use stepscore_core::{JobId, JobStatus, ObjectUri};
use stepscore_local::{ExecutionState, LocalRuntime};

use super::{parse_uri, read_file};
use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::pipeline::{self, PipelineOptions};
use crate::print::{event_line, say};
use crate::progress::{Mode, ProgressView};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job config (JSON)
    pub config: PathBuf,
    /// Reclaim the first spot attempt after this many seconds (spot-reclaim injection)
    #[arg(long)]
    pub reclaim_spot_after: Option<f64>,
    /// Give up following after this many seconds (the job goes on at the next `watch`)
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

/// `stepscore run <config>`: drop into the bucket's jobs/ and follow.
pub async fn run(args: &RunArgs, g: &Global) -> Result<(), Failure> {
    let bytes = read_file(&args.config)?;
    let name = args
        .config
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("job.json");
    let name = if name.ends_with(".json") {
        name.to_owned()
    } else {
        format!("{name}.json")
    };
    let key = parse_uri(&format!("s3://{}/jobs/{name}", g.bucket))?;
    let rt = pipeline::open(
        g,
        &PipelineOptions {
            reclaim_spot_after: args.reclaim_spot_after,
        },
    )?;
    let record = drop_and_follow(&rt, g, &key, bytes, Duration::from_secs(args.timeout)).await?;
    print_outcome(g, &rt, &record).await
}

/// Drops a config at `key`, serves the pipeline and follows the job to its end.
pub(super) async fn drop_and_follow(
    rt: &LocalRuntime,
    g: &Global,
    key: &ObjectUri,
    bytes: Vec<u8>,
    timeout: Duration,
) -> Result<JobRecord, Failure> {
    let server = rt.serve().map_err(env_fail)?;
    let meta = rt.drop_config(key, bytes).await.map_err(env_fail)?;
    let version = meta
        .version_id
        .clone()
        .or(meta.etag.clone())
        .unwrap_or_default();
    let id = JobId::for_object(key.bucket(), key.key(), &version);
    say(g, format!("dropped {key} -> job {id}"));
    let result = follow(rt, g, &id, timeout).await;
    server.shutdown();
    result
}

/// Prints a finished job: its status, metrics, reason, attempts, where its predictions are and
/// how to look further; fails with the outcome unless it SUCCEEDED.
pub(super) async fn print_outcome(
    g: &Global,
    rt: &LocalRuntime,
    record: &JobRecord,
) -> Result<(), Failure> {
    if g.json {
        println!("{}", serde_json::to_string(record).map_err(env_fail)?);
    } else {
        let output = record
            .config
            .get("output")
            .and_then(Value::as_str)
            .unwrap_or("?");
        println!("job {} {}", record.id, record.status);
        if let Some(m) = &record.metrics {
            println!(
                "  rows scored {} of {} ({} rejected) in {} part(s), {:.2}s",
                m.rows_scored, m.rows_read, m.rows_rejected, m.parts, m.duration_seconds
            );
        }
        if let Some(reason) = &record.failure_reason {
            println!("  reason: {reason}");
        }
        for a in &record.attempts {
            println!(
                "  attempt {}: Batch job {} on {}",
                a.number, a.batch_job_id, a.queue
            );
        }
        if let Ok(uri) = ObjectUri::parse(output) {
            println!(
                "  predictions: {output} (files under {})",
                rt.store()
                    .root()
                    .join(uri.bucket())
                    .join(uri.key())
                    .display()
            );
        }
        println!(
            "  record: stepscore --state-dir {} status {}",
            g.state_dir.display(),
            record.id
        );
        println!(
            "  history: stepscore --state-dir {} history {}",
            g.state_dir.display(),
            record.id
        );
    }
    if record.status == JobStatus::Succeeded {
        Ok(())
    } else {
        Err(Failure::Outcome)
    }
}

/// Follows job `id`: its execution's events and its progress as they happen, until the record
/// is terminal.
async fn follow(
    rt: &LocalRuntime,
    g: &Global,
    id: &JobId,
    timeout: Duration,
) -> Result<JobRecord, Failure> {
    let mut view = ProgressView::new(Mode::of(g));
    let result = follow_with(rt, g, id, timeout, &mut view).await;
    view.clear();
    result
}

async fn follow_with(
    rt: &LocalRuntime,
    g: &Global,
    id: &JobId,
    timeout: Duration,
    view: &mut ProgressView,
) -> Result<JobRecord, Failure> {
    let deadline = Instant::now() + timeout;
    let mut printed = 0u64;
    loop {
        if let Some(history) = rt.history(id.as_str()).map_err(env_fail)? {
            for ev in history["events"].as_array().into_iter().flatten() {
                let n = ev["id"].as_u64().unwrap_or(0);
                if n > printed {
                    printed = n;
                    if !g.quiet && !g.json {
                        view.println(&format!("  {}", event_line(ev)));
                    }
                }
            }
        }
        let record = rt.job(id).await.map_err(env_fail)?;
        if let Some(r) = &record {
            view.show(r);
        }
        let execution_done = rt
            .execution(id.as_str())
            .map_err(env_fail)?
            .is_none_or(|e| e.status != ExecutionState::Running);
        if let Some(r) = record
            && r.status.is_terminal()
            && execution_done
        {
            return Ok(r);
        }
        if Instant::now() > deadline {
            return Err(Failure::Environment(anyhow!(
                "job {id} did not finish within {}s; it goes on at the next `stepscore watch` in this state directory",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
