//! CSV input: the header, the mapping from header names to model features, record splitting,
//! and field parsing.
//!
//! The fast path splits an unquoted line on commas with memchr and parses floats straight from
//! the bytes (fast-float2): no allocation per field. A record containing a quote goes through the
//! csv crate, which handles quoted commas, doubled quotes and newlines inside quotes. Records are
//! split parity-aware (a newline inside quotes does not end a record), CRLF is accepted, and a
//! UTF-8 BOM before the header is dropped.

use std::io::Read;

use memchr::{memchr, memchr_iter, memrchr};

/// Size of the chunks the input is cut into (aligned to record ends).
pub const CHUNK_BYTES: usize = 1 << 20;
/// The longest record accepted; a longer one is an error rather than unbounded memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Why a field or record cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFault {
    /// What is wrong, naming the column and value where there is one.
    pub reason: String,
}

/// How the columns of one input file map to the model's features and the id columns.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// Number of columns in the header.
    pub n_cols: usize,
    /// Header names.
    pub names: Vec<String>,
    /// Per input column: the feature slot it fills, or `NONE`.
    feature_of: Vec<u32>,
    /// Per input column: the id slot it fills, or `NONE`.
    id_of: Vec<u32>,
    /// Number of features.
    pub n_features: usize,
    /// Number of id columns.
    pub n_ids: usize,
}

const NONE: u32 = u32::MAX;

impl ColumnPlan {
    /// Maps `header` to `features` and `ids` by name; every missing column is named at once.
    pub fn new(header: &[String], features: &[String], ids: &[String]) -> Result<Self, String> {
        let mut feature_of = vec![NONE; header.len()];
        let mut id_of = vec![NONE; header.len()];
        let mut missing_features = Vec::new();
        let mut missing_ids = Vec::new();
        let mut problems = Vec::new();
        let find = |name: &str| -> Result<Option<usize>, String> {
            let mut hits = header.iter().enumerate().filter(|(_, h)| *h == name);
            match (hits.next(), hits.next()) {
                (None, _) => Ok(None),
                (Some((i, _)), None) => Ok(Some(i)),
                (Some(_), Some(_)) => Err(format!(
                    "column '{name}' appears more than once in the header"
                )),
            }
        };
        for (k, f) in features.iter().enumerate() {
            match find(f) {
                Ok(Some(i)) => feature_of[i] = k as u32,
                Ok(None) => missing_features.push(f.as_str()),
                Err(e) => problems.push(e),
            }
        }
        for (k, f) in ids.iter().enumerate() {
            match find(f) {
                Ok(Some(i)) => id_of[i] = k as u32,
                Ok(None) => missing_ids.push(f.as_str()),
                Err(e) => problems.push(e),
            }
        }
        if !missing_features.is_empty() {
            problems.push(format!(
                "missing feature column(s) the model needs: {}",
                missing_features.join(", ")
            ));
        }
        if !missing_ids.is_empty() {
            problems.push(format!(
                "missing id column(s): {} (set --id-columns / STEPSCORE_ID_COLUMNS to columns the input has)",
                missing_ids.join(", ")
            ));
        }
        if !problems.is_empty() {
            return Err(format!(
                "{}; the header has: {}",
                problems.join("; "),
                header.join(", ")
            ));
        }
        Ok(Self {
            n_cols: header.len(),
            names: header.to_vec(),
            feature_of,
            id_of,
            n_features: features.len(),
            n_ids: ids.len(),
        })
    }

    /// Parses one record (without its line end) into `features` (length `n_features`) and the
    /// id fields, appended CSV-encoded and comma-separated to `ids_out`.
    pub fn parse_record(
        &self,
        record: &[u8],
        features: &mut [f64],
        ids_out: &mut Vec<u8>,
    ) -> Result<(), RowFault> {
        self.parse_with(record, features, |ids| encode_ids(ids, ids_out))
    }

    /// Parses one record into `features`, handing the raw id fields (in id order) to `ids`.
    pub fn parse_with(
        &self,
        record: &[u8],
        features: &mut [f64],
        ids: impl FnOnce(&[&[u8]]),
    ) -> Result<(), RowFault> {
        let mut id_fields: [&[u8]; 8] = [&[]; 8];
        if memchr(b'"', record).is_some() || self.n_ids > id_fields.len() {
            return self.parse_quoted(record, features, ids);
        }
        // One pass: a feature field is parsed where it starts and, when the number ends at a
        // comma or the record's end, the comma search is skipped. Anything else (spaces, text,
        // inf) goes through `take_field` on the whole field, which gives the same value or the
        // same fault.
        let mut start = 0;
        let mut col = 0;
        loop {
            let rest = &record[start..];
            let mut end = None;
            if col < self.n_cols {
                let f = self.feature_of[col];
                if f != NONE
                    && let Some((v, used)) = parse_plain_decimal(rest).or_else(|| {
                        fast_float2::parse_partial::<f64, _>(rest)
                            .ok()
                            .filter(|&(v, used)| {
                                v.is_finite() && rest.get(used).is_none_or(|&b| b == b',')
                            })
                    })
                {
                    features[f as usize] = v;
                    let i = self.id_of[col];
                    if i != NONE {
                        id_fields[i as usize] = &rest[..used];
                    }
                    end = Some(start + used);
                }
            }
            let end = match end {
                Some(e) => e,
                None => {
                    let e = memchr(b',', rest).map_or(record.len(), |i| start + i);
                    if col < self.n_cols {
                        self.take_field(col, &record[start..e], features, &mut id_fields)?;
                    }
                    e
                }
            };
            col += 1;
            if end == record.len() {
                break;
            }
            start = end + 1;
        }
        if col != self.n_cols {
            return Err(self.ragged(col));
        }
        ids(&id_fields[..self.n_ids]);
        Ok(())
    }

    fn parse_quoted(
        &self,
        record: &[u8],
        features: &mut [f64],
        ids: impl FnOnce(&[&[u8]]),
    ) -> Result<(), RowFault> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(record);
        let mut rec = csv::ByteRecord::new();
        match reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => return Err(self.ragged(0)),
            Err(e) => {
                return Err(RowFault {
                    reason: format!("malformed CSV: {e}"),
                });
            }
        }
        if rec.len() != self.n_cols {
            return Err(self.ragged(rec.len()));
        }
        let mut id_fields: Vec<&[u8]> = vec![&[]; self.n_ids];
        for (col, field) in rec.iter().enumerate() {
            self.take_field(col, field, features, &mut id_fields)?;
        }
        ids(&id_fields);
        Ok(())
    }

    #[inline]
    fn take_field<'a>(
        &self,
        col: usize,
        field: &'a [u8],
        features: &mut [f64],
        id_fields: &mut [&'a [u8]],
    ) -> Result<(), RowFault> {
        let f = self.feature_of[col];
        if f != NONE {
            features[f as usize] = self.parse_float(col, field)?;
        }
        let i = self.id_of[col];
        if i != NONE {
            id_fields[i as usize] = field;
        }
        Ok(())
    }

    #[inline]
    fn parse_float(&self, col: usize, field: &[u8]) -> Result<f64, RowFault> {
        let trimmed = field.trim_ascii();
        match fast_float2::parse::<f64, _>(trimmed) {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(self.fault(col, field, "is not a finite number")),
            Err(_) if trimmed.is_empty() => Err(self.fault(col, field, "is empty (missing value)")),
            Err(_) => Err(self.fault(col, field, "is not a number")),
        }
    }

    fn fault(&self, col: usize, field: &[u8], what: &str) -> RowFault {
        let mut value = String::from_utf8_lossy(field).into_owned();
        if value.len() > 200 {
            let mut cut = 200;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        RowFault {
            reason: format!("column '{}' value '{value}' {what}", self.names[col]),
        }
    }

    fn ragged(&self, found: usize) -> RowFault {
        RowFault {
            reason: format!(
                "the row has {found} field(s), the header has {}",
                self.n_cols
            ),
        }
    }
}

/// Parses a plain decimal (`-?digits` or `-?digits.digits`, at most 15 digits in all) at the
/// start of `b` that ends at a comma or at the end of `b`: its value and length, or `None` for
/// anything else (which fast-float2 then parses).
///
/// Hand-written because it is the shape nearly every feature field has, and parsing it in place
/// (eight fraction digits at once) takes half the time of a general parser, which must look for
/// exponents and long mantissas. The value is exact: at most 15 digits make an integer m below
/// 2^53 and the fraction's length e is at most 15, so m and 10^e are exact doubles and their
/// IEEE quotient is the correctly rounded value of the text (Clinger's fast path) — the same
/// double any correct parser, fast-float2 included, returns.
#[inline]
fn parse_plain_decimal(b: &[u8]) -> Option<(f64, usize)> {
    const MAX_DIGITS: usize = 15;
    let neg = b.first() == Some(&b'-');
    let mut i = usize::from(neg);
    let mut m: u64 = 0;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        m = m * 10 + u64::from(d);
        i += 1;
        if i - usize::from(neg) > MAX_DIGITS {
            return None;
        }
    }
    let int_digits = i - usize::from(neg);
    if int_digits == 0 {
        return None;
    }
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        if let Some(eight) = b.get(i..i + 8) {
            let t = u64::from_le_bytes(eight.try_into().ok()?).wrapping_sub(0x3030_3030_3030_3030);
            // a byte's high bit marks a non-digit: below '0' it borrows, above '9' adding 0x76
            // carries into it; a borrow only reaches bytes after the first non-digit
            let non_digit = (t | t.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
            let n = (non_digit.trailing_zeros() / 8) as usize;
            if int_digits + n > MAX_DIGITS {
                return None;
            }
            if n > 0 {
                // the n digits to the top bytes: the bytes below read as leading zeros
                let digits = if n == 8 { t } else { t << (8 * (8 - n)) };
                m = m * POW10_U64[n] + eight_digits(digits);
                frac = n;
                i += n;
            }
        }
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if int_digits + frac + 1 > MAX_DIGITS {
                return None;
            }
            m = m * 10 + u64::from(d);
            frac += 1;
            i += 1;
        }
    }
    if b.get(i).is_some_and(|&c| c != b',') {
        return None;
    }
    let v = m as f64 / POW10_F64[frac];
    // v >= +0, so setting the sign bit is negation, without a branch on a random sign
    Some((f64::from_bits(v.to_bits() | (u64::from(neg) << 63)), i))
}

const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

const POW10_F64: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of eight digit bytes (each 0..=9, the first in the lowest byte): pairs, then
/// quads, then the whole, in three multiplications.
#[inline]
fn eight_digits(t: u64) -> u64 {
    let pairs = t.wrapping_mul(10).wrapping_add(t >> 8);
    let low = (pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    low.wrapping_add(high) >> 32
}

/// Appends `fields` to `out` as CSV, comma-separated, quoting a field only when it needs it.
pub fn encode_ids(fields: &[&[u8]], out: &mut Vec<u8>) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode_field(f, out);
    }
}

/// Appends one CSV field, quoted when it holds a comma, quote, CR or LF.
pub fn encode_field(f: &[u8], out: &mut Vec<u8>) {
    if f.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for &b in f {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(f);
    }
}

/// Parses a header record (BOM and line end already removed) into column names.
pub fn parse_header(record: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(record);
    let mut rec = csv::StringRecord::new();
    match reader.read_record(&mut rec) {
        Ok(true) => Ok(rec.iter().map(|s| s.trim().to_owned()).collect()),
        Ok(false) => Err("the header line is empty".into()),
        Err(e) => Err(format!("the header is not valid UTF-8 CSV: {e}")),
    }
}

/// Strips a trailing `\n` or `\r\n`.
pub fn trim_line_end(record: &[u8]) -> &[u8] {
    let r = record.strip_suffix(b"\n").unwrap_or(record);
    r.strip_suffix(b"\r").unwrap_or(r)
}

/// Splits a chunk (which starts at a record start) into records, each with its line end.
/// `quoted` says the chunk contains a `"`, so newlines inside quotes must be skipped.
pub fn records(chunk: &[u8], quoted: bool) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= chunk.len() {
            return None;
        }
        let end = if quoted {
            quoted_record_end(chunk, pos)
        } else {
            memchr(b'\n', &chunk[pos..]).map(|i| pos + i + 1)
        }
        .unwrap_or(chunk.len());
        let rec = &chunk[pos..end];
        pos = end;
        Some(rec)
    })
}

/// The end (after its `\n`) of the record starting at `from`, minding quotes.
fn quoted_record_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut in_quotes = false;
    let mut i = from;
    while i < buf.len() {
        let rest = &buf[i..];
        let hit = if in_quotes {
            memchr(b'"', rest)
        } else {
            memchr::memchr2(b'"', b'\n', rest)
        }?;
        i += hit;
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
        } else {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The end of the last complete record in `buf` (which starts at a record start).
fn last_record_end(buf: &[u8]) -> Option<usize> {
    if memchr(b'"', buf).is_none() {
        return memrchr(b'\n', buf).map(|i| i + 1);
    }
    let mut pos = 0;
    let mut last = None;
    while let Some(end) = quoted_record_end(buf, pos) {
        last = Some(end);
        pos = end;
    }
    last
}

/// The end of the record of `buf` (which starts at a record start) that holds byte `at`, or
/// `None` when that record runs past the buffer.
fn end_of_record_covering(buf: &[u8], at: usize) -> Option<usize> {
    if memchr(b'"', buf).is_none() {
        return memchr(b'\n', &buf[at..]).map(|i| at + i + 1);
    }
    let mut pos = 0;
    loop {
        let end = quoted_record_end(buf, pos)?;
        if end > at {
            return Some(end);
        }
        pos = end;
    }
}

/// Counts the `"` bytes `reader` yields: their parity at a byte offset says whether that
/// offset lies inside a quoted field, which is what a byte-range shard needs to find its first
/// record start when quoted fields may hold newlines.
pub fn count_quotes(mut reader: impl Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut quotes = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(quotes),
            Ok(n) => quotes += memchr_iter(b'"', &buf[..n]).count() as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A piece of input made of whole records.
#[derive(Debug)]
pub struct Chunk {
    /// The records, each with its line end.
    pub data: Vec<u8>,
    /// Byte offset of `data[0]` in the file.
    pub offset: u64,
    /// Whether `data` holds a quote (records must be split minding quotes).
    pub quoted: bool,
}

/// Why reading chunks failed.
#[derive(Debug)]
pub enum ChunkError {
    /// The underlying read failed.
    Io(std::io::Error),
    /// A record longer than [`MAX_RECORD_BYTES`] starts at this offset.
    RecordTooLong { offset: u64 },
}

/// Cuts a byte stream into chunks of whole records, with bounded memory.
#[derive(Debug)]
pub struct Chunker<R> {
    reader: R,
    buf: Vec<u8>,
    offset: u64,
    eof: bool,
    done: bool,
    limit: Option<u64>,
}

impl<R: Read> Chunker<R> {
    /// A chunker over `reader`, whose first byte sits at `offset` in the file; records that
    /// start at or after `limit` are not returned (a byte-range shard's end).
    pub fn new(reader: R, offset: u64, limit: Option<u64>) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(CHUNK_BYTES + (64 << 10)),
            offset,
            eof: false,
            done: false,
            limit,
        }
    }

    /// Discards bytes up to the first record start: the first `\n` read outside quotes, given
    /// whether the reader starts inside a quoted field (`in_quotes`, from
    /// [`count_quotes`] over the bytes before it). A shard's reader starts one byte before its
    /// range, so a record starting exactly at the range start is kept.
    pub fn skip_to_record_start(&mut self, mut in_quotes: bool) -> Result<(), ChunkError> {
        loop {
            let mut i = 0;
            while i < self.buf.len() {
                let rest = &self.buf[i..];
                let hit = if in_quotes {
                    memchr(b'"', rest)
                } else {
                    memchr::memchr2(b'"', b'\n', rest)
                };
                let Some(hit) = hit else {
                    break;
                };
                i += hit;
                if self.buf[i] == b'"' {
                    in_quotes = !in_quotes;
                } else {
                    self.consume(i + 1);
                    return Ok(());
                }
                i += 1;
            }
            let n = self.buf.len();
            self.consume(n);
            if self.eof {
                return Ok(());
            }
            self.fill(CHUNK_BYTES)?;
        }
    }

    /// Takes the first record (the header), with its line end.
    pub fn take_record(&mut self) -> Result<Option<Vec<u8>>, ChunkError> {
        let mut want = 64 << 10;
        loop {
            self.fill(want)?;
            if self.buf.is_empty() {
                return Ok(None);
            }
            let end = if memchr(b'"', &self.buf).is_some() {
                quoted_record_end(&self.buf, 0)
            } else {
                memchr(b'\n', &self.buf).map(|i| i + 1)
            };
            match end {
                Some(e) => return Ok(Some(self.split_off(e))),
                None if self.eof => {
                    let n = self.buf.len();
                    return Ok(Some(self.split_off(n)));
                }
                None if self.buf.len() >= MAX_RECORD_BYTES => {
                    return Err(ChunkError::RecordTooLong {
                        offset: self.offset,
                    });
                }
                None => want = self.buf.len() * 2,
            }
        }
    }

    /// The next chunk of whole records, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ChunkError> {
        if self.done {
            return Ok(None);
        }
        let mut want = CHUNK_BYTES;
        loop {
            self.fill(want)?;
            if self.buf.is_empty() {
                self.done = true;
                return Ok(None);
            }
            if let Some(limit) = self.limit {
                if self.offset >= limit {
                    self.done = true;
                    return Ok(None);
                }
                // byte-range shards own the records that start before the limit
                let rel = (limit - self.offset) as usize;
                if rel <= self.buf.len() {
                    let owned_end = match end_of_record_covering(&self.buf, rel - 1) {
                        Some(end) => Some(end),
                        None if self.eof => Some(self.buf.len()),
                        None => None,
                    };
                    if let Some(end) = owned_end {
                        self.done = true;
                        return Ok(Some(self.emit(end)));
                    }
                }
            }
            match last_record_end(&self.buf) {
                Some(end) => return Ok(Some(self.emit(end))),
                None if self.eof => {
                    let n = self.buf.len();
                    return Ok(Some(self.emit(n)));
                }
                None if self.buf.len() >= MAX_RECORD_BYTES => {
                    return Err(ChunkError::RecordTooLong {
                        offset: self.offset,
                    });
                }
                None => want = self.buf.len() * 2,
            }
        }
    }

    fn emit(&mut self, end: usize) -> Chunk {
        let offset = self.offset;
        let data = self.split_off(end);
        let quoted = memchr(b'"', &data).is_some();
        Chunk {
            data,
            offset,
            quoted,
        }
    }

    /// Returns `buf[..end]`, keeping the rest in a fresh buffer (the rest is less than a record,
    /// so this copies little).
    fn split_off(&mut self, end: usize) -> Vec<u8> {
        let mut rest = Vec::with_capacity(CHUNK_BYTES.max(self.buf.len() - end) + (64 << 10));
        rest.extend_from_slice(&self.buf[end..]);
        let mut data = std::mem::replace(&mut self.buf, rest);
        data.truncate(end);
        self.offset += end as u64;
        data
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.offset += n as u64;
    }

    fn fill(&mut self, want: usize) -> Result<(), ChunkError> {
        while self.buf.len() < want && !self.eof {
            let room = (want - self.buf.len()).max(64 << 10);
            self.buf.reserve(room);
            // read_to_end reads into the spare capacity without zeroing it first (a file's
            // read_buf), where resizing the buffer cost a memset of every byte read
            match (&mut self.reader)
                .take(room as u64)
                .read_to_end(&mut self.buf)
            {
                Ok(n) => self.eof = n < room,
                Err(e) => return Err(ChunkError::Io(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The plain-decimal path must return exactly fast-float2's double, and decline (not guess)
    /// whatever it does not handle.
    fn agrees(text: &str) {
        let field = text.split(',').next().unwrap();
        match parse_plain_decimal(text.as_bytes()) {
            Some((v, used)) => {
                assert_eq!(used, field.len(), "{text:?}");
                let want = fast_float2::parse::<f64, _>(field).unwrap();
                assert_eq!(v.to_bits(), want.to_bits(), "{text:?}: {v} vs {want}");
            }
            None => {
                // declining is right only for what is not `-?digits(.digits)?` of <= 15 digits
                let body = field.strip_prefix('-').unwrap_or(field);
                let (int, frac) = body.split_once('.').unwrap_or((body, ""));
                let plain = !int.is_empty()
                    && int.bytes().all(|b| b.is_ascii_digit())
                    && frac.bytes().all(|b| b.is_ascii_digit())
                    && int.len() + frac.len() <= 15;
                assert!(!plain, "declined a plain decimal {text:?}");
            }
        }
    }

    #[test]
    fn plain_decimals_parse_to_the_correctly_rounded_double() {
        for t in [
            "0",
            "-0",
            "-0.0",
            "0.1",
            "-0.745622",
            "1.763987,x",
            "12345678.1234567",
            "1.",
            "-1.,",
            "123456789012345",
            "1234567890123456",
            "0.000000000000001",
            "9.99999999999999",
            "0.12345678",
            "0.123456789",
            "7.1234567,",
            "1e5",
            "1.5e3",
            ".5",
            "-",
            "",
            "+1",
            "1.5 ",
            "1.5x",
            "nan",
            "inf",
            "1..2",
            "00000000000000.1",
            "1,2",
        ] {
            agrees(t);
        }
    }

    proptest! {
        #[test]
        fn plain_decimal_agrees_with_fast_float(
            neg: bool,
            int in "[0-9]{1,9}",
            frac in proptest::option::of("[0-9]{0,12}"),
            tail in proptest::option::of(",[0-9a-z,.]{0,10}"),
        ) {
            let mut t = String::new();
            if neg { t.push('-'); }
            t.push_str(&int);
            if let Some(f) = frac { t.push('.'); t.push_str(&f); }
            t.push_str(&tail.unwrap_or_default());
            agrees(&t);
        }

        #[test]
        fn any_text_is_parsed_alike_or_declined(t in "[-0-9.,eE+ a]{0,24}") {
            if let Some((v, used)) = parse_plain_decimal(t.as_bytes()) {
                let want = fast_float2::parse::<f64, _>(&t[..used]).unwrap();
                prop_assert_eq!(v.to_bits(), want.to_bits());
                prop_assert!(t.as_bytes().get(used).is_none_or(|&b| b == b','));
            }
        }
    }
}
