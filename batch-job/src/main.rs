//! `stepscore-batch`: the scoring container's entrypoint (see [`stepscore_batch::entry`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    stepscore_batch::entry::main_from(std::env::args_os())
}
