//! JSON Lines: one JSON object per line. Lines are cut into chunks at line ends (a JSON text
//! never holds a raw newline), and each line is read into the model's features and the ids.
//!
//! A missing key, a null, or a value that is not a number (booleans count as 1 and 0, as in
//! Parquet) makes the line a bad row that names the key; a line that is not a JSON object is a
//! bad row too. Blank lines are not rows.

use std::io::Read;

use serde_json::{Map, Value};

use crate::csvread::{Chunk, ChunkError, MAX_RECORD_BYTES, Shape, encode_field};

/// How the keys of a file's objects map to the model's features and the id columns.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    /// The key of each feature, in model order.
    pub features: Vec<String>,
    /// The id keys, in output order.
    pub ids: Vec<String>,
}

impl KeyPlan {
    /// Reads one line into `features` and the id values, CSV-encoded and comma-separated,
    /// appended to `ids_out`; the reason names the key at fault.
    pub fn parse_line(
        &self,
        line: &[u8],
        features: &mut [f64],
        ids_out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let object: Map<String, Value> = serde_json::from_slice(line).map_err(|e| {
            if e.is_data() {
                "the line is not a JSON object".to_owned()
            } else {
                format!("the line is not valid JSON: {e}")
            }
        })?;
        for (slot, key) in features.iter_mut().zip(&self.features) {
            *slot = match object.get(key) {
                None => return Err(format!("key '{key}' is missing")),
                Some(Value::Number(n)) => n
                    .as_f64()
                    .ok_or_else(|| format!("key '{key}': {n} is not a finite number"))?,
                Some(Value::Bool(b)) => f64::from(u8::from(*b)),
                Some(Value::Null) => return Err(format!("key '{key}' is null")),
                Some(other) => {
                    return Err(format!(
                        "key '{key}': {} is not a number",
                        truncated(&other.to_string())
                    ));
                }
            };
        }
        for (i, key) in self.ids.iter().enumerate() {
            if i > 0 {
                ids_out.push(b',');
            }
            match object.get(key) {
                None => return Err(format!("id key '{key}' is missing")),
                Some(Value::String(s)) => encode_field(s.as_bytes(), ids_out),
                Some(Value::Null) => {}
                Some(other) => encode_field(other.to_string().as_bytes(), ids_out),
            }
        }
        Ok(())
    }
}

fn truncated(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// Rows in `data` by an independent count: lines holding anything but whitespace.
pub fn count_lines(data: &[u8]) -> u64 {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64
}

/// Cuts a stream into chunks of whole lines, with bounded memory; lines that start at or after
/// `limit` (a byte-range shard's end) are not returned.
#[derive(Debug)]
pub struct LineChunker<R> {
    reader: R,
    buf: Vec<u8>,
    offset: u64,
    eof: bool,
    done: bool,
    limit: Option<u64>,
    chunk_bytes: usize,
}

impl<R: Read> LineChunker<R> {
    /// A chunker over `reader`, whose first byte sits at `offset` in the file.
    pub fn new(reader: R, offset: u64, limit: Option<u64>, chunk_bytes: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            offset,
            eof: false,
            done: false,
            limit,
            chunk_bytes: chunk_bytes.max(1),
        }
    }

    /// Offset in the file of the next byte a chunk would hold.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Drops the bytes up to and including the first line end: a shard that starts mid-file
    /// opens one byte early and so begins at the first line starting in its range.
    pub fn skip_partial_line(&mut self) -> Result<(), ChunkError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                self.buf.drain(..=i);
                self.offset += i as u64 + 1;
                return Ok(());
            }
            self.offset += self.buf.len() as u64;
            self.buf.clear();
            if self.eof {
                self.done = true;
                return Ok(());
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), ChunkError> {
        let start = self.buf.len();
        self.buf.resize(start + self.chunk_bytes, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(ChunkError::Io(e));
                }
            }
        };
        self.buf.truncate(start + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next chunk of whole lines, `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ChunkError> {
        if self.done {
            return Ok(None);
        }
        // at least one line end past chunk_bytes, or the end of the input
        while !self.eof
            && (self.buf.len() < self.chunk_bytes || memchr::memchr(b'\n', &self.buf).is_none())
        {
            if self.buf.len() > MAX_RECORD_BYTES && memchr::memchr(b'\n', &self.buf).is_none() {
                return Err(ChunkError::RecordTooLong {
                    offset: self.offset,
                });
            }
            self.fill()?;
        }
        let mut cut = if self.eof {
            self.buf.len()
        } else {
            memchr::memrchr(b'\n', &self.buf).map_or(self.buf.len(), |i| i + 1)
        };
        if let Some(limit) = self.limit {
            if self.offset >= limit {
                self.done = true;
                return Ok(None);
            }
            // the first line starting at or after the limit ends the piece
            let before = (limit - self.offset) as usize;
            if before < cut {
                let end = memchr::memchr(b'\n', &self.buf[before.saturating_sub(1)..cut])
                    .map(|i| before.saturating_sub(1) + i + 1);
                if let Some(end) = end {
                    cut = end;
                    self.done = true;
                }
            }
        }
        if cut == 0 {
            self.done = true;
            return Ok(None);
        }
        let rest = self.buf.split_off(cut);
        let data = std::mem::replace(&mut self.buf, rest);
        let chunk = Chunk {
            data,
            offset: self.offset,
            shape: Shape::Plain,
            eof: self.eof && self.buf.is_empty(),
        };
        self.offset += cut as u64;
        if chunk.eof {
            self.done = true;
        }
        Ok(Some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> KeyPlan {
        KeyPlan {
            features: vec!["a".into(), "b".into()],
            ids: vec!["id".into()],
        }
    }

    fn check(line: &str, expected: Result<(&[f64], &str), &str>) {
        let mut f = [0.0; 2];
        let mut ids = Vec::new();
        let got = plan().parse_line(line.as_bytes(), &mut f, &mut ids);
        match expected {
            Ok((feats, id)) => {
                assert_eq!(got, Ok(()), "{line}");
                assert_eq!(
                    (&f[..], String::from_utf8(ids).unwrap().as_str()),
                    (feats, id),
                    "{line}"
                );
            }
            Err(reason) => {
                let e = got.unwrap_err();
                assert!(e.contains(reason), "{line}: '{e}' lacks '{reason}'");
            }
        }
    }

    #[test]
    fn a_line_gives_features_and_ids_or_names_the_key_at_fault() {
        check(
            r#"{"id": "x,1", "a": 1.5, "b": -2, "z": [1]}"#,
            Ok((&[1.5, -2.0], "\"x,1\"")),
        );
        check(
            r#"{"b": true, "a": 1e3, "id": 7}"#,
            Ok((&[1000.0, 1.0], "7")),
        );
        check(r#"{"id": null, "a": 0, "b": false}"#, Ok((&[0.0, 0.0], "")));
        check(r#"{"id": 1, "a": 1}"#, Err("key 'b' is missing"));
        check(r#"{"id": 1, "a": null, "b": 1}"#, Err("key 'a' is null"));
        check(
            r#"{"id": 1, "a": "3.5", "b": 1}"#,
            Err("key 'a': \"3.5\" is not a number"),
        );
        check(r#"{"a": 1, "b": 1}"#, Err("id key 'id' is missing"));
        check(r#"[1, 2]"#, Err("not a JSON object"));
        check(r#"{"id": 1, "a": 1"#, Err("not valid JSON"));
    }

    fn chunks(text: &str, start: u64, limit: Option<u64>, size: usize) -> Vec<String> {
        let mut c = LineChunker::new(&text.as_bytes()[start as usize..], start, limit, size);
        if start > 0 {
            c = LineChunker::new(
                &text.as_bytes()[start as usize - 1..],
                start - 1,
                limit,
                size,
            );
            c.skip_partial_line().unwrap();
        }
        let mut out = Vec::new();
        while let Some(ch) = c.next_chunk().unwrap() {
            assert_eq!(
                &text.as_bytes()[ch.offset as usize..][..ch.data.len()],
                &ch.data[..]
            );
            out.push(String::from_utf8(ch.data).unwrap());
        }
        out
    }

    #[test]
    fn byte_range_shards_take_each_line_once_whatever_the_chunk_size() {
        let text = "{\"a\":1}\n\n{\"a\":22}\n{\"a\":333}\n{\"a\":4}";
        for size in [1, 3, 7, 64] {
            for cuts in [
                vec![0, 40],
                vec![0, 8, 40],
                vec![0, 9, 10, 19, 40],
                vec![0, 5, 21, 40],
            ] {
                let mut all = String::new();
                for w in cuts.windows(2) {
                    let end = w[1].min(text.len() as u64);
                    all.extend(chunks(text, w[0], Some(end), size));
                }
                assert_eq!(all, text, "size {size} cuts {cuts:?}");
            }
        }
        assert_eq!(count_lines(text.as_bytes()), 4);
    }
}
