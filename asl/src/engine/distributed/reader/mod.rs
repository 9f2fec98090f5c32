//! `ItemReader`: the items of a Map Run, streamed one at a time from the object store (or taken
//! from the state input when there is no reader), so a million-row CSV never sits in memory.
//! Every item carries its `Source`, the value `$$.Map.Item.Source` shows.
//!
//! - `text`: CSV by AWS's parsing rules, JSON (with `ItemsPointer`) and JSON Lines.
//! - `parquet`: Apache Parquet rows, for the column types whose JSON form is established.
//! - `manifests`: S3 inventory and Athena `UNLOAD` manifests, and the files they list.
//! - `compression`: GZIP and ZSTD input files, by their names.

mod compression;
mod manifests;
mod parquet;
mod text;

use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::model::distributed::{CsvHeader, FileFormat, ItemReader, ItemSource};
use crate::store::{ItemStore, ObjectInfo};

pub use text::{MAX_CSV_HEADER_BYTES, MAX_ITEM_BYTES, MAX_JSON_OBJECT_BYTES};

pub use self::parquet::{MAX_PARQUET_FOOTER_BYTES, MAX_PARQUET_OBJECT_BYTES, MAX_ROW_GROUP_BYTES};

/// Objects per `ListObjectsV2` page (S3's maximum).
const LIST_PAGE: usize = 1_000;

/// `$$.Map.Item.Source` of items taken from the state input: "For state input, the value will
/// be : STATE_DATA" (AWS, Context object).
pub const STATE_DATA: &str = "STATE_DATA";

/// Where the reader's `Parameters` point: the bucket and the key or prefix.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub(super) bucket: String,
    pub(super) key: String,
}

impl Source {
    /// Reads `Bucket` and `Key` (getObject) or `Prefix` (listObjectsV2) from evaluated
    /// `Parameters`.
    pub(super) fn from_parameters(reader: &ItemReader, p: &Value) -> Result<Source, String> {
        let field = |name: &str, required: bool| -> Result<String, String> {
            match p.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                None if !required => Ok(String::new()),
                Some(v) => Err(format!(
                    "ItemReader Parameters field '{name}' must be a string but was {v}"
                )),
                None => Err(format!(
                    "ItemReader Parameters has no '{name}' field; give the object's {name}"
                )),
            }
        };
        let bucket = field("Bucket", true)?;
        let key = match reader.source {
            ItemSource::Listing | ItemSource::ListedObjects(_) => field("Prefix", false)?,
            _ => field("Key", true)?,
        };
        // "The VersionId field is not supported for InputType=Parquet." Validation refuses it
        // where it is written out; a JSONata `Arguments` expression can only produce it here.
        if reader.source == ItemSource::Object(FileFormat::Parquet) && p.get("VersionId").is_some()
        {
            return Err(format!(
                "ItemReader Parameters for s3://{bucket}/{key} has a VersionId, which is not supported when InputType is PARQUET; remove it"
            ));
        }
        Ok(Source { bucket, key })
    }
}

/// One item and the `$$.Map.Item.Source` it was read from.
pub(super) struct Item {
    pub(super) value: Value,
    pub(super) source: Arc<str>,
}

/// A stream of items; an `Err` ends it with the cause of `States.ItemReaderFailed`.
pub(super) type Items<'s> = Box<dyn Iterator<Item = Result<Item, String>> + 's>;

/// The values read from one object; an `Err` ends the stream.
type Values<'s> = Box<dyn Iterator<Item = Result<Value, String>> + 's>;

/// The URI an error names an object by.
fn uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// `$$.Map.Item.Source` of an item read from an object: "For all the other input types, the
/// value will be the Amazon S3 URI. For example: S3://bucket-name/object-key." (AWS, Context
/// object; spelled with the upper-case scheme the documentation shows).
fn object_source(bucket: &str, key: &str) -> Arc<str> {
    format!("S3://{bucket}/{key}").into()
}

/// The whole of `body` if it is at most `max` bytes, `None` if it is longer (each caller says
/// why its limit is what it is); `uri` names the object if reading fails.
fn read_at_most(body: impl Read, max: u64, uri: &str) -> Result<Option<Vec<u8>>, String> {
    let mut bytes = Vec::new();
    body.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{uri} could not be read: {e}"))?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// The items of `values`, read from `s3://bucket/key`, each with that object as its source.
fn from_object<'s>(values: Values<'s>, bucket: &str, key: &str) -> Items<'s> {
    let source = object_source(bucket, key);
    Box::new(values.map(move |v| {
        v.map(|value| Item {
            value,
            source: source.clone(),
        })
    }))
}

/// The rows of the CSV object `s3://bucket/key` (gzip or zstd by its name, as AWS decides).
fn csv_file<'s>(
    store: &'s dyn ItemStore,
    bucket: &str,
    key: &str,
    header: &CsvHeader,
    delimiter: u8,
) -> Result<Values<'s>, String> {
    let uri = uri(bucket, key);
    let body = compression::decoded(store.get(bucket, key)?, key, &uri)?;
    text::csv_items(body, uri, header, delimiter)
}

/// Opens the item stream an `ItemReader` describes.
pub(super) fn open<'s>(
    reader: &'s ItemReader,
    source: Source,
    store: &'s dyn ItemStore,
) -> Result<Items<'s>, String> {
    match reader.source {
        ItemSource::Listing => {
            // "For Amazon S3 LIST_OBJECTS_V2 with Transformation=NONE, the value will show the
            // S3 URI for the bucket. For example: S3://bucket-name."
            let bucket_source: Arc<str> = format!("S3://{}", source.bucket).into();
            Ok(Box::new(Listing::new(store, source).map(move |o| {
                o.and_then(listed_object).map(|value| Item {
                    value,
                    source: bucket_source.clone(),
                })
            })))
        }
        ItemSource::ListedObjects(format) => {
            let bucket = source.bucket.clone();
            let objects = Listing::new(store, source).map(|o| o.map(|o| o.key));
            Ok(concat(objects, move |key| {
                open_file(reader, format, store, &bucket, &key)
            }))
        }
        ItemSource::Object(format) => open_file(reader, format, store, &source.bucket, &source.key),
        ItemSource::S3Inventory => manifests::s3_inventory(store, &source),
        ItemSource::AthenaManifest(format) => {
            let files = manifests::athena_data_files(store, &source)?;
            Ok(concat(files.into_iter().map(Ok), move |(bucket, key)| {
                open_file(reader, format, store, &bucket, &key)
            }))
        }
    }
}

/// The items of one data object read as `format`.
fn open_file<'s>(
    reader: &'s ItemReader,
    format: FileFormat,
    store: &'s dyn ItemStore,
    bucket: &str,
    key: &str,
) -> Result<Items<'s>, String> {
    let uri = uri(bucket, key);
    let values: Values<'s> = match format {
        FileFormat::Parquet => self::parquet::rows(store.get(bucket, key)?, uri)?,
        FileFormat::Csv => csv_file(store, bucket, key, &reader.csv_header, reader.csv_delimiter)?,
        FileFormat::Json => text::json_items(
            compression::decoded(store.get(bucket, key)?, key, &uri)?,
            &uri,
            reader.items_pointer.as_deref(),
        )?,
        FileFormat::Jsonl => text::jsonl_items(
            compression::decoded(store.get(bucket, key)?, key, &uri)?,
            uri,
        ),
    };
    Ok(from_object(values, bucket, key))
}

/// The items of several objects one after another, each opened once the one before it is
/// exhausted; the first error ends the stream.
fn concat<'s, T: 's>(
    objects: impl Iterator<Item = Result<T, String>> + 's,
    mut open: impl FnMut(T) -> Result<Items<'s>, String> + 's,
) -> Items<'s> {
    let mut objects = objects;
    let mut current: Option<Items<'s>> = None;
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        loop {
            if failed {
                return None;
            }
            if let Some(items) = current.as_mut() {
                match items.next() {
                    Some(r) => {
                        failed = r.is_err();
                        return Some(r);
                    }
                    None => current = None,
                }
            }
            match objects.next()?.and_then(&mut open) {
                Ok(items) => current = Some(items),
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        }
    }))
}

/// One `s3:listObjectsV2` item: the fields S3 returns for the object, as AWS's example shows
/// them (`"LastModified": 1668699881`, epoch seconds).
fn listed_object(o: ObjectInfo) -> Result<Value, String> {
    let last_modified = chrono::DateTime::parse_from_rfc3339(&o.last_modified)
        .map_err(|e| {
            format!(
                "the object store gave object '{}' the LastModified '{}', which is not an RFC 3339 time: {e}",
                o.key, o.last_modified
            )
        })?
        .timestamp();
    let mut m = Map::new();
    m.insert("Etag".into(), Value::String(o.etag));
    m.insert("Key".into(), Value::String(o.key));
    m.insert("LastModified".into(), Value::from(last_modified));
    m.insert("Size".into(), Value::from(o.size));
    m.insert("StorageClass".into(), Value::String(o.storage_class));
    Ok(Value::Object(m))
}

/// `s3:listObjectsV2`: every object under the prefix, a page at a time.
struct Listing<'s> {
    store: &'s dyn ItemStore,
    source: Source,
    page: VecDeque<ObjectInfo>,
    after: Option<String>,
    done: bool,
}

impl<'s> Listing<'s> {
    fn new(store: &'s dyn ItemStore, source: Source) -> Listing<'s> {
        Listing {
            store,
            source,
            page: VecDeque::new(),
            after: None,
            done: false,
        }
    }
}

impl Iterator for Listing<'_> {
    type Item = Result<ObjectInfo, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            match self.store.list_page(
                &self.source.bucket,
                &self.source.key,
                self.after.as_deref(),
                LIST_PAGE,
            ) {
                Ok(p) => {
                    self.done = p.len() < LIST_PAGE;
                    self.after = p.last().map(|o| o.key.clone());
                    self.page = p.into();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}
