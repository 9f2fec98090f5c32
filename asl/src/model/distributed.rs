//! The fields only a Distributed Map has: where items come from (`ItemReader`), how they are
//! grouped (`ItemBatcher`), where results go (`ResultWriter`), the Map Run's `Label` and the
//! child executions' type.

use crate::model::{MachineType, SecondsField};
use crate::query::QueryTemplate;
use crate::template::Template;

/// What an `ItemReader` or `ResultWriter` passes to S3, or an `ItemBatcher` adds to every batch:
/// a JSONPath state's payload template (`Parameters`, `BatchInput`) or a JSONata state's
/// (`Arguments`, `BatchInput` with `{% %}` expressions).
#[derive(Debug, Clone)]
pub enum Arguments {
    /// JSONPath: `Parameters` / `BatchInput` (`.$` keys, intrinsic functions).
    Path(Template),
    /// JSONata: `Arguments` / `BatchInput`, evaluated against `$states.input`.
    Query(QueryTemplate),
}

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

/// Where a Distributed Map's items come from and how they are read: the `ItemReader`'s
/// `Resource` with its `ReaderConfig` (`InputType`, `ManifestType`, `Transformation`), resolved
/// into the one combination AWS documents for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemSource {
    /// `s3:listObjectsV2` (`Transformation: NONE`): one item per object, its metadata.
    Listing,
    /// `s3:listObjectsV2` with `Transformation: LOAD_AND_FLATTEN`: the items in every listed
    /// object, each object read as this `InputType`.
    ListedObjects(FileFormat),
    /// `s3:getObject`: the items in one object, read as this `InputType`.
    Object(FileFormat),
    /// `s3:getObject` of an S3 inventory `manifest.json` (`InputType: MANIFEST` or
    /// `ManifestType: S3_INVENTORY`): one item per row of its CSV data files.
    S3Inventory,
    /// `s3:getObject` of an Athena `UNLOAD` data manifest (`ManifestType: ATHENA_DATA`): the
    /// items in every data file it lists, each read as this `InputType`.
    AthenaManifest(FileFormat),
}

/// How one data object is read (`ReaderConfig.InputType` other than `MANIFEST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Text-delimited rows, one item (an object keyed by the header) per row.
    Csv,
    /// A JSON array (or the array `ItemsPointer` points to), one item per element.
    Json,
    /// JSON Lines, one item per line.
    Jsonl,
    /// Apache Parquet, one item (an object keyed by column name) per row.
    Parquet,
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
    /// What is read, and as what.
    pub source: ItemSource,
    /// `Parameters` or `Arguments` (`Bucket`, `Key` or `Prefix`), evaluated against the state
    /// input.
    pub parameters: Arguments,
    /// `ReaderConfig.CSVHeaderLocation` / `CSVHeaders`.
    pub csv_header: CsvHeader,
    /// `ReaderConfig.CSVDelimiter` as a byte.
    pub csv_delimiter: u8,
    /// `ReaderConfig.ItemsPointer`: a JSON Pointer (RFC 6901) to the array a JSON file's items
    /// are in; `None` reads the whole document.
    pub items_pointer: Option<String>,
    /// `ReaderConfig.MaxItems` / `MaxItemsPath` (JSONata: `MaxItems`, literal or `{% %}`).
    pub max_items: Option<SecondsField>,
}

/// `ItemBatcher`.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` / `MaxItemsPerBatchPath` (JSONata: literal or `{% %}`).
    pub max_items: Option<SecondsField>,
    /// `MaxInputBytesPerBatch` / `MaxInputBytesPerBatchPath`.
    pub max_bytes: Option<SecondsField>,
    /// `BatchInput`, merged into every batch beside `Items`.
    pub batch_input: Option<Arguments>,
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
    /// `Parameters` or `Arguments` (`Bucket`, `Prefix`); absent when only `WriterConfig` is
    /// given.
    pub parameters: Option<Arguments>,
    /// `WriterConfig.Transformation` (NONE when exporting and not given).
    pub transformation: Transformation,
    /// `WriterConfig.OutputType` is `JSONL` (else a JSON array).
    pub jsonl: bool,
}
