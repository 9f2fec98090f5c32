//! Command line and environment: the argument structs (public so `stepscore` can embed them),
//! conversion of raw flags into a validated [`ScoreJob`], and the exit-code contract.

use clap::{Args, Parser, Subcommand, ValueEnum};
use stepscore_core::config::{
    BadRowPolicy, DEFAULT_PARQUET_ROW_GROUP_ROWS, FeatureMap, InputFormat,
    MAX_PARQUET_ROW_GROUP_ROWS, OutputFormat, ParquetCompression, check_id_columns,
    check_output_prefix,
};

use crate::error::Error;
use crate::score::{OutputSpec, ScoreJob, Shard};
use crate::storage::Location;
use crate::train::TrainArgs;

/// The exit-code table, shown by `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  64  usage: bad arguments or environment
  65  bad data (a bad row under --on-bad-row fail, missing feature columns), a bad model artifact,
      or a model failing while scoring (under any --on-bad-row)
  66  the input or the model does not exist or cannot be read
  70  internal error
  75  transient infrastructure failure (S3 throttling, 5xx, network): retrying may succeed";

/// `score`: score a CSV (or every CSV under a prefix) with a model artifact.
#[derive(Debug, Clone, Args)]
pub struct ScoreArgs {
    /// The model artifact: a local path or s3://bucket/key.
    #[arg(long, env = "STEPSCORE_MODEL")]
    pub model: String,
    /// The input: one file/object, or a directory / prefix ending in `/`.
    #[arg(long, env = "STEPSCORE_INPUT")]
    pub input: String,
    /// The output directory / prefix: receives part-<i>.csv, manifest-<i>.json, rejects-<i>.csv.
    #[arg(long, env = "STEPSCORE_OUTPUT")]
    pub output: String,
    /// Columns passed through to the predictions, comma-separated (may be empty).
    #[arg(
        long,
        env = "STEPSCORE_ID_COLUMNS",
        value_delimiter = ',',
        default_value = "id"
    )]
    pub id_columns: Vec<String>,
    /// What to do with a row that cannot be scored.
    #[arg(long, env = "STEPSCORE_ON_BAD_ROW", value_enum, default_value_t = OnBadRow::Fail)]
    pub on_bad_row: OnBadRow,
    /// The job id recorded in the manifest.
    #[arg(long, env = "STEPSCORE_JOB_ID", default_value = "local")]
    pub job_id: String,
    /// Array size of the job; this run scores shard AWS_BATCH_JOB_ARRAY_INDEX of it.
    #[arg(long, env = "STEPSCORE_SHARDS", default_value_t = 1)]
    pub shards: u32,
    /// This run's shard (set by AWS Batch in array children).
    #[arg(long, env = "AWS_BATCH_JOB_ARRAY_INDEX")]
    pub shard_index: Option<u32>,
    /// Seconds between progress reports (progress-<i>.json under the output).
    #[arg(long, env = "STEPSCORE_PROGRESS_SECONDS", default_value_t = 5.0)]
    pub progress_seconds: f64,
    /// How input files are read; auto: Parquet by magic number or name, JSON Lines by a
    /// .jsonl/.ndjson name, else CSV (gzip/zstd detected by content).
    #[arg(long, env = "STEPSCORE_INPUT_FORMAT", value_enum, default_value_t = InputFormatArg::Auto)]
    pub input_format: InputFormatArg,
    /// Input column per model feature, as a JSON object: '{"age": "customer_age"}'.
    #[arg(long, env = "STEPSCORE_FEATURES")]
    pub features: Option<String>,
    /// How predictions are written: part-<i>.csv, .jsonl or .parquet.
    #[arg(long, env = "STEPSCORE_OUTPUT_FORMAT", value_enum, default_value_t = OutputFormatArg::Csv)]
    pub output_format: OutputFormatArg,
    /// Parquet output: the pages' compression.
    #[arg(long, env = "STEPSCORE_PARQUET_COMPRESSION", value_enum, default_value_t = ParquetCompressionArg::Snappy)]
    pub parquet_compression: ParquetCompressionArg,
    /// Parquet output: rows per row group.
    #[arg(long, env = "STEPSCORE_PARQUET_ROW_GROUP_ROWS", default_value_t = DEFAULT_PARQUET_ROW_GROUP_ROWS)]
    pub parquet_row_group_rows: u64,
    /// The Batch job this run is (set by AWS Batch), recorded in the progress reports so the
    /// pipeline tells them from an earlier attempt's.
    #[arg(long, env = "AWS_BATCH_JOB_ID", hide = true)]
    pub batch_job_id: Option<String>,
}

/// `--on-bad-row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnBadRow {
    /// Stop at the first bad row, naming file, line, column and value.
    Fail,
    /// Write the row and its reason to rejects-<i>.csv and go on.
    Skip,
}

/// `--output-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormatArg {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

/// `--parquet-compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParquetCompressionArg {
    /// Snappy.
    Snappy,
    /// Zstandard.
    Zstd,
}

/// `--input-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormatArg {
    /// By each file's content and name.
    Auto,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl ScoreArgs {
    /// The validated job.
    pub fn to_job(&self) -> Result<ScoreJob, Error> {
        let id_columns: Vec<String> = self
            .id_columns
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if self.shards == 0 {
            return Err(Error::usage(
                "STEPSCORE_SHARDS / --shards must be at least 1",
            ));
        }
        let shard = match self.shard_index {
            None => Shard::SINGLE,
            Some(i) if i < self.shards => Shard {
                index: i,
                count: self.shards,
            },
            Some(i) => {
                return Err(Error::usage(format!(
                    "AWS_BATCH_JOB_ARRAY_INDEX {i} is not below STEPSCORE_SHARDS {}; set STEPSCORE_SHARDS to the array size",
                    self.shards
                )));
            }
        };
        // the same rules admission applies, so a config admitted is one the scorer accepts
        check_id_columns(&id_columns)
            .map_err(|e| Error::usage(format!("STEPSCORE_ID_COLUMNS / --id-columns {e}")))?;
        let output = Location::parse(&self.output)?;
        if let Location::Object(u) = &output {
            check_output_prefix(u).map_err(|e| Error::usage(format!("the output {e}")))?;
        }
        let progress_interval = std::time::Duration::try_from_secs_f64(self.progress_seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::usage(format!(
                    "STEPSCORE_PROGRESS_SECONDS / --progress-seconds {} must be a number of seconds above 0",
                    self.progress_seconds
                ))
            })?;
        let features: FeatureMap = match &self.features {
            None => FeatureMap::new(),
            Some(text) if text.trim().is_empty() => FeatureMap::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Error::usage(format!(
                    "STEPSCORE_FEATURES / --features '{text}' is not a JSON object of feature name to column name ({e}); write it as {{\"age\": \"customer_age\"}}"
                ))
            })?,
        };
        if !(1..=MAX_PARQUET_ROW_GROUP_ROWS).contains(&self.parquet_row_group_rows) {
            return Err(Error::usage(format!(
                "STEPSCORE_PARQUET_ROW_GROUP_ROWS / --parquet-row-group-rows {} must be from 1 to {MAX_PARQUET_ROW_GROUP_ROWS}",
                self.parquet_row_group_rows
            )));
        }
        let output_format = OutputSpec {
            format: match self.output_format {
                OutputFormatArg::Csv => OutputFormat::Csv,
                OutputFormatArg::Jsonl => OutputFormat::Jsonl,
                OutputFormatArg::Parquet => OutputFormat::Parquet,
            },
            compression: match self.parquet_compression {
                ParquetCompressionArg::Snappy => ParquetCompression::Snappy,
                ParquetCompressionArg::Zstd => ParquetCompression::Zstd,
            },
            row_group_rows: self.parquet_row_group_rows as usize,
        };
        Ok(ScoreJob {
            output_format,
            input_format: match self.input_format {
                InputFormatArg::Auto => InputFormat::Auto,
                InputFormatArg::Csv => InputFormat::Csv,
                InputFormatArg::Jsonl => InputFormat::Jsonl,
                InputFormatArg::Parquet => InputFormat::Parquet,
            },
            features,
            job_id: self.job_id.clone(),
            model: Location::parse(&self.model)?,
            input: Location::parse(&self.input)?,
            output,
            id_columns,
            on_bad_row: match self.on_bad_row {
                OnBadRow::Fail => BadRowPolicy::Fail,
                OnBadRow::Skip => BadRowPolicy::Skip,
            },
            shard,
            progress_interval,
            batch_job_id: self.batch_job_id.clone(),
        })
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (the default under AWS Batch).
    Json,
}

/// `gen-bench-data`: write the deterministic benchmark CSV.
#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// Rows to write.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Feature columns.
    #[arg(long, default_value_t = 20)]
    pub features: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Output file.
    #[arg(long)]
    pub output: std::path::PathBuf,
}

/// The `stepscore-batch` command line.
#[derive(Debug, Parser)]
#[command(
    name = "stepscore-batch",
    version,
    about = "The stepscore scoring container: train and score smartcore models on CSV, local or on S3",
    long_about = "The stepscore scoring container: train and score smartcore models on CSV, local or on S3.\n\nWith no subcommand it scores the job described by the environment (STEPSCORE_JOB_ID, STEPSCORE_MODEL, STEPSCORE_INPUT, STEPSCORE_OUTPUT, STEPSCORE_ID_COLUMNS, STEPSCORE_ON_BAD_ROW, STEPSCORE_SHARDS, AWS_BATCH_JOB_ARRAY_INDEX, STEPSCORE_INPUT_FORMAT, STEPSCORE_FEATURES, STEPSCORE_OUTPUT_FORMAT, STEPSCORE_PARQUET_COMPRESSION, STEPSCORE_PARQUET_ROW_GROUP_ROWS). s3:// locations go to S3, or to the directory STEPSCORE_LOCAL_S3_ROOT when it is set.",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// Log format; JSON by default when AWS_BATCH_JOB_ID is set.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// The subcommand; none scores from the environment.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a model on a CSV and write its artifact.
    #[command(after_help = EXIT_CODES_HELP)]
    Train(TrainArgs),
    /// Score a CSV with a model artifact.
    #[command(after_help = EXIT_CODES_HELP)]
    Score(ScoreArgs),
    /// Write the deterministic benchmark data set.
    #[command(hide = true)]
    GenBenchData(GenArgs),
}

/// The no-subcommand form: every scoring argument from the environment.
#[derive(Debug, Parser)]
#[command(name = "stepscore-batch")]
pub struct EnvScore {
    /// Scoring arguments.
    #[command(flatten)]
    pub args: ScoreArgs,
}
