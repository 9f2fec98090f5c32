//! `--aws`: the same status, list and start commands against a deployed stack.

use anyhow::anyhow;
use serde_json::Value;
use stepscore_core::JobId;
use stepscore_core::config::JobConfig;
use stepscore_core::ports::{Executions, JobTable, ListFilter};

use crate::Global;
use crate::exit::Failure;
use crate::local_cmd::{ListArgs, StartArgs, StatusArgs, print_counts, print_list, print_record};

fn table(
    g: &Global,
    runtime: &tokio::runtime::Runtime,
) -> Result<stepscore_aws::DynamoTable, Failure> {
    let name = g.table.clone().ok_or_else(|| Failure::Invalid(anyhow!("--aws needs the job table: pass --table or set STEPSCORE_TABLE (Terraform output `table_name`)")))?;
    let config = runtime.block_on(
        stepscore_aws::AwsSettings::from_env()
            .component("stepscore-cli")
            .load(),
    );
    Ok(stepscore_aws::DynamoTable::new(&config, name))
}

fn aws_err(e: impl std::fmt::Display) -> Failure {
    Failure::Environment(anyhow!("{e}"))
}

/// `stepscore status --aws [job]`.
pub fn status(args: &StatusArgs, g: &Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let table = table(g, &runtime)?;
    match &args.job {
        Some(id) => {
            let id = JobId::parse(id).map_err(|e| Failure::Invalid(e.into()))?;
            let record = runtime
                .block_on(table.get(&id))
                .map_err(aws_err)?
                .ok_or_else(|| {
                    Failure::NotFound(anyhow!("no job '{id}' in table {}", table.table_name()))
                })?;
            print_record(g, &record)
        }
        None => {
            let jobs = runtime
                .block_on(table.list(&ListFilter {
                    status: None,
                    limit: 10_000,
                }))
                .map_err(aws_err)?;
            print_counts(g, &jobs)
        }
    }
}

/// `stepscore list --aws`.
pub fn list(args: &ListArgs, g: &Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let table = table(g, &runtime)?;
    let jobs = runtime
        .block_on(table.list(&ListFilter {
            status: args.status,
            limit: args.limit,
        }))
        .map_err(aws_err)?;
    print_list(g, &jobs)
}

/// `stepscore start --aws <config>`: StartExecution on the deployed state machine.
pub fn start(args: &StartArgs, g: &Global) -> Result<(), Failure> {
    let arn = g.state_machine_arn.clone().ok_or_else(|| Failure::Invalid(anyhow!("--aws start needs the state machine: pass --state-machine-arn or set STEPSCORE_STATE_MACHINE_ARN (Terraform output `state_machine_arn`)")))?;
    let bytes = std::fs::read(&args.config)
        .map_err(|e| Failure::NotFound(anyhow!("cannot read {}: {e}", args.config.display())))?;
    let source = args.config.display().to_string();
    let config = JobConfig::from_slice(&bytes, &source).map_err(|e| Failure::Invalid(e.into()))?;
    let input: Value = serde_json::from_slice(&bytes).map_err(|e| Failure::Invalid(e.into()))?;
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            config.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%S%3f")
        )
    });
    let runtime = crate::tokio_runtime()?;
    let sdk = runtime.block_on(
        stepscore_aws::AwsSettings::from_env()
            .component("stepscore-cli")
            .load(),
    );
    let executions = stepscore_aws::SfnExecutions::new(&sdk, arn);
    let started = runtime
        .block_on(executions.start(&name, &input))
        .map_err(aws_err)?;
    println!("{}", started.execution_arn());
    Ok(())
}
