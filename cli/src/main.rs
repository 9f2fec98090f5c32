//! `stepscore`: the batch-scoring pipeline's command line.
//!
//! Thin by design: parse arguments, build the world's adapters once, call a library function,
//! print, and map the outcome to an exit code in one place ([`exit`]).

mod asl_cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Batch ML scoring pipeline for AWS — and the same pipeline on one machine.
#[derive(Debug, Parser)]
#[command(name = "stepscore", version, about, long_about = None, after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Amazon States Language tools: validate, run, conformance
    #[command(subcommand)]
    Asl(asl_cmd::AslCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Asl(cmd) => asl_cmd::run(cmd),
    };
    exit::report(result)
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("STEPSCORE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
