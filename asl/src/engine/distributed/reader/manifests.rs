//! Manifests: an S3 inventory's `manifest.json` (`InputType: MANIFEST` or `ManifestType:
//! S3_INVENTORY`) and an Athena `UNLOAD` data manifest (`ManifestType: ATHENA_DATA`).

use serde_json::Value;

use super::text::MAX_JSON_OBJECT_BYTES;
use super::{Items, Source, concat, csv_file, from_object, read_at_most, uri};
use crate::model::distributed::CsvHeader;
use crate::store::ItemStore;

/// Reads a manifest object whole (manifests are small; the bound keeps a wrong key from
/// filling memory).
fn read_manifest(store: &dyn ItemStore, source: &Source) -> Result<Vec<u8>, String> {
    let uri = uri(&source.bucket, &source.key);
    let body = store.get(&source.bucket, &source.key)?;
    read_at_most(body, MAX_JSON_OBJECT_BYTES, &uri)?.ok_or_else(|| {
        format!(
            "the manifest {uri} is over {MAX_JSON_OBJECT_BYTES} bytes; a manifest lists data files and is far smaller, so check the Key"
        )
    })
}

/// An S3 inventory `manifest.json`: its CSV data files (gzip-compressed when named `.gz`), one
/// item per row, with the manifest's `fileSchema` columns as field names. An item's source is
/// the data file it was read from.
pub(super) fn s3_inventory<'s>(
    store: &'s dyn ItemStore,
    source: &Source,
) -> Result<Items<'s>, String> {
    let manifest_uri = uri(&source.bucket, &source.key);
    let manifest: Value = serde_json::from_slice(&read_manifest(store, source)?)
        .map_err(|e| format!("the S3 inventory manifest {manifest_uri} is not valid JSON: {e}"))?;
    let format = manifest.get("fileFormat").and_then(Value::as_str);
    // "The output format of your Amazon S3 inventory report must be CSV."
    if format != Some("CSV") {
        return Err(format!(
            "the S3 inventory manifest {manifest_uri} has fileFormat {}; only CSV inventories can be read",
            format.unwrap_or("(missing)")
        ));
    }
    let schema: Vec<String> = manifest
        .get("fileSchema")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!("the S3 inventory manifest {manifest_uri} has no fileSchema string")
        })?
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
        .ok_or_else(|| format!("the S3 inventory manifest {manifest_uri} has no files array"))?;
    let mut keys = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        match f.get("key").and_then(Value::as_str) {
            Some(k) => keys.push(k.to_string()),
            None => {
                return Err(format!(
                    "files[{i}] of the S3 inventory manifest {manifest_uri} has no key"
                ));
            }
        }
    }
    let header = CsvHeader::Given(schema);
    Ok(concat(keys.into_iter().map(Ok), move |key: String| {
        let values = csv_file(store, &bucket, &key, &header, b',')?;
        Ok(from_object(values, &bucket, &key))
    }))
}

/// The data files an Athena `UNLOAD` manifest (`<QueryID>-manifest.csv`) lists, as bucket and
/// key. AWS: "The manifest file provides a structured CSV list of the data files"; what Athena
/// writes is one `s3://bucket/key` URI per line (as AWS's own reader of these manifests,
/// aws-sdk-pandas, reads them: split on newlines, empty lines dropped).
pub(super) fn athena_data_files(
    store: &dyn ItemStore,
    source: &Source,
) -> Result<Vec<(String, String)>, String> {
    let uri = uri(&source.bucket, &source.key);
    let text = String::from_utf8(read_manifest(store, source)?)
        .map_err(|_| format!("the Athena manifest {uri} is not UTF-8 text"))?;
    let mut files = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let parsed = line
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty());
        match parsed {
            Some((bucket, key)) => files.push((bucket.to_string(), key.to_string())),
            None => {
                return Err(format!(
                    "line {} of the Athena manifest {uri} is '{line}', not an s3://bucket/key URI; an Athena UNLOAD manifest lists one data file URI per line",
                    i + 1
                ));
            }
        }
    }
    Ok(files)
}
