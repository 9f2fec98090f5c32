//! The predictions file of a shard in the job's output format: CSV (`part-<i>.csv`), JSON Lines
//! (`part-<i>.jsonl`) or Parquet (`part-<i>.parquet`).
//!
//! CSV lines are formatted by the scoring workers as they always were. For JSON Lines and
//! Parquet a worker builds an Arrow batch of the block's rows (ids with their input types: the
//! Parquet input's own arrays, text otherwise; `prediction`; `p_<label>` per class); JSON Lines
//! are formatted from it in the worker too, a Parquet batch is handed to the one writer, which
//! holds at most one row group before it goes to the sink.

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use stepscore_core::config::{DEFAULT_PARQUET_ROW_GROUP_ROWS, OutputFormat, ParquetCompression};

use crate::artifact::Task;
use crate::error::Error;
use crate::model::Model;
use crate::storage::OutputSink;

/// How a job writes its predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpec {
    /// CSV, JSON Lines or Parquet.
    pub format: OutputFormat,
    /// Parquet only: the pages' compression.
    pub compression: ParquetCompression,
    /// Parquet only: rows per row group.
    pub row_group_rows: usize,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            format: OutputFormat::Csv,
            compression: ParquetCompression::Snappy,
            row_group_rows: DEFAULT_PARQUET_ROW_GROUP_ROWS as usize,
        }
    }
}

/// The names of the prediction columns after the ids: `prediction`, then `p_<label>` per class.
pub fn prediction_names(model: &Model) -> Vec<String> {
    let mut names = vec!["prediction".to_owned()];
    if model.task() == Task::Classification {
        names.extend(model.header.class_labels.iter().map(|l| format!("p_{l}")));
    }
    names
}

/// Builds a block's rows as an Arrow batch: `ids` (one array per id column), then the
/// prediction (the class label, or the regression value) and one probability column per class.
pub(super) fn prediction_batch(
    model: &Model,
    id_names: &[String],
    ids: Vec<ArrayRef>,
    class: &[u32],
    proba: &[f64],
    value: &[f64],
) -> Result<RecordBatch, String> {
    let mut fields: Vec<Field> = id_names
        .iter()
        .zip(&ids)
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    let mut columns = ids;
    let names = prediction_names(model);
    match model.task() {
        Task::Classification => {
            let labels = &model.header.class_labels;
            let k = labels.len();
            fields.push(Field::new(&names[0], DataType::Utf8, false));
            columns.push(Arc::new(StringArray::from_iter_values(
                class.iter().map(|&c| labels[c as usize].as_str()),
            )));
            for (j, name) in names[1..].iter().enumerate() {
                fields.push(Field::new(name, DataType::Float64, false));
                let p: Vec<f64> = proba.iter().skip(j).step_by(k).copied().collect();
                columns.push(Arc::new(Float64Array::from(p)));
            }
        }
        Task::Regression => {
            fields.push(Field::new(&names[0], DataType::Float64, false));
            columns.push(Arc::new(Float64Array::from(value.to_vec())));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| format!("the predictions of a block cannot be assembled: {e}"))
}

/// Text ids (as the CSV and JSON Lines readers keep them, each row's fields CSV-encoded by
/// `csvread::encode_field`) as one string array per id column.
pub(super) fn text_ids(ids: &[u8], id_ends: &[usize], n_ids: usize) -> Vec<ArrayRef> {
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(id_ends.len()); n_ids];
    let mut start = 0;
    let mut fields = Vec::with_capacity(n_ids);
    for &end in id_ends {
        split_encoded(&ids[start..end], &mut fields);
        start = end;
        fields.resize(n_ids, String::new());
        for (c, f) in columns.iter_mut().zip(fields.drain(..)) {
            c.push(f);
        }
    }
    columns
        .into_iter()
        .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
        .collect()
}

/// Splits one row's ids back into fields. Hand-written rather than the csv crate's reader: the
/// bytes are only ever `encode_field`'s own output (a field quoted when it holds a comma, quote
/// or line break, its quotes doubled), and a reader per row would cost more than the scoring.
fn split_encoded(row: &[u8], out: &mut Vec<String>) {
    out.clear();
    let mut field = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    while i < row.len() {
        let b = row[i];
        match (quoted, b) {
            (false, b'"') if field.is_empty() => quoted = true,
            (true, b'"') if row.get(i + 1) == Some(&b'"') => {
                field.push(b'"');
                i += 1;
            }
            (true, b'"') => quoted = false,
            (false, b',') => out.push(String::from_utf8_lossy(&std::mem::take(&mut field)).into()),
            _ => field.push(b),
        }
        i += 1;
    }
    out.push(String::from_utf8_lossy(&field).into());
}

/// Appends one JSON object per row of `batch`: numbers and booleans as JSON values (NaN and
/// infinities, which JSON cannot hold, as null), everything else as the text the CSV output
/// would hold (times in ISO 8601), nulls as null.
pub(super) fn jsonl_lines(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    let schema = batch.schema();
    let keys: Vec<Vec<u8>> = schema
        .fields()
        .iter()
        .map(|f| serde_json::to_vec(f.name()).unwrap_or_default())
        .collect();
    let options = FormatOptions::new();
    let formatters: Vec<ArrayFormatter<'_>> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a column cannot be written as JSON: {e}"))?;
    let kinds: Vec<Kind> = batch
        .columns()
        .iter()
        .map(|c| kind(c.data_type()))
        .collect();
    let mut fbuf = ryu::Buffer::new();
    let mut text = String::new();
    for r in 0..batch.num_rows() {
        out.push(b'{');
        for (c, column) in batch.columns().iter().enumerate() {
            if c > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&keys[c]);
            out.push(b':');
            if column.is_null(r) {
                out.extend_from_slice(b"null");
                continue;
            }
            match kinds[c] {
                Kind::Double => {
                    let v = column.as_primitive::<Float64Type>().value(r);
                    if v.is_finite() {
                        out.extend_from_slice(fbuf.format(v).as_bytes());
                    } else {
                        out.extend_from_slice(b"null");
                    }
                }
                Kind::Number | Kind::Boolean => {
                    text.clear();
                    use std::fmt::Write as _;
                    let _ = write!(text, "{}", formatters[c].value(r));
                    let finite =
                        kinds[c] == Kind::Boolean || text.parse::<f64>().is_ok_and(f64::is_finite);
                    out.extend_from_slice(if finite { text.as_bytes() } else { b"null" });
                }
                Kind::Text => {
                    text.clear();
                    use std::fmt::Write as _;
                    let _ = write!(text, "{}", formatters[c].value(r));
                    // serialising a str into a Vec cannot fail
                    let _ = serde_json::to_writer(&mut *out, text.as_str());
                }
            }
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Double,
    Number,
    Boolean,
    Text,
}

fn kind(t: &DataType) -> Kind {
    match t {
        DataType::Float64 => Kind::Double,
        DataType::Boolean => Kind::Boolean,
        DataType::Dictionary(_, v) if v.is_numeric() => Kind::Number,
        t if t.is_numeric() => Kind::Number,
        _ => Kind::Text,
    }
}

/// The part file being written.
pub(super) struct PartWriter {
    location: String,
    kind: PartKind,
}

enum PartKind {
    /// CSV or JSON Lines: the workers' bytes as they come.
    Text(OutputSink),
    /// Parquet: the writer is made at the first batch, whose ids give the schema (until then
    /// the sink waits in `pending`).
    Parquet {
        pending: Option<OutputSink>,
        // boxed: the writer and its properties are large beside a text sink
        writer: Option<Box<(ArrowWriter<OutputSink>, SchemaRef)>>,
        properties: Box<WriterProperties>,
    },
}

impl PartWriter {
    /// A writer of `spec`'s format into `sink`; a CSV part starts with `header`.
    pub fn new(spec: OutputSpec, mut sink: OutputSink, header: &[u8]) -> Result<Self, Error> {
        let location = sink.location().to_owned();
        let kind = match spec.format {
            OutputFormat::Csv => {
                sink.write_all(header)
                    .map_err(|e| stream(&location, e.to_string()))?;
                PartKind::Text(sink)
            }
            OutputFormat::Jsonl => PartKind::Text(sink),
            OutputFormat::Parquet => PartKind::Parquet {
                pending: Some(sink),
                writer: None,
                properties: Box::new(
                    WriterProperties::builder()
                        .set_compression(match spec.compression {
                            ParquetCompression::Snappy => Compression::SNAPPY,
                            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
                        })
                        .set_max_row_group_row_count(Some(spec.row_group_rows.max(1)))
                        // probabilities are nearly all distinct: a dictionary would be built for
                        // each column chunk and then abandoned (the writer's fallback to plain
                        // pages); the label column keeps it, as it has few values
                        .set_dictionary_enabled(false)
                        .set_column_dictionary_enabled("prediction".into(), true)
                        // nor min/max of the labels: nearly every group holds the first and the
                        // last label, so no reader could skip a group by them, and comparing
                        // every row's label text was a tenth of the writer's time
                        .set_column_statistics_enabled("prediction".into(), EnabledStatistics::None)
                        .set_created_by(format!("stepscore {}", env!("CARGO_PKG_VERSION")))
                        .build(),
                ),
            },
        };
        Ok(PartWriter { location, kind })
    }

    /// Appends a block: its formatted bytes (CSV, JSON Lines) or its batch (Parquet).
    pub fn write_block(&mut self, bytes: &[u8], batch: Option<&RecordBatch>) -> Result<(), Error> {
        match &mut self.kind {
            PartKind::Text(sink) => sink
                .write_all(bytes)
                .map_err(|e| stream(&self.location, e.to_string())),
            PartKind::Parquet {
                pending,
                writer,
                properties,
            } => {
                let Some(batch) = batch else {
                    return Ok(());
                };
                if writer.is_none() {
                    let schema = batch.schema();
                    let w = open_writer(&self.location, pending, Arc::clone(&schema), properties)?;
                    *writer = Some(Box::new((w, schema)));
                }
                let Some(boxed) = writer.as_mut() else {
                    return Ok(());
                };
                let (w, schema) = &mut **boxed;
                let batch = conform(batch, schema).map_err(|m| stream(&self.location, m))?;
                w.write(&batch)
                    .map_err(|e| stream(&self.location, e.to_string()))
            }
        }
    }

    /// Completes and publishes the part; a Parquet part without rows gets `empty_schema` (ids
    /// as text) so readers still see its columns.
    pub fn finish(self, empty_schema: impl FnOnce() -> SchemaRef) -> Result<(), Error> {
        match self.kind {
            PartKind::Text(sink) => sink.finish(),
            PartKind::Parquet {
                mut pending,
                writer,
                properties,
            } => {
                let writer = match writer {
                    Some(boxed) => boxed.0,
                    None => open_writer(&self.location, &mut pending, empty_schema(), &properties)?,
                };
                let sink = writer
                    .into_inner()
                    .map_err(|e| stream(&self.location, e.to_string()))?;
                sink.finish()
            }
        }
    }

    /// Drops the part unpublished.
    pub fn abort(self) {
        match self.kind {
            PartKind::Text(sink) => sink.abort(),
            PartKind::Parquet {
                pending, writer, ..
            } => {
                if let Some(s) = pending {
                    s.abort();
                }
                // the sink inside is dropped unfinished, which publishes nothing
                drop(writer);
            }
        }
    }
}

fn open_writer(
    location: &str,
    pending: &mut Option<OutputSink>,
    schema: SchemaRef,
    properties: &WriterProperties,
) -> Result<ArrowWriter<OutputSink>, Error> {
    let sink = pending.take().ok_or_else(|| Error::Internal {
        message: format!("the Parquet writer of {location} was opened twice"),
    })?;
    ArrowWriter::try_new(sink, schema, Some(properties.clone()))
        .map_err(|e| stream(location, e.to_string()))
}

/// `batch` with the part's schema: ids of another type than the first block's (a later input
/// file typed them otherwise) are cast to it, or the job fails naming the column.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            if c.data_type() == f.data_type() {
                Ok(Arc::clone(c))
            } else {
                arrow_cast::cast(c.as_ref(), f.data_type()).map_err(|e| {
                    format!(
                        "id column '{}' is {} in this input but {} in the part's first rows, and cannot be converted ({e}); give the input files one type per column",
                        f.name(),
                        c.data_type(),
                        f.data_type()
                    )
                })
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| e.to_string())
}

/// The schema of a Parquet part without rows: ids as text, then the predictions.
pub(super) fn empty_schema(model: &Model, id_names: &[String]) -> SchemaRef {
    let mut fields: Vec<Field> = id_names
        .iter()
        .map(|n| Field::new(n, DataType::Utf8, true))
        .collect();
    let names = prediction_names(model);
    let prediction_type = match model.task() {
        Task::Classification => DataType::Utf8,
        Task::Regression => DataType::Float64,
    };
    fields.push(Field::new(&names[0], prediction_type, false));
    fields.extend(
        names[1..]
            .iter()
            .map(|n| Field::new(n, DataType::Float64, false)),
    );
    Arc::new(Schema::new(fields))
}

fn stream(location: &str, message: String) -> Error {
    Error::Stream {
        location: location.to_owned(),
        source: std::io::Error::other(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_ids_split_back_into_their_fields() {
        let mut encoded = Vec::new();
        let fields: [&[u8]; 4] = [b"plain", b"a,b", b"say \"hi\"", b""];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                encoded.push(b',');
            }
            crate::csvread::encode_field(f, &mut encoded);
        }
        let mut out = Vec::new();
        split_encoded(&encoded, &mut out);
        assert_eq!(out, ["plain", "a,b", "say \"hi\"", ""]);
    }
}
