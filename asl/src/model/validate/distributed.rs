//! A Distributed Map's own fields: `ItemReader` (with its `ReaderConfig`), `ItemBatcher`,
//! `ResultWriter` (with its `WriterConfig`), `Label` and the item processor's
//! `ProcessorConfig` (`Mode`, `ExecutionType`), checked structurally as AWS checks them.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::MachineType;
use crate::model::distributed::{
    Arguments, CsvHeader, DistributedSpec, FileFormat, ItemBatcher, ItemReader, ItemSource,
    ResultWriter, Transformation,
};

/// Longest `Label` AWS accepts.
pub const MAX_LABEL_CHARS: usize = 40;
/// Most bytes `MaxInputBytesPerBatch` may ask for (AWS's 256 KiB payload limit).
pub const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// Most items a reader's `MaxItems` may ask for: "You can specify a limit of up to
/// 100,000,000 after which the Distributed Map stops reading items" (AWS, ItemReader (Map)).
pub const MAX_ITEMS: u64 = 100_000_000;

/// The fields that only a Distributed Map may have.
const DISTRIBUTED_FIELDS: &[&str] = &["ItemReader", "ItemBatcher", "ResultWriter", "Label"];

impl Validator {
    /// The distributed part of a Map: `Some` when `ProcessorConfig.Mode` is `DISTRIBUTED`.
    /// A distributed-only field on an inline Map is an error naming the mode to set.
    pub(super) fn distributed_map(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        processor_config: Option<&Value>,
        distributed: bool,
        jp: bool,
    ) -> Option<Box<DistributedSpec>> {
        if !distributed {
            for f in DISTRIBUTED_FIELDS {
                if obj.contains_key(*f) {
                    self.err(
                        Self::loc(base, f),
                        format!("Field '{f}' is only supported when ItemProcessor.ProcessorConfig.Mode is DISTRIBUTED"),
                    );
                }
            }
            return None;
        }
        let execution_type = self.execution_type(processor_config, base);
        let label = obj
            .get("Label")
            .and_then(|v| self.label(v, &Self::loc(base, "Label")));
        let item_reader = obj
            .get("ItemReader")
            .and_then(|v| self.item_reader(v, &Self::loc(base, "ItemReader"), jp));
        let item_batcher = obj
            .get("ItemBatcher")
            .and_then(|v| self.item_batcher(v, &Self::loc(base, "ItemBatcher"), jp));
        let result_writer = obj
            .get("ResultWriter")
            .and_then(|v| self.result_writer(v, &Self::loc(base, "ResultWriter"), jp));
        Some(Box::new(DistributedSpec {
            item_reader,
            item_batcher,
            result_writer,
            label,
            execution_type: execution_type?,
        }))
    }

    fn execution_type(&mut self, pc: Option<&Value>, base: &str) -> Option<MachineType> {
        let loc = format!("{base}/ItemProcessor/ProcessorConfig");
        let pc = pc.and_then(Value::as_object)?;
        self.check_fields(pc, &loc, &["Mode", "ExecutionType"], &[]);
        match pc.get("ExecutionType") {
            Some(v) => self.one_of(
                v,
                format!("{loc}/ExecutionType"),
                &[
                    ("STANDARD", MachineType::Standard),
                    ("EXPRESS", MachineType::Express),
                ],
            ),
            None => {
                self.err(
                    loc,
                    "These fields are required: [ExecutionType] (STANDARD or EXPRESS) when Mode is DISTRIBUTED",
                );
                None
            }
        }
    }

    fn label(&mut self, v: &Value, loc: &str) -> Option<String> {
        let s = self.string(v, loc)?;
        let bad = s.chars().find(|c| {
            c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c)
        });
        if s.chars().count() > MAX_LABEL_CHARS || bad.is_some() || s.is_empty() {
            self.err(loc, format!("Label '{s}' must be 1 to {MAX_LABEL_CHARS} characters without whitespace, brackets, wildcards or any of \" # % \\ ^ | ~ ` $ & , ; : /"));
            return None;
        }
        Some(s.to_string())
    }

    /// `Parameters` (JSONPath, an object) or `Arguments` (JSONata, an object or one `{% %}`
    /// expression) of an `ItemReader` or `ResultWriter`; the other language's field is refused.
    fn arguments(
        &mut self,
        obj: &Map<String, Value>,
        loc: &str,
        jp: bool,
    ) -> Option<Option<Arguments>> {
        let (field, other) = if jp {
            ("Parameters", "Arguments")
        } else {
            ("Arguments", "Parameters")
        };
        if obj.contains_key(other) {
            self.err(
                Self::loc(loc, other),
                format!("Field '{other}' is not supported"),
            );
            return None;
        }
        let floc = Self::loc(loc, field);
        match obj.get(field) {
            None => Some(None),
            Some(p) if jp && p.is_object() => {
                self.template(p, &floc).map(|t| Some(Arguments::Path(t)))
            }
            Some(p)
                if !jp
                    && (p.is_object() || p.as_str().is_some_and(crate::query::is_expression)) =>
            {
                self.query_template(p, &floc, field)
                    .map(|t| Some(Arguments::Query(t)))
            }
            Some(p) => {
                self.err(floc, format!("Expected value of type: Object but got {p}"));
                None
            }
        }
    }

    /// A count of `obj` (`MaxItems`, `MaxItemsPerBatch`, …): literal or `…Path` in JSONPath,
    /// literal or `{% %}` in JSONata.
    fn count(
        &mut self,
        obj: &Map<String, Value>,
        loc: &str,
        field: &str,
        path: &str,
        jp: bool,
    ) -> Option<crate::model::SecondsField> {
        if jp {
            return self.seconds_field(obj, loc, field, path);
        }
        if obj.contains_key(path) {
            self.err(
                Self::loc(loc, path),
                format!("Field '{path}' is not supported"),
            );
        }
        self.query_count(obj, loc, field, None)
    }

    fn item_reader(&mut self, v: &Value, loc: &str, jp: bool) -> Option<ItemReader> {
        let Some(obj) = v.as_object() else {
            self.err(loc, format!("Expected value of type: Object but got {v}"));
            return None;
        };
        self.check_fields(
            obj,
            loc,
            &["Resource", "Parameters", "ReaderConfig", "Arguments"],
            &[],
        );
        let resource = match obj.get("Resource").map(|r| r.as_str()) {
            None => {
                self.err(loc, "These fields are required: [Resource]");
                None
            }
            Some(Some(r)) => match s3_action(r) {
                Some("getObject") => Some(ReaderResource::GetObject),
                Some("listObjectsV2") => Some(ReaderResource::ListObjectsV2),
                _ => {
                    self.err(Self::loc(loc, "Resource"), format!("The resource '{r}' is not supported by ItemReader; use arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2"));
                    None
                }
            },
            Some(None) => {
                self.err(Self::loc(loc, "Resource"), "Expected value of type: String");
                None
            }
        };
        let parameters = match self.arguments(obj, loc, jp) {
            Some(Some(p)) => Some(p),
            Some(None) => {
                let field = if jp { "Parameters" } else { "Arguments" };
                self.err(loc, format!("These fields are required: [{field}]"));
                None
            }
            None => None,
        };
        let rc_loc = Self::loc(loc, "ReaderConfig");
        let empty = Map::new();
        let rc = match obj.get("ReaderConfig") {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(other) => {
                self.err(
                    &rc_loc,
                    format!("Expected value of type: Object but got {other}"),
                );
                &empty
            }
        };
        self.check_fields(
            rc,
            &rc_loc,
            &[
                "InputType",
                "CSVHeaderLocation",
                "CSVHeaders",
                "CSVDelimiter",
                "MaxItems",
                "MaxItemsPath",
                "ManifestType",
                "Transformation",
                "ItemsPointer",
            ],
            &[],
        );
        let source = resource.and_then(|r| self.item_source(rc, &rc_loc, r));
        let format = match source {
            Some(
                ItemSource::Object(f)
                | ItemSource::ListedObjects(f)
                | ItemSource::AthenaManifest(f),
            ) => Some(f),
            Some(ItemSource::Listing | ItemSource::S3Inventory) | None => None,
        };
        // ReaderConfig: "CSVDelimiter ... You can specify this field when InputType is CSV or
        // MANIFEST" (the same for CSVHeaderLocation). The embedded engine takes an S3
        // inventory's columns from its manifest's fileSchema and its data files are always
        // comma-separated; what AWS does with these fields for MANIFEST is not documented, so
        // they are refused there rather than ignored.
        let csv_header = self.csv_header(
            rc,
            &rc_loc,
            source.is_none() || format == Some(FileFormat::Csv),
        );
        let csv_delimiter = match rc.get("CSVDelimiter") {
            None => b',',
            Some(v) => self
                .one_of(
                    v,
                    Self::loc(&rc_loc, "CSVDelimiter"),
                    &[
                        ("COMMA", b','),
                        ("PIPE", b'|'),
                        ("SEMICOLON", b';'),
                        ("SPACE", b' '),
                        ("TAB", b'\t'),
                    ],
                )
                .unwrap_or(b','),
        };
        let items_pointer = match rc.get("ItemsPointer") {
            None => None,
            Some(v) => {
                let ploc = Self::loc(&rc_loc, "ItemsPointer");
                let p = self.string(v, &ploc);
                if source.is_some() && format != Some(FileFormat::Json) {
                    self.err(
                        &ploc,
                        "ItemsPointer is only supported when InputType is JSON",
                    );
                }
                match p {
                    Some(p) if p.is_empty() || p.starts_with('/') => Some(p.to_string()),
                    Some(p) => {
                        self.err(&ploc, format!("ItemsPointer '{p}' is not a JSON Pointer; write it as /key/key (for example /inventory/products), or leave it out to read the whole file"));
                        None
                    }
                    None => None,
                }
            }
        };
        // "The VersionId field is not supported for InputType=Parquet."
        if source == Some(ItemSource::Object(FileFormat::Parquet))
            && let Some(args) = obj
                .get(if jp { "Parameters" } else { "Arguments" })
                .and_then(Value::as_object)
            && let Some(k) = ["VersionId", "VersionId.$"]
                .into_iter()
                .find(|k| args.contains_key(*k))
        {
            let field = if jp { "Parameters" } else { "Arguments" };
            self.err(
                Self::loc(&Self::loc(loc, field), k),
                "VersionId is not supported when InputType is PARQUET",
            );
        }
        let max_items = self.count(rc, &rc_loc, "MaxItems", "MaxItemsPath", jp);
        if let Some(crate::model::SecondsField::Literal(n)) = &max_items
            && *n > MAX_ITEMS
        {
            self.err(
                Self::loc(&rc_loc, "MaxItems"),
                format!("MaxItems must be at most {MAX_ITEMS} but got {n}"),
            );
        }
        Some(ItemReader {
            source: source?,
            parameters: parameters?,
            csv_header: csv_header?,
            csv_delimiter,
            items_pointer,
            max_items,
        })
    }

    /// What a reader reads, from its `Resource` and `ReaderConfig`'s `InputType`,
    /// `ManifestType` and `Transformation`, refusing the combinations AWS's documentation rules
    /// out.
    fn item_source(
        &mut self,
        rc: &Map<String, Value>,
        rc_loc: &str,
        resource: ReaderResource,
    ) -> Option<ItemSource> {
        let input_loc = Self::loc(rc_loc, "InputType");
        let input = match rc.get("InputType") {
            None => None,
            Some(v) => Some(self.one_of(
                v,
                &input_loc,
                &[
                    ("CSV", Input::File(FileFormat::Csv)),
                    ("JSON", Input::File(FileFormat::Json)),
                    ("JSONL", Input::File(FileFormat::Jsonl)),
                    ("PARQUET", Input::File(FileFormat::Parquet)),
                    ("MANIFEST", Input::Manifest),
                ],
            )?),
        };
        let manifest_loc = Self::loc(rc_loc, "ManifestType");
        let manifest = match rc.get("ManifestType") {
            None => None,
            Some(v) => Some(self.one_of(
                v,
                &manifest_loc,
                &[
                    ("ATHENA_DATA", Manifest::AthenaData),
                    ("S3_INVENTORY", Manifest::S3Inventory),
                ],
            )?),
        };
        let transformation_loc = Self::loc(rc_loc, "Transformation");
        let flatten = match rc.get("Transformation") {
            None => false,
            Some(v) => self.one_of(
                v,
                &transformation_loc,
                &[("NONE", false), ("LOAD_AND_FLATTEN", true)],
            )?,
        };
        match resource {
            ReaderResource::ListObjectsV2 => {
                if manifest.is_some() {
                    self.err(
                        &manifest_loc,
                        "ManifestType is only supported when the ItemReader's Resource is s3:getObject",
                    );
                    return None;
                }
                // "Transformation ... When set to LOAD_AND_FLATTEN, you must also set InputType."
                match (flatten, input) {
                    (false, None) => Some(ItemSource::Listing),
                    (false, Some(_)) => {
                        self.err(
                            &input_loc,
                            "InputType is only supported with s3:listObjectsV2 when Transformation is LOAD_AND_FLATTEN",
                        );
                        None
                    }
                    (true, None) => {
                        self.err(
                            rc_loc,
                            "These fields are required: [InputType] when Transformation is LOAD_AND_FLATTEN",
                        );
                        None
                    }
                    (true, Some(Input::File(f))) => Some(ItemSource::ListedObjects(f)),
                    (true, Some(Input::Manifest)) => {
                        self.err(
                            &input_loc,
                            "InputType must be one of [CSV, JSON, JSONL, PARQUET] when Transformation is LOAD_AND_FLATTEN",
                        );
                        None
                    }
                }
            }
            ReaderResource::GetObject => {
                if rc.contains_key("Transformation") {
                    self.err(
                        &transformation_loc,
                        "Transformation is only supported when the ItemReader's Resource is s3:listObjectsV2",
                    );
                    return None;
                }
                match (manifest, input) {
                    (None, Some(Input::File(f))) => Some(ItemSource::Object(f)),
                    (None, Some(Input::Manifest)) | (Some(Manifest::S3Inventory), None) => {
                        Some(ItemSource::S3Inventory)
                    }
                    (None, None) => {
                        self.err(rc_loc, "These fields are required: [InputType] when the ItemReader's Resource is s3:getObject (or ManifestType: S3_INVENTORY for an S3 inventory)");
                        None
                    }
                    // "If you specify ManifestType is S3_INVENTORY then InputType cannot be
                    // specified."
                    (Some(Manifest::S3Inventory), Some(_)) => {
                        self.err(
                            &input_loc,
                            "InputType cannot be specified when ManifestType is S3_INVENTORY (the inventory's data files are read as CSV)",
                        );
                        None
                    }
                    // "You set ManifestType to ATHENA_DATA, and InputType to either CSV, JSONL,
                    // or Parquet."
                    (Some(Manifest::AthenaData), None) => {
                        self.err(
                            rc_loc,
                            "These fields are required: [InputType] (CSV, JSONL or PARQUET) when ManifestType is ATHENA_DATA",
                        );
                        None
                    }
                    (
                        Some(Manifest::AthenaData),
                        Some(Input::File(
                            f @ (FileFormat::Csv | FileFormat::Jsonl | FileFormat::Parquet),
                        )),
                    ) => Some(ItemSource::AthenaManifest(f)),
                    (Some(Manifest::AthenaData), Some(_)) => {
                        self.err(
                            &input_loc,
                            "InputType must be one of [CSV, JSONL, PARQUET] when ManifestType is ATHENA_DATA",
                        );
                        None
                    }
                }
            }
        }
    }

    fn csv_header(
        &mut self,
        rc: &Map<String, Value>,
        rc_loc: &str,
        csv: bool,
    ) -> Option<CsvHeader> {
        for f in ["CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"] {
            if rc.contains_key(f) && !csv {
                self.err(
                    Self::loc(rc_loc, f),
                    format!("{f} is only supported when InputType is CSV (an S3 inventory's columns come from its manifest's fileSchema)"),
                );
            }
        }
        let headers = match rc.get("CSVHeaders") {
            None => None,
            Some(Value::Array(a)) if a.iter().all(Value::is_string) && !a.is_empty() => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            Some(v) => {
                self.err(
                    Self::loc(rc_loc, "CSVHeaders"),
                    format!("Expected a non-empty array of strings but got {v}"),
                );
                return None;
            }
        };
        match (
            rc.get("CSVHeaderLocation").map(|v| (v, v.as_str())),
            headers,
        ) {
            (None | Some((_, Some("FIRST_ROW"))), None) => Some(CsvHeader::FirstRow),
            (Some((_, Some("GIVEN"))), Some(h)) => Some(CsvHeader::Given(h)),
            (Some((_, Some("GIVEN"))), None) => {
                self.err(
                    rc_loc,
                    "These fields are required: [CSVHeaders] when CSVHeaderLocation is GIVEN",
                );
                None
            }
            (None | Some((_, Some("FIRST_ROW"))), Some(_)) => {
                self.err(
                    Self::loc(rc_loc, "CSVHeaders"),
                    "CSVHeaders is only supported when CSVHeaderLocation is GIVEN",
                );
                None
            }
            (Some((v, _)), _) => {
                self.err(
                    Self::loc(rc_loc, "CSVHeaderLocation"),
                    format!("Value {v} is not one of [FIRST_ROW, GIVEN]"),
                );
                None
            }
        }
    }

    fn item_batcher(&mut self, v: &Value, loc: &str, jp: bool) -> Option<ItemBatcher> {
        let Some(obj) = v.as_object() else {
            self.err(loc, format!("Expected value of type: Object but got {v}"));
            return None;
        };
        self.check_fields(
            obj,
            loc,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
            &[],
        );
        let max_items = self.count(obj, loc, "MaxItemsPerBatch", "MaxItemsPerBatchPath", jp);
        let max_bytes = self.count(
            obj,
            loc,
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            jp,
        );
        if let Some(crate::model::SecondsField::Literal(b)) = &max_bytes
            && *b > MAX_BATCH_BYTES
        {
            self.err(
                Self::loc(loc, "MaxInputBytesPerBatch"),
                format!(
                    "MaxInputBytesPerBatch must be at most {MAX_BATCH_BYTES} (256 KiB) but got {b}"
                ),
            );
        }
        for (f, v) in [
            ("MaxItemsPerBatch", &max_items),
            ("MaxInputBytesPerBatch", &max_bytes),
        ] {
            if let Some(crate::model::SecondsField::Literal(0)) = v {
                self.err(
                    Self::loc(loc, f),
                    format!("{f} must be a positive integer but got 0"),
                );
            }
        }
        if max_items.is_none()
            && max_bytes.is_none()
            && !obj.contains_key("MaxItemsPerBatch")
            && !obj.contains_key("MaxInputBytesPerBatch")
        {
            self.err(loc, "At least one of these fields is required: [MaxItemsPerBatch, MaxItemsPerBatchPath, MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]");
        }
        let batch_input = match obj.get("BatchInput") {
            None => None,
            Some(b) if jp && b.is_object() => self
                .template(b, &Self::loc(loc, "BatchInput"))
                .map(Arguments::Path),
            Some(b)
                if !jp
                    && (b.is_object() || b.as_str().is_some_and(crate::query::is_expression)) =>
            {
                self.query_template(b, &Self::loc(loc, "BatchInput"), "BatchInput")
                    .map(Arguments::Query)
            }
            Some(b) => {
                self.err(
                    Self::loc(loc, "BatchInput"),
                    format!("Expected value of type: Object but got {b}"),
                );
                None
            }
        };
        Some(ItemBatcher {
            max_items,
            max_bytes,
            batch_input,
        })
    }

    fn result_writer(&mut self, v: &Value, loc: &str, jp: bool) -> Option<ResultWriter> {
        let Some(obj) = v.as_object() else {
            self.err(loc, format!("Expected value of type: Object but got {v}"));
            return None;
        };
        self.check_fields(
            obj,
            loc,
            &["Resource", "Parameters", "WriterConfig", "Arguments"],
            &[],
        );
        let exports = obj.contains_key("Resource")
            || obj.contains_key("Parameters")
            || obj.contains_key("Arguments");
        if exports {
            match obj.get("Resource").and_then(Value::as_str).map(s3_action) {
                Some(Some("putObject")) => {}
                Some(_) => self.err(
                    Self::loc(loc, "Resource"),
                    "The ResultWriter's Resource must be arn:aws:states:::s3:putObject",
                ),
                None => self.err(loc, "These fields are required: [Resource] with Parameters"),
            }
        }
        let parameters = match self.arguments(obj, loc, jp) {
            Some(Some(p)) => Some(p),
            Some(None) if exports => {
                let field = if jp { "Parameters" } else { "Arguments" };
                self.err(
                    loc,
                    format!("These fields are required: [{field}] with Resource"),
                );
                None
            }
            _ => None,
        };
        let wc_loc = Self::loc(loc, "WriterConfig");
        let (mut transformation, mut jsonl) = (
            if exports {
                Transformation::None
            } else {
                Transformation::Compact
            },
            false,
        );
        match obj.get("WriterConfig") {
            None if !exports => self.err(loc, "The ResultWriter field cannot be empty: give Resource and Parameters, WriterConfig, or all three"),
            None => {}
            Some(Value::Object(wc)) => {
                self.check_fields(wc, &wc_loc, &["Transformation", "OutputType"], &[]);
                if let Some(v) = wc.get("Transformation")
                    && let Some(t) = self.one_of(
                        v,
                        Self::loc(&wc_loc, "Transformation"),
                        &[
                            ("NONE", Transformation::None),
                            ("COMPACT", Transformation::Compact),
                            ("FLATTEN", Transformation::Flatten),
                        ],
                    )
                {
                    transformation = t;
                }
                if let Some(v) = wc.get("OutputType")
                    && let Some(j) = self.one_of(
                        v,
                        Self::loc(&wc_loc, "OutputType"),
                        &[("JSON", false), ("JSONL", true)],
                    )
                {
                    jsonl = j;
                }
            }
            Some(other) => self.err(&wc_loc, format!("Expected value of type: Object but got {other}")),
        }
        Some(ResultWriter {
            parameters,
            transformation,
            jsonl,
        })
    }
}

/// The S3 API an `ItemReader` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReaderResource {
    ListObjectsV2,
    GetObject,
}

/// `ReaderConfig.InputType`.
#[derive(Debug, Clone, Copy)]
enum Input {
    File(FileFormat),
    Manifest,
}

/// `ReaderConfig.ManifestType`.
#[derive(Debug, Clone, Copy)]
enum Manifest {
    S3Inventory,
    AthenaData,
}

/// The S3 action of an optimized-integration ARN (`arn:<partition>:states:::s3:<action>`).
fn s3_action(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return None;
    }
    rest.strip_prefix("states:::s3:")
}
