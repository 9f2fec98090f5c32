//! The field layer: the header's names, their mapping to the model's features and the id
//! columns, one record parsed into feature values and ids, and ids encoded for the output.

use std::io::Read;

use memchr::memchr;

use super::decimal::parse_plain_decimal;

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
        let mut reader = record_reader(record);
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

/// A csv reader over one record's bytes that reads them exactly as the csv crate reads them in
/// the middle of a file: csv-core drops a UTF-8 BOM at the start of the first input it is given,
/// so the first byte is handed over alone (a BOM needs three bytes) and a BOM-like start of a
/// record stays data, as it is when the whole file is read.
fn record_reader(record: &[u8]) -> csv::Reader<std::io::Chain<&[u8], &[u8]>> {
    let split = record.len().min(1);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(record[..split].chain(&record[split..]))
}

/// Parses a header record (file BOM and line end already removed) into column names.
pub fn parse_header(record: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = record_reader(record);
    let mut rec = csv::StringRecord::new();
    match reader.read_record(&mut rec) {
        Ok(true) => Ok(rec.iter().map(|s| s.trim().to_owned()).collect()),
        Ok(false) => Err("the header line is empty".into()),
        Err(e) => Err(format!("the header is not valid UTF-8 CSV: {e}")),
    }
}
