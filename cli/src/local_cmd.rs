//! The embedded world's commands: demo, run, start, status, list, history, logs, watch,
//! schedule, put.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;
use serde_json::{Value, json};
use stepscore_core::config::JobConfig;
use stepscore_core::ports::{ListFilter, ObjectStore, StoreError};
use stepscore_core::record::JobRecord;
use stepscore_core::{JobId, JobStatus, ObjectUri};
use stepscore_local::{ExecutionInfo, ExecutionState, Found, LocalRuntime, ScanConfig, Scanner};

use crate::Global;
use crate::exit::Failure;
use crate::pipeline::{self, PipelineOptions};

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Rows of generated data to score
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
    /// Array children that score the data
    #[arg(long, default_value_t = 2)]
    pub shards: u32,
    /// Reclaim the first spot attempt after this many seconds, to see the on-demand fallback
    #[arg(long)]
    pub reclaim_spot_after: Option<f64>,
}

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

/// Arguments of `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The job config (JSON), used as the execution input
    pub config: PathBuf,
    /// Execution name (default: the config's name and the current time)
    #[arg(long)]
    pub name: Option<String>,
    /// Return once started instead of following the execution
    #[arg(long)]
    pub no_follow: bool,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job id (default: a count of jobs by status)
    pub job: Option<String>,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs in this status (PENDING, SUBMITTED, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED)
    #[arg(long)]
    pub status: Option<JobStatus>,
    /// At most this many
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// A job id argument.
#[derive(Debug, Args)]
pub struct JobArg {
    /// The job id
    pub job: String,
}

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
}

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

/// Arguments of `put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The local file
    pub file: PathBuf,
    /// Where to put it: s3://bucket/key (a key ending in `/` takes the file's name)
    pub uri: String,
}

fn invalid(e: impl std::fmt::Display) -> Failure {
    Failure::Invalid(anyhow!("{e}"))
}

fn env_fail(e: impl std::fmt::Display) -> Failure {
    Failure::Environment(anyhow!("{e}"))
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        let err = anyhow!("cannot read {}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound(err)
        } else {
            Failure::Environment(err)
        }
    })
}

fn parse_uri(text: &str) -> Result<ObjectUri, Failure> {
    ObjectUri::parse(text).map_err(invalid)
}

/// `stepscore demo`: generated data, a trained model, one config dropped, followed live.
pub async fn demo(args: &DemoArgs, g: &Global) -> Result<(), Failure> {
    let g = &Global {
        time_scale: if g.time_scale == 1.0 {
            20.0
        } else {
            g.time_scale
        },
        ..g.clone()
    };
    let rt = pipeline::open(
        g,
        &PipelineOptions {
            reclaim_spot_after: args.reclaim_spot_after,
        },
    )?;
    let bucket = &g.bucket;
    let run = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let data_dir = g.state_dir.join("demo");
    std::fs::create_dir_all(&data_dir).map_err(env_fail)?;
    say(
        g,
        format!(
            "1/4 generating {} rows to score and 5,000 to train on",
            args.rows
        ),
    );
    let train_csv = data_dir.join("train.csv");
    let score_csv = data_dir.join("score.csv");
    write_data(&train_csv, 5_000, 7)?;
    write_data(&score_csv, args.rows, 8)?;
    let input = parse_uri(&format!("s3://{bucket}/demo/input/score.csv"))?;
    put_file(&rt, &score_csv, &input).await?;

    say(
        g,
        "2/4 training a random forest (50 trees, depth 8) on the first rows".to_owned(),
    );
    let model = format!("s3://{bucket}/demo/models/forest.json");
    let train_csv_s = train_csv.display().to_string();
    let state_dir = g.state_dir.clone();
    let model_for_train = model.clone();
    let quiet = g.quiet;
    tokio::task::spawn_blocking(move || {
        crate::model_cmd::train_in(
            &state_dir,
            &[
                "--input",
                &train_csv_s,
                "--output",
                &model_for_train,
                "--target",
                "label",
                "--algorithm",
                "random-forest-classifier",
                "--n-trees",
                "50",
                "--max-depth",
                "8",
            ],
            quiet,
        )
    })
    .await
    .map_err(env_fail)??;

    say(
        g,
        "3/4 dropping a job config into the bucket's jobs/".to_owned(),
    );
    let config = json!({
        "name": "demo",
        "model": model,
        "input": input.to_string(),
        "output": format!("s3://{bucket}/demo/predictions/{run}/"),
        "id_columns": ["id"],
        "capacity": "spot-then-on-demand",
        "shards": args.shards,
        "poll_interval_seconds": 10,
        "tags": {"purpose": "demo"}
    });
    let key = parse_uri(&format!("s3://{bucket}/jobs/demo-{run}.json"))?;
    say(
        g,
        "4/4 following the run (state machine events as they happen)".to_owned(),
    );
    let record = drop_and_follow(
        &rt,
        g,
        &key,
        serde_json::to_vec_pretty(&config).map_err(env_fail)?,
        Duration::from_secs(600),
    )
    .await?;
    print_outcome(g, &rt, &record).await
}

fn write_data(path: &Path, rows: u64, seed: u64) -> Result<(), Failure> {
    let f = std::fs::File::create(path)
        .map_err(|e| env_fail(format!("cannot write {}: {e}", path.display())))?;
    let mut w = std::io::BufWriter::new(f);
    stepscore_batch::benchdata::write_bench_data(&mut w, rows, 20, seed)
        .and_then(|()| std::io::Write::flush(&mut w))
        .map_err(|e| env_fail(format!("cannot write {}: {e}", path.display())))
}

async fn put_file(
    rt: &LocalRuntime,
    path: &Path,
    uri: &ObjectUri,
) -> Result<stepscore_core::ports::ObjectMeta, Failure> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        let err = anyhow!("cannot read {}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound(err)
        } else {
            Failure::Environment(err)
        }
    })?;
    rt.store()
        .put(uri, Box::pin(file))
        .await
        .map_err(|e| match e {
            // the name the user gave cannot be an object: bad input, not a broken environment
            e @ StoreError::InvalidKey { .. } => invalid(e),
            e => env_fail(e),
        })
}

/// Drops a config at `key`, serves the pipeline and follows the job to its end.
async fn drop_and_follow(
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

/// Follows job `id`: its execution's events as they happen, until the record is terminal.
async fn follow(
    rt: &LocalRuntime,
    g: &Global,
    id: &JobId,
    timeout: Duration,
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
                        eprintln!("  {}", event_line(ev));
                    }
                }
            }
        }
        let record = rt.job(id).await.map_err(env_fail)?;
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

fn event_line(ev: &Value) -> String {
    let kind = ev["type"].as_str().unwrap_or("?");
    let state = ev
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .find_map(|v| v.get("name").and_then(Value::as_str))
        .unwrap_or("");
    let ts = ev["timestamp"].as_str().unwrap_or("");
    format!("{:>4}  {ts:<24}  {kind:<28} {state}", ev["id"])
}

async fn print_outcome(g: &Global, rt: &LocalRuntime, record: &JobRecord) -> Result<(), Failure> {
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

fn say(g: &Global, line: String) {
    if !g.quiet && !g.json {
        eprintln!("{line}");
    }
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

/// `stepscore start <config>`: StartExecution with the config as input, like the console.
pub async fn start(args: &StartArgs, g: &Global) -> Result<(), Failure> {
    let bytes = read_file(&args.config)?;
    let source = args.config.display().to_string();
    let config = JobConfig::from_slice(&bytes, &source).map_err(invalid)?;
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            config.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%S%3f")
        )
    });
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let input: Value = serde_json::from_slice(&bytes).map_err(invalid)?;
    // Decide who runs the execution before saying it started: this process when it can take
    // the serving lock, the process holding it (`watch`) otherwise.
    let server = if args.no_follow {
        None
    } else {
        match rt.serve() {
            Ok(server) => Some(server),
            Err(stepscore_local::runtime::RuntimeError::Busy(_)) => None,
            Err(e) => return Err(env_fail(e)),
        }
    };
    let served = server.is_some() || rt.served_elsewhere().map_err(env_fail)?;
    let started = rt.start_execution(&name, &input).await.map_err(env_fail)?;
    say(g, format!("started {}", started.execution_arn()));
    if !served {
        say(
            g,
            format!(
                "no stepscore process serves {}: the execution runs when `stepscore watch` (or another command that runs the pipeline) starts there",
                g.state_dir.display()
            ),
        );
    }
    if args.no_follow {
        println!("{}", started.execution_arn());
        return Ok(());
    }
    let info = follow_continuations(&rt, g, name).await;
    if let Some(server) = server {
        server.shutdown();
    }
    let info = info.map_err(env_fail)?;
    print_execution(g, &info)
}

/// Follows execution `name` to its end, and on into each execution it continued in (a long
/// job's ContinueAsNew), returning the last.
async fn follow_continuations(
    rt: &stepscore_local::LocalRuntime,
    g: &Global,
    mut name: String,
) -> Result<ExecutionInfo, stepscore_local::runtime::RuntimeError> {
    loop {
        let info = rt
            .watch(&name, Duration::from_secs(3600), |ev| {
                if !g.quiet && !g.json {
                    eprintln!("  {}", event_line(ev));
                }
            })
            .await?;
        let next = info
            .output
            .as_ref()
            .and_then(|o| o.pointer("/continued_in/ExecutionArn"))
            .and_then(Value::as_str)
            .and_then(|arn| arn.rsplit(':').next())
            .map(str::to_owned);
        match next {
            Some(next) if info.status == ExecutionState::Succeeded => {
                say(g, format!("continued in execution {next}"));
                name = next;
            }
            _ => return Ok(info),
        }
    }
}

fn print_execution(g: &Global, info: &ExecutionInfo) -> Result<(), Failure> {
    if g.json {
        println!(
            "{}",
            json!({"name": info.name, "execution_arn": info.execution_arn, "status": info.status.as_str(), "output": info.output, "error": info.error, "cause": info.cause})
        );
    } else {
        println!("execution {} {}", info.name, info.status.as_str());
        if let Some(o) = &info.output {
            println!("  output: {o}");
        }
        if let Some(e) = &info.error {
            println!("  error: {e}: {}", info.cause.as_deref().unwrap_or(""));
        }
    }
    if info.status == ExecutionState::Succeeded {
        Ok(())
    } else {
        Err(Failure::Outcome)
    }
}

fn job_id(text: &str) -> Result<JobId, Failure> {
    JobId::parse(text).map_err(invalid)
}

/// `stepscore status [job]`.
pub async fn status(args: &StatusArgs, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    match &args.job {
        Some(id) => {
            let id = job_id(id)?;
            let record = rt.job(&id).await.map_err(env_fail)?.ok_or_else(|| {
                Failure::NotFound(anyhow!("no job '{id}' in {}", g.state_dir.display()))
            })?;
            print_record(g, &record)
        }
        None => {
            let jobs = rt
                .jobs(&ListFilter {
                    status: None,
                    limit: usize::MAX,
                })
                .await
                .map_err(env_fail)?;
            print_counts(g, &jobs)
        }
    }
}

/// Prints one record, human or JSON.
pub fn print_record(g: &Global, record: &JobRecord) -> Result<(), Failure> {
    if g.json {
        println!("{}", serde_json::to_string(record).map_err(env_fail)?);
        return Ok(());
    }
    println!("id:         {}", record.id);
    println!("status:     {}", record.status);
    println!("source:     {}", record.source);
    println!("created:    {}", record.created_at.to_rfc3339());
    println!("updated:    {}", record.updated_at.to_rfc3339());
    if let Some(arn) = &record.execution_arn {
        println!("execution:  {arn}");
    }
    for a in &record.attempts {
        println!(
            "attempt {}:  {} on {} at {}",
            a.number,
            a.batch_job_id,
            a.queue,
            a.submitted_at.to_rfc3339()
        );
    }
    if let Some(m) = &record.metrics {
        println!(
            "metrics:    {} read, {} scored, {} rejected, {} parts, {:.2}s",
            m.rows_read, m.rows_scored, m.rows_rejected, m.parts, m.duration_seconds
        );
    }
    if let Some(r) = &record.failure_reason {
        println!("reason:     {r}");
    }
    Ok(())
}

/// Prints a count of jobs per status.
pub fn print_counts(g: &Global, jobs: &[JobRecord]) -> Result<(), Failure> {
    let mut counts: BTreeMap<&str, usize> =
        JobStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for j in jobs {
        *counts.entry(j.status.as_str()).or_default() += 1;
    }
    if g.json {
        println!("{}", serde_json::to_string(&counts).map_err(env_fail)?);
    } else {
        for s in JobStatus::ALL {
            println!("{:<10} {}", s.as_str(), counts[s.as_str()]);
        }
    }
    Ok(())
}

/// `stepscore list`.
pub async fn list(args: &ListArgs, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let jobs = rt
        .jobs(&ListFilter {
            status: args.status,
            limit: args.limit,
        })
        .await
        .map_err(env_fail)?;
    print_list(g, &jobs)
}

/// Prints records as a table or JSON lines.
pub fn print_list(g: &Global, jobs: &[JobRecord]) -> Result<(), Failure> {
    if g.json {
        for j in jobs {
            println!("{}", serde_json::to_string(j).map_err(env_fail)?);
        }
        return Ok(());
    }
    println!(
        "{:<42} {:<10} {:>7}  {:<25} REASON",
        "ID", "STATUS", "ATTEMPT", "UPDATED"
    );
    for j in jobs {
        let reason: String = j
            .failure_reason
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        println!(
            "{:<42} {:<10} {:>7}  {:<25} {reason}",
            j.id.as_str(),
            j.status.as_str(),
            j.attempt,
            j.updated_at.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
    }
    Ok(())
}

/// `stepscore history <job>`.
pub async fn history(args: &JobArg, g: &Global) -> Result<(), Failure> {
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

/// `stepscore logs <job>`.
pub async fn logs(args: &JobArg, g: &Global) -> Result<(), Failure> {
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

/// `stepscore watch`: serve, and run any config copied into the bucket's jobs/ folder.
pub async fn watch(args: &WatchArgs, g: &Global) -> Result<(), Failure> {
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
                    if j.status.is_terminal() && reported.insert(j.id.to_string()) {
                        print_watched(g, &j)?;
                    }
                }
            }
            Err(e) => eprintln!("stepscore: cannot list jobs: {e}; retrying"),
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
        tokio::select! {
            _ = &mut interrupt => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    server.shutdown();
    Ok(())
}

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

/// `stepscore schedule <schedules.json>`.
pub async fn schedule(args: &ScheduleArgs, g: &Global) -> Result<(), Failure> {
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

/// `stepscore put <file> <s3-uri>`.
pub async fn put(args: &PutArgs, g: &Global) -> Result<(), Failure> {
    let mut uri = parse_uri(&args.uri)?;
    if uri.is_prefix() {
        let name = args
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| invalid(format!("{} has no file name", args.file.display())))?;
        uri = uri.join(name);
        // the file's name may take the key past S3's 1,024 bytes
        uri = ObjectUri::new(uri.bucket(), uri.key()).map_err(invalid)?;
    }
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let meta = put_file(&rt, &args.file, &uri).await?;
    if g.json {
        println!(
            "{}",
            json!({"uri": uri.to_string(), "size": meta.size, "etag": meta.etag, "version_id": meta.version_id})
        );
    } else {
        println!("{uri} ({} bytes)", meta.size);
    }
    Ok(())
}
