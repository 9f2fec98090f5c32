//! Chunking: an input cut into chunks of whole records with bounded memory, and a piece of a
//! file (a shard's byte range) opened at its first record, after the header.

use std::io::Read;

use memchr::memchr;

use super::count::{ScanState, scan_prefix};
use super::records::{Shape, end_of_record_covering, last_record_end, line_breaks, segment_end};
use super::{BOM, CHUNK_BYTES, MAX_RECORD_BYTES};

/// A piece of input made of whole records.
#[derive(Debug)]
pub struct Chunk {
    /// The records, each with its line end.
    pub data: Vec<u8>,
    /// Byte offset of `data[0]` in the file.
    pub offset: u64,
    /// What `data` holds (how to split it).
    pub shape: Shape,
    /// Whether `data` runs to the end of the input (else it ends at a record end).
    pub eof: bool,
}

/// Why reading chunks failed.
#[derive(Debug)]
pub enum ChunkError {
    /// The underlying read failed.
    Io(std::io::Error),
    /// A record longer than [`MAX_RECORD_BYTES`] starts at this offset.
    RecordTooLong { offset: u64 },
}

/// Why a piece of input could not be opened.
#[derive(Debug)]
pub enum OpenError<E> {
    /// Opening a byte range failed.
    Open(E),
    /// Reading failed.
    Chunk(ChunkError),
}

impl<E> From<ChunkError> for OpenError<E> {
    fn from(e: ChunkError) -> Self {
        OpenError::Chunk(e)
    }
}

/// One input file's header, and a chunker at the first data record a piece of it owns.
#[derive(Debug)]
pub struct OpenedPiece<R> {
    /// The header record (without BOM or line end).
    pub header: Vec<u8>,
    /// Chunks of the records the piece owns.
    pub chunker: Chunker<R>,
    /// The physical line number of the first data record, when the piece starts at the file's
    /// start (a shard starting mid-file knows only byte offsets).
    pub first_line: Option<u64>,
}

/// Opens a file for reading the records that start in `range` (all of them for `None`) through
/// `open`, which returns a reader over a byte range of the file (`None`: all of it); `size` is
/// the file's size (used with a range). `None` when the file has no header (it is empty or
/// holds only blank lines).
///
/// The header is the first record (after an optional BOM and blank lines). A shard starting
/// mid-file reads everything before its range once more to learn whether its first byte lies
/// inside a record or a quoted field ([`scan_prefix`]), so every shard agrees with the
/// unsharded read on where records begin.
pub fn open_piece<R: Read, E>(
    mut open: impl FnMut(Option<std::ops::Range<u64>>) -> Result<R, E>,
    size: u64,
    range: Option<(u64, u64)>,
    chunk_bytes: usize,
) -> Result<Option<OpenedPiece<R>>, OpenError<E>> {
    let limit = range.map(|(_, e)| e);
    let mut chunker =
        Chunker::new(open(None).map_err(OpenError::Open)?, 0, limit).chunk_bytes(chunk_bytes);
    chunker.skip_bom()?;
    let mut lines = 0;
    let header = loop {
        let Some((raw, content)) = chunker.take_record()? else {
            return Ok(None);
        };
        lines += line_breaks(&raw);
        if content > 0 {
            break raw[..content].to_vec();
        }
    };
    let start = range.map_or(0, |(s, _)| s);
    if start <= chunker.offset {
        return Ok(Some(OpenedPiece {
            header,
            chunker,
            first_line: Some(lines + 1),
        }));
    }
    drop(chunker);
    let state = scan_prefix(open(Some(0..start)).map_err(OpenError::Open)?)
        .map_err(|e| OpenError::Chunk(ChunkError::Io(e)))?;
    let mut chunker = Chunker::new(
        open(Some(start..size)).map_err(OpenError::Open)?,
        start,
        limit,
    )
    .chunk_bytes(chunk_bytes);
    chunker.skip_to_record_start(state)?;
    Ok(Some(OpenedPiece {
        header,
        chunker,
        first_line: None,
    }))
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
    chunk_bytes: usize,
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
            chunk_bytes: CHUNK_BYTES,
        }
    }

    /// Cuts chunks of about `n` bytes (and reads at most `n` at a time) instead of
    /// [`CHUNK_BYTES`]: tests use tiny chunks to put chunk ends everywhere.
    pub fn chunk_bytes(mut self, n: usize) -> Self {
        self.chunk_bytes = n.max(1);
        self
    }

    /// Offset in the file of the next byte a chunk would hold.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Drops a UTF-8 BOM at the start of the stream (call it only at the file's start).
    pub fn skip_bom(&mut self) -> Result<(), ChunkError> {
        self.fill(BOM.len())?;
        if self.buf.starts_with(BOM) {
            self.consume(BOM.len());
        }
        Ok(())
    }

    /// Discards bytes up to the first record start, reading on from `state` (the
    /// [`ScanState`] of everything before the reader's first byte, from [`scan_prefix`]).
    pub fn skip_to_record_start(&mut self, mut state: ScanState) -> Result<(), ChunkError> {
        // byte by byte, but only to the end of the record the range starts in
        loop {
            let mut used = 0;
            while state != ScanState::RecordStart && used < self.buf.len() {
                state = state.step(self.buf[used]).0;
                used += 1;
            }
            self.consume(used);
            if state == ScanState::RecordStart || self.eof {
                return Ok(());
            }
            self.fill(self.chunk_bytes)?;
        }
    }

    /// Takes the next segment (the header, or a blank line before it): its bytes with the line
    /// end, and the length of the record without it.
    pub fn take_record(&mut self) -> Result<Option<(Vec<u8>, usize)>, ChunkError> {
        let mut want = self.chunk_bytes.min(64 << 10);
        loop {
            self.fill(want)?;
            if self.buf.is_empty() {
                return Ok(None);
            }
            let quotes = memchr(b'"', &self.buf).is_some();
            match segment_end(&self.buf, 0, quotes, self.eof) {
                Some((content, end)) => return Ok(Some((self.split_off(end), content))),
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
        let mut want = self.chunk_bytes;
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
                    let owned_end = match end_of_record_covering(&self.buf, rel - 1, self.eof) {
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
            match last_record_end(&self.buf, self.eof) {
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
        let eof = self.eof && end == self.buf.len();
        let data = self.split_off(end);
        let shape = Shape::of(&data);
        Chunk {
            data,
            offset,
            shape,
            eof,
        }
    }

    /// Returns `buf[..end]`, keeping the rest in a fresh buffer (the rest is less than a record,
    /// so this copies little).
    fn split_off(&mut self, end: usize) -> Vec<u8> {
        let keep = self.chunk_bytes.max(self.buf.len() - end) + (64 << 10).min(self.chunk_bytes);
        let mut rest = Vec::with_capacity(keep);
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
            let room = (want - self.buf.len()).max((64 << 10).min(self.chunk_bytes));
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
