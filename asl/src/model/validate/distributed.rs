//! A Distributed Map's own fields: `ItemReader` (with its `ReaderConfig`), `ItemBatcher`,
//! `ResultWriter` (with its `WriterConfig`), `Label` and the item processor's
//! `ProcessorConfig` (`Mode`, `ExecutionType`), checked structurally as AWS checks them.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::MachineType;
use crate::model::distributed::{
    CsvHeader, DistributedSpec, InputType, ItemBatcher, ItemReader, ReaderResource, ResultWriter,
    Transformation,
};

/// Longest `Label` AWS accepts.
pub const MAX_LABEL_CHARS: usize = 40;
/// Most bytes `MaxInputBytesPerBatch` may ask for (AWS's 256 KiB payload limit).
pub const MAX_BATCH_BYTES: u64 = 256 * 1024;

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
        if !jp {
            // JSONata states are parsed for their diagnostics only; the engine does not run them.
            return None;
        }
        let item_reader = obj
            .get("ItemReader")
            .and_then(|v| self.item_reader(v, &Self::loc(base, "ItemReader")));
        let item_batcher = obj
            .get("ItemBatcher")
            .and_then(|v| self.item_batcher(v, &Self::loc(base, "ItemBatcher")));
        let result_writer = obj
            .get("ResultWriter")
            .and_then(|v| self.result_writer(v, &Self::loc(base, "ResultWriter")));
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
        match pc.get("ExecutionType").map(|v| v.as_str()) {
            Some(Some("STANDARD")) => Some(MachineType::Standard),
            Some(Some("EXPRESS")) => Some(MachineType::Express),
            Some(_) => {
                let v = &pc["ExecutionType"];
                self.err(
                    format!("{loc}/ExecutionType"),
                    format!("Value {v} is not one of [STANDARD, EXPRESS]"),
                );
                None
            }
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

    fn item_reader(&mut self, v: &Value, loc: &str) -> Option<ItemReader> {
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
        let parameters = match obj.get("Parameters") {
            Some(p) if p.is_object() => self.template(p, &Self::loc(loc, "Parameters")),
            Some(p) => {
                self.err(
                    Self::loc(loc, "Parameters"),
                    format!("Expected value of type: Object but got {p}"),
                );
                None
            }
            None => {
                self.err(loc, "These fields are required: [Parameters]");
                None
            }
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
            ],
            &[],
        );
        let input_type = match rc.get("InputType").map(|v| (v, v.as_str())) {
            None => None,
            Some((_, Some("CSV"))) => Some(InputType::Csv),
            Some((_, Some("JSON"))) => Some(InputType::Json),
            Some((_, Some("JSONL"))) => Some(InputType::Jsonl),
            Some((_, Some("MANIFEST"))) => Some(InputType::Manifest),
            Some((v, _)) => {
                self.err(
                    Self::loc(&rc_loc, "InputType"),
                    format!("Value {v} is not one of [CSV, JSON, JSONL, MANIFEST]"),
                );
                None
            }
        };
        if resource == Some(ReaderResource::GetObject) && !rc.contains_key("InputType") {
            self.err(&rc_loc, "These fields are required: [InputType] when the ItemReader's Resource is s3:getObject");
        }
        if resource == Some(ReaderResource::ListObjectsV2) && rc.contains_key("InputType") {
            self.err(
                Self::loc(&rc_loc, "InputType"),
                "InputType is only supported when the ItemReader's Resource is s3:getObject",
            );
        }
        let csv_header = self.csv_header(rc, &rc_loc, input_type);
        let csv_delimiter = match rc.get("CSVDelimiter").map(|v| (v, v.as_str())) {
            None | Some((_, Some("COMMA"))) => b',',
            Some((_, Some("PIPE"))) => b'|',
            Some((_, Some("SEMICOLON"))) => b';',
            Some((_, Some("SPACE"))) => b' ',
            Some((_, Some("TAB"))) => b'\t',
            Some((v, _)) => {
                self.err(
                    Self::loc(&rc_loc, "CSVDelimiter"),
                    format!("Value {v} is not one of [COMMA, PIPE, SEMICOLON, SPACE, TAB]"),
                );
                b','
            }
        };
        if let Some(m) = rc.get("ManifestType")
            && m.as_str() != Some("S3_INVENTORY")
        {
            self.err(Self::loc(&rc_loc, "ManifestType"), format!("Value {m} is not supported by the embedded engine; only S3_INVENTORY manifests are read"));
        }
        let max_items = self.seconds_field(rc, &rc_loc, "MaxItems", "MaxItemsPath");
        Some(ItemReader {
            resource: resource?,
            parameters: parameters?,
            input_type,
            csv_header: csv_header?,
            csv_delimiter,
            max_items,
        })
    }

    fn csv_header(
        &mut self,
        rc: &Map<String, Value>,
        rc_loc: &str,
        input_type: Option<InputType>,
    ) -> Option<CsvHeader> {
        let csv = input_type == Some(InputType::Csv);
        for f in ["CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"] {
            if rc.contains_key(f) && !csv {
                self.err(
                    Self::loc(rc_loc, f),
                    format!("{f} is only supported when InputType is CSV"),
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

    fn item_batcher(&mut self, v: &Value, loc: &str) -> Option<ItemBatcher> {
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
        let max_items = self.seconds_field(obj, loc, "MaxItemsPerBatch", "MaxItemsPerBatchPath");
        let max_bytes = self.seconds_field(
            obj,
            loc,
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
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
            Some(b) if b.is_object() => self.template(b, &Self::loc(loc, "BatchInput")),
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

    fn result_writer(&mut self, v: &Value, loc: &str) -> Option<ResultWriter> {
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
        let exports = obj.contains_key("Resource") || obj.contains_key("Parameters");
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
        let parameters = match obj.get("Parameters") {
            Some(p) if p.is_object() => self.template(p, &Self::loc(loc, "Parameters")),
            Some(p) => {
                self.err(
                    Self::loc(loc, "Parameters"),
                    format!("Expected value of type: Object but got {p}"),
                );
                None
            }
            None if exports => {
                self.err(loc, "These fields are required: [Parameters] with Resource");
                None
            }
            None => None,
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
                match wc.get("Transformation").map(|v| (v, v.as_str())) {
                    None => {}
                    Some((_, Some("NONE"))) => transformation = Transformation::None,
                    Some((_, Some("COMPACT"))) => transformation = Transformation::Compact,
                    Some((_, Some("FLATTEN"))) => transformation = Transformation::Flatten,
                    Some((v, _)) => self.err(Self::loc(&wc_loc, "Transformation"), format!("Value {v} is not one of [NONE, COMPACT, FLATTEN]")),
                }
                match wc.get("OutputType").map(|v| (v, v.as_str())) {
                    None | Some((_, Some("JSON"))) => {}
                    Some((_, Some("JSONL"))) => jsonl = true,
                    Some((v, _)) => self.err(Self::loc(&wc_loc, "OutputType"), format!("Value {v} is not one of [JSON, JSONL]")),
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

/// The S3 action of an optimized-integration ARN (`arn:<partition>:states:::s3:<action>`).
fn s3_action(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return None;
    }
    rest.strip_prefix("states:::s3:")
}
