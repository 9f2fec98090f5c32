//! The fields only a Distributed Map has: where items come from (`ItemReader`), how they are
//! grouped (`ItemBatcher`), where results go (`ResultWriter`), the Map Run's `Label` and the
//! child executions' type.

use crate::model::{MachineType, SecondsField};
use crate::template::Template;

/// A Distributed Map's own fields, validated.
#[derive(Debug, Clone)]
pub struct DistributedSpec {
    /// `ItemReader`; without it the items come from the input as for an inline Map.
    pub item_reader: Option<ItemReader>,
    /// `ItemBatcher`.
    pub item_batcher: Option<ItemBatcher>,
    /// `ResultWriter`.
    pub result_writer: Option<ResultWriter>,
    /// `Label` (names the Map Run and its child executions).
    pub label: Option<String>,
    /// `ProcessorConfig.ExecutionType`: the child executions' type.
    pub execution_type: MachineType,
}

/// The S3 API an `ItemReader` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderResource {
    /// `arn:aws:states:::s3:listObjectsV2`: one item per object.
    ListObjectsV2,
    /// `arn:aws:states:::s3:getObject`: the items in one object, read as `InputType` says.
    GetObject,
}

/// How `s3:getObject` reads its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// CSV rows, one item (an object keyed by the header) per row.
    Csv,
    /// A JSON array, one item per element.
    Json,
    /// JSON Lines, one item per line.
    Jsonl,
    /// An S3 inventory `manifest.json`: one item (`Bucket`, `Key`) per object its data files list.
    Manifest,
}

/// Where a CSV's column names come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvHeader {
    /// The first row (`CSVHeaderLocation: FIRST_ROW`).
    FirstRow,
    /// `CSVHeaderLocation: GIVEN` with these `CSVHeaders`; every row is data.
    Given(Vec<String>),
}

/// `ItemReader`.
#[derive(Debug, Clone)]
pub struct ItemReader {
    /// `Resource`.
    pub resource: ReaderResource,
    /// `Parameters` (`Bucket`, `Key` or `Prefix`), evaluated against the state input.
    pub parameters: Template,
    /// `ReaderConfig.InputType` (required for `getObject`).
    pub input_type: Option<InputType>,
    /// `ReaderConfig.CSVHeaderLocation` / `CSVHeaders`.
    pub csv_header: CsvHeader,
    /// `ReaderConfig.CSVDelimiter` as a byte.
    pub csv_delimiter: u8,
    /// `ReaderConfig.MaxItems` / `MaxItemsPath`.
    pub max_items: Option<SecondsField>,
}

/// `ItemBatcher`.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` / `MaxItemsPerBatchPath`.
    pub max_items: Option<SecondsField>,
    /// `MaxInputBytesPerBatch` / `MaxInputBytesPerBatchPath`.
    pub max_bytes: Option<SecondsField>,
    /// `BatchInput`, merged into every batch beside `Items`.
    pub batch_input: Option<Template>,
}

/// How results are shaped (`WriterConfig.Transformation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformation {
    /// Each child's execution record: ARN, input, output, status, dates.
    None,
    /// Each child's output only.
    Compact,
    /// Outputs, with an array output spread into its elements.
    Flatten,
}

/// `ResultWriter`.
#[derive(Debug, Clone)]
pub struct ResultWriter {
    /// `Parameters` (`Bucket`, `Prefix`); absent when only `WriterConfig` is given.
    pub parameters: Option<Template>,
    /// `WriterConfig.Transformation` (NONE when exporting and not given).
    pub transformation: Transformation,
    /// `WriterConfig.OutputType` is `JSONL` (else a JSON array).
    pub jsonl: bool,
}
