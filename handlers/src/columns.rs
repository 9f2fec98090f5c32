//! The columns check of admission: a config that maps model features to input columns
//! (`features`) is checked against the model's features and against the columns of the first
//! input object (its CSV header or first JSON Lines object, gzip or zstd decoded, or its
//! Parquet footer), before any Batch job exists.
//!
//! Only the head of the input is read (a ranged GET; for Parquet the footer at the end), and
//! only when the config has a feature map: a config without one reads its columns by the model's own names, which the scorer
//! checks on every file.

use std::io::Read;

use parquet::file::metadata::ParquetMetaDataReader;
use serde::Deserialize;
use stepscore_core::ObjectUri;
use stepscore_core::config::{
    ConfigProblem, InputFormat, JobConfig, check_feature_map, feature_columns, format_by_name,
};
use stepscore_core::ports::{ObjectStore, StoreError};

use crate::error::HandlerError;

/// The largest model artifact admission reads for its feature names.
pub const MAX_MODEL_BYTES: u64 = 64 << 20;
/// How much of the first input object admission reads to find its header.
pub const HEAD_BYTES: u64 = 1 << 20;

/// The part of a model artifact admission needs (every version of the scorer's artifact format
/// has it).
#[derive(Deserialize)]
struct ModelFeatures {
    features: Vec<String>,
}

/// The problems with the columns a config reads; empty when the config has no feature map or
/// everything is in place.
pub(crate) async fn column_problems(
    store: &dyn ObjectStore,
    config: &JobConfig,
) -> Result<Vec<ConfigProblem>, HandlerError> {
    if config.features.is_empty() {
        return Ok(Vec::new());
    }
    let model = match store.get_bytes(&config.model, MAX_MODEL_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(StoreError::TooLarge { size, .. }) => {
            tracing::warn!(model = %config.model, size, "model artifact too large to read its features at admission; the scorer checks them");
            return Ok(Vec::new());
        }
        // a missing model is reported by the existence check
        Err(_) => return Ok(Vec::new()),
    };
    let features = match serde_json::from_slice::<ModelFeatures>(&model) {
        Ok(m) => m.features,
        Err(e) => {
            return Ok(vec![ConfigProblem::new(
                "model",
                format!(
                    "'{}' is not a stepscore model artifact with feature names ({e}), so the feature map cannot be checked: give the artifact `stepscore train` wrote",
                    config.model
                ),
            )]);
        }
    };
    let mut problems: Vec<ConfigProblem> = check_feature_map(&config.features, &features)
        .into_iter()
        .map(|(feature, m)| ConfigProblem::new(format!("features.{feature}"), m))
        .collect();
    let Some(first) = first_input(store, &config.input).await? else {
        return Ok(problems);
    };
    let head = match store.get_range(&first.0, 0..first.1.min(HEAD_BYTES)).await {
        Ok(bytes) => bytes,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(_) => return Ok(problems),
    };
    let parquet = match config.input_format {
        InputFormat::Parquet => true,
        InputFormat::Auto => head.starts_with(b"PAR1"),
        _ => false,
    };
    let read = if parquet {
        parquet_columns(store, &first.0, first.1).await?
    } else {
        input_columns(
            &head,
            head.len() as u64 >= first.1,
            config.input_format,
            first.0.key(),
        )
    };
    let columns = match read {
        Ok(c) => c,
        Err(message) => {
            problems.push(ConfigProblem::new(
                "input",
                format!("{}: {message}", first.0),
            ));
            return Ok(problems);
        }
    };
    let reads = feature_columns(&features, &config.features);
    for (feature, column) in features.iter().zip(&reads) {
        if columns.contains(column) {
            continue;
        }
        let field = if config.features.contains_key(feature) {
            format!("features.{feature}")
        } else {
            "features".to_owned()
        };
        problems.push(ConfigProblem::new(
            field,
            format!(
                "the model's feature '{feature}' reads column '{column}', which {} does not have (its columns: {}): map the feature to one of them",
                first.0,
                columns.join(", ")
            ),
        ));
    }
    for id in &config.id_columns {
        if !columns.contains(id) {
            problems.push(ConfigProblem::new(
                "id_columns",
                format!(
                    "column '{id}' is not in {} (its columns: {})",
                    first.0,
                    columns.join(", ")
                ),
            ));
        }
    }
    Ok(problems)
}

/// The input object whose columns stand for the job's: the input itself, or the first object
/// under its prefix (in key order); with its size.
async fn first_input(
    store: &dyn ObjectStore,
    input: &ObjectUri,
) -> Result<Option<(ObjectUri, u64)>, HandlerError> {
    if input.is_prefix() {
        match store.list(input).await {
            Ok(objects) => Ok(objects
                .into_iter()
                .filter(|m| !m.uri.key().ends_with('/') && m.size > 0)
                .min_by(|a, b| a.uri.key().cmp(b.uri.key()))
                .map(|m| (m.uri, m.size))),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(_) => Ok(None),
        }
    } else {
        match store.head(input).await {
            Ok(m) => Ok((m.size > 0).then(|| (input.clone(), m.size))),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(_) => Ok(None),
        }
    }
}

/// The column names the head of an input file declares, in the format the config forces or the
/// file's name says.
/// `complete` says whether `head` is the whole file (else its last line may be cut short).
pub fn input_columns(
    head: &[u8],
    complete: bool,
    forced: InputFormat,
    key: &str,
) -> Result<Vec<String>, String> {
    let format = match forced {
        InputFormat::Auto => format_by_name(key).unwrap_or(InputFormat::Csv),
        f => f,
    };
    let (head, complete) = decompressed(head, complete)?;
    match format {
        InputFormat::Jsonl => jsonl_columns(first_line(&head, complete)?),
        _ => csv_columns(first_line(&head, complete)?),
    }
}

/// The head of a gzip or zstd file decoded as far as it goes (the file's first lines), or the
/// head itself; with whether it is the whole (decoded) file.
fn decompressed(head: &[u8], complete: bool) -> Result<(Vec<u8>, bool), String> {
    let decoder: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(head))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::new(head)
                .map_err(|e| format!("not readable as zstd: {e}"))?,
        )
    } else {
        return Ok((head.to_vec(), complete));
    };
    let mut out = Vec::new();
    // a head cut mid-stream ends in a decoding error: the lines before it are still good
    let ended = decoder.take(HEAD_BYTES).read_to_end(&mut out).is_ok();
    if out.is_empty() && !ended {
        return Err("the compressed data cannot be decoded: check the file is gzip or zstd as its content says".into());
    }
    Ok((out, complete && ended))
}

/// The top-level column names of a Parquet file, from its footer (two ranged reads at most).
async fn parquet_columns(
    store: &dyn ObjectStore,
    uri: &ObjectUri,
    size: u64,
) -> Result<Result<Vec<String>, String>, HandlerError> {
    let read = |range: std::ops::Range<u64>| async move {
        match store.get_range(uri, range).await {
            Ok(b) => Ok(Ok(b)),
            Err(e) if e.is_transient() => Err(HandlerError::from(e)),
            Err(e) => Ok(Err(format!("cannot be read: {e}"))),
        }
    };
    if size < 12 {
        return Ok(Err(format!(
            "is {size} bytes, too short for a Parquet file (a complete one ends in its footer)"
        )));
    }
    let tail_len = size.min(TAIL_BYTES);
    let tail = match read(size - tail_len..size).await? {
        Ok(b) => b,
        Err(m) => return Ok(Err(m)),
    };
    Ok(match footer_columns(&tail, size) {
        Footer::Columns(c) => Ok(c),
        Footer::Problem(m) => Err(m),
        Footer::Needs(len) => match read(size - 8 - len..size).await? {
            Ok(b) => match footer_columns(&b, size) {
                Footer::Columns(c) => Ok(c),
                Footer::Problem(m) => Err(m),
                Footer::Needs(_) => Err("its footer cannot be read".into()),
            },
            Err(m) => Err(m),
        },
    })
}

/// How much of a Parquet file's end admission reads first: its footer, usually whole.
const TAIL_BYTES: u64 = 64 << 10;

enum Footer {
    Columns(Vec<String>),
    /// The metadata is this long: read that much before the last 8 bytes.
    Needs(u64),
    Problem(String),
}

/// The column names in the footer that `tail` (the last bytes of a file of `size`) holds.
fn footer_columns(tail: &[u8], size: u64) -> Footer {
    let n = tail.len();
    if n < 8 || &tail[n - 4..] != b"PAR1" {
        return Footer::Problem(
            "does not end in the Parquet magic number PAR1: it is not Parquet, or the upload was cut off".into(),
        );
    }
    let len = u64::from(u32::from_le_bytes([
        tail[n - 8],
        tail[n - 7],
        tail[n - 6],
        tail[n - 5],
    ]));
    if len + 12 > size {
        return Footer::Problem(format!(
            "its footer claims {len} bytes of metadata, more than the file holds: the file is corrupt"
        ));
    }
    if len + 8 > n as u64 {
        return Footer::Needs(len);
    }
    let meta = &tail[n - 8 - len as usize..n - 8];
    match ParquetMetaDataReader::decode_metadata(meta) {
        Ok(m) => Footer::Columns(
            m.file_metadata()
                .schema_descr()
                .root_schema()
                .get_fields()
                .iter()
                .map(|f| f.name().to_owned())
                .collect(),
        ),
        Err(e) => Footer::Problem(format!(
            "its footer cannot be decoded ({e}): the file is corrupt"
        )),
    }
}

/// The first non-blank line of `head`, which must end within it unless `head` is the whole
/// file.
fn first_line(head: &[u8], complete: bool) -> Result<&[u8], String> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut rest = head;
    loop {
        let (line, next, ended) = match memchr_newline(rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            if !ended && !complete {
                break;
            }
            return Ok(line);
        }
        if !ended {
            break;
        }
        rest = next;
    }
    Err(format!(
        "no complete header line in its first {} KiB: check the file is CSV or JSON Lines",
        HEAD_BYTES >> 10
    ))
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn csv_columns(line: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record.iter().map(str::to_owned).collect()),
        Ok(false) => Err("an empty header line".into()),
        Err(e) => Err(format!("the header line is not CSV: {e}")),
    }
}

fn jsonl_columns(line: &[u8]) -> Result<Vec<String>, String> {
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(m)) => Ok(m.keys().cloned().collect()),
        Ok(_) => Err("the first line is not a JSON object".into()),
        Err(e) => Err(format!("the first line is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_of_csv_and_json_lines_heads() {
        let check = |head: &[u8], key: &str, expected: &[&str]| {
            assert_eq!(
                input_columns(head, false, InputFormat::Auto, key).unwrap(),
                expected,
                "{key}"
            );
        };
        check(
            b"\xEF\xBB\xBF\r\nid,\"a,b\",c\r\n1,2",
            "in.csv",
            &["id", "a,b", "c"],
        );
        check(b"{\"id\": 1, \"x\": 2.5}\n{", "in.jsonl", &["id", "x"]);
        check(b"{\"id\": 1}\n", "in.csv", &["{\"id\": 1}"]);
        assert_eq!(
            input_columns(b"{\"id\": 1}\n", false, InputFormat::Jsonl, "in.csv").unwrap(),
            ["id"]
        );
        assert!(
            input_columns(b"[1]\n", false, InputFormat::Jsonl, "x")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(input_columns(b"\n \n", true, InputFormat::Csv, "x").is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"id,age\n1,2\n").unwrap();
        let gz = gz.finish().unwrap();
        check(&gz, "in.csv.gz", &["id", "age"]);
        // the first half of a gzip stream still gives its first line
        let big: String = (0..50_000).map(|i| format!("{i},{i}\n")).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, format!("id,age\n{big}").as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        check(&gz[..gz.len() / 2], "in.csv.gz", &["id", "age"]);
        let z = zstd::encode_all(&b"{\"id\": 1, \"age\": 3}\n"[..], 3).unwrap();
        check(&z, "in.jsonl.zst", &["id", "age"]);
        // a header cut off by the end of the head read is not taken for the whole header
        assert!(input_columns(b"id,a,b", false, InputFormat::Csv, "x").is_err());
        assert_eq!(
            input_columns(b"id,a,b", true, InputFormat::Csv, "x").unwrap(),
            ["id", "a", "b"]
        );
    }
}
