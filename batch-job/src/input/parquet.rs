//! Parquet input (Apache Arrow's `parquet` crate): the footer, the columns a job reads, the row
//! groups a shard owns, and batches of rows streamed one row group at a time.
//!
//! Only the projected columns are decoded, split among readers on threads of their own
//! (`input::parquet_split`), each over its own handle on the file. A local file is read page
//! by page; an object is read with ranged GETs: the footer, then each of a reader's column
//! chunks of the current row group whole (one GET per chunk), so neither the file nor its other
//! columns are ever fetched.
//!
//! Every numeric physical and logical type can feed a feature (integers, floats, decimals,
//! booleans as 1/0, dictionary-encoded or not), cast to f64 by `arrow-cast`; a null is a bad
//! row. A nested column (struct, list, map) is refused by name when the job reads it. A file the
//! reader cannot decode (corrupt, truncated, not Parquet) is bad data naming the file; a panic of
//! the decoder on such bytes is caught and reported the same way.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field};
use bytes::{Buf, Bytes};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use super::parquet_split::{Joined, PartReader, SplitReader, split_by_size};
use crate::error::Error;
use crate::storage::{InputObject, Location, Storage};

/// The bytes of a Parquet file: a local file, or an object read by ranges.
pub struct ParquetBytes {
    inner: Inner,
    /// The first failure of the store underneath, which is reported instead of the decoder's
    /// view of it (a broken connection is transient, not a corrupt file).
    failure: Arc<Mutex<Option<Error>>>,
}

enum Inner {
    Local { file: File, size: u64 },
    Object(RangedObject),
}

struct RangedObject {
    storage: Storage,
    /// The object as listed: every read is pinned to its ETag (`Storage::open_input`).
    input: InputObject,
    size: u64,
    /// The column chunks the reader will ask for (row group, byte range), once known.
    spans: Mutex<Vec<(usize, Range<u64>)>>,
    /// Column chunks fetched, of the row group being read.
    cached: Mutex<Vec<(usize, Range<u64>, Bytes)>>,
}

impl ParquetBytes {
    /// Opens `input` for reading.
    pub fn open(storage: &Storage, input: &InputObject) -> Result<Self, Error> {
        let inner = match &input.location {
            Location::Local(p) => Inner::Local {
                file: File::open(p).map_err(|e| Error::io(p.display(), e))?,
                size: input.size,
            },
            Location::Object(_) => Inner::Object(RangedObject {
                storage: storage.clone(),
                input: input.clone(),
                size: input.size,
                spans: Mutex::new(Vec::new()),
                cached: Mutex::new(Vec::new()),
            }),
        };
        Ok(Self {
            inner,
            failure: Arc::new(Mutex::new(None)),
        })
    }

    /// Tells an object reader which column chunks will be read, so each is fetched whole.
    fn expect_spans(&self, spans: Vec<(usize, Range<u64>)>) {
        if let Inner::Object(o) = &self.inner
            && let Ok(mut s) = o.spans.lock()
        {
            *s = spans;
        }
    }

    fn fail(&self, e: Error) -> ParquetError {
        let message = e.to_string();
        if let Ok(mut slot) = self.failure.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
        ParquetError::External(message.into())
    }
}

impl RangedObject {
    fn fetch(&self, range: Range<u64>) -> Result<Bytes, Error> {
        let len = range.end - range.start;
        let mut buf = Vec::with_capacity(len as usize);
        self.storage
            .open_input(&self.input, Some(range))?
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| crate::storage::stream_error(&self.input.location, e))?;
        Ok(Bytes::from(buf))
    }

    /// `len` bytes from `start`: from a fetched column chunk, else by fetching the chunk that
    /// holds them whole, else by a ranged read of exactly them (the footer).
    fn bytes(&self, start: u64, len: u64) -> Result<Bytes, Error> {
        let end = start.saturating_add(len);
        let slice = |range: &Range<u64>, bytes: &Bytes| {
            bytes.slice((start - range.start) as usize..(end - range.start) as usize)
        };
        let mut cached = self.cached.lock().map_err(|_| poisoned())?;
        if let Some((_, r, b)) = cached
            .iter()
            .find(|(_, r, _)| r.start <= start && end <= r.end)
        {
            return Ok(slice(r, b));
        }
        let span = self
            .spans
            .lock()
            .map_err(|_| poisoned())?
            .iter()
            .find(|(_, r)| r.start <= start && end <= r.end)
            .cloned();
        match span {
            Some((group, range)) => {
                let bytes = self.fetch(range.clone())?;
                // one row group's chunks at a time: memory stays bounded by the largest group
                cached.retain(|(g, _, _)| *g == group);
                let out = slice(&range, &bytes);
                cached.push((group, range, bytes));
                Ok(out)
            }
            None => self.fetch(start..end.min(self.size)),
        }
    }
}

fn poisoned() -> Error {
    Error::Internal {
        message: "a Parquet reader's lock was poisoned".into(),
    }
}

impl Length for ParquetBytes {
    fn len(&self) -> u64 {
        match &self.inner {
            Inner::Local { size, .. } => *size,
            Inner::Object(o) => o.size,
        }
    }
}

impl ChunkReader for ParquetBytes {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        match &self.inner {
            Inner::Local { file, .. } => Ok(Box::new(file.get_read(start)?)),
            Inner::Object(o) => {
                let span = o
                    .spans
                    .lock()
                    .ok()
                    .and_then(|s| s.iter().find(|(_, r)| r.contains(&start)).cloned());
                let end = span.map_or(o.size, |(_, r)| r.end);
                match o.bytes(start, end.saturating_sub(start)) {
                    Ok(b) => Ok(Box::new(b.reader())),
                    Err(e) => Err(self.fail(e)),
                }
            }
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match &self.inner {
            Inner::Local { file, .. } => file.get_bytes(start, length),
            Inner::Object(o) => o.bytes(start, length as u64).map_err(|e| self.fail(e)),
        }
    }
}

/// One Parquet file opened for a job: its footer, the columns it reads, the row groups it owns.
pub struct ParquetPiece {
    /// The projected columns over the owned row groups, decoded in parts on threads of their own.
    reader: SplitReader,
    /// What the projected batches hold.
    pub plan: BatchPlan,
    /// Rows in the owned row groups, by the footer.
    pub rows: u64,
    /// Rows in the file before the first owned row group.
    pub rows_before: u64,
    source: String,
}

/// Which columns of a projected batch feed the features and the ids.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// Per feature (model order): its column in the batch, and the column's name.
    pub features: Vec<(usize, String)>,
    /// Per id column (output order): its column in the batch, and the name.
    pub ids: Vec<(usize, String)>,
}

/// Opens the part of `input` a piece owns (row groups whose middle byte lies in `range`; all
/// of them for `None`) and plans reading `features` and `ids` from it.
pub fn open_piece(
    storage: &Storage,
    input: &InputObject,
    range: Option<(u64, u64)>,
    features: &[String],
    ids: &[String],
) -> Result<ParquetPiece, Error> {
    let source = input.location.to_string();
    let bytes = ParquetBytes::open(storage, input)?;
    let failure = Arc::clone(&bytes.failure);
    let bad = |e: String| reader_error(&failure, &source, e);
    let metadata = guarded(|| ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new()))
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(&bad)?;
    let schema = Arc::clone(metadata.schema());
    let fields = schema.fields();
    let find = |name: &str| fields.iter().position(|f| f.name() == name);
    let mut missing = Vec::new();
    let mut problems = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    for (name, is_feature) in features
        .iter()
        .map(|f| (f, true))
        .chain(ids.iter().map(|i| (i, false)))
    {
        let Some(i) = find(name) else {
            missing.push(name.as_str());
            continue;
        };
        if let Err(p) = check_column(&fields[i], is_feature) {
            problems.push(p);
        }
        if !roots.contains(&i) {
            roots.push(i);
        }
    }
    if !missing.is_empty() {
        problems.push(format!(
            "missing column(s) the job reads: {} (the file has: {})",
            missing.join(", "),
            fields
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(Error::BadInput {
            source_name: source,
            message: problems.join("; "),
        });
    }
    roots.sort_unstable();
    // a projected batch holds the roots in file order
    let column_of = |name: &str| {
        let i = find(name).unwrap_or(0);
        roots.iter().position(|&r| r == i).unwrap_or(0)
    };
    let plan = BatchPlan {
        features: features.iter().map(|f| (column_of(f), f.clone())).collect(),
        ids: ids.iter().map(|i| (column_of(i), i.clone())).collect(),
    };
    let meta = metadata.metadata();
    let mask = ProjectionMask::roots(metadata.parquet_schema(), roots.iter().copied());
    let mut groups = Vec::new();
    let mut spans = Vec::new();
    let mut rows = 0u64;
    let mut rows_before = 0u64;
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let ranges = rg
            .columns()
            .iter()
            .map(column_span)
            .collect::<Result<Vec<_>, _>>()
            .map_err(&bad)?;
        let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
        let hi = ranges
            .iter()
            .map(|r| r.0.saturating_add(r.1))
            .max()
            .unwrap_or(0);
        let mid = lo + (hi.saturating_sub(lo)) / 2;
        let n = u64::try_from(rg.num_rows()).unwrap_or(0);
        if range.is_none_or(|(s, e)| s <= mid && mid < e) {
            groups.push(g);
            rows += n;
            for (c, col) in rg.columns().iter().enumerate() {
                if mask.leaf_included(c) {
                    let (start, len) = column_span(col).map_err(&bad)?;
                    let root = metadata.parquet_schema().get_column_root_idx(c);
                    spans.push((g, root, start..start.saturating_add(len)));
                }
            }
        } else if groups.is_empty() {
            rows_before += n;
        }
    }
    // the projected columns in parts of about equal compressed size, one reader each
    let sizes: Vec<u64> = roots
        .iter()
        .map(|&root| {
            spans
                .iter()
                .filter(|(_, c, _)| *c == root)
                .map(|(_, _, r)| r.end - r.start)
                .sum()
        })
        .collect();
    let batch_rows = (BATCH_BYTES / (8 * roots.len().max(1))).clamp(1024, 65_536);
    let mut parts = Vec::new();
    // the footer's reader reads the first part; each other part opens the file again
    let mut first = Some(bytes);
    for run in split_by_size(&sizes, rayon::current_num_threads()) {
        let part_roots = &roots[run];
        let part_bytes = match first.take() {
            Some(b) => b,
            None => ParquetBytes::open(storage, input)?,
        };
        part_bytes.expect_spans(
            spans
                .iter()
                .filter(|(_, c, _)| part_roots.contains(c))
                .map(|(g, _, r)| (*g, r.clone()))
                .collect(),
        );
        let part_failure = Arc::clone(&part_bytes.failure);
        let mask = ProjectionMask::roots(metadata.parquet_schema(), part_roots.iter().copied());
        let reader = guarded(|| {
            ParquetRecordBatchReaderBuilder::new_with_metadata(part_bytes, metadata.clone())
                .with_projection(mask)
                .with_row_groups(groups.clone())
                .with_batch_size(batch_rows)
                .build()
        })
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| reader_error(&part_failure, &source, e))?;
        parts.push(PartReader {
            reader,
            failure: part_failure,
        });
    }
    let reader = SplitReader::start(parts, decode_step)?;
    Ok(ParquetPiece {
        reader,
        plan,
        rows,
        rows_before,
        source,
    })
}

/// One step of a part's reader, a decoder panic caught as an error.
fn decode_step(reader: &mut ParquetRecordBatchReader) -> Result<Option<RecordBatch>, String> {
    match guarded(|| reader.next()) {
        Ok(None) => Ok(None),
        Ok(Some(Ok(batch))) => Ok(Some(batch)),
        Ok(Some(Err(e))) => Err(e.to_string()),
        Err(e) => Err(e),
    }
}

/// Where a column chunk lies: `ColumnChunkMetaData::byte_range` without its panic on a
/// negative offset or size, which a corrupt footer can hold (found by the mutation proptest).
fn column_span(col: &parquet::file::metadata::ColumnChunkMetaData) -> Result<(u64, u64), String> {
    let start = col
        .dictionary_page_offset()
        .unwrap_or_else(|| col.data_page_offset());
    let len = col.compressed_size();
    match (u64::try_from(start), u64::try_from(len)) {
        (Ok(start), Ok(len)) => Ok((start, len)),
        _ => Err(format!(
            "the footer places column '{}' at offset {start} with {len} bytes",
            col.column_path()
        )),
    }
}

/// About how much feature data one batch holds: small enough that the batches in flight stay a
/// few MiB (a job with 128k-row groups stays under 64 MB), large enough that per-batch costs
/// vanish.
const BATCH_BYTES: usize = 256 << 10;

impl ParquetPiece {
    /// The next batch of rows, `None` at the end; a decoding failure names the file.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        match self.reader.next() {
            Joined::Batch(batch) => Ok(Some(batch)),
            Joined::End => Ok(None),
            Joined::Failed { message, failure } => {
                Err(reader_error(&failure, &self.source, message))
            }
            Joined::Mismatch(message) => Err(Error::BadInput {
                source_name: self.source.clone(),
                message: format!(
                    "cannot be read as Parquet: {message}; check the file is complete and was written by a Parquet writer"
                ),
            }),
        }
    }
}

/// Runs a step of the Parquet decoder, turning a panic (malformed bytes the decoder did not
/// anticipate) into an error.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("the Parquet decoder gave up on malformed data ({what})")
    })
}

/// The store's own failure when there was one (transient, missing), else the file is bad data.
fn reader_error(failure: &Mutex<Option<Error>>, source: &str, message: String) -> Error {
    if let Ok(mut slot) = failure.lock()
        && let Some(e) = slot.take()
    {
        return e;
    }
    Error::BadInput {
        source_name: source.to_owned(),
        message: format!(
            "cannot be read as Parquet: {message}; check the file is complete (a cut-off upload loses the footer) and was written by a Parquet writer"
        ),
    }
}

/// Whether a column can be read as a feature (any number, decimal or boolean, dictionary
/// encoded or not) or as an id (anything flat).
fn check_column(field: &Field, is_feature: bool) -> Result<(), String> {
    let name = field.name();
    let t = field.data_type();
    if t.is_nested() {
        return Err(format!(
            "column '{name}' is nested ({t}); stepscore reads flat columns only: flatten it (e.g. select its fields as top-level columns) or drop it from the features and id_columns"
        ));
    }
    if is_feature && !is_numeric(t) {
        return Err(format!(
            "column '{name}' has type {t}, which is not a number; a feature column must hold integers, floats, decimals or booleans"
        ));
    }
    Ok(())
}

fn is_numeric(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, v) => is_numeric(v),
        DataType::Boolean => true,
        t => t.is_numeric(),
    }
}

/// A batch's features as f64 columns, each beside its name.
pub fn f64_columns(
    batch: &RecordBatch,
    plan: &BatchPlan,
) -> Result<Vec<(ArrayRef, String)>, String> {
    plan.features
        .iter()
        .map(|(c, name)| {
            let col = batch.column(*c);
            let cast = match col.data_type() {
                DataType::Float64 => Arc::clone(col),
                _ => arrow_cast::cast(col.as_ref(), &DataType::Float64)
                    .map_err(|e| format!("column '{name}' cannot be read as numbers: {e}"))?,
            };
            Ok((cast, name.clone()))
        })
        .collect()
}

/// Formatters of the id columns of a batch: nulls as empty text, timestamps in ISO 8601.
pub fn id_formatters<'a>(
    batch: &'a RecordBatch,
    plan: &BatchPlan,
    options: &'a FormatOptions<'a>,
) -> Result<Vec<ArrayFormatter<'a>>, String> {
    plan.ids
        .iter()
        .map(|(c, name)| {
            ArrayFormatter::try_new(batch.column(*c).as_ref(), options)
                .map_err(|e| format!("id column '{name}' cannot be written as text: {e}"))
        })
        .collect()
}
