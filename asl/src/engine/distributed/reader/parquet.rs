//! Apache Parquet (`InputType: PARQUET`): one item per row, an object keyed by column name.
//!
//! What AWS documents: the limits ("256MB is the maximum row-group size, and 5MB is the maximum
//! footer size. If you provide input files that exceed either limit, your state machine will
//! return a runtime error."), the codecs ("Internal GZIP, ZSTD, and Snappy data compression are
//! natively supported"), and, through its own sample (an Athena `UNLOAD` of `string` and
//! `double` columns read by a Lambda that compares the values as numbers), that a string column
//! gives JSON strings and a double column JSON numbers. AWS does not document the JSON form of
//! any other type, nor of nulls or nested columns; those are refused with the column and its
//! type named, rather than guessed at. Read here: DOUBLE and FLOAT, INT32 and INT64 (within
//! ±2^53, the integers a JSON number holds exactly) as numbers, UTF8 strings as strings.
//!
//! Parquet is read from its footer, at the end of the object, and the store port streams an
//! object from its start; so the object is read into memory whole, up to
//! [`MAX_PARQUET_OBJECT_BYTES`], and a larger one is refused naming that bound.

use std::io::Read;

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, reader::RowIter};
use parquet::schema::types::Type;
use serde_json::{Map, Value};

use super::{Values, read_at_most};

/// Largest row group: "256MB is the maximum row-group size" (taken as MiB, of the row group's
/// uncompressed column data, which is what a Parquet footer records as its size).
pub const MAX_ROW_GROUP_BYTES: i64 = 256 * 1024 * 1024;

/// Largest footer: "5MB is the maximum footer size" (taken as MiB).
pub const MAX_PARQUET_FOOTER_BYTES: usize = 5 * 1024 * 1024;

/// Largest Parquet object the embedded engine reads: it holds the whole object in memory (a
/// footer is at the end of a file and the store port reads from the start), so this bounds
/// the memory one Parquet file takes.
pub const MAX_PARQUET_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

/// The largest integer a JSON number (an IEEE double) holds exactly.
const MAX_EXACT_INTEGER: i64 = 1 << 53;

/// How a column's values become JSON.
#[derive(Clone, Copy)]
enum Column {
    Integer,
    Float,
    Utf8,
}

/// The rows of a Parquet object.
pub(super) fn rows<'s>(body: Box<dyn Read + Send + 's>, uri: String) -> Result<Values<'s>, String> {
    let bytes = read_at_most(body, MAX_PARQUET_OBJECT_BYTES, &uri)?.ok_or_else(|| {
        format!(
            "{uri} is over {MAX_PARQUET_OBJECT_BYTES} bytes, the largest Parquet file the embedded engine reads (it holds the file in memory to read its footer); write the data as several smaller files"
        )
    })?;
    check_footer(&bytes, &uri)?;
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
        .map_err(|e| format!("{uri} is not a readable Parquet file: {e}"))?;
    let meta = reader.metadata();
    for (i, group) in meta.row_groups().iter().enumerate() {
        if group.total_byte_size() > MAX_ROW_GROUP_BYTES {
            return Err(format!(
                "row group {i} of {uri} is {} bytes, over {MAX_ROW_GROUP_BYTES} bytes (256 MiB), the largest row group AWS reads; write the file with smaller row groups",
                group.total_byte_size()
            ));
        }
        for column in group.columns() {
            let codec = column.compression();
            if !matches!(
                codec,
                Compression::UNCOMPRESSED
                    | Compression::SNAPPY
                    | Compression::GZIP(_)
                    | Compression::ZSTD(_)
            ) {
                return Err(format!(
                    "column '{}' of {uri} is compressed with {codec}; AWS reads Parquet compressed with GZIP, ZSTD or Snappy (or not compressed)",
                    column.column_path()
                ));
            }
        }
    }
    let schema = meta.file_metadata().schema_descr().root_schema();
    let mut columns = Vec::new();
    for field in schema.get_fields() {
        let column = column_kind(field).map_err(|kind| {
            format!(
                "column '{}' of {uri} is {kind}; AWS does not document the JSON value it reads for that Parquet type, so the embedded engine does not guess: write the column as a string, a double or an integer"
            , field.name())
        })?;
        columns.push(column);
    }
    let mut rows = RowIter::from_file_into(Box::new(reader));
    let mut n: u64 = 0;
    let mut failed = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let row = match rows.next()? {
            Ok(r) => r,
            Err(e) => {
                failed = true;
                return Some(Err(format!("row {n} of {uri} could not be read: {e}")));
            }
        };
        let mut m = Map::new();
        for ((name, field), column) in row.into_columns().into_iter().zip(&columns) {
            match json_value(&field, *column) {
                Ok(v) => {
                    m.insert(name, v);
                }
                Err(why) => {
                    failed = true;
                    return Some(Err(format!("row {n}, column '{name}' of {uri} {why}")));
                }
            }
        }
        n += 1;
        Some(Ok(Value::Object(m)))
    })))
}

/// Refuses a footer over AWS's limit before the footer is parsed.
fn check_footer(bytes: &[u8], uri: &str) -> Result<(), String> {
    let n = bytes.len();
    if n < 12 || &bytes[n - 4..] != b"PAR1" || &bytes[..4] != b"PAR1" {
        return Err(format!(
            "{uri} is not a Parquet file (it does not start and end with PAR1)"
        ));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[n - 8..n - 4]);
    let footer = u32::from_le_bytes(len) as usize;
    if footer > MAX_PARQUET_FOOTER_BYTES {
        return Err(format!(
            "the footer of {uri} is {footer} bytes, over {MAX_PARQUET_FOOTER_BYTES} bytes (5 MiB), the largest Parquet footer AWS reads; write the file with fewer row groups or columns"
        ));
    }
    Ok(())
}

/// How a top-level column's values become JSON, or the type named for the refusal.
fn column_kind(t: &Type) -> Result<Column, String> {
    if t.is_group() {
        return Err("a nested group (a STRUCT, LIST or MAP)".into());
    }
    let info = t.get_basic_info();
    if info.has_repetition() && info.repetition() == Repetition::REPEATED {
        return Err("a repeated field (a list)".into());
    }
    let physical = t.get_physical_type();
    let logical = info.logical_type_ref();
    let converted = info.converted_type();
    let plain = logical.is_none() && converted == ConvertedType::NONE;
    match physical {
        Physical::INT32 | Physical::INT64
            if plain
                || matches!(logical, Some(LogicalType::Integer { .. }))
                || (logical.is_none()
                    && matches!(
                        converted,
                        ConvertedType::INT_8
                            | ConvertedType::INT_16
                            | ConvertedType::INT_32
                            | ConvertedType::INT_64
                            | ConvertedType::UINT_8
                            | ConvertedType::UINT_16
                            | ConvertedType::UINT_32
                            | ConvertedType::UINT_64
                    )) =>
        {
            Ok(Column::Integer)
        }
        Physical::FLOAT | Physical::DOUBLE if plain => Ok(Column::Float),
        Physical::BYTE_ARRAY
            if matches!(logical, Some(LogicalType::String))
                || (logical.is_none() && converted == ConvertedType::UTF8) =>
        {
            Ok(Column::Utf8)
        }
        _ => Err(match (logical, converted) {
            (Some(l), _) => format!("{physical} with logical type {l:?}"),
            (None, ConvertedType::NONE) => format!("{physical}"),
            (None, c) => format!("{physical} annotated {c}"),
        }),
    }
}

/// One value as JSON, or why it cannot be one (said after "row n, column 'c' of uri").
fn json_value(field: &Field, column: Column) -> Result<Value, String> {
    let integer = |n: i128| {
        if n.unsigned_abs() <= MAX_EXACT_INTEGER as u128 {
            Ok(Value::from(n as i64))
        } else {
            Err(format!(
                "holds {n}, beyond ±2^53, the integers a JSON number holds exactly; AWS does not document how it reads such a value, so write the column as a string"
            ))
        }
    };
    let float = |x: f64| {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| format!("holds {x}, which JSON cannot represent"))
    };
    match (field, column) {
        // nulls: AWS does not say whether a null becomes JSON null or drops the key
        (Field::Null, _) => Err("is null; AWS does not document how it reads a null Parquet value (a JSON null or a missing key), so the embedded engine does not guess: fill the column or leave its rows out".into()),
        (Field::Byte(v), Column::Integer) => integer(i128::from(*v)),
        (Field::Short(v), Column::Integer) => integer(i128::from(*v)),
        (Field::Int(v), Column::Integer) => integer(i128::from(*v)),
        (Field::Long(v), Column::Integer) => integer(i128::from(*v)),
        (Field::UByte(v), Column::Integer) => integer(i128::from(*v)),
        (Field::UShort(v), Column::Integer) => integer(i128::from(*v)),
        (Field::UInt(v), Column::Integer) => integer(i128::from(*v)),
        (Field::ULong(v), Column::Integer) => integer(i128::from(*v)),
        (Field::Float(v), Column::Float) => float(f64::from(*v)),
        (Field::Double(v), Column::Float) => float(*v),
        (Field::Str(s), Column::Utf8) => Ok(Value::String(s.clone())),
        (other, _) => Err(format!(
            "holds {other}, a value of a type whose JSON form AWS does not document"
        )),
    }
}
