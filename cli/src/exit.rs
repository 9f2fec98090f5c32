//! Exit codes, the failure classes behind them, and printing an error once with its context.

use std::process::ExitCode;

/// The exit codes every command uses, shown in `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success (job SUCCEEDED, definition valid, all cases passed)
  1  the thing ran and failed (job FAILED, execution failed, cases failed)
  2  bad usage or invalid input (arguments, config, definition)
  3  not found (no such job, file or object)
  4  environment failure (AWS or local store unreachable, IO error)";

/// What went wrong, sorted by who can fix it.
#[derive(Debug)]
pub enum Failure {
    /// The work ran and its outcome is a failure (already printed).
    Outcome,
    /// The input is invalid.
    Invalid(anyhow::Error),
    /// Something named does not exist.
    NotFound(anyhow::Error),
    /// The environment failed.
    Environment(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Environment(e)
    }
}

/// Prints the error (once, with its chain) and maps the result to an exit code.
pub fn report(result: Result<(), Failure>) -> ExitCode {
    let (code, err) = match result {
        Ok(()) => return ExitCode::SUCCESS,
        Err(Failure::Outcome) => return ExitCode::from(1),
        Err(Failure::Invalid(e)) => (2, e),
        Err(Failure::NotFound(e)) => (3, e),
        Err(Failure::Environment(e)) => (4, e),
    };
    eprintln!("stepscore: {err:#}");
    ExitCode::from(code)
}

/// An invalid input, described by `e`.
pub fn invalid(e: impl std::fmt::Display) -> Failure {
    Failure::Invalid(anyhow::anyhow!("{e}"))
}

/// A failure of the environment (store, database, runtime), described by `e`.
pub fn env_fail(e: impl std::fmt::Display) -> Failure {
    Failure::Environment(anyhow::anyhow!("{e}"))
}
