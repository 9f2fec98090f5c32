//! Input formats beside CSV ([`crate::csvread`]): which format and compression a file has,
//! decompression, JSON Lines and Parquet.
//!
//! # Layout
//! - `compressed`: gzip and zstd streams decoded on the fly, their errors told apart from the
//!   store's.
//! - `jsonl`: JSON Lines cut into chunks of whole lines, and one line read into features and ids.
//! - `parquet`: Parquet footers, row-group selection, projected and streamed batches.
//! - `parquet_split`: a piece's projected columns decoded in parts on threads of their own, the
//!   parts' batches joined back into rows.

pub mod compressed;
pub mod jsonl;
pub mod parquet;
mod parquet_split;

use stepscore_core::config::{InputFormat, format_by_name};

pub use compressed::Codec;

/// How many leading bytes of a file decide its format and compression.
pub const SNIFF_BYTES: u64 = 4;

/// The magic number that opens (and closes) every Parquet file.
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// A file's format and compression, as it will be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// CSV, JSON Lines or Parquet (never `Auto`).
    pub format: InputFormat,
    /// The compression of the whole file (always `None` for Parquet, which compresses pages).
    pub codec: Codec,
}

impl Detected {
    /// Whether the file can be cut into byte ranges scored by different shards: plain text
    /// (at record or line starts) and Parquet (at row groups), not a compressed stream.
    pub fn splittable(&self) -> bool {
        self.codec == Codec::None
    }
}

/// Decides how to read the file `name` whose first bytes are `head` (up to [`SNIFF_BYTES`]):
/// the compression by content (gzip and zstd magic numbers), the format as `forced`, else by
/// content (Parquet's magic number), else by the name, else CSV.
pub fn detect(forced: InputFormat, name: &str, head: &[u8]) -> Result<Detected, String> {
    let codec = Codec::sniff(head);
    let format = match forced {
        InputFormat::Auto if codec == Codec::None && head.starts_with(PARQUET_MAGIC) => {
            InputFormat::Parquet
        }
        InputFormat::Auto => format_by_name(name).unwrap_or(InputFormat::Csv),
        f => f,
    };
    if format == InputFormat::Parquet && codec != Codec::None {
        return Err(format!(
            "the file is {}-compressed as a whole, which Parquet readers cannot seek in: store the Parquet file uncompressed (Parquet compresses its own pages)",
            codec.name()
        ));
    }
    Ok(Detected { format, codec })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_compression_and_parquet_names_decide_the_rest() {
        let gz = [0x1f, 0x8b, 8, 0];
        let zst = [0x28, 0xb5, 0x2f, 0xfd];
        for (forced, name, head, format, codec) in [
            (
                InputFormat::Auto,
                "a.csv",
                &b"id,x"[..],
                InputFormat::Csv,
                Codec::None,
            ),
            (
                InputFormat::Auto,
                "a",
                b"PAR1",
                InputFormat::Parquet,
                Codec::None,
            ),
            (
                InputFormat::Auto,
                "a.jsonl.gz",
                &gz,
                InputFormat::Jsonl,
                Codec::Gzip,
            ),
            (
                InputFormat::Auto,
                "a.csv",
                &zst,
                InputFormat::Csv,
                Codec::Zstd,
            ),
            (
                InputFormat::Auto,
                "a.dat",
                &gz,
                InputFormat::Csv,
                Codec::Gzip,
            ),
            (
                InputFormat::Jsonl,
                "a.csv",
                b"{\"a",
                InputFormat::Jsonl,
                Codec::None,
            ),
            (
                InputFormat::Csv,
                "a.parquet",
                b"PAR1",
                InputFormat::Csv,
                Codec::None,
            ),
            (InputFormat::Auto, "", b"", InputFormat::Csv, Codec::None),
        ] {
            assert_eq!(
                detect(forced, name, head).unwrap(),
                Detected { format, codec },
                "{forced:?} {name}"
            );
        }
        let e = detect(InputFormat::Parquet, "a.parquet.gz", &gz).unwrap_err();
        assert!(e.contains("gzip-compressed as a whole"), "{e}");
    }
}
