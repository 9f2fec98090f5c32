//! CSV input: the header, the mapping from header names to model features, record splitting,
//! and field parsing.
//!
//! Records are delimited exactly as the csv crate (default settings) delimits them: a `"` opens a
//! quoted field only as a field's first byte (elsewhere it is a literal character, as in pandas),
//! LF, CRLF and a lone CR end a record outside quotes, blank lines are not records, and a UTF-8
//! BOM at the file's start is dropped. The splitter finds record ends with memchr; an independent
//! byte-at-a-time count ([`count_records`]) checks it on every chunk, and a property test checks
//! both against the csv crate.
//!
//! The fast path splits a record without quotes on commas with memchr and parses floats straight
//! from the bytes (fast-float2): no allocation per field. A record containing a quote goes through
//! the csv crate, which handles quoted commas, doubled quotes and newlines inside quotes.
//!
//! # Layout
//! - `fields`: the header, the mapping of header names to features and ids, a record's fields
//!   parsed and its ids encoded.
//! - `decimal`: the in-place parser of plain decimals, the fields' fast path.
//! - `records`: a chunk split into records at line ends outside quotes.
//! - `count`: the independent byte-at-a-time count of records.
//! - `chunker`: an input cut into chunks of whole records; a shard's piece opened at its first
//!   record.

mod chunker;
mod count;
mod decimal;
mod fields;
mod records;

pub use chunker::{Chunk, ChunkError, Chunker, OpenError, OpenedPiece, open_piece};
pub use count::{ScanState, count_records, scan_prefix};
pub use fields::{ColumnPlan, RowFault, encode_field, encode_ids, parse_header};
pub use records::{Segment, Shape, line_breaks, records};

/// Size of the chunks the input is cut into (aligned to record ends).
pub const CHUNK_BYTES: usize = 1 << 20;
/// The longest record accepted; a longer one is an error rather than unbounded memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// The UTF-8 byte order mark, dropped from the start of a file (as the csv crate does).
pub const BOM: &[u8] = b"\xEF\xBB\xBF";
