//! `stepscore status [job]`: a job's record, or a count of jobs by status; from the embedded
//! world's table, or (`--aws`) the deployed stack's.

use anyhow::anyhow;
use clap::Args;
use stepscore_core::ports::{JobTable, ListFilter};

use super::job_id;
use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::pipeline::{self, PipelineOptions};
use crate::print::{print_counts, print_execution, print_record};

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job id, or the name of an execution run with `asl run` (default: a count of jobs
    /// by status)
    pub job: Option<String>,
}

/// `stepscore status [job]`.
pub async fn local(args: &StatusArgs, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    match &args.job {
        Some(id) => {
            let id = job_id(id)?;
            if let Some(record) = rt.job(&id).await.map_err(env_fail)? {
                return print_record(g, &record);
            }
            // not a job: an execution of a definition run with `asl run` has no job record
            match rt.execution(id.as_str()).map_err(env_fail)? {
                Some(e) => print_execution(g, &e),
                None => Err(Failure::NotFound(anyhow!(
                    "no job or execution '{id}' in {}",
                    g.state_dir.display()
                ))),
            }
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

/// `stepscore status --aws [job]`.
pub fn aws(args: &StatusArgs, g: &Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let table = crate::aws::table(g, &runtime)?;
    match &args.job {
        Some(id) => {
            let id = job_id(id)?;
            let record = runtime
                .block_on(table.get(&id))
                .map_err(env_fail)?
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
                .map_err(env_fail)?;
            print_counts(g, &jobs)
        }
    }
}
