//! A piece of Parquet input (a file, or the row groups of one a shard owns) scored batch by
//! batch.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, Float64Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use stepscore_core::config::{OutputFormat, feature_columns};

use super::block::{BlockOut, PieceSink, Rows, Scorer};
use super::ordered::run_ordered;
use super::{Piece, ScoreJob};
use crate::csvread::encode_field;
use crate::error::Error;
use crate::input::parquet::{self, BatchPlan};
use crate::model::Model;
use crate::storage::Storage;

/// Scores the rows of the row groups `piece` owns into `sink`; the rows read must be the rows
/// the footer gives those row groups.
pub(super) fn score_parquet(
    model: &Model,
    job: &ScoreJob,
    piece: &Piece,
    storage: &Storage,
    sink: &mut PieceSink<'_, '_>,
) -> Result<(), Error> {
    let loc = &piece.input.location;
    let features = feature_columns(&model.header.features, &job.features);
    let mut file = parquet::open_piece(
        storage,
        &piece.input,
        piece.range,
        &features,
        &job.id_columns,
    )?;
    sink.first_line = Some(file.rows_before + 1);
    sink.unit = "row";
    let plan = file.plan.clone();
    let scorer = Scorer::new(model, job.on_bad_row, &job.id_columns, job.output_format);
    let (start, len, total) = (piece.start(), piece.byte_len(), file.rows.max(1));
    // progress in bytes, by the share of the piece's rows done
    let at = move |row: u64| start + (u128::from(len) * u128::from(row) / u128::from(total)) as u64;
    let expected = file.rows;
    let mut done = 0u64;
    run_ordered(
        || {
            Ok(file.next_batch()?.map(|batch| {
                let first = done;
                done += batch.num_rows() as u64;
                (batch, at(first), at(done))
            }))
        },
        |(batch, from, to)| process_batch(&scorer, &plan, batch, *from, *to),
        |out| sink.accept(out),
    )?;
    if sink.counts.read != expected {
        return Err(Error::RowsUnaccounted {
            source_name: format!("{loc} (its footer gives the row groups read {expected} rows)"),
            rows_in: expected,
            scored: sink.counts.scored,
            rejected: sink.counts.rejected,
        });
    }
    Ok(())
}

fn process_batch(
    scorer: &Scorer<'_>,
    plan: &BatchPlan,
    batch: &RecordBatch,
    start: u64,
    end: u64,
) -> BlockOut {
    let n = batch.num_rows();
    let mut result = BlockOut::new(n as u64, start, end);
    result.lines = n as u64;
    let options = FormatOptions::new().with_null("");
    let (cols, ids) = match parquet::f64_columns(batch, plan)
        .and_then(|c| parquet::id_formatters(batch, plan, &options).map(|i| (c, i)))
    {
        Ok(v) => v,
        Err(m) => {
            result.input_fault = Some(m);
            return result;
        }
    };
    let f64s: Vec<&Float64Array> = cols
        .iter()
        .map(|(c, _)| c.as_primitive::<Float64Type>())
        .collect();
    let nulls = f64s.iter().any(|a| a.null_count() > 0);
    let typed = scorer.output.format != OutputFormat::Csv;
    let mut rows = Rows {
        x: Vec::new(),
        ids: Vec::new(),
        id_ends: Vec::with_capacity(n),
        typed_ids: None,
        columns: None,
    };
    // the rows kept, when the ids go over as arrays (typed output)
    let mut kept: Vec<u32> = Vec::new();
    if !nulls && typed && !f64s.is_empty() {
        // every row is scored and the ids go over as arrays, so there is no per-row work: a
        // linear or logistic model scores the columns as they are, a forest gets them laid out
        // row-major column by column
        if scorer.model.scores_columns() {
            rows.columns = Some(f64s.iter().map(|a| (*a).clone()).collect());
        } else {
            let nf = f64s.len();
            rows.x.resize(n * nf, 0.0);
            for (j, a) in f64s.iter().enumerate() {
                for (slot, &v) in rows.x[j..].iter_mut().step_by(nf).zip(a.values().iter()) {
                    *slot = v;
                }
            }
        }
        rows.id_ends.resize(n, 0);
    } else {
        rows.x.reserve(n * f64s.len());
        if !typed {
            rows.ids.reserve(n * 8 * ids.len());
        }
        let mut text = String::new();
        for r in 0..n {
            if nulls && let Some(j) = f64s.iter().position(|a| a.is_null(r)) {
                let raw = row_text(&cols, &f64s, &ids, plan, r);
                let reason = format!("column '{}' is null", cols[j].1);
                if !scorer.bad_row(&mut result, r as u64, start, raw.as_bytes(), reason) {
                    return result;
                }
                continue;
            }
            rows.x.extend(f64s.iter().map(|a| a.value(r)));
            if typed {
                kept.push(r as u32);
                rows.id_ends.push(0);
                continue;
            }
            for (k, f) in ids.iter().enumerate() {
                if k > 0 {
                    rows.ids.push(b',');
                }
                text.clear();
                let _ = write!(text, "{}", f.value(r));
                encode_field(text.as_bytes(), &mut rows.ids);
            }
            rows.id_ends.push(rows.ids.len());
        }
    }
    if typed {
        // the ids keep their Parquet types: the batch's own arrays, less the rejected rows
        let columns = plan.ids.iter().map(|(c, _)| batch.column(*c));
        let taken: Result<Vec<_>, _> = if rows.id_ends.len() == n {
            Ok(columns.cloned().collect())
        } else {
            let indices = arrow_array::UInt32Array::from(kept);
            columns
                .map(|c| arrow_select::take::take(c.as_ref(), &indices, None))
                .collect()
        };
        match taken {
            Ok(ids) => rows.typed_ids = Some(ids),
            Err(e) => {
                result.input_fault = Some(format!("the id columns cannot be carried over: {e}"));
                return result;
            }
        }
    }
    scorer.predict(&rows, &mut result);
    result
}

/// A row as the rejects file shows it: the columns the job reads, as a JSON object.
fn row_text(
    cols: &[(arrow_array::ArrayRef, String)],
    f64s: &[&Float64Array],
    ids: &[ArrayFormatter<'_>],
    plan: &BatchPlan,
    r: usize,
) -> String {
    let mut row = serde_json::Map::new();
    for ((_, name), a) in cols.iter().zip(f64s) {
        let v = if a.is_null(r) {
            serde_json::Value::Null
        } else {
            serde_json::Number::from_f64(a.value(r)).map_or(serde_json::Value::Null, Into::into)
        };
        row.insert(name.clone(), v);
    }
    for ((_, name), f) in plan.ids.iter().zip(ids) {
        row.insert(name.clone(), f.value(r).to_string().into());
    }
    serde_json::Value::Object(row).to_string()
}
