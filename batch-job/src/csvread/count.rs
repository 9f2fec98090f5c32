//! The independent count: records counted a byte at a time by a transcription of csv-core's
//! states, which checks the splitter on every chunk and tells a shard where its first record
//! starts.

use std::io::Read;

use memchr::{memchr, memchr2_iter};

use super::{BOM, CHUNK_BYTES};

/// Where a byte stream stands in the csv crate's reading of it, tracked a byte at a time by
/// [`count_records`]: the scorer's independent count of records and of where they start.
///
/// Written separately from the memchr splitter above (no skipping, no look-behind), as a plain
/// transcription of csv-core's transitions, so that the two disagree loudly rather than lose
/// rows quietly when either is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanState {
    /// Between records: CR and LF are skipped, anything else starts a record.
    RecordStart,
    /// After a comma.
    FieldStart,
    /// Inside an unquoted field (or after a closed quote).
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// After a `"` inside a quoted field: another `"` makes it a literal quote.
    QuoteInQuoted,
}

impl ScanState {
    /// The state after byte `b`, and whether `b` started a record.
    #[inline]
    pub(super) fn step(self, b: u8) -> (Self, bool) {
        use ScanState::*;
        let term = b == b'\n' || b == b'\r';
        match self {
            RecordStart if term => (RecordStart, false),
            RecordStart => (FieldStart.step(b).0, true),
            FieldStart => match b {
                b'"' => (Quoted, false),
                b',' => (FieldStart, false),
                _ if term => (RecordStart, false),
                _ => (Unquoted, false),
            },
            Unquoted | QuoteInQuoted => match b {
                b'"' if self == QuoteInQuoted => (Quoted, false),
                b',' => (FieldStart, false),
                _ if term => (RecordStart, false),
                _ => (Unquoted, false),
            },
            Quoted if b == b'"' => (QuoteInQuoted, false),
            Quoted => (Quoted, false),
        }
    }
}

/// Counts the records that start in `bytes`, read from `state` on; leaves `state` where the
/// bytes end.
pub fn count_records(state: &mut ScanState, bytes: &[u8]) -> u64 {
    use ScanState::*;
    let Some(&last) = bytes.last() else {
        return 0;
    };
    if !matches!(*state, Quoted | QuoteInQuoted) && memchr(b'"', bytes).is_none() {
        // no quotes: a record is a run of bytes other than CR and LF
        let term = |b: u8| b == b'\n' || b == b'\r';
        let mut n = u64::from(*state == RecordStart && !term(bytes[0]));
        n += memchr2_iter(b'\n', b'\r', bytes)
            .filter(|&i| bytes.get(i + 1).is_some_and(|&b| !term(b)))
            .count() as u64;
        *state = match last {
            b'\n' | b'\r' => RecordStart,
            b',' => FieldStart,
            _ => Unquoted,
        };
        return n;
    }
    let mut s = *state;
    let mut n = 0;
    for &b in bytes {
        let (next, started) = s.step(b);
        s = next;
        n += u64::from(started);
    }
    *state = s;
    n
}

/// Reads `reader` (a file from its first byte) and returns the [`ScanState`] where it ends: a
/// byte-range shard's view of whether its first byte lies inside a record, and inside quotes.
pub fn scan_prefix(mut reader: impl Read) -> std::io::Result<ScanState> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut state = ScanState::RecordStart;
    let mut first = true;
    let mut have = 0;
    loop {
        let n = match reader.read(&mut buf[have..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        have += n;
        // the BOM test needs the first three bytes together
        if first && n > 0 && have < BOM.len() {
            continue;
        }
        let mut data = &buf[..have];
        if first {
            first = false;
            data = data.strip_prefix(BOM).unwrap_or(data);
        }
        count_records(&mut state, data);
        have = 0;
        if n == 0 {
            return Ok(state);
        }
    }
}
