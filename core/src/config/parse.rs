//! Reading a config document into a [`JobConfig`]: strict JSON, every field checked, every
//! problem recorded, so a user sees them all at once.
//!
//! Each field (or group of fields checked together) has its own method on [`Validator`]: it
//! records the field's problems and returns `None` when there is one. [`JobConfig::from_value`]
//! calls them in field order, which is the order problems are reported in.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    BATCH_MAX_TAGS, BadRowPolicy, CONFIG_VERSION, Capacity, ConfigError, ConfigProblem,
    DEFAULT_PARQUET_ROW_GROUP_ROWS, DEFAULT_SPOT_WAIT_SECONDS, FIELDS, FeatureMap, InputFormat,
    JobConfig, MAX_CONFIG_BYTES, MAX_PARQUET_ROW_GROUP_ROWS, MAX_SHARDS, OutputFormat,
    PIPELINE_TAG_KEYS, ParquetCompression, check_id_columns, check_output_prefix,
    compression_by_name, prefix_form,
};
use crate::uri::ObjectUri;

impl JobConfig {
    /// Parses and validates a config document. `source_name` names it in errors.
    pub fn from_slice(bytes: &[u8], source_name: &str) -> Result<Self, ConfigError> {
        Self::from_value(&Self::parse_document(bytes, source_name)?, source_name)
    }

    /// Reads a config document as JSON without validating its fields (then
    /// [`from_value`](Self::from_value)): at most [`MAX_CONFIG_BYTES`], and strict, so a
    /// repeated key is an error. For a caller that keeps the document too (admission records it).
    pub fn parse_document(bytes: &[u8], source_name: &str) -> Result<Value, ConfigError> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::single(
                source_name,
                "(document)",
                format!(
                    "is {} bytes; the limit is {MAX_CONFIG_BYTES} bytes (64 KiB): pass data by URI, not inline",
                    bytes.len()
                ),
            ));
        }
        // strict: a duplicate key is an error (serde_json would keep the last one silently)
        crate::strict_json::from_slice(bytes).map_err(|e| {
            ConfigError::single(
                source_name,
                "(document)",
                format!(
                    "is not valid JSON: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// Validates a config given as parsed JSON (e.g. a state machine's execution input).
    pub fn from_value(value: &Value, source_name: &str) -> Result<Self, ConfigError> {
        let Some(obj) = value.as_object() else {
            return Err(ConfigError::single(
                source_name,
                "(document)",
                format!("must be a JSON object, found {}", kind(value)),
            ));
        };
        let mut v = Validator {
            obj,
            problems: Vec::new(),
        };
        v.unknown_fields();
        v.version();
        let name = v.name();
        let model = v.model();
        let locations = v.input_and_output();
        let id_columns = v.id_columns();
        let capacity = v.capacity();
        let resources = v.resources();
        let on_bad_row = v.on_bad_row();
        let poll = v.int("poll_interval_seconds", Some(30), 1, 3600);
        let spot_wait_seconds = v.spot_wait_seconds(capacity);
        let tags = v.tags();
        let formats = v.formats();
        if let (Some(input), Some(r)) = (&locations, &resources) {
            v.compressed_single_input(&input.0, r.shards);
        }
        if !v.problems.is_empty() {
            return Err(ConfigError {
                source_name: source_name.to_owned(),
                problems: v.problems,
            });
        }
        // Every field is Some here: each None above recorded a problem.
        let (
            Some(name),
            Some(model),
            Some((input, output)),
            Some(id_columns),
            Some(capacity),
            Some(resources),
            Some(on_bad_row),
            Some(poll),
            Some(spot_wait_seconds),
            Some(tags),
            Some(formats),
        ) = (
            name,
            model,
            locations,
            id_columns,
            capacity,
            resources,
            on_bad_row,
            poll,
            spot_wait_seconds,
            tags,
            formats,
        )
        else {
            return Err(ConfigError::single(
                source_name,
                "(document)",
                "is incomplete".into(),
            ));
        };
        Ok(JobConfig {
            version: CONFIG_VERSION,
            name,
            model,
            input,
            output,
            id_columns,
            capacity,
            shards: resources.shards,
            vcpus: resources.vcpus,
            memory_mib: resources.memory_mib,
            timeout_seconds: resources.timeout_seconds,
            on_bad_row,
            // at most 3600: checked by `int` above
            poll_interval_seconds: poll as u32,
            tags,
            spot_wait_seconds,
            input_format: formats.input,
            features: formats.features,
            output_format: formats.output,
            parquet_compression: formats.compression,
            parquet_row_group_rows: formats.row_group_rows,
        })
    }
}

/// The data format fields.
struct Formats {
    input: InputFormat,
    features: FeatureMap,
    output: OutputFormat,
    compression: ParquetCompression,
    row_group_rows: u64,
}

/// What the Batch job of a config asks for, checked together as one group of fields.
struct Resources {
    shards: u32,
    vcpus: u32,
    memory_mib: u32,
    timeout_seconds: u64,
}

/// The document being read and the problems found in it so far.
struct Validator<'a> {
    obj: &'a Map<String, Value>,
    problems: Vec<ConfigProblem>,
}

impl Validator<'_> {
    fn problem(&mut self, field: &str, message: String) {
        self.problems.push(ConfigProblem {
            field: field.to_owned(),
            message,
        });
    }

    /// Names each field this format does not have, with the known field it is closest to.
    fn unknown_fields(&mut self) {
        let obj = self.obj;
        for key in obj.keys() {
            if !FIELDS.contains(&key.as_str()) {
                let hint = FIELDS
                    .iter()
                    .map(|f| (strsim::jaro_winkler(key, f), *f))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, f)| format!(": did you mean '{f}'?"))
                    .unwrap_or_else(|| format!(": known fields are {}", FIELDS.join(", ")));
                self.problem(key, format!("unknown field{hint}"));
            }
        }
    }

    /// `version`: this build reads every version up to its own; a validated config is always
    /// written back as [`CONFIG_VERSION`], so the value itself is not kept.
    fn version(&mut self) {
        let version = self.int(
            "version",
            Some(u64::from(CONFIG_VERSION)),
            1,
            u64::from(u32::MAX),
        );
        if let Some(ver) = version
            && ver > u64::from(CONFIG_VERSION)
        {
            self.problem("version", format!("is {ver}, newer than this stepscore understands ({CONFIG_VERSION}): upgrade stepscore"));
        }
    }

    fn name(&mut self) -> Option<String> {
        let name = self.string("name", None)?;
        let ok = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            self.problem(
                "name",
                format!("'{name}' must be 1-64 characters of letters, digits, '-' and '_'"),
            );
        }
        Some(name)
    }

    fn model(&mut self) -> Option<ObjectUri> {
        let model = self.uri("model")?;
        if model.is_prefix() {
            self.problem(
                "model",
                format!("'{model}' names a prefix; give the model artifact object"),
            );
        }
        Some(model)
    }

    /// `input` and `output`, checked together: the output must lie apart from the input.
    fn input_and_output(&mut self) -> Option<(ObjectUri, ObjectUri)> {
        let input = self.uri("input");
        let output = self.uri("output");
        if let Some(o) = &output
            && let Err(message) = check_output_prefix(o)
        {
            self.problem("output", message);
        }
        if let (Some(i), Some(o)) = (&input, &output) {
            let o_prefix = prefix_form(o);
            let i_prefix = prefix_form(i);
            if o_prefix.contains(i) || (i.is_prefix() && i_prefix.contains(o)) {
                self.problem("output", format!("'{o}' overlaps the input '{i}': write predictions under a prefix apart from the input, or reruns would score their own output"));
            }
        }
        Some((input?, output?))
    }

    /// `id_columns`: an array of names, or one name as a string; `["id"]` when absent.
    fn id_columns(&mut self) -> Option<Vec<String>> {
        match self.obj.get("id_columns") {
            None => Some(vec!["id".to_owned()]),
            Some(Value::Array(items)) => {
                let mut cols = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) if !s.is_empty() => cols.push(s.to_owned()),
                        _ => self.problem(
                            &format!("id_columns[{i}]"),
                            format!("must be a non-empty string, found {}", kind(item)),
                        ),
                    }
                }
                if let Err(message) = check_id_columns(&cols) {
                    self.problem("id_columns", message);
                }
                Some(cols)
            }
            Some(Value::String(s)) if !s.is_empty() => Some(vec![s.clone()]),
            Some(other) => {
                self.problem(
                    "id_columns",
                    format!("must be an array of column names, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn capacity(&mut self) -> Option<Capacity> {
        self.enumerated(
            "capacity",
            Capacity::SpotThenOnDemand,
            &[
                ("spot", Capacity::Spot),
                ("on-demand", Capacity::OnDemand),
                ("spot-then-on-demand", Capacity::SpotThenOnDemand),
            ],
        )
    }

    /// `shards`, `vcpus`, `memory_mib` and `timeout_seconds`, each within what Batch accepts.
    fn resources(&mut self) -> Option<Resources> {
        let shards = self.int("shards", Some(1), 1, u64::from(MAX_SHARDS));
        let vcpus = self.int("vcpus", Some(1), 1, 256);
        let memory_mib = self.int("memory_mib", Some(2048), 128, 1_048_576);
        let timeout_seconds = self.int("timeout_seconds", Some(3600), 60, 14 * 24 * 3600);
        // the casts cannot truncate: each maximum above fits in a u32
        Some(Resources {
            shards: shards? as u32,
            vcpus: vcpus? as u32,
            memory_mib: memory_mib? as u32,
            timeout_seconds: timeout_seconds?,
        })
    }

    fn on_bad_row(&mut self) -> Option<BadRowPolicy> {
        self.enumerated(
            "on_bad_row",
            BadRowPolicy::Fail,
            &[("fail", BadRowPolicy::Fail), ("skip", BadRowPolicy::Skip)],
        )
    }

    /// `spot_wait_seconds`, which only a job that can fall back to on-demand may set.
    fn spot_wait_seconds(&mut self, capacity: Option<Capacity>) -> Option<u64> {
        let seconds = self.int(
            "spot_wait_seconds",
            Some(DEFAULT_SPOT_WAIT_SECONDS),
            60,
            7 * 24 * 3600,
        );
        if self.obj.contains_key("spot_wait_seconds")
            && let Some(c) = capacity
            && !c.allows_fallback()
        {
            self.problem(
                "spot_wait_seconds",
                format!(
                    "applies only to capacity 'spot-then-on-demand' (this job's is '{}'): remove it, or set capacity to 'spot-then-on-demand'",
                    c.as_str()
                ),
            );
        }
        seconds
    }

    /// `input_format` and `features`.
    fn formats(&mut self) -> Option<Formats> {
        let input = self.enumerated(
            "input_format",
            InputFormat::Auto,
            &InputFormat::ALL.map(|f| (f.as_str(), f)),
        );
        let features = self.features();
        let output = self.enumerated(
            "output_format",
            OutputFormat::Csv,
            &OutputFormat::ALL.map(|f| (f.as_str(), f)),
        );
        let compression = self.enumerated(
            "parquet_compression",
            ParquetCompression::Snappy,
            &ParquetCompression::ALL.map(|c| (c.as_str(), c)),
        );
        let row_group_rows = self.int(
            "parquet_row_group_rows",
            Some(DEFAULT_PARQUET_ROW_GROUP_ROWS),
            1,
            MAX_PARQUET_ROW_GROUP_ROWS,
        );
        if let Some(o) = output
            && o != OutputFormat::Parquet
        {
            for field in ["parquet_compression", "parquet_row_group_rows"] {
                if self.obj.contains_key(field) {
                    self.problem(
                        field,
                        format!(
                            "applies only to output_format 'parquet' (this job's is '{}'): remove it, or set output_format to 'parquet'",
                            o.as_str()
                        ),
                    );
                }
            }
        }
        Some(Formats {
            input: input?,
            features: features?,
            output: output?,
            compression: compression?,
            row_group_rows: row_group_rows?,
        })
    }

    /// `features`: model feature name to input column name, both non-empty strings.
    fn features(&mut self) -> Option<FeatureMap> {
        let m = match self.obj.get("features") {
            None => return Some(FeatureMap::new()),
            Some(Value::Object(m)) => m,
            Some(other) => {
                self.problem(
                    "features",
                    format!(
                        "must be an object mapping model feature names to input column names (e.g. {{\"age\": \"customer_age\"}}), found {}",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        let mut map = FeatureMap::new();
        for (feature, column) in m {
            let field = format!("features.{feature}");
            if feature.is_empty() {
                self.problem(&field, "a feature name must not be empty".into());
                continue;
            }
            match column.as_str() {
                Some(c) if !c.is_empty() => {
                    map.insert(feature.clone(), c.to_owned());
                }
                _ => self.problem(
                    &field,
                    format!(
                        "must be the name of an input column, found {}",
                        kind(column)
                    ),
                ),
            }
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (feature, column) in &map {
            if let Some(other) = seen.insert(column, feature) {
                self.problem(
                    &format!("features.{feature}"),
                    format!("reads column '{column}', which feature '{other}' reads too; map each feature to its own column"),
                );
            }
        }
        Some(map)
    }

    /// A gzip or zstd file cannot be cut into byte ranges: it is scored by one shard.
    fn compressed_single_input(&mut self, input: &ObjectUri, shards: u32) {
        if shards > 1
            && !input.is_prefix()
            && let Some(codec) = compression_by_name(input.key())
        {
            self.problem(
                "shards",
                format!(
                    "is {shards}, but the input '{input}' is one {codec}-compressed file, which cannot be split by byte range and is scored by one shard: set shards to 1, or put the data in several files under a prefix (one shard per file)"
                ),
            );
        }
    }

    /// `tags`: string values under AWS's rules, leaving room for the pipeline's own tags.
    fn tags(&mut self) -> Option<BTreeMap<String, String>> {
        let m = match self.obj.get("tags") {
            None => return Some(BTreeMap::new()),
            Some(Value::Object(m)) => m,
            Some(other) => {
                self.problem(
                    "tags",
                    format!("must be an object of string values, found {}", kind(other)),
                );
                return None;
            }
        };
        let mut tags = BTreeMap::new();
        let room = BATCH_MAX_TAGS - PIPELINE_TAG_KEYS.len();
        if m.len() > room {
            self.problem(
                "tags",
                format!(
                    "has {} tags; AWS Batch allows {BATCH_MAX_TAGS} per job and the pipeline adds {} ({}), so at most {room} fit: drop {}",
                    m.len(),
                    PIPELINE_TAG_KEYS.len(),
                    PIPELINE_TAG_KEYS.join(", "),
                    m.len() - room
                ),
            );
        }
        for (k, val) in m {
            let field = format!("tags.{k}");
            let Some(s) = val.as_str() else {
                self.problem(&field, format!("must be a string, found {}", kind(val)));
                continue;
            };
            match check_tag(k, s) {
                Ok(()) => {
                    tags.insert(k.clone(), s.to_owned());
                }
                Err(message) => self.problem(&field, message),
            }
        }
        Some(tags)
    }

    fn string(&mut self, field: &str, default: Option<&str>) -> Option<String> {
        match self.obj.get(field) {
            None => match default {
                Some(d) => Some(d.to_owned()),
                None => {
                    self.problem(field, "is required".into());
                    None
                }
            },
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(field, format!("must be a string, found {}", kind(other)));
                None
            }
        }
    }

    fn uri(&mut self, field: &str) -> Option<ObjectUri> {
        let text = self.string(field, None)?;
        match ObjectUri::parse(&text) {
            Ok(u) => Some(u),
            Err(e) => {
                self.problem(field, e.to_string());
                None
            }
        }
    }

    fn int(&mut self, field: &str, default: Option<u64>, min: u64, max: u64) -> Option<u64> {
        let obj = self.obj;
        let n = match obj.get(field) {
            None => match default {
                Some(d) => return Some(d),
                None => {
                    self.problem(field, "is required".into());
                    return None;
                }
            },
            Some(Value::Number(n)) => n.as_u64(),
            Some(other) => {
                self.problem(
                    field,
                    format!(
                        "must be a whole number from {min} to {max}, found {}",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.problem(
                    field,
                    format!(
                        "is {}; it must be a whole number from {min} to {max}",
                        obj[field]
                    ),
                );
                None
            }
        }
    }

    fn enumerated<T: Copy>(&mut self, field: &str, default: T, options: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        match self.obj.get(field) {
            None => Some(default),
            Some(Value::String(s)) => match options.iter().find(|(n, _)| n == s) {
                Some((_, t)) => Some(*t),
                None => {
                    self.problem(field, format!("'{s}' is not one of {}", names.join(", ")));
                    None
                }
            },
            Some(other) => {
                self.problem(
                    field,
                    format!("must be one of {}, found {}", names.join(", "), kind(other)),
                );
                None
            }
        }
    }
}

/// AWS's rules for one tag (the ones Batch enforces on SubmitJob), and the keys reserved for
/// AWS and the pipeline.
fn check_tag(key: &str, value: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    if key.is_empty() || key.chars().count() > 128 {
        return Err("tag keys must be 1-128 characters".into());
    }
    if value.chars().count() > 256 {
        return Err(format!(
            "value is {} characters; AWS allows at most 256",
            value.chars().count()
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err("tag keys starting with 'aws:' are reserved for AWS; rename the tag".into());
    }
    if key.starts_with("stepscore:") {
        return Err(format!(
            "tag keys starting with 'stepscore:' are reserved for the pipeline ({}); rename the tag",
            PIPELINE_TAG_KEYS.join(", ")
        ));
    }
    if let Some(c) = key.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "the key has the character {c:?}; AWS allows letters, digits, spaces and _ . : / = + - @"
        ));
    }
    if let Some(c) = value.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "the value has the character {c:?}; AWS allows letters, digits, spaces and _ . : / = + - @"
        ));
    }
    Ok(())
}

/// How a JSON value is named in a problem (`found a string`).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
