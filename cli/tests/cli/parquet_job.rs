//! A Parquet job in the embedded world as a user runs one: `stepscore put` a file pyarrow wrote,
//! `stepscore run` a config with `input_format` and `output_format` parquet, split over two
//! shards by row group; its predictions, read back from the bucket, are the predictions of the
//! same rows scored from CSV, row for row and bit for bit.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use serde_json::Value;

use super::{stepscore, text};

/// A file of batch-job's Parquet fixtures (written by pandas + pyarrow: `make_fixtures.py`).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../batch-job/tests/fixtures/parquet")
        .join(name)
}

/// One prediction: the id, the predicted label, and p_0, p_1 as bits (so equal means identical).
type Prediction = (i64, String, u64, u64);

/// Runs the config `body` (JSON) with `stepscore --json run` and returns the job's record.
fn run_job(state: &Path, dir: &Path, name: &str, body: &Value) -> Value {
    let config = dir.join(format!("{name}.json"));
    std::fs::write(&config, body.to_string()).unwrap();
    let out = stepscore(
        state,
        &[
            "--json",
            "--time-scale",
            "100",
            "run",
            config.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "job {name}:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("job {name}: {e}: {stdout}"))
}

/// The local bucket's directory of an `s3://` output prefix.
fn bucket_dir(state: &Path, uri: &str) -> PathBuf {
    state
        .join("buckets")
        .join(uri.strip_prefix("s3://").unwrap())
}

fn csv_predictions(path: &Path) -> Vec<Prediction> {
    let body = std::fs::read_to_string(path).unwrap();
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("id,prediction,p_0,p_1"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let bits = |s: &str| s.parse::<f64>().unwrap().to_bits();
            (
                f[0].parse().unwrap(),
                f[1].to_owned(),
                bits(f[2]),
                bits(f[3]),
            )
        })
        .collect()
}

fn parquet_predictions(path: &Path) -> Vec<Prediction> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReader::try_new(file, 1024).unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["id", "prediction", "p_0", "p_1"]);
        // the id keeps its Parquet type (int64), not the text of it
        let id = batch.column(0).as_primitive::<Int64Type>();
        let label = batch.column(1).as_string::<i32>();
        let p0 = batch.column(2).as_primitive::<Float64Type>();
        let p1 = batch.column(3).as_primitive::<Float64Type>();
        for r in 0..batch.num_rows() {
            rows.push((
                id.value(r),
                label.value(r).to_owned(),
                p0.value(r).to_bits(),
                p1.value(r).to_bits(),
            ));
        }
    }
    rows
}

#[test]
fn a_parquet_job_put_and_run_in_row_group_shards_predicts_what_its_csv_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    // a logistic model of the fixtures' features f0..f4, trained by the CLI
    let train = d.join("train.csv");
    let mut body = Vec::new();
    stepscore_batch::benchdata::write_bench_data(&mut body, 2_000, 5, 7).unwrap();
    std::fs::write(&train, body).unwrap();
    let model = "s3://stepscore/models/logistic.json";
    let out = stepscore(
        &state,
        &[
            "train",
            "--input",
            train.to_str().unwrap(),
            "--output",
            model,
            "--target",
            "label",
            "--algorithm",
            "logistic-regression",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // the same 600 rows twice: CSV, and Parquet as pyarrow writes it in 64-row groups (zstd)
    for (file, key) in [
        ("rows.csv", "s3://stepscore/data/rows.csv"),
        ("groups.parquet", "s3://stepscore/data/rows.parquet"),
    ] {
        let out = stepscore(&state, &["put", fixture(file).to_str().unwrap(), key]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let common = |name: &str, input: &str| {
        serde_json::json!({
            "name": name,
            "model": model,
            "input": input,
            "output": format!("s3://stepscore/out/{name}/"),
            "id_columns": ["id"],
            "capacity": "on-demand",
            "poll_interval_seconds": 1,
        })
    };
    let csv = run_job(
        &state,
        d,
        "from-csv",
        &common("from-csv", "s3://stepscore/data/rows.csv"),
    );
    let mut config = common("from-parquet", "s3://stepscore/data/rows.parquet");
    config["input_format"] = "parquet".into();
    config["output_format"] = "parquet".into();
    config["parquet_row_group_rows"] = 100.into();
    config["shards"] = 2.into();
    let pq = run_job(&state, d, "from-parquet", &config);

    for record in [&csv, &pq] {
        assert_eq!(record["status"], "SUCCEEDED", "{record}");
        let m = &record["metrics"];
        assert_eq!(
            (&m["rows_read"], &m["rows_scored"], &m["rows_rejected"]),
            (&600.into(), &600.into(), &0.into()),
            "{record}"
        );
    }
    assert_eq!(pq["config"]["input_format"], "parquet");
    assert_eq!(pq["config"]["output_format"], "parquet");

    let want = csv_predictions(&bucket_dir(
        &state,
        "s3://stepscore/out/from-csv/part-0.csv",
    ));
    assert_eq!(want.len(), 600);
    let out_dir = bucket_dir(&state, "s3://stepscore/out/from-parquet/");
    let mut got = Vec::new();
    for shard in 0..2 {
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(out_dir.join(format!("manifest-{shard}.json"))).unwrap(),
        )
        .unwrap();
        let part = parquet_predictions(&out_dir.join(format!("part-{shard}.parquet")));
        let scored = manifest["rows_scored"].as_u64().unwrap();
        assert!(scored > 0, "shard {shard} owns row groups: {manifest}");
        assert_eq!(part.len() as u64, scored, "shard {shard}: {manifest}");
        assert_eq!(
            manifest["rows_read"].as_u64(),
            Some(scored + manifest["rows_rejected"].as_u64().unwrap()),
            "{manifest}"
        );
        got.extend(part);
    }
    // shard 0's row groups come first: the parts in shard order are the input in order
    assert_eq!(got, want);
}
