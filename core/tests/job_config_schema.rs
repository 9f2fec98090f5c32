//! `schemas/job-config.schema.json` agrees with the parser: same fields, and the canonical form
//! of every valid config validates against it while typical mistakes do not. The schema is
//! checked with Python's `jsonschema` (installed in .venv by scripts/venv, next to moto).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use stepscore_core::config::{FIELDS, JobConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> Value {
    let path = root().join("schemas/job-config.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// For each instance, the schema's error messages (empty = valid), from Draft 2020-12 validation.
fn schema_errors(instances: &[Value]) -> Vec<Vec<String>> {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} does not exist: run scripts/venv to install the Python test tools",
        python.display()
    );
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
print(json.dumps([[e.message for e in v.iter_errors(i)] for i in json.load(sys.stdin)]))
"#;
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(root().join("schemas/job-config.schema.json"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(instances).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jsonschema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn minimal() -> Value {
    json!({"name": "daily", "model": "s3://models/churn/model.json", "input": "s3://data/in/", "output": "s3://data/out/daily/"})
}

#[test]
fn the_schema_lists_exactly_the_parsers_fields() {
    let schema = schema();
    let mut listed: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut known: Vec<&str> = FIELDS.to_vec();
    listed.sort();
    known.sort();
    assert_eq!(listed, known);
    assert_eq!(
        schema["additionalProperties"],
        json!(false),
        "unknown fields are errors in the parser too"
    );
}

#[test]
fn canonical_forms_of_valid_configs_validate() {
    let mut full = minimal();
    full.as_object_mut().unwrap().extend(
        json!({"version": 1, "id_columns": ["id", "region"], "capacity": "on-demand", "shards": 8, "vcpus": 4,
               "memory_mib": 8192, "timeout_seconds": 7200, "on_bad_row": "skip", "poll_interval_seconds": 15,
               "tags": {"team": "risk", "cost-center": "42"}})
            .as_object()
            .unwrap()
            .clone(),
    );
    let mut single_id = minimal();
    single_id["id_columns"] = json!("customer_id");
    single_id["input"] = json!("s3://data/in/2026-11-23.csv");
    let mut formats = minimal();
    formats.as_object_mut().unwrap().extend(
        json!({"input_format": "parquet", "features": {"age": "customer_age"}})
            .as_object()
            .unwrap()
            .clone(),
    );
    let mut parquet_out = minimal();
    parquet_out.as_object_mut().unwrap().extend(
        json!({"output_format": "parquet", "parquet_compression": "zstd", "parquet_row_group_rows": 1000})
            .as_object()
            .unwrap()
            .clone(),
    );
    let valid = [minimal(), full, single_id, formats, parquet_out];
    let canonical: Vec<Value> = valid
        .iter()
        .map(|v| {
            JobConfig::from_value(v, "test")
                .unwrap_or_else(|e| panic!("{v} must be valid: {e}"))
                .to_json()
        })
        .collect();
    let mut instances = canonical.clone();
    instances.extend(valid.iter().cloned());
    for (instance, errors) in instances.iter().zip(schema_errors(&instances)) {
        assert!(
            errors.is_empty(),
            "{instance} is valid for the parser, but the schema says {errors:?}"
        );
    }
}

#[test]
fn typical_mistakes_fail_the_schema_and_the_parser() {
    let with = |field: &str, value: Value| {
        let mut v = minimal();
        v[field] = value;
        v
    };
    let mut missing_name = minimal();
    missing_name.as_object_mut().unwrap().remove("name");
    let bad = [
        with("nmae", json!("typo")),
        with("shards", json!("4")),
        with("shards", json!(0)),
        with("capacity", json!("cheap")),
        with("model", json!("s3://models/churn/")),
        with("input", json!("/local/file.csv")),
        with("tags", json!({"team": 7})),
        with("version", json!(2)),
        with("input_format", json!("xlsx")),
        with("features", json!({"age": ""})),
        with("features", json!(["age"])),
        with("output_format", json!("avro")),
        with("parquet_row_group_rows", json!(0)),
        missing_name,
    ];
    for (instance, errors) in bad.iter().zip(schema_errors(&bad)) {
        assert!(!errors.is_empty(), "the schema accepts {instance}");
        assert!(
            JobConfig::from_value(instance, "test").is_err(),
            "the parser accepts {instance}"
        );
    }
}
