//! Input formats beside plain CSV: gzip and zstd CSV, JSON Lines, Parquet (written here by the
//! Rust writer, and by pandas + pyarrow when the test venv has them), scored to the same
//! predictions as the CSV of the same data; the feature map; bad rows, corrupt files, shards.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float32Array, Float64Array,
    Int32Array, RecordBatch, StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;

use stepscore_core::config::{OutputFormat, ParquetCompression};

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
        output_format: OutputSpec::default(),
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

/// A file of `tests/fixtures/parquet` (written by pandas and pyarrow: `make_fixtures.py` there).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet")
        .join(name)
}

#[test]
fn files_pandas_and_pyarrow_write_score_as_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let csv = fixture("rows.csv");
    // one row group (snappy), 64-row groups (zstd, no statistics), dictionary pages (gzip, v2)
    for name in ["pandas.parquet", "groups.parquet", "dictionary.parquet"] {
        let m = same_as_csv(d, &model, &csv, &fixture(name));
        assert_eq!(m.rows_scored, 600, "{name}");
    }
    // the 64-row groups shared by 4 shards: every row once, in order
    let mut lines = Vec::new();
    for i in 0..4 {
        let mut j = job(d, &model, &fixture("groups.parquet"), "sharded");
        j.shard = Shard { index: i, count: 4 };
        let m = run(&j).unwrap();
        assert!(m.rows_scored > 0, "shard {i} owns row groups");
        lines.extend(part(d, "sharded", i).lines().skip(1).map(str::to_owned));
    }
    let whole: Vec<String> = part(d, "out-csv", 0)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 600);
    assert_eq!(lines, whole);
    // int32, int64, float32, decimal(9,2) and boolean features read as the CSV text of them
    same_as_csv(d, &model, &fixture("types.csv"), &fixture("types.parquet"));
}

#[test]
fn int96_timestamps_dictionary_strings_dates_and_null_ids_pass_through_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let mut j = job(d, &model, &fixture("int96.parquet"), "out-int96");
    j.id_columns = ["id", "when", "region", "day", "note"]
        .map(String::from)
        .to_vec();
    assert_eq!(run(&j).unwrap().rows_scored, 600);
    let ids = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
            .collect()
    };
    let want = ids(&std::fs::read_to_string(fixture("int96-ids.csv")).unwrap());
    assert_eq!(ids(&part(d, "out-int96", 0)), want);
}

#[test]
fn pyarrow_nulls_nested_columns_and_files_without_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let nulls = fixture("nulls-nested.parquet");
    let e = run(&job(d, &model, &nulls, "out")).unwrap_err();
    assert_eq!(e.exit_code(), 65);
    assert!(
        e.to_string()
            .contains("nulls-nested.parquet row 3: column 'f2' is null"),
        "{e}"
    );
    let mut j = job(d, &model, &nulls, "out-skip");
    j.on_bad_row = BadRowPolicy::Skip;
    let m = run(&j).unwrap();
    assert_eq!((m.rows_read, m.rows_scored, m.rows_rejected), (20, 18, 2));
    for column in ["extra", "tags"] {
        let mut j = job(d, &model, &nulls, "out-nested");
        j.id_columns = vec!["id".into(), column.into()];
        let e = run(&j).unwrap_err();
        assert_eq!(e.exit_code(), 65);
        assert!(
            e.to_string()
                .contains(&format!("column '{column}' is nested")),
            "{e}"
        );
    }
    for (name, rows) in [
        ("one-row.parquet", 1),
        ("empty.parquet", 0),
        ("no-row-groups.parquet", 0),
    ] {
        let m = run(&job(d, &model, &fixture(name), "out-small")).unwrap();
        assert_eq!((m.rows_read, m.rows_scored), (rows, rows), "{name}");
        assert_eq!(
            part(d, "out-small", 0).lines().count() as u64,
            1 + rows,
            "{name}: the header and a line per row"
        );
    }
}

#[test]
fn a_5000_column_file_reads_only_its_20_feature_columns_and_scores_as_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = Vec::new();
    stepscore_batch::benchdata::write_bench_data(&mut text, 300, 20, 9).unwrap();
    let text = String::from_utf8(text).unwrap();
    let train_csv = write(d, "train20.csv", &text);
    let data = train::load_dataset(
        &Storage::local_only(),
        &Location::Local(train_csv),
        "label",
        &[],
        &["id".to_owned()],
    )
    .unwrap();
    let (t, _) = trained(&data, Algorithm::LogisticRegression);
    let model = write(d, "model20.json", t.artifact_json().unwrap());
    // 4,980 filler columns around the 20 features and the id, as a wide lake table has
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let body: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let mut columns: Vec<(String, ArrayRef)> = Vec::new();
    for (c, name) in header.iter().enumerate() {
        if *name == "label" {
            continue;
        }
        let values: Vec<f64> = body.iter().map(|r| r[c].parse().unwrap()).collect();
        let array: ArrayRef = if *name == "id" {
            Arc::new(
                values
                    .iter()
                    .map(|v| *v as i64)
                    .collect::<arrow_array::Int64Array>(),
            )
        } else {
            Arc::new(Float64Array::from(values))
        };
        columns.push((name.to_string(), array));
    }
    let filler: ArrayRef = Arc::new(Float64Array::from(vec![1.5; body.len()]));
    for k in 0..4980 {
        // interleaved, so the projected columns are not one contiguous run
        let at = (k * 7) % (columns.len() + 1);
        columns.insert(at, (format!("pad{k}"), Arc::clone(&filler)));
    }
    assert_eq!(columns.len(), 5001);
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let pq = write(d, "wide.parquet", write_parquet(batch, 100));
    let csv = write(d, "wide.csv", &text);
    let m = same_as_csv(d, &model, &csv, &pq);
    assert_eq!(m.rows_scored, 300);
}

/// The predictions of `out` as text rows (ids, prediction, probabilities), whatever the part's
/// format: the CSV as written, JSON Lines and Parquet through their readers (serde_json, and
/// the parquet crate's Arrow reader), each value as the CSV would show it.
fn predictions(dir: &Path, out: &str, format: OutputFormat) -> Vec<Vec<String>> {
    let path = dir.join(out).join(format!("part-0.{}", format.extension()));
    match format {
        OutputFormat::Csv => std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect(),
        OutputFormat::Jsonl => std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(l).unwrap();
                v.values()
                    .map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect(),
        OutputFormat::Parquet => {
            let file = std::fs::File::open(&path).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
                    .unwrap();
            let options = arrow_cast::display::FormatOptions::new();
            let mut rows = Vec::new();
            for batch in reader {
                let batch = batch.unwrap();
                let fmts: Vec<_> = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &options).unwrap()
                    })
                    .collect();
                for r in 0..batch.num_rows() {
                    // doubles as the CSV writes them (ryu's shortest round-trip text)
                    let text =
                        |(c, f): (&ArrayRef, &arrow_cast::display::ArrayFormatter<'_>)| match c
                            .as_any()
                            .downcast_ref::<Float64Array>()
                        {
                            Some(a) => ryu::Buffer::new().format(a.value(r)).to_owned(),
                            None => f.value(r).to_string(),
                        };
                    rows.push(batch.columns().iter().zip(&fmts).map(text).collect());
                }
            }
            rows
        }
    }
}

fn parquet_metadata(path: &Path) -> parquet::file::metadata::ParquetMetaData {
    use parquet::file::reader::FileReader;
    let file = std::fs::File::open(path).unwrap();
    parquet::file::reader::SerializedFileReader::new(file)
        .unwrap()
        .metadata()
        .clone()
}

fn with_output(mut j: ScoreJob, format: OutputFormat) -> ScoreJob {
    j.output_format.format = format;
    j
}

#[test]
fn jsonl_and_parquet_predictions_hold_what_the_csv_predictions_hold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    for input in ["rows.csv", "pandas.parquet"] {
        let csv = with_output(job(d, &model, &fixture(input), "o-csv"), OutputFormat::Csv);
        run(&csv).unwrap();
        let want = predictions(d, "o-csv", OutputFormat::Csv);
        assert_eq!(want.len(), 600);
        for format in [OutputFormat::Jsonl, OutputFormat::Parquet] {
            let out = format!("o-{}", format.as_str());
            let mut j = with_output(job(d, &model, &fixture(input), &out), format);
            j.output_format.row_group_rows = 128;
            let m = run(&j).unwrap();
            assert!(
                m.output
                    .ends_with(&format!("part-0.{}", format.extension())),
                "{}",
                m.output
            );
            assert_eq!(predictions(d, &out, format), want, "{input} to {format:?}");
        }
    }
    // Parquet output from Parquet input: the id keeps its type; 600 rows in groups of 128
    let meta = parquet_metadata(&d.join("o-parquet/part-0.parquet"));
    assert_eq!(meta.num_row_groups(), 5);
    let schema = meta.file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["id", "prediction", "p_0", "p_1"]);
    assert_eq!(
        schema.column(0).physical_type(),
        parquet::basic::Type::INT64
    );
    assert_eq!(
        meta.row_group(0).column(0).compression(),
        parquet::basic::Compression::SNAPPY
    );
}

#[test]
fn parquet_output_keeps_timestamp_ids_drops_rejected_rows_and_compresses_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    let mut j = with_output(
        job(d, &model, &fixture("int96.parquet"), "o-ts"),
        OutputFormat::Parquet,
    );
    j.id_columns = ["id", "when", "region", "day", "note"]
        .map(String::from)
        .to_vec();
    j.output_format.compression = ParquetCompression::Zstd;
    run(&j).unwrap();
    let meta = parquet_metadata(&d.join("o-ts/part-0.parquet"));
    assert!(matches!(
        meta.row_group(0).column(0).compression(),
        parquet::basic::Compression::ZSTD(_)
    ));
    let got: Vec<String> = predictions(d, "o-ts", OutputFormat::Parquet)
        .iter()
        .map(|r| r[..5].join(","))
        .collect();
    let want: Vec<String> = std::fs::read_to_string(fixture("int96-ids.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want, "ids as pandas wrote them, in ISO 8601");
    // rows 3 and 11 have a null feature: rejected under skip, absent from the predictions
    let mut j = with_output(
        job(d, &model, &fixture("nulls-nested.parquet"), "o-nulls"),
        OutputFormat::Parquet,
    );
    j.on_bad_row = BadRowPolicy::Skip;
    let m = run(&j).unwrap();
    assert_eq!((m.rows_scored, m.rows_rejected), (18, 2));
    let ids: Vec<String> = predictions(d, "o-nulls", OutputFormat::Parquet)
        .iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids.len(), 18);
    assert!(
        !ids.contains(&"3".to_owned()) && !ids.contains(&"11".to_owned()),
        "{ids:?}"
    );
    assert!(d.join("o-nulls/rejects-0.csv").exists());
}

#[test]
fn an_input_without_rows_writes_a_parquet_part_with_the_columns_and_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    for (input, out) in [
        ("no-row-groups.parquet", "o-empty"),
        ("empty.parquet", "o-empty2"),
    ] {
        let j = with_output(job(d, &model, &fixture(input), out), OutputFormat::Parquet);
        assert_eq!(run(&j).unwrap().rows_scored, 0);
        let meta = parquet_metadata(&d.join(out).join("part-0.parquet"));
        assert_eq!(meta.file_metadata().num_rows(), 0);
        let names: Vec<&str> = meta
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name())
            .collect();
        assert_eq!(names, ["id", "prediction", "p_0", "p_1"], "{input}");
    }
    let j = with_output(
        job(d, &model, &fixture("no-row-groups.parquet"), "o-jsonl"),
        OutputFormat::Jsonl,
    );
    run(&j).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("o-jsonl/part-0.jsonl")).unwrap(),
        ""
    );
}

/// A directory store that records the byte range of every GET.
#[derive(Debug)]
struct RangeLog {
    inner: stepscore_dirstore::DirStore,
    gets: std::sync::Mutex<Vec<Option<std::ops::Range<u64>>>>,
}

#[async_trait::async_trait]
impl stepscore_core::ports::ObjectStore for RangeLog {
    async fn head(
        &self,
        uri: &stepscore_core::ObjectUri,
    ) -> Result<stepscore_core::ports::ObjectMeta, stepscore_core::ports::StoreError> {
        self.inner.head(uri).await
    }

    async fn list(
        &self,
        prefix: &stepscore_core::ObjectUri,
    ) -> Result<Vec<stepscore_core::ports::ObjectMeta>, stepscore_core::ports::StoreError> {
        self.inner.list(prefix).await
    }

    async fn get(
        &self,
        uri: &stepscore_core::ObjectUri,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<stepscore_core::ports::ByteStream, stepscore_core::ports::StoreError> {
        self.gets.lock().unwrap().push(range.clone());
        self.inner.get(uri, range).await
    }

    async fn get_at(
        &self,
        uri: &stepscore_core::ObjectUri,
        version: &stepscore_core::ports::ObjectVersion,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<stepscore_core::ports::ByteStream, stepscore_core::ports::StoreError> {
        // the scorer reads an input at the ETag its listing gave
        self.gets.lock().unwrap().push(range.clone());
        self.inner.get_at(uri, version, range).await
    }

    async fn put(
        &self,
        uri: &stepscore_core::ObjectUri,
        body: stepscore_core::ports::ByteStream,
    ) -> Result<stepscore_core::ports::ObjectMeta, stepscore_core::ports::StoreError> {
        self.inner.put(uri, body).await
    }

    async fn get_bytes_at(
        &self,
        uri: &stepscore_core::ObjectUri,
        version: &stepscore_core::ports::ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, stepscore_core::ports::StoreError> {
        self.inner.get_bytes_at(uri, version, limit).await
    }
}

#[test]
fn parquet_in_a_bucket_is_read_by_ranged_gets_of_the_footer_and_the_projected_chunks_only() {
    use stepscore_core::ports::ObjectStore;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = logistic_model(d);
    // f0..f4 and the id among 400 wide filler columns, in 4 row groups
    let rows = rows(&bench_csv(2000, 5));
    let mut columns: Vec<(String, ArrayRef)> = Vec::new();
    columns.push((
        "id".into(),
        Arc::new(
            rows.iter()
                .map(|r| r.0)
                .collect::<arrow_array::Int64Array>(),
        ),
    ));
    for k in 0..5 {
        let c: Float64Array = rows.iter().map(|r| Some(r.1[k])).collect();
        columns.push((format!("f{k}"), Arc::new(c)));
    }
    for k in 0..400 {
        let c: Float64Array = (0..rows.len())
            .map(|i| Some((i * k) as f64 / 7.0))
            .collect();
        columns.insert(k % columns.len(), (format!("pad{k}"), Arc::new(c)));
    }
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let bytes = write_parquet(batch, 500);
    let size = bytes.len() as u64;
    let local = write(d, "wide.parquet", &bytes);
    let store = RangeLog {
        inner: stepscore_dirstore::DirStore::open(d.join("buckets")).unwrap(),
        gets: std::sync::Mutex::new(Vec::new()),
    };
    let object = stepscore_core::ObjectUri::parse("s3://data/in/wide.parquet").unwrap();
    rt.block_on(store.put_bytes(&object, bytes)).unwrap();
    let store = Arc::new(store);
    let storage = Storage::with_store(Arc::clone(&store) as _, rt.handle().clone());
    let mut j = job(d, &model, &local, "from-bucket");
    j.input = Location::Object(object);
    stepscore_batch::score(&j, &storage).unwrap();
    run(&job(d, &model, &local, "from-disk")).unwrap();
    assert_eq!(part(d, "from-bucket", 0), part(d, "from-disk", 0));
    let gets = store.gets.lock().unwrap().clone();
    assert!(
        gets.iter().all(Option::is_some),
        "every GET is ranged: {gets:?}"
    );
    let fetched: u64 = gets.iter().flatten().map(|r| r.end - r.start).sum();
    assert!(
        fetched * 20 < size,
        "6 of 406 columns fetched: {fetched} of {size} bytes in {} GETs",
        gets.len()
    );
    // the footer, then 6 chunks per row group
    assert!(gets.len() <= 3 + 6 * 4, "{} GETs: {gets:?}", gets.len());
}
