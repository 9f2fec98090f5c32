//! Text inputs: text-delimited files (CSV), JSON documents and JSON Lines.
//!
//! CSV follows the rules of AWS's "How Step Functions parses input CSV files" (quoted at each
//! rule below) rather than RFC 4180: doubled quotes are kept as one quote inside a field
//! whether or not the field is quoted, backslashes escape, and a row with fewer or more fields
//! than the header is padded or cut rather than refused.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::{Values, read_at_most};
use crate::engine::payload::json_size;
use crate::model::distributed::CsvHeader;

/// Largest JSON document read (a JSON document is parsed whole; every other text input
/// streams).
pub const MAX_JSON_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

/// Largest item read from a text-delimited, JSON or JSON Lines file: "Step Functions supports
/// reading an item of up to 8 MB from a text delimited file, JSON, or JSON Lines file if you
/// then apply the optional ItemSelector field to reduce the item's size" (AWS, ItemReader
/// (Map)). Measured as the item's bytes in the file (a CSV row, a JSON Lines line, a JSON
/// element as serialized).
pub const MAX_ITEM_BYTES: usize = 8 * 1024 * 1024;

/// Largest CSV header: "Currently, Step Functions supports CSV headers of up to 10 KiB" (AWS,
/// ItemReader (Map), the `CSVHeaderLocation` section of earlier versions of the page).
pub const MAX_CSV_HEADER_BYTES: usize = 10 * 1024;

/// CSV rows as objects keyed by the header.
pub(super) fn csv_items<'s>(
    body: Box<dyn Read + Send + 's>,
    uri: String,
    header: &CsvHeader,
    delimiter: u8,
) -> Result<Values<'s>, String> {
    let mut rows = Records::new(BufReader::with_capacity(64 * 1024, body), delimiter);
    let mut fields = Vec::new();
    let (headers, header_bytes) = match header {
        CsvHeader::Given(h) => (
            h.clone(),
            h.iter().map(String::len).sum::<usize>() + h.len().saturating_sub(1),
        ),
        CsvHeader::FirstRow => match rows.next_record(&mut fields, MAX_CSV_HEADER_BYTES) {
            Ok(Some(bytes)) => (std::mem::take(&mut fields), bytes),
            Ok(None) => (Vec::new(), 0),
            Err(RecordError::TooLong(line)) => {
                return Err(format!(
                    "The CSV header at line {line} of {uri} is over {MAX_CSV_HEADER_BYTES} bytes (10 KiB), the longest header AWS reads"
                ));
            }
            Err(e) => return Err(e.message(&uri)),
        },
    };
    if header_bytes > MAX_CSV_HEADER_BYTES {
        return Err(format!(
            "The CSVHeaders given for {uri} are {header_bytes} bytes, over {MAX_CSV_HEADER_BYTES} bytes (10 KiB), the longest header AWS reads"
        ));
    }
    if headers.is_empty() {
        return Ok(Box::new(std::iter::empty()));
    }
    let mut failed = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match rows.next_record(&mut fields, MAX_ITEM_BYTES) {
            Ok(None) => None,
            Ok(Some(_)) => {
                // "If the number of fields in a row is less than the number of fields in the
                // header, Step Functions provides empty strings for the missing values." and
                // "If the number of fields in a row is more than the number of fields in the
                // header, Step Functions skips the additional fields."
                let mut values = fields.drain(..);
                let m: Map<String, Value> = headers
                    .iter()
                    .map(|h| (h.clone(), Value::String(values.next().unwrap_or_default())))
                    .collect();
                Some(Ok(Value::Object(m)))
            }
            Err(RecordError::TooLong(line)) => {
                failed = true;
                Some(Err(format!(
                    "The CSV row at line {line} of {uri} is over {MAX_ITEM_BYTES} bytes (8 MiB), the largest item AWS reads from a file"
                )))
            }
            Err(e) => {
                failed = true;
                Some(Err(e.message(&uri)))
            }
        }
    })))
}

/// Why a CSV record could not be read.
enum RecordError {
    /// The record starting at this line is longer than allowed.
    TooLong(u64),
    /// A field starting at this line is not UTF-8.
    NotUtf8(u64),
    /// The object could not be read.
    Io(u64, std::io::Error),
}

impl RecordError {
    fn message(&self, uri: &str) -> String {
        match self {
            RecordError::TooLong(line) => {
                format!("The CSV row at line {line} of {uri} is too long")
            }
            RecordError::NotUtf8(line) => format!(
                "The CSV row at line {line} of {uri} is not UTF-8 text; save the file as UTF-8"
            ),
            RecordError::Io(line, e) => {
                format!("The CSV at line {line} of {uri} could not be read: {e}")
            }
        }
    }
}

/// Where the parser is within a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// After a `"` inside a quoted field: a second `"` is a literal quote, anything else ends
    /// the quoted part.
    QuoteInQuoted,
    /// After a `"` inside an unquoted field: a second `"` is a literal quote.
    QuoteInUnquoted,
    /// After a `\`, with where to go back to.
    Backslash(Back),
}

/// Where a backslash escape returns to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Back {
    Unquoted,
    Quoted,
}

/// A text-delimited file's records, split by AWS's rules.
struct Records<R> {
    input: R,
    parser: Parser,
}

/// The splitting state of [`Records`], apart from its input so both can be borrowed at once.
struct Parser {
    delimiter: u8,
    /// The line the next record starts on (1-based).
    line: u64,
    /// A `\r` ended the last record: a `\n` right after it belongs to that line end.
    after_cr: bool,
    field: Vec<u8>,
}

impl<R: BufRead> Records<R> {
    fn new(input: R, delimiter: u8) -> Records<R> {
        Records {
            input,
            parser: Parser {
                delimiter,
                line: 1,
                after_cr: false,
                field: Vec::new(),
            },
        }
    }

    /// Reads the next record's fields into `fields` (cleared first) and says how many bytes it
    /// was, delimiters and quotes included; `None` at the end of the input. Empty lines are not
    /// records (so a file's final newline adds none).
    fn next_record(
        &mut self,
        fields: &mut Vec<String>,
        max_bytes: usize,
    ) -> Result<Option<usize>, RecordError> {
        loop {
            fields.clear();
            self.parser.field.clear();
            let start = self.parser.line;
            let Some(bytes) = self.record(fields, max_bytes, start)? else {
                return Ok(None);
            };
            if !(fields.len() == 1 && fields[0].is_empty() && bytes == 0) {
                return Ok(Some(bytes));
            }
        }
    }

    /// Reads one record and says how many bytes it was; `None` when the input ended before
    /// any byte of it.
    fn record(
        &mut self,
        fields: &mut Vec<String>,
        max_bytes: usize,
        start: u64,
    ) -> Result<Option<usize>, RecordError> {
        let mut at = At::FieldStart;
        let mut bytes = 0usize;
        let mut any = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RecordError::Io(start, e)),
            };
            if buf.is_empty() {
                if !any {
                    return Ok(None);
                }
                // the input ended inside the record: an open quote or a trailing backslash
                // ends with it, and a pending quote of an unquoted field is kept
                if at == At::QuoteInUnquoted {
                    self.parser.field.push(b'"');
                }
                self.parser.end_field(fields, start)?;
                return Ok(Some(bytes));
            }
            let mut used = 0;
            let mut done = false;
            for &b in buf {
                used += 1;
                if self.parser.after_cr {
                    self.parser.after_cr = false;
                    if b == b'\n' {
                        continue;
                    }
                }
                any = true;
                match self.parser.step(at, b) {
                    Step::Next(next) => {
                        at = next;
                        bytes += 1;
                        if b == b'\n' {
                            self.parser.line += 1;
                        }
                    }
                    Step::EndField => {
                        self.parser.end_field(fields, start)?;
                        at = At::FieldStart;
                        bytes += 1;
                    }
                    Step::EndRecord => {
                        self.parser.end_field(fields, start)?;
                        self.parser.line += 1;
                        self.parser.after_cr = b == b'\r';
                        done = true;
                        break;
                    }
                }
                if bytes > max_bytes {
                    self.input.consume(used);
                    return Err(RecordError::TooLong(start));
                }
            }
            self.input.consume(used);
            if done {
                return Ok(Some(bytes));
            }
        }
    }
}

impl Parser {
    /// One byte of a record.
    fn step(&mut self, at: At, b: u8) -> Step {
        let newline = b == b'\n' || b == b'\r';
        match at {
            At::FieldStart | At::Unquoted => {
                if b == self.delimiter {
                    Step::EndField
                } else if newline {
                    Step::EndRecord
                } else if b == b'"' && at == At::FieldStart {
                    // "strings that are enclosed by double quotation marks can contain commas
                    // and newlines without acting as record delimiters"
                    Step::Next(At::Quoted)
                } else if b == b'"' {
                    Step::Next(At::QuoteInUnquoted)
                } else if b == b'\\' {
                    Step::Next(At::Backslash(Back::Unquoted))
                } else {
                    self.field.push(b);
                    Step::Next(At::Unquoted)
                }
            }
            At::Quoted => match b {
                b'"' => Step::Next(At::QuoteInQuoted),
                b'\\' => Step::Next(At::Backslash(Back::Quoted)),
                _ => {
                    self.field.push(b);
                    Step::Next(At::Quoted)
                }
            },
            // "You can preserve double quotes by repeating them."
            At::QuoteInQuoted if b == b'"' => {
                self.field.push(b'"');
                Step::Next(At::Quoted)
            }
            // the quoted part ended; the rest of the field, if any, is unquoted
            At::QuoteInQuoted => self.step(At::Unquoted, b),
            // AWS's example reads the unquoted field {""MyKey"":""MyValue""} as
            // {"MyKey":"MyValue"}; a lone quote inside an unquoted field stays as it is
            At::QuoteInUnquoted if b == b'"' => {
                self.field.push(b'"');
                Step::Next(At::Unquoted)
            }
            At::QuoteInUnquoted => {
                self.field.push(b'"');
                self.step(At::Unquoted, b)
            }
            // "Backslashes only work with other backslashes, double quotation marks, and the
            // configured field separator such as comma or pipe. A backslash followed by any
            // other character is silently removed." (The character itself is then read as
            // usual; a `\"` is a literal quote even where AWS says it needs a pair to work.)
            At::Backslash(back) => {
                let back_to = match back {
                    Back::Unquoted => At::Unquoted,
                    Back::Quoted => At::Quoted,
                };
                if b == b'\\' || b == b'"' || b == self.delimiter {
                    self.field.push(b);
                    Step::Next(back_to)
                } else {
                    self.step(back_to, b)
                }
            }
        }
    }

    fn end_field(&mut self, fields: &mut Vec<String>, start: u64) -> Result<(), RecordError> {
        let bytes = std::mem::take(&mut self.field);
        let text = String::from_utf8(bytes).map_err(|_| RecordError::NotUtf8(start))?;
        fields.push(text);
        Ok(())
    }
}

/// What one byte did to a record.
enum Step {
    Next(At),
    EndField,
    EndRecord,
}

/// A JSON document's items: the elements of the array it holds, or of the array `pointer`
/// points to ("If the JSON file contains a nested object structure, you can select the
/// specific node with your data set with an ItemsPointer", AWS, ItemReader (Map)).
pub(super) fn json_items<'s>(
    body: Box<dyn Read + Send + 's>,
    uri: &str,
    pointer: Option<&str>,
) -> Result<Values<'s>, String> {
    let text = read_at_most(body, MAX_JSON_OBJECT_BYTES, uri)?.ok_or_else(|| {
        format!(
            "{uri} is over {MAX_JSON_OBJECT_BYTES} bytes, the most a JSON ItemReader reads whole; use JSONL to stream it"
        )
    })?;
    let mut doc = serde_json::from_slice::<Value>(&text).map_err(|e| {
        format!(
            "{uri} is not valid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    drop(text);
    let (node, what) = match pointer {
        None | Some("") => (doc, "holds".to_string()),
        Some(p) => match doc.pointer_mut(p) {
            Some(v) => (v.take(), format!("has at ItemsPointer '{p}'")),
            None => {
                return Err(format!(
                    "ItemsPointer '{p}' points to nothing in {uri}; give the path of the array of items (for example /inventory/products)"
                ));
            }
        },
    };
    let items = match node {
        Value::Array(a) => a,
        // AWS: "The JSON file must contain an array or JSON object", and a Map over a JSON
        // object "runs an iteration for each key-value pair", but no page shows what a child
        // execution receives for a pair, so an object is refused rather than guessed at.
        Value::Object(_) => {
            return Err(format!(
                "{uri} {what} a JSON object; AWS iterates over an object's key-value pairs but does not document the input each child gets, so the embedded engine reads JSON arrays only: point ItemsPointer at an array, or write the items as an array"
            ));
        }
        other => {
            return Err(format!(
                "{uri} {what} a JSON {}, not an array of items",
                crate::jsonpath::type_name(&other)
            ));
        }
    };
    let uri = uri.to_string();
    Ok(Box::new(items.into_iter().enumerate().map(move |(i, v)| {
        let size = json_size(&v);
        if size > MAX_ITEM_BYTES {
            return Err(format!(
                "item {i} of {uri} is {size} bytes, over {MAX_ITEM_BYTES} bytes (8 MiB), the largest item AWS reads from a file"
            ));
        }
        Ok(v)
    })))
}

/// JSON Lines: one item per non-empty line.
pub(super) fn jsonl_items<'s>(body: Box<dyn Read + Send + 's>, uri: String) -> Values<'s> {
    let mut input = BufReader::with_capacity(64 * 1024, body);
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        loop {
            n += 1;
            line.clear();
            let read = (&mut input)
                .take(MAX_ITEM_BYTES as u64 + 2)
                .read_until(b'\n', &mut line);
            let r = match read {
                Err(e) => Err(format!("line {n} of {uri} could not be read: {e}")),
                Ok(0) => return None,
                Ok(_) => {
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if text.len() > MAX_ITEM_BYTES {
                        Err(format!(
                            "line {n} of {uri} is over {MAX_ITEM_BYTES} bytes (8 MiB), the largest item AWS reads from a file"
                        ))
                    } else if text.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    } else {
                        serde_json::from_slice::<Value>(text)
                            .map_err(|e| format!("line {n} of {uri} is not valid JSON: {e}"))
                    }
                }
            };
            failed = r.is_err();
            return Some(r);
        }
    }))
}
