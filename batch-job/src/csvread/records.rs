//! Record splitting: a chunk cut into records (segments) at the line ends outside quoted fields,
//! as the csv crate delimits them, and the record ends a chunker needs to find.

use memchr::{memchr, memchr_iter, memchr2, memchr3, memrchr, memrchr2};

/// Which bytes a piece of input holds, which decides how cheaply it splits into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No `"` and no CR: a record ends at each LF (the common case, split by memchr alone).
    Plain,
    /// No `"`: records end at LF, CRLF or a lone CR.
    NoQuotes,
    /// Holds a `"`: a line end inside a quoted field does not end the record.
    Quotes,
}

impl Shape {
    /// The shape of `data`.
    pub fn of(data: &[u8]) -> Self {
        if memchr(b'"', data).is_some() {
            Shape::Quotes
        } else if memchr(b'\r', data).is_some() {
            Shape::NoQuotes
        } else {
            Shape::Plain
        }
    }
}

/// One record of a chunk as the csv crate delimits it: its bytes and its line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// The record with its line end (`\n`, `\r\n` or `\r`; none at the end of the input).
    pub raw: &'a [u8],
    /// The record without its line end; empty for a blank line, which is not a record.
    pub record: &'a [u8],
}

/// Splits a chunk (which starts at a record start and ends at a record end or at the end of the
/// input) into segments, one per line end outside quoted fields.
pub fn records(chunk: &[u8], shape: Shape) -> impl Iterator<Item = Segment<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= chunk.len() {
            return None;
        }
        let (content_end, end) = match shape {
            Shape::Plain => memchr(b'\n', &chunk[pos..]).map(|i| (pos + i, pos + i + 1)),
            Shape::NoQuotes => segment_end(chunk, pos, false, true),
            Shape::Quotes => segment_end(chunk, pos, true, true),
        }
        .unwrap_or((chunk.len(), chunk.len()));
        let seg = Segment {
            raw: &chunk[pos..end],
            record: &chunk[pos..content_end],
        };
        pos = end;
        Some(seg)
    })
}

/// Physical lines a segment spans: its LFs plus its CRs not followed by LF, at least one.
pub fn line_breaks(raw: &[u8]) -> u64 {
    let lf = memchr_iter(b'\n', raw).count();
    let lone_cr = memchr_iter(b'\r', raw)
        .filter(|&i| raw.get(i + 1) != Some(&b'\n'))
        .count();
    ((lf + lone_cr) as u64).max(1)
}

/// The segment that starts at `from` (a record start) in `buf`: `(content_end, end)`, where
/// `buf[from..content_end]` is the record and `buf[content_end..end]` its line end. `None` when
/// `buf` ends before the segment is known to end (a CR is the last byte and an LF may follow,
/// or a quoted field is still open); with `eof`, the segment then runs to the end of `buf`, as
/// the csv crate reads an unterminated last line or an unclosed quote.
///
/// The csv crate's rules (csv-core's reader with the default settings): a `"` opens a quoted
/// field only as a field's first byte, anywhere else it is a literal character; inside a quoted
/// field `""` is a quote and the next lone `"` closes it (bytes after the close up to the next
/// comma or line end are field data, and a `"` among them is literal); LF, CR and CRLF end a
/// record outside quotes; blank lines are not records.
pub(super) fn segment_end(
    buf: &[u8],
    from: usize,
    quotes: bool,
    eof: bool,
) -> Option<(usize, usize)> {
    let n = buf.len();
    let mut i = from;
    loop {
        let hit = if quotes {
            memchr3(b'"', b'\n', b'\r', &buf[i..])
        } else {
            memchr2(b'\n', b'\r', &buf[i..])
        };
        let Some(hit) = hit else {
            return eof.then_some((n, n));
        };
        let p = i + hit;
        match buf[p] {
            b'\n' => return Some((p, p + 1)),
            b'\r' => {
                return match buf.get(p + 1) {
                    Some(b'\n') => Some((p, p + 2)),
                    Some(_) => Some((p, p + 1)),
                    None => eof.then_some((p, p + 1)),
                };
            }
            _ => {
                // bytes from `i` up to `p` hold no quote or line end, so the byte before `p` is
                // a comma exactly when `p` starts a field
                if p != from && buf[p - 1] != b',' {
                    i = p + 1;
                    continue;
                }
                let mut j = p + 1;
                loop {
                    let Some(q) = memchr(b'"', &buf[j..]) else {
                        return eof.then_some((n, n));
                    };
                    let q = j + q;
                    match buf.get(q + 1) {
                        Some(b'"') => j = q + 2,
                        Some(_) => {
                            i = q + 1;
                            break;
                        }
                        None => return eof.then_some((n, n)),
                    }
                }
            }
        }
    }
}

/// The end of the last segment of `buf` (which starts at a record start) known to be complete.
pub(super) fn last_record_end(buf: &[u8], eof: bool) -> Option<usize> {
    match Shape::of(buf) {
        Shape::Plain => memrchr(b'\n', buf).map(|i| i + 1),
        Shape::NoQuotes => {
            let p = memrchr2(b'\n', b'\r', buf)?;
            if p + 1 == buf.len() && buf[p] == b'\r' && !eof {
                // an LF may follow in the next read: end at the line end before this CR
                memrchr2(b'\n', b'\r', &buf[..p]).map(|i| i + 1)
            } else {
                Some(p + 1)
            }
        }
        Shape::Quotes => {
            let mut pos = 0;
            let mut last = None;
            while pos < buf.len() {
                match segment_end(buf, pos, true, false) {
                    Some((_, end)) => {
                        last = Some(end);
                        pos = end;
                    }
                    None => break,
                }
            }
            last
        }
    }
}

/// The end of the segment of `buf` (which starts at a record start) that holds byte `at`, or
/// `None` when that segment runs past the buffer.
pub(super) fn end_of_record_covering(buf: &[u8], at: usize, eof: bool) -> Option<usize> {
    match Shape::of(buf) {
        // without quotes the segment holding `at` ends at the first line end from `at` on
        Shape::Plain | Shape::NoQuotes => segment_end(buf, at, false, eof).map(|(_, e)| e),
        Shape::Quotes => {
            let mut pos = 0;
            loop {
                let (_, end) = segment_end(buf, pos, true, eof)?;
                if end > at {
                    return Some(end);
                }
                pos = end;
            }
        }
    }
}
