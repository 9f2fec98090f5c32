//! One module per command. A command with both an embedded and an `--aws` path has both in its
//! module (`local` and `aws`); the others have `run`. Each module holds its own argument type;
//! this one holds what several commands share: the job id argument and the readers of what an
//! argument names (a file, an `s3://` URI, a job id), each failing with its exit class.

pub mod asl;
pub mod console;
pub mod demo;
pub mod history;
pub mod list;
pub mod logs;
pub mod put;
pub mod run;
pub mod schedule;
pub mod score;
pub mod serve;
pub mod start;
pub mod status;
pub mod stop;
pub mod train;
pub mod validate;
pub mod watch;

use std::path::Path;

use anyhow::anyhow;
use clap::Args;
use stepscore_core::{JobId, ObjectUri};

use crate::exit::{Failure, invalid};

/// A job id argument (`history`, `logs`).
#[derive(Debug, Args)]
pub struct JobArg {
    /// The job id
    pub job: String,
}

/// Reads a file named on the command line: a missing file is not found, any other error the
/// environment's.
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

fn job_id(text: &str) -> Result<JobId, Failure> {
    JobId::parse(text).map_err(invalid)
}
