//! The job config: the JSON document a user drops into `s3://<bucket>/jobs/` to score data.
//!
//! Parsing is strict: an unknown field is an error that names it (with a "did you mean" when a
//! known field is close), and validation reports every problem at once, so a user fixes a config
//! in one round trip. The format is versioned by its `version` field.
//!
//! This module holds the format (the types, their defaults and limits, and the rules admission
//! and the scorer share); `parse` reads a document into it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::uri::ObjectUri;

mod formats;
mod parse;

pub use formats::{
    DEFAULT_PARQUET_ROW_GROUP_ROWS, FeatureMap, InputFormat, MAX_PARQUET_ROW_GROUP_ROWS,
    OutputFormat, ParquetCompression, check_feature_map, compression_by_name, feature_columns,
    format_by_name,
};

/// The config format this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;
/// The largest config accepted: configs travel in state payloads, whose limit is 256 KiB.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// The largest array job AWS Batch accepts.
pub const MAX_SHARDS: u32 = 10_000;
/// The most tags AWS Batch accepts on one job.
pub const BATCH_MAX_TAGS: usize = 50;
/// Tags the pipeline itself puts on every Batch job, beside the config's own.
pub const PIPELINE_TAG_JOB_ID: &str = "stepscore:job-id";
/// Every tag key the pipeline adds (counted against [`BATCH_MAX_TAGS`], reserved for it).
pub const PIPELINE_TAG_KEYS: &[&str] = &[PIPELINE_TAG_JOB_ID];

/// A validated job config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobConfig {
    /// Format version; always [`CONFIG_VERSION`] once validated.
    pub version: u32,
    /// A human name for the job: 1-64 characters of letters, digits, `-` and `_`.
    pub name: String,
    /// The model artifact (an object, not a prefix).
    pub model: ObjectUri,
    /// The input CSV: one object, or every object under a prefix ending in `/`.
    pub input: ObjectUri,
    /// The prefix that receives predictions, rejects and the manifest.
    pub output: ObjectUri,
    /// Columns passed through from input to predictions, in order.
    pub id_columns: Vec<String>,
    /// Which Batch queues to use.
    pub capacity: Capacity,
    /// How many array children score the input (1 = a single job).
    pub shards: u32,
    /// vCPUs per container.
    pub vcpus: u32,
    /// Memory per container, MiB.
    pub memory_mib: u32,
    /// Attempt timeout of the Batch job, seconds.
    pub timeout_seconds: u64,
    /// What the scorer does with a row it cannot score.
    pub on_bad_row: BadRowPolicy,
    /// First wait between status checks, seconds; later waits grow (see the state machine).
    pub poll_interval_seconds: u32,
    /// Tags put on the Batch job and the record.
    pub tags: BTreeMap<String, String>,
    /// With `spot-then-on-demand`: how long a submission may wait on the spot queue without
    /// starting before it is terminated and run on demand, seconds.
    // left out at its default, so that a config without it (any capacity) reads back the same
    #[serde(
        default = "default_spot_wait_seconds",
        skip_serializing_if = "is_default_spot_wait"
    )]
    pub spot_wait_seconds: u64,
    /// How input files are read (`auto`: by each file's content and name).
    #[serde(default, skip_serializing_if = "is_default")]
    pub input_format: InputFormat,
    /// Input column per model feature, for features whose column has another name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: FeatureMap,
    /// How predictions are written.
    #[serde(default, skip_serializing_if = "is_default")]
    pub output_format: OutputFormat,
    /// With `output_format` parquet: the pages' compression.
    #[serde(default, skip_serializing_if = "is_default")]
    pub parquet_compression: ParquetCompression,
    /// With `output_format` parquet: rows per row group.
    #[serde(
        default = "default_row_group_rows",
        skip_serializing_if = "is_default_row_group_rows"
    )]
    pub parquet_row_group_rows: u64,
}

fn default_row_group_rows() -> u64 {
    DEFAULT_PARQUET_ROW_GROUP_ROWS
}

fn is_default_row_group_rows(rows: &u64) -> bool {
    *rows == DEFAULT_PARQUET_ROW_GROUP_ROWS
}

// new fields are left out at their defaults, so configs and records written before them read
// back the same
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The default of `spot_wait_seconds`: 15 minutes, long enough for a spot compute environment
/// to scale up from zero, short enough that a job does not idle for hours on a dry spot market.
pub const DEFAULT_SPOT_WAIT_SECONDS: u64 = 900;

fn default_spot_wait_seconds() -> u64 {
    DEFAULT_SPOT_WAIT_SECONDS
}

fn is_default_spot_wait(seconds: &u64) -> bool {
    *seconds == DEFAULT_SPOT_WAIT_SECONDS
}

/// Which queues a job may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    /// Spot only: a reclaim that exhausts Batch's retries fails the job.
    Spot,
    /// On-demand only.
    OnDemand,
    /// Spot first; a reclaim falls back to the on-demand queue.
    SpotThenOnDemand,
}

impl Capacity {
    /// The config spelling, e.g. `spot-then-on-demand`.
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::Spot => "spot",
            Capacity::OnDemand => "on-demand",
            Capacity::SpotThenOnDemand => "spot-then-on-demand",
        }
    }

    /// True when a job on the spot queue may be resubmitted on the on-demand queue.
    pub fn allows_fallback(self) -> bool {
        matches!(self, Capacity::SpotThenOnDemand)
    }

    /// True when the first attempt goes to the spot queue.
    pub fn starts_on_spot(self) -> bool {
        !matches!(self, Capacity::OnDemand)
    }
}

/// What the scorer does with a row it cannot score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadRowPolicy {
    /// Stop at the first bad row, naming file, line, column and value.
    Fail,
    /// Write the row and its reason to `rejects-<shard>.csv` and go on.
    Skip,
}

impl BadRowPolicy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BadRowPolicy::Fail => "fail",
            BadRowPolicy::Skip => "skip",
        }
    }
}

/// One thing wrong with a config: the field at fault and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblem {
    /// The field (`model`, `tags.team`, or `(document)` for the whole).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigProblem {
    /// The problem `message` with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a config; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where the config came from (`s3://bucket/jobs/x.json`, a file path, `execution input`).
    pub source_name: String,
    /// The problems, in field order.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// The error of a config with one problem.
    fn single(source_name: &str, field: &str, message: String) -> Self {
        ConfigError {
            source_name: source_name.to_owned(),
            problems: vec![ConfigProblem::new(field, message)],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "job config {} has {n} problem{}",
            self.source_name,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

/// Every field a config may have, in documentation order (the JSON Schema in `schemas/` lists the same).
pub const FIELDS: &[&str] = &[
    "version",
    "name",
    "model",
    "input",
    "output",
    "id_columns",
    "capacity",
    "shards",
    "vcpus",
    "memory_mib",
    "timeout_seconds",
    "on_bad_row",
    "poll_interval_seconds",
    "tags",
    "spot_wait_seconds",
    "input_format",
    "features",
    "output_format",
    "parquet_compression",
    "parquet_row_group_rows",
];

impl JobConfig {
    /// The rules only the admitting pipeline can check: the output must lie apart from the
    /// prefix configs are dropped under (`jobs`), or the scorer's `manifest-<i>.json` would be
    /// admitted as a new job config.
    pub fn check_admission(&self, jobs: &ObjectUri, source_name: &str) -> Result<(), ConfigError> {
        let jobs = prefix_form(jobs);
        let output = prefix_form(&self.output);
        if jobs.contains(&output) || output.contains(&jobs) {
            return Err(ConfigError::single(
                source_name,
                "output",
                format!(
                    "'{}' overlaps {jobs}, where job configs are dropped: its manifests would be admitted as new jobs; write predictions under another prefix",
                    self.output
                ),
            ));
        }
        Ok(())
    }

    /// The config as canonical JSON (every default written out, but those of the optional
    /// fields added after version 1's first release, which are left out at their defaults).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The rules an output location must meet, shared by admission and the scorer: a prefix ending
/// in `/` (the scorer writes several objects under it), without `.`, `..` or empty path segments
/// (the embedded store maps keys to directories, where `a/../b/` and `a//b/` would name other
/// places than S3 means).
pub fn check_output_prefix(output: &ObjectUri) -> Result<(), String> {
    if !output.is_prefix() {
        return Err(format!(
            "'{output}' must be a prefix ending in '/': the scorer writes part-<i>.csv and manifest-<i>.json under it (did you mean '{output}/'?)"
        ));
    }
    let key = output.key().trim_end_matches('/');
    if !key.is_empty() {
        for segment in key.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(format!(
                    "'{output}' has a '{segment}' path segment; write the prefix without empty, '.' or '..' segments"
                ));
            }
        }
    }
    Ok(())
}

/// The rule for id columns, shared by admission and the scorer: each named once (a column
/// named twice would make the predictions' header ambiguous).
pub fn check_id_columns(columns: &[String]) -> Result<(), String> {
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].contains(c) {
            return Err(format!(
                "names the column '{c}' twice; list each id column once"
            ));
        }
    }
    Ok(())
}

/// The prefix a location names: itself when a prefix, else the object's key followed by `/`.
fn prefix_form(u: &ObjectUri) -> ObjectUri {
    if u.is_prefix() { u.clone() } else { u.join("") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn minimal() -> Value {
        json!({"name": "daily", "model": "s3://bkt/models/m.json", "input": "s3://bkt/data/in.csv", "output": "s3://bkt/out/"})
    }

    fn problems(v: Value) -> Vec<(String, String)> {
        JobConfig::from_value(&v, "test.json")
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| (p.field, p.message))
            .collect()
    }

    #[test]
    fn defaults_fill_the_optional_fields() {
        let c = JobConfig::from_value(&minimal(), "t").unwrap();
        assert_eq!(c.id_columns, vec!["id"]);
        assert_eq!(c.capacity, Capacity::SpotThenOnDemand);
        assert_eq!(
            (c.shards, c.vcpus, c.memory_mib, c.timeout_seconds),
            (1, 1, 2048, 3600)
        );
        assert_eq!(c.on_bad_row, BadRowPolicy::Fail);
        // the canonical form validates to itself
        assert_eq!(JobConfig::from_value(&c.to_json(), "t").unwrap(), c);
    }

    #[test]
    fn spot_wait_seconds_applies_only_to_spot_then_on_demand_and_reads_back_the_same() {
        let c = JobConfig::from_value(&minimal(), "t").unwrap();
        assert_eq!(c.spot_wait_seconds, DEFAULT_SPOT_WAIT_SECONDS);
        let mut v = minimal();
        v["spot_wait_seconds"] = json!(300);
        let c = JobConfig::from_value(&v, "t").unwrap();
        assert_eq!(JobConfig::from_value(&c.to_json(), "t").unwrap(), c);
        for capacity in ["on-demand", "spot"] {
            // an on-demand config's canonical form reads back although it has no spot wait
            let mut v = minimal();
            v["capacity"] = json!(capacity);
            let c = JobConfig::from_value(&v, "t").unwrap();
            assert_eq!(JobConfig::from_value(&c.to_json(), "t").unwrap(), c);
            v["spot_wait_seconds"] = json!(300);
            let p = problems(v);
            assert_eq!(p[0].0, "spot_wait_seconds");
            assert!(p[0].1.contains("spot-then-on-demand"), "{p:?}");
        }
        let mut v = minimal();
        v["spot_wait_seconds"] = json!(10);
        assert_eq!(problems(v)[0].0, "spot_wait_seconds");
    }

    #[test]
    fn unknown_field_suggests_the_close_one() {
        let mut v = minimal();
        v["shard"] = json!(4);
        let p = problems(v);
        assert_eq!(
            p,
            vec![(
                "shard".to_owned(),
                "unknown field: did you mean 'shards'?".to_owned()
            )]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let v = json!({"name": "bad name!", "model": "s3://bkt/models/", "input": 3, "shards": 20000, "capacity": "cheap"});
        let fields: Vec<String> = problems(v).into_iter().map(|p| p.0).collect();
        assert_eq!(
            fields,
            vec!["name", "model", "input", "output", "capacity", "shards"]
        );
    }

    #[test]
    fn output_may_not_overlap_input() {
        let mut v = minimal();
        v["input"] = json!("s3://bkt/data/");
        v["output"] = json!("s3://bkt/data/predictions/");
        assert_eq!(problems(v)[0].0, "output");
    }

    #[test]
    fn oversized_and_malformed_documents_are_named() {
        let big = vec![b' '; MAX_CONFIG_BYTES + 1];
        let e = JobConfig::from_slice(&big, "s3://b/jobs/big.json").unwrap_err();
        assert!(e.to_string().contains("s3://b/jobs/big.json"), "{e}");
        assert!(e.to_string().contains("64 KiB"), "{e}");
        let e = JobConfig::from_slice(b"{\"name\": ", "jobs/x.json").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }

    fn fields(v: Value) -> Vec<String> {
        problems(v).into_iter().map(|p| p.0).collect()
    }

    #[test]
    fn output_must_be_a_plain_prefix() {
        let mut v = minimal();
        v["output"] = json!("s3://bkt/out");
        let p = problems(v.clone());
        assert_eq!(p[0].0, "output");
        assert!(
            p[0].1.contains("did you mean 's3://bkt/out/'"),
            "{}",
            p[0].1
        );
        for bad in [
            "s3://bkt/out/../jobs/",
            "s3://bkt/./out/",
            "s3://bkt/a//b/",
            "s3://bkt/../",
        ] {
            v["output"] = json!(bad);
            assert_eq!(fields(v.clone()), ["output"], "{bad}");
        }
        v["input"] = json!("s3://data/in.csv");
        v["output"] = json!("s3://bkt/");
        assert!(JobConfig::from_value(&v, "t").is_ok());
    }

    #[test]
    fn an_id_column_named_twice_is_refused() {
        let mut v = minimal();
        v["id_columns"] = json!(["id", "region", "id"]);
        let p = problems(v);
        assert_eq!(p[0].0, "id_columns");
        assert!(p[0].1.contains("'id' twice"), "{}", p[0].1);
    }

    #[test]
    fn duplicate_keys_are_refused_and_a_bom_is_read() {
        let doc = br#"{"name": "a", "model": "s3://bkt/models/m.json", "input": "s3://bkt/data/in.csv", "output": "s3://bkt/out/", "output": "s3://bkt/other/"}"#;
        let e = JobConfig::from_slice(doc, "s3://bkt/jobs/x.json").unwrap_err();
        assert!(e.to_string().contains("'output' appears twice"), "{e}");
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(&serde_json::to_vec(&minimal()).unwrap());
        let c = JobConfig::from_slice(&with_bom, "s3://bkt/jobs/x.json").unwrap();
        assert_eq!(c.name, "daily");
    }

    #[test]
    fn tags_leave_room_for_the_pipelines_own() {
        let mut v = minimal();
        let many: Map<String, Value> = (0..BATCH_MAX_TAGS)
            .map(|i| (format!("t{i}"), json!("v")))
            .collect();
        v["tags"] = Value::Object(many);
        let p = problems(v.clone());
        assert_eq!(p[0].0, "tags");
        assert!(p[0].1.contains("at most 49 fit: drop 1"), "{}", p[0].1);
        let fitting: Map<String, Value> = (0..BATCH_MAX_TAGS - PIPELINE_TAG_KEYS.len())
            .map(|i| (format!("t{i}"), json!("v")))
            .collect();
        v["tags"] = Value::Object(fitting);
        assert!(JobConfig::from_value(&v, "t").is_ok());
        for (k, val) in [
            ("aws:team", "x"),
            ("stepscore:job-id", "x"),
            ("team", "a,b"),
            ("bad{key}", "x"),
            ("", "x"),
        ] {
            v["tags"] = json!({ k: val });
            assert_eq!(fields(v.clone()), [format!("tags.{k}")], "{k}={val}");
        }
    }

    #[test]
    fn output_under_the_jobs_prefix_is_refused_at_admission() {
        let jobs = ObjectUri::parse("s3://bkt/jobs/").unwrap();
        let mut v = minimal();
        v["input"] = json!("s3://data/in.csv");
        for (output, ok) in [
            ("s3://bkt/jobs/out/", false),
            ("s3://bkt/", false),
            ("s3://bkt/jobs-archive/", true),
            ("s3://other/jobs/", true),
            ("s3://bkt/out/", true),
        ] {
            v["output"] = json!(output);
            let c = JobConfig::from_value(&v, "t").unwrap();
            let r = c.check_admission(&jobs, "s3://bkt/jobs/x.json");
            assert_eq!(r.is_ok(), ok, "{output}: {r:?}");
            if let Err(e) = r {
                assert!(e.to_string().contains("manifests would be admitted"), "{e}");
            }
        }
    }

    #[test]
    fn formats_default_to_auto_and_read_back_the_same() {
        let c = JobConfig::from_value(&minimal(), "t").unwrap();
        assert_eq!(c.input_format, InputFormat::Auto);
        assert!(c.features.is_empty());
        assert!(c.to_json().get("input_format").is_none());
        let mut v = minimal();
        v["input_format"] = json!("parquet");
        v["features"] = json!({"age": "customer_age"});
        let c = JobConfig::from_value(&v, "t").unwrap();
        assert_eq!(c.input_format, InputFormat::Parquet);
        assert_eq!(c.features["age"], "customer_age");
        assert_eq!(JobConfig::from_value(&c.to_json(), "t").unwrap(), c);
    }

    #[test]
    fn output_formats_default_to_csv_and_parquet_settings_read_back_the_same() {
        let c = JobConfig::from_value(&minimal(), "t").unwrap();
        assert_eq!(c.output_format, OutputFormat::Csv);
        assert_eq!(c.parquet_row_group_rows, DEFAULT_PARQUET_ROW_GROUP_ROWS);
        let json = c.to_json();
        for field in [
            "output_format",
            "parquet_compression",
            "parquet_row_group_rows",
        ] {
            assert!(json.get(field).is_none(), "{field} left out at its default");
        }
        let mut v = minimal();
        v["output_format"] = json!("parquet");
        v["parquet_compression"] = json!("zstd");
        v["parquet_row_group_rows"] = json!(1000);
        let c = JobConfig::from_value(&v, "t").unwrap();
        assert_eq!(
            (
                c.output_format,
                c.parquet_compression,
                c.parquet_row_group_rows
            ),
            (OutputFormat::Parquet, ParquetCompression::Zstd, 1000)
        );
        assert_eq!(JobConfig::from_value(&c.to_json(), "t").unwrap(), c);
    }

    #[test]
    fn parquet_settings_without_parquet_output_or_out_of_range_are_refused_by_field() {
        let mut v = minimal();
        v["output_format"] = json!("jsonl");
        v["parquet_compression"] = json!("zstd");
        v["parquet_row_group_rows"] = json!(10);
        let p = problems(v);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].1.contains("applies only to output_format 'parquet'"),
            "{p:?}"
        );
        let mut v = minimal();
        v["output_format"] = json!("xlsx");
        v["parquet_row_group_rows"] = json!(0);
        assert_eq!(fields(v), ["output_format", "parquet_row_group_rows"]);
        let mut v = minimal();
        v["output_format"] = json!("parquet");
        v["parquet_compression"] = json!("brotli");
        v["parquet_row_group_rows"] = json!(MAX_PARQUET_ROW_GROUP_ROWS + 1);
        assert_eq!(fields(v), ["parquet_compression", "parquet_row_group_rows"]);
    }

    #[test]
    fn format_problems_name_their_field() {
        let mut v = minimal();
        v["input_format"] = json!("xlsx");
        v["features"] = json!({"age": "", "income": 3});
        let p = problems(v);
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["input_format", "features.age", "features.income"]);
        assert!(p[0].1.contains("auto, csv, jsonl, parquet"), "{p:?}");
        let mut v = minimal();
        v["features"] = json!({"a": "x", "b": "x"});
        let p = problems(v.clone());
        assert_eq!(p[0].0, "features.b");
        assert!(p[0].1.contains("feature 'a' reads too"), "{p:?}");
        v["features"] = json!(["a"]);
        assert_eq!(problems(v)[0].0, "features");
    }

    #[test]
    fn a_compressed_single_input_is_one_shard() {
        let mut v = minimal();
        v["input"] = json!("s3://bkt/data/in.csv.gz");
        v["shards"] = json!(4);
        let p = problems(v.clone());
        assert_eq!(p[0].0, "shards");
        assert!(p[0].1.contains("gzip-compressed file"), "{p:?}");
        assert!(p[0].1.contains("set shards to 1"), "{p:?}");
        v["shards"] = json!(1);
        assert!(JobConfig::from_value(&v, "t").is_ok());
        v["input"] = json!("s3://bkt/data/parts/");
        v["shards"] = json!(4);
        assert!(JobConfig::from_value(&v, "t").is_ok());
    }

    #[test]
    fn newer_versions_are_refused() {
        let mut v = minimal();
        v["version"] = json!(2);
        assert!(problems(v)[0].1.contains("upgrade stepscore"));
    }
}
