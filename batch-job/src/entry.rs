//! The scoring container's entry point, as a library function so that `stepscore-batch` and
//! `stepscore batch-container` (the CLI standing in for the container when no `stepscore-batch`
//! binary sits next to it) run exactly the same code.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use stepscore_core::manifest::{
    MANIFEST_VERSION, MAX_FAILURE_MESSAGE_BYTES, ScoringFailure, failure_name,
};
use stepscore_core::ports::ObjectStore;

use crate::cli::{Cli, Command, EnvScore, LogFormat};
use crate::error::{EXIT_INTERNAL, EXIT_OK, EXIT_USAGE};
use crate::{Error, Storage};

/// Runs the container with `args` (program name first): parses arguments and environment,
/// builds the object store once, runs the library, and maps failures to exit codes.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    init_logging(cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            let code = match e.downcast_ref::<Error>() {
                Some(err) => err.exit_code(),
                None => EXIT_INTERNAL,
            };
            tracing::error!(exit_code = code, "{e:#}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let storage = if uses_s3(&cli) {
        build_storage(&runtime)?
    } else {
        Storage::local_only()
    };
    match cli.command {
        Some(Command::Train(args)) => {
            crate::train(&args, &storage)?;
        }
        Some(Command::Score(args)) => {
            let job = args.to_job()?;
            score_reporting_failure(&job, &storage)?;
        }
        None => {
            let args = match EnvScore::try_parse_from(["stepscore-batch"]) {
                Ok(a) => a.args,
                Err(e) => {
                    return Err(Error::Usage {
                        message: format!(
                            "no subcommand, so the job comes from the environment, but: {}",
                            e.to_string().lines().next().unwrap_or_default()
                        ),
                    }
                    .into());
                }
            };
            let job = args.to_job()?;
            score_reporting_failure(&job, &storage)?;
        }
        Some(Command::GenBenchData(args)) => {
            let f = std::fs::File::create(&args.output).map_err(|e| Error::Io {
                path: args.output.display().to_string(),
                source: e,
            })?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            crate::benchdata::write_bench_data(&mut w, args.rows, args.features, args.seed)
                .and_then(|()| std::io::Write::flush(&mut w))
                .map_err(|e| Error::Io {
                    path: args.output.display().to_string(),
                    source: e,
                })?;
        }
    }
    Ok(())
}

/// Scores the job; when it fails, leaves `failure-<shard>.json` under the output prefix with the
/// exit code and message, so the job record can say why (Batch only reports the exit code). A
/// report that cannot be written is logged and the original failure stands.
fn score_reporting_failure(job: &crate::ScoreJob, storage: &Storage) -> anyhow::Result<()> {
    let Err(e) = crate::score(job, storage) else {
        return Ok(());
    };
    let message = truncate_message(format!("{e:#}"));
    let report = ScoringFailure {
        version: MANIFEST_VERSION,
        job_id: job.job_id.clone(),
        shard_index: job.shard.index,
        exit_code: e.exit_code(),
        message,
    };
    let at = job.output.join(&failure_name(job.shard.index));
    let written = serde_json::to_vec_pretty(&report)
        .map_err(|s| Error::Internal {
            message: format!("failure report serialisation: {s}"),
        })
        .and_then(|bytes| storage.write_small(&at, &bytes));
    if let Err(w) = written {
        tracing::warn!(error = %w, at = %at, "the failure report cannot be written");
    }
    Err(e.into())
}

/// Cuts a message to [`MAX_FAILURE_MESSAGE_BYTES`] on a character boundary.
fn truncate_message(mut message: String) -> String {
    if message.len() > MAX_FAILURE_MESSAGE_BYTES {
        let mut end = MAX_FAILURE_MESSAGE_BYTES - 3;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}

/// Whether any location of the command is an `s3://` URI (the no-subcommand form reads them
/// from the environment); local runs then never load AWS configuration.
fn uses_s3(cli: &Cli) -> bool {
    let s3 = |v: &str| v.starts_with("s3://");
    match &cli.command {
        Some(Command::Train(a)) => s3(&a.input) || s3(&a.output),
        Some(Command::Score(a)) => s3(&a.model) || s3(&a.input) || s3(&a.output),
        Some(Command::GenBenchData(_)) => false,
        None => ["STEPSCORE_MODEL", "STEPSCORE_INPUT", "STEPSCORE_OUTPUT"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| s3(&v))),
    }
}

/// `s3://` goes to the directory store when STEPSCORE_LOCAL_S3_ROOT is set (the embedded
/// world), else to S3.
fn build_storage(runtime: &tokio::runtime::Runtime) -> anyhow::Result<Storage> {
    let store: Arc<dyn ObjectStore> = match std::env::var("STEPSCORE_LOCAL_S3_ROOT") {
        Ok(root) if !root.is_empty() => local_store(&root)?,
        _ => {
            // named so the AWS call log attributes its calls to the Batch job role
            let settings =
                stepscore_aws_s3::AwsSettings::from_env().component("stepscore-batch-job");
            let transfer = stepscore_aws_s3::TransferSettings::from_env()
                .map_err(|e| Error::usage(e.to_string()))?;
            let config = runtime.block_on(settings.load());
            Arc::new(stepscore_aws_s3::S3Store::new(&config).with_transfer(transfer))
        }
    };
    Ok(Storage::with_store(store, runtime.handle().clone()))
}

fn clap_exit(e: clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::from(EXIT_OK)
    }
}

fn init_logging(format: Option<LogFormat>) {
    let json = match format {
        Some(f) => f == LogFormat::Json,
        None => std::env::var_os("AWS_BATCH_JOB_ID").is_some(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_target(false).compact().init();
    }
}

fn local_store(root: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    Ok(Arc::new(
        stepscore_dirstore::DirStore::open(root).map_err(Error::Store)?,
    ))
}
