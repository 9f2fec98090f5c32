//! `stepscore list`: jobs, most recently updated first; from the embedded world's table, or
//! (`--aws`) the deployed stack's.

use clap::Args;
use stepscore_core::JobStatus;
use stepscore_core::ports::{JobTable, ListFilter};

use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::pipeline::{self, PipelineOptions};
use crate::print::print_list;

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

impl ListArgs {
    fn filter(&self) -> ListFilter {
        ListFilter {
            status: self.status,
            limit: self.limit,
        }
    }
}

/// `stepscore list`.
pub async fn local(args: &ListArgs, g: &Global) -> Result<(), Failure> {
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let jobs = rt.jobs(&args.filter()).await.map_err(env_fail)?;
    print_list(g, &jobs)
}

/// `stepscore list --aws`.
pub fn aws(args: &ListArgs, g: &Global) -> Result<(), Failure> {
    let runtime = crate::tokio_runtime()?;
    let table = crate::aws::table(g, &runtime)?;
    let jobs = runtime
        .block_on(table.list(&args.filter()))
        .map_err(env_fail)?;
    print_list(g, &jobs)
}
