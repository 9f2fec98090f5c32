//! `stepscore`: the batch-scoring pipeline's command line.
//!
//! Thin by design: parse arguments, build the world's adapters once, call a library function,
//! print, and map the outcome to an exit code in one place ([`exit`]).
//!
//! Without `--aws` every command works on the embedded world in the state directory
//! (`.stepscore/` by default): buckets as folders, SQLite as the table, the ASL interpreter as
//! Step Functions, the local Batch running `stepscore-batch` as child processes.
//!
//! # Layout
//! - `commands`: one module per command, with its arguments (both paths of a command that has
//!   an `--aws` one).
//! - `print`: how records, lists of records and execution events look on the terminal.
//! - `pipeline`: opening the embedded pipeline on the state directory.
//! - `aws`: the deployed stack the `--aws` commands use.
//! - `scorer`: the scoring container's library run in process (`train`, `score`).
//! - `exit`: exit codes, failure classes, printing an error once.

mod aws;
mod commands;
mod exit;
mod on_complete;
mod pipeline;
mod print;
mod progress;
mod scorer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use commands::{
    JobArg, asl, console, demo, history, list, logs, put, run, schedule, score, serve, start,
    status, stop, train, validate, watch,
};

/// Batch ML scoring pipeline for AWS — and the same pipeline on one machine.
#[derive(Debug, Parser)]
#[command(name = "stepscore", version, about, long_about = None, after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// State directory of the embedded world (buckets, state.db, logs)
    #[arg(
        long,
        global = true,
        env = "STEPSCORE_STATE_DIR",
        default_value = ".stepscore"
    )]
    pub state_dir: PathBuf,
    /// Compress time: Wait states and polling run this many times faster
    #[arg(long, global = true, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Print machine-readable JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only the result, no progress
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Use the deployed stack on AWS instead of the embedded world (status, list, start, score)
    #[arg(long, global = true)]
    pub aws: bool,
    /// The DynamoDB job table (with --aws)
    #[arg(long, global = true, env = "STEPSCORE_TABLE")]
    pub table: Option<String>,
    /// The state machine ARN (with --aws)
    #[arg(long, global = true, env = "STEPSCORE_STATE_MACHINE_ARN")]
    pub state_machine_arn: Option<String>,
    /// The local bucket configs are dropped into
    #[arg(
        long,
        global = true,
        env = "STEPSCORE_BUCKET",
        default_value = "stepscore"
    )]
    pub bucket: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline once on generated data: train, drop a config, follow it live
    Demo(demo::DemoArgs),
    /// Train a model on a CSV and write its artifact (local path or s3://)
    Train(stepscore_batch::TrainArgs),
    /// Score a CSV (or every CSV under a prefix) with a model artifact
    Score(stepscore_batch::ScoreArgs),
    /// Drop a job config into the bucket's jobs/ and follow the run to its end
    Run(run::RunArgs),
    /// Start an execution with a config as input (the console's path, no S3 event)
    Start(start::StartArgs),
    /// Show a job's record, or a count of jobs by status
    Status(status::StatusArgs),
    /// Stop a job's run: its execution is aborted, its Batch job terminated, the job FAILED
    Stop(stop::StopArgs),
    /// List jobs, most recently updated first
    List(list::ListArgs),
    /// Show a job's execution history, like the console's event table
    History(JobArg),
    /// Show the scoring container's logs of a job's Batch attempts
    Logs(JobArg),
    /// Run the pipeline and keep watching: any config copied into the bucket's jobs/ runs
    Watch(watch::WatchArgs),
    /// Validate a job config or a state machine definition
    Validate(validate::ValidateArgs),
    /// Fire job configs from templates on EventBridge cron()/rate()/at() schedules
    Schedule(schedule::ScheduleArgs),
    /// Serve a model artifact over HTTP on 127.0.0.1 (KServe v1 predict), reloaded when it changes
    Serve(serve::ServeArgs),
    /// Copy a local file into a local bucket (like `aws s3 cp`)
    Put(put::PutArgs),
    /// Serve the web console over the state directory (graph, executions, jobs, Batch, runs)
    Console(console::ConsoleArgs),
    /// Amazon States Language tools: validate, run, conformance
    #[command(subcommand)]
    Asl(asl::AslCommand),
}

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == pipeline::BATCH_CONTAINER_SUBCOMMAND)
    {
        // The local Batch runs `stepscore batch-container …` as the scoring container when no
        // `stepscore-batch` binary is installed beside `stepscore`.
        let rest = args.by_ref().skip(2);
        return stepscore_batch::entry::main_from(
            std::iter::once("stepscore-batch".into()).chain(rest),
        );
    }
    let cli = Cli::parse();
    init_tracing();
    exit::report(dispatch(cli))
}

/// Runs the command; a command with an `--aws` path runs it when `--aws` is given.
fn dispatch(cli: Cli) -> Result<(), exit::Failure> {
    let g = cli.global;
    match cli.command {
        Command::Asl(cmd) => asl::run(cmd),
        Command::Validate(args) => validate::run(&args, &g),
        Command::Train(args) => train::run(&args, &g),
        Command::Score(args) => score::run(&args, &g),
        Command::Serve(args) => serve::run(&args, &g),
        Command::Status(args) if g.aws => status::aws(&args, &g),
        Command::List(args) if g.aws => list::aws(&args, &g),
        Command::Start(args) if g.aws => start::aws(&args, &g),
        Command::Stop(args) if g.aws => stop::aws(&args, &g),
        command => {
            let runtime = tokio_runtime()?;
            runtime.block_on(async move {
                match command {
                    Command::Demo(args) => demo::run(&args, &g).await,
                    Command::Run(args) => run::run(&args, &g).await,
                    Command::Start(args) => start::local(&args, &g).await,
                    Command::Status(args) => status::local(&args, &g).await,
                    Command::Stop(args) => stop::local(&args, &g).await,
                    Command::List(args) => list::local(&args, &g).await,
                    Command::History(args) => history::run(&args, &g).await,
                    Command::Logs(args) => logs::run(&args, &g).await,
                    Command::Watch(args) => watch::run(&args, &g).await,
                    Command::Schedule(args) => schedule::run(&args, &g).await,
                    Command::Put(args) => put::run(&args, &g).await,
                    Command::Console(args) => console::run(&args, &g).await,
                    _ => Err(exit::Failure::Invalid(anyhow::anyhow!(
                        "this command does not support --aws"
                    ))),
                }
            })
        }
    }
}

/// The one async runtime a command uses.
pub fn tokio_runtime() -> Result<tokio::runtime::Runtime, exit::Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            exit::Failure::Environment(anyhow::anyhow!("cannot start the async runtime: {e}"))
        })
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("STEPSCORE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
