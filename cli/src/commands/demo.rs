//! `stepscore demo`: the whole pipeline once on generated data: data written, a model trained,
//! a config dropped into the bucket and its run followed live (as `run` follows it).

use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::parse_uri;
use super::put::put_file;
use super::run::{drop_and_follow, print_outcome};
use crate::Global;
use crate::exit::{Failure, env_fail};
use crate::pipeline::{self, PipelineOptions};
use crate::print::say;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Rows of generated data to score
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
    /// Array children that score the data
    #[arg(long, default_value_t = 2)]
    pub shards: u32,
    /// Reclaim the first spot attempt after this many seconds, to see the on-demand fallback
    #[arg(long)]
    pub reclaim_spot_after: Option<f64>,
    /// The data's format: csv in and out, or parquet in and out (row groups of 1,024 rows,
    /// sharded by row group)
    #[arg(long, value_enum, default_value_t = DemoFormat::Csv)]
    pub format: DemoFormat,
}

/// `demo --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoFormat {
    /// CSV in, CSV out.
    Csv,
    /// Parquet in, Parquet out.
    Parquet,
}

/// `stepscore demo`: generated data, a trained model, one config dropped, followed live.
pub async fn run(args: &DemoArgs, g: &Global) -> Result<(), Failure> {
    let g = &Global {
        time_scale: if g.time_scale == 1.0 {
            20.0
        } else {
            g.time_scale
        },
        ..g.clone()
    };
    let rt = pipeline::open(
        g,
        &PipelineOptions {
            reclaim_spot_after: args.reclaim_spot_after,
        },
    )?;
    let bucket = &g.bucket;
    let run = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let data_dir = g.state_dir.join("demo");
    std::fs::create_dir_all(&data_dir).map_err(env_fail)?;
    say(
        g,
        format!(
            "1/4 generating {} rows to score and 5,000 to train on",
            args.rows
        ),
    );
    let train_csv = data_dir.join("train.csv");
    write_data(&train_csv, 5_000, 7)?;
    let (score_file, name) = match args.format {
        DemoFormat::Csv => {
            let path = data_dir.join("score.csv");
            write_data(&path, args.rows, 8)?;
            (path, "score.csv")
        }
        DemoFormat::Parquet => {
            let path = data_dir.join("score.parquet");
            write_parquet(&path, args.rows, 8)?;
            (path, "score.parquet")
        }
    };
    let input = parse_uri(&format!("s3://{bucket}/demo/input/{name}"))?;
    put_file(&rt, &score_file, &input).await?;

    say(
        g,
        "2/4 training a random forest (50 trees, depth 8) on the first rows".to_owned(),
    );
    let model = format!("s3://{bucket}/demo/models/forest.json");
    train_model(g, &train_csv, &model).await?;

    say(
        g,
        "3/4 dropping a job config into the bucket's jobs/".to_owned(),
    );
    let mut config = json!({
        "name": "demo",
        "model": model,
        "input": input.to_string(),
        "output": format!("s3://{bucket}/demo/predictions/{run}/"),
        "id_columns": ["id"],
        "capacity": "spot-then-on-demand",
        "shards": args.shards,
        "poll_interval_seconds": 10,
        "tags": {"purpose": "demo"}
    });
    if args.format == DemoFormat::Parquet {
        config["output_format"] = json!("parquet");
    }
    let key = parse_uri(&format!("s3://{bucket}/jobs/demo-{run}.json"))?;
    say(
        g,
        "4/4 following the run (state machine events as they happen)".to_owned(),
    );
    let record = drop_and_follow(
        &rt,
        g,
        &key,
        serde_json::to_vec_pretty(&config).map_err(env_fail)?,
        Duration::from_secs(600),
    )
    .await?;
    print_outcome(g, &rt, &record).await
}

fn write_data(path: &Path, rows: u64, seed: u64) -> Result<(), Failure> {
    let f = std::fs::File::create(path)
        .map_err(|e| env_fail(format!("cannot write {}: {e}", path.display())))?;
    let mut w = std::io::BufWriter::new(f);
    stepscore_batch::benchdata::write_bench_data(&mut w, rows, 20, seed)
        .and_then(|()| std::io::Write::flush(&mut w))
        .map_err(|e| env_fail(format!("cannot write {}: {e}", path.display())))
}

/// The demo's rows as Parquet, in row groups of 1,024 rows so the shards split the file by
/// row group.
fn write_parquet(path: &Path, rows: u64, seed: u64) -> Result<(), Failure> {
    let f = std::fs::File::create(path)
        .map_err(|e| env_fail(format!("cannot write {}: {e}", path.display())))?;
    stepscore_batch::benchdata::write_bench_parquet(
        std::io::BufWriter::new(f),
        rows,
        20,
        seed,
        1024,
    )
    .map_err(|e| env_fail(format!("cannot write {}: {e}", path.display())))
}

/// Trains the demo's random forest on `train_csv` into `model`, on a blocking thread: training
/// builds and blocks on a runtime of its own, which an async thread may not do.
async fn train_model(g: &Global, train_csv: &Path, model: &str) -> Result<(), Failure> {
    let train_csv = train_csv.display().to_string();
    let state_dir = g.state_dir.clone();
    let model = model.to_owned();
    let quiet = g.quiet;
    tokio::task::spawn_blocking(move || {
        super::train::train_in(
            &state_dir,
            &[
                "--input",
                &train_csv,
                "--output",
                &model,
                "--target",
                "label",
                "--algorithm",
                "random-forest-classifier",
                "--n-trees",
                "50",
                "--max-depth",
                "8",
            ],
            quiet,
        )
    })
    .await
    .map_err(env_fail)?
}
