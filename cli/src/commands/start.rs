//! `stepscore start <config>`: StartExecution with a config as input, the console's path (no S3
//! event): in the embedded world, followed to its end unless `--no-follow`; with `--aws`, on the
//! deployed state machine.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use serde_json::{Value, json};
use stepscore_core::config::JobConfig;
use stepscore_core::ports::Executions;
use stepscore_local::{ExecutionInfo, ExecutionState};

use super::read_file;
use crate::Global;
use crate::exit::{Failure, env_fail, invalid};
use crate::pipeline::{self, PipelineOptions};
use crate::print::{event_line, say};

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

/// `stepscore start <config>`: StartExecution with the config as input, like the console.
pub async fn local(args: &StartArgs, g: &Global) -> Result<(), Failure> {
    let bytes = read_file(&args.config)?;
    let source = args.config.display().to_string();
    let config = JobConfig::from_slice(&bytes, &source).map_err(invalid)?;
    let name = execution_name(args, &config);
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

/// `stepscore start --aws <config>`: StartExecution on the deployed state machine.
pub fn aws(args: &StartArgs, g: &Global) -> Result<(), Failure> {
    let arn = crate::aws::state_machine_arn(g, "start")?;
    let bytes = std::fs::read(&args.config)
        .map_err(|e| Failure::NotFound(anyhow!("cannot read {}: {e}", args.config.display())))?;
    let source = args.config.display().to_string();
    let config = JobConfig::from_slice(&bytes, &source).map_err(|e| Failure::Invalid(e.into()))?;
    let input: Value = serde_json::from_slice(&bytes).map_err(|e| Failure::Invalid(e.into()))?;
    let name = execution_name(args, &config);
    let runtime = crate::tokio_runtime()?;
    let sdk = crate::aws::sdk_config(&runtime);
    let executions = stepscore_aws::SfnExecutions::new(&sdk, arn);
    let started = runtime
        .block_on(executions.start(&name, &input))
        .map_err(env_fail)?;
    println!("{}", started.execution_arn());
    Ok(())
}

/// The execution name: `--name`, else the config's name and the current time.
fn execution_name(args: &StartArgs, config: &JobConfig) -> String {
    args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            config.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%S%3f")
        )
    })
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

/// Prints how an execution ended; fails with the outcome unless it succeeded.
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
