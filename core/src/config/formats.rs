//! Data formats of a job: how input files are read, how predictions are written, and which input
//! column feeds each model feature. Admission, validation and the scorer share these rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How the scorer reads input files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// Per file: Parquet by its magic number or `.parquet`, JSON Lines by `.jsonl`/`.ndjson`,
    /// else CSV.
    #[default]
    Auto,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl InputFormat {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Csv => "csv",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Parquet => "parquet",
        }
    }

    /// Every value, for messages and option lists.
    pub const ALL: [InputFormat; 4] = [
        InputFormat::Auto,
        InputFormat::Csv,
        InputFormat::Jsonl,
        InputFormat::Parquet,
    ];
}

/// How the scorer writes predictions (`part-<i>.<extension>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// Comma-separated values with a header row: ids as read, `prediction`, `p_<label>`.
    #[default]
    Csv,
    /// One JSON object per line, the same columns as keys.
    Jsonl,
    /// Apache Parquet: ids with their input types, `prediction`, `p_<label>` as doubles.
    Parquet,
}

impl OutputFormat {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Parquet => "parquet",
        }
    }

    /// The extension of the part files (`part-<i>.<extension>`).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// Every value, for messages and option lists.
    pub const ALL: [OutputFormat; 3] = [
        OutputFormat::Csv,
        OutputFormat::Jsonl,
        OutputFormat::Parquet,
    ];
}

/// How Parquet predictions compress their pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ParquetCompression {
    /// Snappy: what Spark and pandas write by default, fast to read everywhere.
    #[default]
    Snappy,
    /// Zstandard (level 3): smaller files, a little more CPU.
    Zstd,
}

impl ParquetCompression {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ParquetCompression::Snappy => "snappy",
            ParquetCompression::Zstd => "zstd",
        }
    }

    /// Every value, for messages and option lists.
    pub const ALL: [ParquetCompression; 2] = [ParquetCompression::Snappy, ParquetCompression::Zstd];
}

/// Rows per row group of Parquet predictions by default: 128 Ki rows keep the writer's buffer
/// to a few MiB while groups stay large enough for readers to skip and split on.
pub const DEFAULT_PARQUET_ROW_GROUP_ROWS: u64 = 128 * 1024;
/// The largest row group of Parquet predictions a config may ask for: the writer holds a group
/// in memory until it is full.
pub const MAX_PARQUET_ROW_GROUP_ROWS: u64 = 4 * 1024 * 1024;

/// Which input column feeds each model feature (`{"age": "customer_age"}`); a feature not
/// named reads the column of its own name.
pub type FeatureMap = BTreeMap<String, String>;

/// The column each of `features` is read from under `map`, in the model's order.
pub fn feature_columns(features: &[String], map: &FeatureMap) -> Vec<String> {
    features
        .iter()
        .map(|f| map.get(f).cloned().unwrap_or_else(|| f.clone()))
        .collect()
}

/// The rule for a feature map against a model's features: every key is one of them, and no two
/// features read the same column. Each problem names the feature (the key) at fault.
pub fn check_feature_map(map: &FeatureMap, features: &[String]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for key in map.keys() {
        if !features.contains(key) {
            problems.push((
                key.clone(),
                format!(
                    "'{key}' is not a feature of the model; its features are {}",
                    features.join(", ")
                ),
            ));
        }
    }
    let columns = feature_columns(features, map);
    for (i, c) in columns.iter().enumerate() {
        if let Some(j) = columns[..i].iter().position(|d| d == c) {
            problems.push((
                features[i].clone(),
                format!(
                    "reads column '{c}', which feature '{}' reads too; map each feature to its own column",
                    features[j]
                ),
            ));
        }
    }
    problems
}

/// The compression a file name's extension says (`.gz`, `.zst`), if any.
pub fn compression_by_name(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(".gz") || lower.ends_with(".gzip") {
        Some("gzip")
    } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
        Some("zstd")
    } else {
        None
    }
}

/// The format a file name's extension says, compression extensions stripped; `None` when the
/// name says nothing (the content decides, else CSV).
pub fn format_by_name(key: &str) -> Option<InputFormat> {
    let lower = key.to_ascii_lowercase();
    let stem = [".gz", ".gzip", ".zst", ".zstd"]
        .iter()
        .find_map(|ext| lower.strip_suffix(ext))
        .unwrap_or(&lower);
    if stem.ends_with(".parquet") || stem.ends_with(".parq") {
        Some(InputFormat::Parquet)
    } else if stem.ends_with(".jsonl") || stem.ends_with(".ndjson") {
        Some(InputFormat::Jsonl)
    } else if stem.ends_with(".csv") {
        Some(InputFormat::Csv)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_feature_map_renames_only_the_features_it_names() {
        let map = FeatureMap::from([("age".to_owned(), "customer_age".to_owned())]);
        assert_eq!(
            feature_columns(&names(&["age", "income"]), &map),
            names(&["customer_age", "income"])
        );
    }

    #[test]
    fn a_feature_map_naming_no_feature_or_one_column_twice_is_refused() {
        let features = names(&["age", "income"]);
        let map = FeatureMap::from([("agee".to_owned(), "a".to_owned())]);
        let p = check_feature_map(&map, &features);
        assert_eq!(p[0].0, "agee");
        assert!(p[0].1.contains("its features are age, income"), "{p:?}");
        let map = FeatureMap::from([("age".to_owned(), "income".to_owned())]);
        let p = check_feature_map(&map, &features);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "income");
        assert!(p[0].1.contains("feature 'age' reads too"), "{p:?}");
    }

    #[test]
    fn extensions_name_format_and_compression() {
        for (key, format, compression) in [
            ("data/x.csv", Some(InputFormat::Csv), None),
            ("data/x.CSV.GZ", Some(InputFormat::Csv), Some("gzip")),
            ("data/x.jsonl.zst", Some(InputFormat::Jsonl), Some("zstd")),
            ("data/x.ndjson", Some(InputFormat::Jsonl), None),
            (
                "data/part-0.snappy.parquet",
                Some(InputFormat::Parquet),
                None,
            ),
            ("data/part-0000", None, None),
        ] {
            assert_eq!(format_by_name(key), format, "{key}");
            assert_eq!(compression_by_name(key), compression, "{key}");
        }
    }
}
