//! schemas/job-config.schema.json mirrors core's JobConfig: same fields and defaults, and the
//! example configs validate against it.

use serde_json::{Value, json};
use stepscore_core::config::JobConfig;

use crate::fakes::*;

fn schema() -> Value {
    let path = format!(
        "{}/../schemas/job-config.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The canonical form of the minimal config: every field core knows, defaults written out.
fn canonical_minimal() -> Value {
    JobConfig::from_slice(&fixture("config-minimal.json"), "config-minimal.json")
        .unwrap()
        .to_json()
}

#[test]
fn properties_are_cores_fields_with_its_defaults() {
    let schema = schema();
    let props = schema["properties"].as_object().unwrap();
    let canonical = canonical_minimal();
    assert_eq!(
        props.keys().map(String::as_str).collect::<Vec<_>>(),
        stepscore_core::config::FIELDS
    );
    for (name, p) in props {
        let Some(default) = p.get("default") else {
            continue;
        };
        // the canonical form leaves spot_wait_seconds and the format fields out at their
        // defaults
        let core_default = match canonical.get(name) {
            Some(v) => v.clone(),
            None if name == "spot_wait_seconds" => {
                json!(stepscore_core::config::DEFAULT_SPOT_WAIT_SECONDS)
            }
            None if name == "input_format" => {
                json!(stepscore_core::config::InputFormat::default().as_str())
            }
            None if name == "features" => json!({}),
            None if name == "output_format" => {
                json!(stepscore_core::config::OutputFormat::default().as_str())
            }
            None if name == "parquet_compression" => {
                json!(stepscore_core::config::ParquetCompression::default().as_str())
            }
            None if name == "parquet_row_group_rows" => {
                json!(stepscore_core::config::DEFAULT_PARQUET_ROW_GROUP_ROWS)
            }
            None => panic!("the canonical config lacks {name}"),
        };
        assert_eq!(default, &core_default, "default of {name}");
    }
}

#[test]
fn example_configs_validate_and_broken_ones_do_not() {
    let validator = jsonschema::draft202012::new(&schema()).unwrap();
    let check = |v: &Value| {
        validator
            .iter_errors(v)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    };
    for example in [
        fixture_json("config-daily.json"),
        fixture_json("config-minimal.json"),
        fixture_json("register-console.json")["input"].clone(),
        canonical_minimal(),
    ] {
        assert_eq!(check(&example), Vec::<String>::new(), "{example}");
        // and core agrees
        JobConfig::from_value(&example, "example").unwrap();
    }
    let minimal = fixture_json("config-minimal.json");
    for (field, value) in [
        ("shard", json!(2)),
        ("shards", json!(0)),
        ("capacity", json!("cheap")),
        ("model", json!("s3://acme-scoring/models/")),
        ("tags", json!({"team": 1})),
    ] {
        let mut bad = minimal.clone();
        bad[field] = value;
        assert!(!check(&bad).is_empty(), "{field}: {bad}");
        assert!(
            JobConfig::from_value(&bad, "example").is_err(),
            "core accepts {field}"
        );
    }
}
