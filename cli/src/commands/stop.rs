//! `stepscore stop <job>`: stops a run, in the embedded world or (`--aws`) on the deployed stack.
//!
//! Stopping is StopExecution on every running execution of the job; the execution's end then
//! reaches the cleanup function (EventBridge on AWS, the runtime's delivery of execution ends
//! locally), which terminates the Batch job and records the job FAILED as stopped.

use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use serde_json::json;
use stepscore_handlers::{HandlerError, StopReport};
use stepscore_local::runtime::RuntimeError;

use super::job_id;
use crate::Global;
use crate::exit::Failure;
use crate::pipeline::{self, PipelineOptions};

/// Arguments of `stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The job id (as `stepscore list` shows it)
    pub job: String,
    /// How long to wait for the cleanup to end the job, seconds (embedded world)
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn cause() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "a user".into());
    format!("stopped with `stepscore stop` by {user}")
}

fn handler_failure(e: HandlerError) -> Failure {
    match e {
        HandlerError::NotFound(m) => Failure::NotFound(anyhow!(m)),
        other => Failure::Environment(anyhow!(other.to_string())),
    }
}

fn print_report(g: &Global, report: &StopReport, note: &str) {
    if g.json {
        println!(
            "{}",
            json!({"job_id": report.job_id, "stopped": report.stopped, "status_before": report.status})
        );
    } else if report.stopped.is_empty() {
        println!(
            "job {} has no running execution (its record is {}): nothing to stop",
            report.job_id, report.status
        );
    } else {
        println!(
            "stopped execution {} of job {}: {note}",
            report.stopped.join(", "),
            report.job_id
        );
    }
}

/// `stepscore stop <job>` in the embedded world: the serving process (`watch`), or this one when
/// none serves the state directory, runs the cleanup.
pub async fn local(args: &StopArgs, g: &Global) -> Result<(), Failure> {
    let id = job_id(&args.job)?;
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let report = stepscore_handlers::stop_job(rt.executions(), rt.table(), &id, &cause())
        .await
        .map_err(handler_failure)?;
    if report.stopped.is_empty() {
        print_report(g, &report, "");
        return Ok(());
    }
    match rt.serve() {
        Ok(server) => {
            let idle = server.wait_idle(Duration::from_secs(args.timeout)).await;
            server.shutdown();
            idle.map_err(|e| Failure::Environment(e.into()))?;
            let record = rt
                .job(&id)
                .await
                .map_err(|e| Failure::Environment(e.into()))?;
            let status = record.map(|r| r.status.to_string()).unwrap_or_default();
            print_report(
                g,
                &report,
                &format!("its Batch job is terminated and the job is {status}"),
            );
        }
        Err(RuntimeError::Busy(_)) => print_report(
            g,
            &report,
            "the process serving this state directory terminates its Batch job and fails the job",
        ),
        Err(e) => return Err(Failure::Environment(e.into())),
    }
    Ok(())
}

/// `stepscore stop --aws <job>`: StopExecution on the deployed state machine; the EventBridge
/// rule's cleanup function does the rest.
pub fn aws(args: &StopArgs, g: &Global) -> Result<(), Failure> {
    let id = job_id(&args.job)?;
    let table_name = crate::aws::table_name(g)?;
    let arn = crate::aws::state_machine_arn(g, "stop")?;
    let runtime = crate::tokio_runtime()?;
    let sdk = crate::aws::sdk_config(&runtime);
    let table = stepscore_aws::DynamoTable::new(&sdk, table_name);
    let executions = stepscore_aws::SfnExecutions::new(&sdk, arn);
    let report = runtime
        .block_on(stepscore_handlers::stop_job(
            &executions,
            &table,
            &id,
            &cause(),
        ))
        .map_err(handler_failure)?;
    print_report(
        g,
        &report,
        "the cleanup function terminates its Batch job and records the job FAILED (`stepscore status --aws` shows it)",
    );
    Ok(())
}
