//! `ItemReader`: the items of a Map Run, streamed one at a time from the object store (or taken
//! from the state input when there is no reader), so a million-row CSV never sits in memory.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use crate::model::distributed::{CsvHeader, InputType, ItemReader, ReaderResource};
use crate::store::{ItemStore, ObjectInfo};

/// Objects per `ListObjectsV2` page (S3's maximum).
const LIST_PAGE: usize = 1_000;
/// Largest JSON array object read (a JSON array is parsed whole; every other input streams).
pub const MAX_JSON_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

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
        let key = match reader.resource {
            ReaderResource::GetObject => field("Key", true)?,
            ReaderResource::ListObjectsV2 => field("Prefix", false)?,
        };
        Ok(Source { bucket, key })
    }

    fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A stream of items; an `Err` ends it with the cause of `States.ItemReaderFailed`.
pub(super) type Items<'s> = Box<dyn Iterator<Item = Result<Value, String>> + 's>;

/// Opens the item stream an `ItemReader` describes.
pub(super) fn open<'s>(
    reader: &ItemReader,
    source: Source,
    store: &'s dyn ItemStore,
) -> Result<Items<'s>, String> {
    match (reader.resource, reader.input_type) {
        (ReaderResource::ListObjectsV2, _) => Ok(Box::new(Listing {
            store,
            source,
            page: VecDeque::new(),
            after: None,
            done: false,
        })),
        (ReaderResource::GetObject, Some(InputType::Csv)) => {
            let body = store.get(&source.bucket, &source.key)?;
            csv_items(body, source.uri(), &reader.csv_header, reader.csv_delimiter)
        }
        (ReaderResource::GetObject, Some(InputType::Json)) => {
            let body = store.get(&source.bucket, &source.key)?;
            json_items(body, &source.uri())
        }
        (ReaderResource::GetObject, Some(InputType::Jsonl)) => {
            let body = store.get(&source.bucket, &source.key)?;
            Ok(jsonl_items(body, source.uri()))
        }
        (ReaderResource::GetObject, Some(InputType::Manifest)) => manifest_items(store, &source),
        (ReaderResource::GetObject, None) => Err(format!(
            "ItemReader for {} has no ReaderConfig.InputType; set CSV, JSON, JSONL or MANIFEST",
            source.uri()
        )),
    }
}

/// `s3:listObjectsV2`: one item per object, with the fields S3 returns, a page at a time.
struct Listing<'s> {
    store: &'s dyn ItemStore,
    source: Source,
    page: VecDeque<ObjectInfo>,
    after: Option<String>,
    done: bool,
}

impl Iterator for Listing<'_> {
    type Item = Result<Value, String>;

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
        let o = self.page.pop_front()?;
        let mut m = Map::new();
        m.insert("Etag".into(), Value::String(o.etag));
        m.insert("Key".into(), Value::String(o.key));
        m.insert("LastModified".into(), Value::String(o.last_modified));
        m.insert("Size".into(), Value::from(o.size));
        m.insert("StorageClass".into(), Value::String(o.storage_class));
        Some(Ok(Value::Object(m)))
    }
}

/// CSV rows as objects keyed by the header; a row with another number of fields than the header
/// ends the stream with an error naming its line.
fn csv_items<'s>(
    body: Box<dyn Read + Send + 's>,
    uri: String,
    header: &CsvHeader,
    delimiter: u8,
) -> Result<Items<'s>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body);
    let mut record = csv::StringRecord::new();
    let headers: Vec<String> = match header {
        CsvHeader::Given(h) => h.clone(),
        CsvHeader::FirstRow => match rdr.read_record(&mut record) {
            Ok(true) => record.iter().map(str::to_string).collect(),
            Ok(false) => Vec::new(),
            Err(e) => return Err(csv_error(&uri, &e)),
        },
    };
    if headers.is_empty() {
        return Ok(Box::new(std::iter::empty()));
    }
    let mut failed = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match rdr.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) if record.len() != headers.len() => {
                failed = true;
                let line = record.position().map_or(0, |p| p.line());
                Some(Err(format!(
                    "The CSV row at line {line} of {uri} has {} fields but the header has {}; every row needs one field per column",
                    record.len(),
                    headers.len()
                )))
            }
            Ok(true) => {
                let m: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                    .collect();
                Some(Ok(Value::Object(m)))
            }
            Err(e) => {
                failed = true;
                Some(Err(csv_error(&uri, &e)))
            }
        }
    })))
}

fn csv_error(uri: &str, e: &csv::Error) -> String {
    let line = e.position().map_or(0, |p| p.line());
    format!("The CSV at line {line} of {uri} could not be read: {e}")
}

/// A JSON array, one item per element.
fn json_items<'s>(body: Box<dyn Read + Send + 's>, uri: &str) -> Result<Items<'s>, String> {
    let mut limited = body.take(MAX_JSON_OBJECT_BYTES + 1);
    let mut text = Vec::new();
    limited
        .read_to_end(&mut text)
        .map_err(|e| format!("{uri} could not be read: {e}"))?;
    if text.len() as u64 > MAX_JSON_OBJECT_BYTES {
        return Err(format!(
            "{uri} is over {MAX_JSON_OBJECT_BYTES} bytes, the most a JSON ItemReader reads whole; use JSONL to stream it"
        ));
    }
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Array(a)) => Ok(Box::new(a.into_iter().map(Ok))),
        Ok(other) => Err(format!(
            "{uri} must hold a JSON array of items but holds a JSON {}",
            crate::jsonpath::type_name(&other)
        )),
        Err(e) => Err(format!(
            "{uri} is not valid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )),
    }
}

/// JSON Lines: one item per non-empty line.
fn jsonl_items<'s>(body: Box<dyn Read + Send + 's>, uri: String) -> Items<'s> {
    let mut lines = BufReader::new(body).lines().enumerate();
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        loop {
            let (n, line) = lines.next()?;
            let r = match line {
                Err(e) => Err(format!("line {} of {uri} could not be read: {e}", n + 1)),
                Ok(l) if l.trim().is_empty() => continue,
                Ok(l) => serde_json::from_str::<Value>(&l)
                    .map_err(|e| format!("line {} of {uri} is not valid JSON: {e}", n + 1)),
            };
            failed = r.is_err();
            return Some(r);
        }
    }))
}

/// An S3 inventory `manifest.json`: its CSV data files (gzip-compressed when named `.gz`), one
/// item per row, with the manifest's `fileSchema` columns as field names.
fn manifest_items<'s>(store: &'s dyn ItemStore, source: &Source) -> Result<Items<'s>, String> {
    let uri = source.uri();
    let mut text = Vec::new();
    store
        .get(&source.bucket, &source.key)?
        .take(MAX_JSON_OBJECT_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| format!("{uri} could not be read: {e}"))?;
    let manifest: Value = serde_json::from_slice(&text)
        .map_err(|e| format!("the S3 inventory manifest {uri} is not valid JSON: {e}"))?;
    let format = manifest.get("fileFormat").and_then(Value::as_str);
    if format != Some("CSV") {
        return Err(format!(
            "the S3 inventory manifest {uri} has fileFormat {}; only CSV inventories can be read",
            format.unwrap_or("(missing)")
        ));
    }
    let schema: Vec<String> = manifest
        .get("fileSchema")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the S3 inventory manifest {uri} has no fileSchema string"))?
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let bucket = match manifest.get("destinationBucket").and_then(Value::as_str) {
        Some(b) => b.rsplit(":::").next().unwrap_or(b).to_string(),
        None => source.bucket.clone(),
    };
    let files = manifest
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("the S3 inventory manifest {uri} has no files array"))?;
    let mut keys = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        match f.get("key").and_then(Value::as_str) {
            Some(k) => keys.push(k.to_string()),
            None => {
                return Err(format!(
                    "files[{i}] of the S3 inventory manifest {uri} has no key"
                ));
            }
        }
    }
    let header = CsvHeader::Given(schema);
    let mut current: Option<Items<'s>> = None;
    let mut keys = keys.into_iter();
    let mut failed = false;
    Ok(Box::new(std::iter::from_fn(move || {
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
            let key = keys.next()?;
            let opened = store.get(&bucket, &key).and_then(|body| {
                let body: Box<dyn Read + Send + 's> = if key.ends_with(".gz") {
                    Box::new(flate2::read::MultiGzDecoder::new(body))
                } else {
                    body
                };
                csv_items(body, format!("s3://{bucket}/{key}"), &header, b',')
            });
            match opened {
                Ok(items) => current = Some(items),
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        }
    })))
}
