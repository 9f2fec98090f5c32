//! External compression of input files: "Input files support the following external
//! compression types: GZIP, ZSTD. Example file names: `myObject.jsonl.gz` and
//! `myObject.csv.zstd`." (AWS, ItemReader (Map)). AWS names the compression by the file name,
//! so the name decides here too, with the two suffixes the documentation shows; a file whose
//! bytes are compressed under another name is refused with the name to give it, rather than
//! read as garbage.

use std::io::{Cursor, Read};

/// The first bytes of a gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The first bytes of a zstd frame (RFC 8878).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// An object's bytes, decompressed when its key ends in `.gz` (GZIP) or `.zstd` (ZSTD).
pub(super) fn decoded<'s>(
    body: Box<dyn Read + Send + 's>,
    key: &str,
    uri: &str,
) -> Result<Box<dyn Read + Send + 's>, String> {
    if key.ends_with(".gz") {
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(body)));
    }
    if key.ends_with(".zstd") {
        let decoder = zstd::stream::read::Decoder::new(body)
            .map_err(|e| format!("{uri} could not be opened as ZSTD: {e}"))?;
        return Ok(Box::new(decoder));
    }
    let mut body = body;
    let mut head = Vec::with_capacity(ZSTD_MAGIC.len());
    (&mut body)
        .take(ZSTD_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| format!("{uri} could not be read: {e}"))?;
    let named = |kind: &str, suffix: &str| {
        format!(
            "{uri} holds {kind}-compressed bytes but its name does not end in {suffix}; AWS decides an input file's compression by its name (myObject.jsonl.gz, myObject.csv.zstd), so rename it with the {suffix} suffix"
        )
    };
    if head.starts_with(&GZIP_MAGIC) {
        return Err(named("GZIP", ".gz"));
    }
    if head.starts_with(&ZSTD_MAGIC) {
        return Err(named("ZSTD", ".zstd"));
    }
    Ok(Box::new(Cursor::new(head).chain(body)))
}
