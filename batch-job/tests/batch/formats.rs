//! Input formats beside plain CSV: gzip and zstd CSV, JSON Lines, Parquet (written here by the
//! Rust writer, and by pandas + pyarrow when the test venv has them), scored to the same
//! predictions as the CSV of the same data; the feature map; bad rows, corrupt files, shards.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float32Array, Float64Array,
    Int32Array, RecordBatch, StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;

use super::*;

/// The bench CSV's rows: id, f0..f4 (label dropped).
fn rows(csv: &str) -> Vec<(i64, Vec<f64>)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            let id = f.next().unwrap().parse().unwrap();
            (id, f.take(5).map(|v| v.parse().unwrap()).collect())
        })
        .collect()
}

fn job(dir: &Path, model: &Path, input: &Path, out: &str) -> ScoreJob {
    ScoreJob {
        job_id: "job-1".into(),
        model: Location::Local(model.to_owned()),
        input: Location::Local(input.to_owned()),
        output: Location::Local(dir.join(out)),
        id_columns: vec!["id".into()],
        on_bad_row: BadRowPolicy::Fail,
        shard: Shard::SINGLE,
        progress_interval: std::time::Duration::from_secs(5),
        input_format: InputFormat::Auto,
        features: FeatureMap::new(),
        batch_job_id: None,
    }
}

fn run(job: &ScoreJob) -> Result<ScoringManifest, stepscore_batch::Error> {
    stepscore_batch::score(job, &Storage::local_only())
}

fn part(dir: &Path, out: &str, shard: u32) -> String {
    std::fs::read_to_string(dir.join(out).join(format!("part-{shard}.csv"))).unwrap()
}

/// Scores `input` (and the CSV beside it) and asserts identical predictions and counts.
fn same_as_csv(dir: &Path, model: &Path, csv: &Path, input: &Path) -> ScoringManifest {
    let want = run(&job(dir, model, csv, "out-csv")).unwrap();
    let got = run(&job(dir, model, input, "out-other")).unwrap();
    assert_eq!(
        part(dir, "out-other", 0),
        part(dir, "out-csv", 0),
        "{}",
        input.display()
    );
    assert_eq!(
        (got.rows_read, got.rows_scored, got.rows_rejected),
        (want.rows_read, want.rows_scored, want.rows_rejected)
    );
    got
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_and_zstd_csv_and_jsonl_score_as_the_plain_csv_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let text = bench_csv(3000, 5);
    let csv = write(d, "in.csv", &text);
    same_as_csv(
        d,
        &model,
        &csv,
        &write(d, "in.csv.gz", gzip(text.as_bytes())),
    );
    // no name to go by: the content says zstd
    let z = zstd::encode_all(text.as_bytes(), 3).unwrap();
    same_as_csv(d, &model, &csv, &write(d, "in.data", z));
    let jsonl: String = rows(&text)
        .iter()
        .map(|(id, f)| {
            let mut o = serde_json::Map::new();
            o.insert("id".into(), (*id).into());
            for (k, v) in f.iter().enumerate() {
                o.insert(format!("f{k}"), (*v).into());
            }
            format!("{}\n", serde_json::Value::Object(o))
        })
        .collect();
    same_as_csv(d, &model, &csv, &write(d, "in.jsonl", &jsonl));
    same_as_csv(
        d,
        &model,
        &csv,
        &write(d, "in.jsonl.gz", gzip(jsonl.as_bytes())),
    );

    // a compressed file is one shard's: shard 0 scores it all, the others nothing
    let gz = d.join("in.csv.gz");
    let mut total = 0;
    for i in 0..3 {
        let mut j = job(d, &model, &gz, "out-gz-sharded");
        j.shard = Shard { index: i, count: 3 };
        let m = run(&j).unwrap();
        assert_eq!(m.inputs.len(), usize::from(i == 0), "shard {i}");
        total += m.rows_scored;
    }
    assert_eq!(total, 3000);
    // a plain JSON Lines file splits by byte range, each line once, in order
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut j = job(d, &model, &d.join("in.jsonl"), "out-jsonl-sharded");
        j.shard = Shard { index: i, count: 4 };
        let m = run(&j).unwrap();
        assert!(m.inputs[0].range.is_some());
        ids.extend(
            part(d, "out-jsonl-sharded", i)
                .lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap().to_owned()),
        );
    }
    assert_eq!(ids, (0..3000).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn corrupt_compressed_input_is_bad_data_naming_the_file_and_codec() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let gz = gzip(bench_csv(5000, 5).as_bytes());
    let cut = write(d, "cut.csv.gz", &gz[..gz.len() / 2]);
    let e = run(&job(d, &model, &cut, "out")).unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("cut.csv.gz") && text.contains("gzip data is corrupt or truncated"),
        "{text}"
    );
    assert!(!d.join("out/part-0.csv").exists());
}

#[test]
fn json_lines_bad_rows_name_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let good = r#"{"id": 1, "f0": 0.5, "f1": 1, "f2": 2, "f3": 3, "f4": true}"#;
    let body = format!(
        "{good}\n\n{{\"id\": 2, \"f0\": 0.5, \"f1\": 1, \"f2\": 2, \"f3\": 3}}\n{{\"id\": 3, \"f0\": \"x\", \"f1\": 1, \"f2\": 2, \"f3\": 3, \"f4\": 1}}\nnot json\n{good}\n"
    );
    let input = write(d, "in.jsonl", &body);
    let e = run(&job(d, &model, &input, "out")).unwrap_err();
    assert_eq!(e.exit_code(), 65);
    assert!(
        e.to_string()
            .contains("in.jsonl line 3: key 'f4' is missing"),
        "{e}"
    );
    let mut j = job(d, &model, &input, "out");
    j.on_bad_row = BadRowPolicy::Skip;
    let m = run(&j).unwrap();
    assert_eq!((m.rows_read, m.rows_scored, m.rows_rejected), (5, 2, 3));
    let rejects = std::fs::read_to_string(d.join("out/rejects-0.csv")).unwrap();
    for expected in [
        ",3,",
        "key 'f4' is missing",
        ",4,",
        "key 'f0': \"\"x\"\" is not a number",
        ",5,",
        "not valid JSON",
    ] {
        assert!(rejects.contains(expected), "{rejects}\nlacks {expected}");
    }
}

#[test]
fn a_feature_map_reads_renamed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let text = bench_csv(500, 5);
    let csv = write(d, "in.csv", &text);
    let renamed = text
        .replacen("f0,", "age,", 1)
        .replacen("f3,", "income,", 1);
    let input = write(d, "renamed.csv", renamed);
    let mut j = job(d, &model, &input, "out");
    let e = run(&j).unwrap_err();
    assert!(
        e.to_string()
            .contains("missing feature column(s) the model needs: f0, f3"),
        "{e}"
    );
    j.features = FeatureMap::from([("f0".into(), "age".into()), ("f3".into(), "income".into())]);
    run(&j).unwrap();
    run(&job(d, &model, &csv, "out-csv")).unwrap();
    assert_eq!(part(d, "out", 0), part(d, "out-csv", 0));
}

/// The bench rows as Parquet: `id` int64 and f0..f4 float64, `group_rows` rows per row group.
fn parquet_of(rows: &[(i64, Vec<f64>)], group_rows: usize) -> Vec<u8> {
    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    fields.extend((0..5).map(|k| Field::new(format!("f{k}"), DataType::Float64, true)));
    let schema = Arc::new(Schema::new(fields));
    let mut ids = Int64Builder::new();
    let mut cols: Vec<Float64Builder> = (0..5).map(|_| Float64Builder::new()).collect();
    for (id, f) in rows {
        ids.append_value(*id);
        for (c, v) in cols.iter_mut().zip(f) {
            c.append_value(*v);
        }
    }
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
    arrays.extend(cols.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    write_parquet(RecordBatch::try_new(schema, arrays).unwrap(), group_rows)
}

fn write_parquet(batch: RecordBatch, group_rows: usize) -> Vec<u8> {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

#[test]
fn parquet_scores_as_csv_whole_and_in_row_group_shards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let text = bench_csv(5000, 5);
    let csv = write(d, "in.csv", &text);
    let pq = write(d, "in.parquet", parquet_of(&rows(&text), 700));
    same_as_csv(d, &model, &csv, &pq);
    // the same bytes without the name: the magic number says Parquet
    same_as_csv(
        d,
        &model,
        &csv,
        &write(d, "in.bin", std::fs::read(&pq).unwrap()),
    );
    let mut lines = Vec::new();
    let mut read = 0;
    for i in 0..3 {
        let mut j = job(d, &model, &pq, "sharded");
        j.shard = Shard { index: i, count: 3 };
        let m = run(&j).unwrap();
        assert_eq!(m.rows_read, m.rows_scored);
        read += m.rows_read;
        lines.extend(part(d, "sharded", i).lines().skip(1).map(str::to_owned));
    }
    assert_eq!(read, 5000);
    let whole: Vec<String> = part(d, "out-csv", 0)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, whole);
}

#[test]
fn parquet_numbers_of_every_type_read_as_the_csv_text_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let n = 64i32;
    let f0: Int32Array = (0..n).map(|i| i - 30).collect();
    let f1: Float32Array = (0..n).map(|i| i as f32 / 4.0).collect();
    let f2 = Decimal128Array::from((0..n).map(|i| i128::from(i) * 125).collect::<Vec<_>>())
        .with_precision_and_scale(10, 2)
        .unwrap();
    let f3: BooleanArray = (0..n).map(|i| Some(i % 3 == 0)).collect();
    let f4: DictionaryArray<Int32Type> = DictionaryArray::new(
        (0..n).map(|i| i % 4).collect::<Int32Array>(),
        Arc::new(Float64Array::from(vec![0.5, -1.5, 2.25, 8.0])),
    );
    let ids: Vec<String> = (0..n).map(|i| format!("c-{i}")).collect();
    let mut idb = StringBuilder::new();
    ids.iter().for_each(|s| idb.append_value(s));
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(idb.finish())),
        ("f0", Arc::new(f0)),
        ("f1", Arc::new(f1)),
        ("f2", Arc::new(f2)),
        ("f3", Arc::new(f3)),
        ("f4", Arc::new(f4)),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let pq = write(d, "types.parquet", write_parquet(batch, 20));
    let csv: String = std::iter::once("id,f0,f1,f2,f3,f4\n".to_owned())
        .chain((0..n).map(|i| {
            format!(
                "c-{i},{},{},{},{},{}\n",
                i - 30,
                f64::from(i) / 4.0,
                f64::from(i) * 1.25,
                u8::from(i % 3 == 0),
                [0.5, -1.5, 2.25, 8.0][(i % 4) as usize]
            )
        }))
        .collect();
    same_as_csv(d, &model, &write(d, "types.csv", csv), &pq);
}

#[test]
fn parquet_nulls_follow_the_bad_row_policy_and_nested_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let mut rows = rows(&bench_csv(100, 5));
    rows.truncate(100);
    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    fields.extend((0..5).map(|k| Field::new(format!("f{k}"), DataType::Float64, true)));
    let ids: ArrayRef = Arc::new(
        rows.iter()
            .map(|r| r.0)
            .collect::<arrow_array::Int64Array>(),
    );
    let mut arrays = vec![ids];
    for k in 0..5 {
        let col: Float64Array = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (!(k == 2 && (i == 10 || i == 77))).then_some(r.1[k]))
            .collect();
        arrays.push(Arc::new(col));
    }
    let nested = StructArray::new(
        Fields::from(vec![Field::new("a", DataType::Float64, false)]),
        vec![Arc::new(Float64Array::from(vec![1.0; 100])) as ArrayRef],
        None,
    );
    fields.push(Field::new("extra", nested.data_type().clone(), false));
    arrays.push(Arc::new(nested));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let pq = write(d, "nulls.parquet", write_parquet(batch, 30));
    let e = run(&job(d, &model, &pq, "out")).unwrap_err();
    assert_eq!(e.exit_code(), 65);
    assert!(
        e.to_string()
            .contains("nulls.parquet row 11: column 'f2' is null"),
        "{e}"
    );
    let mut j = job(d, &model, &pq, "out");
    j.on_bad_row = BadRowPolicy::Skip;
    let m = run(&j).unwrap();
    assert_eq!((m.rows_read, m.rows_scored, m.rows_rejected), (100, 98, 2));
    let rejects = std::fs::read_to_string(d.join("out/rejects-0.csv")).unwrap();
    assert!(
        rejects.contains(",78,") && rejects.contains("\"\"f2\"\":null"),
        "{rejects}"
    );
    // the struct column is never read, until the job names it
    j.id_columns = vec!["id".into(), "extra".into()];
    let e = run(&j).unwrap_err();
    assert!(e.to_string().contains("column 'extra' is nested"), "{e}");
}

#[test]
fn empty_and_corrupt_parquet_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let rows = rows(&bench_csv(300, 5));
    let none = write(d, "none.parquet", parquet_of(&[], 10));
    let m = run(&job(d, &model, &none, "out-none")).unwrap();
    assert_eq!((m.rows_read, m.rows_scored), (0, 0));
    let one = write(d, "one.parquet", parquet_of(&rows[..1], 10));
    assert_eq!(
        run(&job(d, &model, &one, "out-one")).unwrap().rows_scored,
        1
    );
    let bytes = parquet_of(&rows, 100);
    for (name, broken) in [
        ("cut.parquet", bytes[..bytes.len() - 100].to_vec()),
        ("head.parquet", bytes[..bytes.len() / 2].to_vec()),
        ("magic.parquet", b"PAR1 but nothing else".to_vec()),
    ] {
        let p = write(d, name, broken);
        let mut j = job(d, &model, &p, "out-bad");
        j.input_format = InputFormat::Parquet;
        let e = run(&j).unwrap_err();
        assert_eq!(e.exit_code(), 65, "{name}: {e}");
        assert!(
            e.to_string().contains(name) && e.to_string().contains("cannot be read as Parquet"),
            "{e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Mutated Parquet bytes score or fail as bad data, never panic or hang.
    #[test]
    fn mutated_parquet_never_panics(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        static MODEL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        let model = MODEL.get_or_init(|| logistic_model(&tempfile::tempdir().unwrap().keep()));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut bytes = parquet_of(&rows(&bench_csv(200, 5)), 50);
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        let p = write(d, "m.parquet", bytes);
        let mut j = job(d, model, &p, "out");
        j.on_bad_row = BadRowPolicy::Skip;
        match run(&j) {
            Ok(m) => prop_assert_eq!(m.rows_read, m.rows_scored + m.rows_rejected),
            Err(e) => prop_assert_eq!(e.exit_code(), 65, "{}", e),
        }
    }
}

/// Writes `script` (Python with pandas and pyarrow) output into `dir`, when the test venv has
/// them (scripts/venv installs them); returns false without them.
fn pandas(dir: &Path, script: &str) -> bool {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let status = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status();
    match status {
        Ok(s) => {
            assert!(s.success(), "the pandas fixture script failed");
            true
        }
        Err(_) => false,
    }
}

#[test]
fn files_pandas_writes_score_as_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    write(d, "in.csv", bench_csv(2000, 5));
    let script = r#"
import numpy as np, pandas as pd
df = pd.read_csv("in.csv", float_precision="round_trip").drop(columns=["label"])
df.to_parquet("pandas.parquet", engine="pyarrow", index=False)
df.to_parquet("groups.parquet", engine="pyarrow", index=False, row_group_size=300, compression="zstd")
ts = df.assign(when=pd.Timestamp("2026-01-02") + pd.to_timedelta(df["id"], unit="s"), region=pd.Categorical(np.where(df["id"] % 2 == 0, "north", "south")))
ts.to_parquet("int96.parquet", engine="pyarrow", index=False, use_deprecated_int96_timestamps=True, use_dictionary=True)
ts[["id", "when", "region"]].assign(p=0).to_csv("int96-ids.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S")
wide = pd.DataFrame({f"c{i}": np.arange(50, dtype="float64") * i for i in range(5000)})
for k in range(5):
    wide[f"f{k}"] = df[f"f{k}"].head(50)
wide["id"] = df["id"].head(50)
wide.to_parquet("wide.parquet", engine="pyarrow", index=False)
df.head(50).to_csv("wide.csv", index=False)
"#;
    if !pandas(d, script) {
        panic!(
            "{}: run scripts/venv to install pandas and pyarrow for this test",
            d.display()
        );
    }
    let csv = d.join("in.csv");
    same_as_csv(d, &model, &csv, &d.join("pandas.parquet"));
    same_as_csv(d, &model, &csv, &d.join("groups.parquet"));
    same_as_csv(d, &model, &d.join("wide.csv"), &d.join("wide.parquet"));
    // int96 timestamps and a dictionary of strings pass through as ids
    let mut j = job(d, &model, &d.join("int96.parquet"), "out-int96");
    j.id_columns = vec!["id".into(), "when".into(), "region".into()];
    run(&j).unwrap();
    let got: Vec<String> = part(d, "out-int96", 0)
        .lines()
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    let want: Vec<String> = std::fs::read_to_string(d.join("int96-ids.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(got[1..], want[1..]);
    assert_eq!(got[0], "id,when,region");
}
