//! What every input format shares once a block of rows is parsed: the bad-row policy, the
//! model's predictions formatted after each row's ids, and the checks and writes of a block's
//! result in input order.

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use stepscore_core::config::{BadRowPolicy, OutputFormat};

use super::Counts;
use super::output::{self, OutputSpec, PartWriter};
use super::progress::Progress;
use super::rejects::Rejects;
use crate::artifact::Task;
use crate::csvread;
use crate::error::{Error, RowPlace};
use crate::kernel::Predictions;
use crate::model::Model;
use crate::storage::Location;

/// A row the policy stopped at.
pub(super) struct Fault {
    pub rel_line: u64,
    pub offset: u64,
    pub reason: String,
}

/// A row rejected under `skip`, with its input text.
pub(super) struct RejectRow {
    pub rel_line: u64,
    pub offset: u64,
    pub raw: Vec<u8>,
    pub reason: String,
}

/// What scoring one block produced.
pub(super) struct BlockOut {
    /// The predictions, formatted (CSV, JSON Lines).
    pub out: Vec<u8>,
    /// The predictions as a batch (Parquet output).
    pub batch: Option<RecordBatch>,
    pub rejects: Vec<RejectRow>,
    /// Rows the format's independent count found in the block.
    pub counted: u64,
    /// Whether the independent count ends the block between records (or the block ends the
    /// input).
    pub ends_at_record_end: bool,
    pub scored: u64,
    /// Physical lines (Parquet: rows) the block spans, to number the next block's.
    pub lines: u64,
    /// Lines before this block in the piece (filled in by the ordered writer).
    pub line_base: u64,
    pub error: Option<Fault>,
    /// The block as a whole cannot be read (a column that cannot be cast); why.
    pub input_fault: Option<String>,
    /// The model failed on the block's rows.
    pub model_fault: Option<String>,
    /// Where the block starts and ends in its input (bytes), for messages and progress.
    pub start: u64,
    pub end: u64,
}

impl BlockOut {
    /// An empty result for the block `[start, end)` holding `counted` rows.
    pub fn new(counted: u64, start: u64, end: u64) -> Self {
        BlockOut {
            out: Vec::new(),
            batch: None,
            rejects: Vec::new(),
            counted,
            ends_at_record_end: true,
            scored: 0,
            lines: 0,
            line_base: 0,
            error: None,
            input_fault: None,
            model_fault: None,
            start,
            end,
        }
    }
}

/// The rows of a block that parsed: features row-major, ids encoded CSV-style.
#[derive(Default)]
pub(super) struct Rows {
    pub x: Vec<f64>,
    pub ids: Vec<u8>,
    pub id_ends: Vec<usize>,
    /// The ids with their input types (Parquet input), one array per id column, for the
    /// JSON Lines and Parquet outputs; text inputs leave it `None`.
    pub typed_ids: Option<Vec<ArrayRef>>,
    /// The features as the input's own columns (Parquet input without nulls, for a model that
    /// scores columns), in place of `x`.
    pub columns: Option<Vec<Float64Array>>,
}

impl Rows {
    /// Parses one row with `parse`, which fills `features` and appends the row's encoded ids
    /// to the ids buffer: a parsed row is kept; a row that fails leaves no ids behind, and
    /// the reason comes back for the bad-row policy.
    pub(super) fn push_parsed<E>(
        &mut self,
        features: &mut [f64],
        parse: impl FnOnce(&mut [f64], &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mark = self.ids.len();
        match parse(features, &mut self.ids) {
            Ok(()) => {
                self.x.extend_from_slice(features);
                self.id_ends.push(self.ids.len());
                Ok(())
            }
            Err(e) => {
                self.ids.truncate(mark);
                Err(e)
            }
        }
    }
}

/// The model with what formatting its predictions needs, shared by the workers.
pub(super) struct Scorer<'a> {
    pub model: &'a Model,
    pub policy: BadRowPolicy,
    pub n_ids: usize,
    /// The id columns' names (the output's first columns).
    pub id_names: &'a [String],
    pub output: OutputSpec,
    labels: Vec<Vec<u8>>,
    shares: Option<VoteShares>,
}

impl<'a> Scorer<'a> {
    pub fn new(
        model: &'a Model,
        policy: BadRowPolicy,
        id_names: &'a [String],
        output: OutputSpec,
    ) -> Self {
        Scorer {
            model,
            policy,
            n_ids: id_names.len(),
            id_names,
            output,
            labels: model
                .header
                .class_labels
                .iter()
                .map(|l| {
                    let mut v = Vec::new();
                    csvread::encode_field(l.as_bytes(), &mut v);
                    v
                })
                .collect(),
            shares: model.vote_trees().map(VoteShares::new),
        }
    }

    /// Applies the policy to a bad row: `skip` records it and returns true (go on), `fail`
    /// records the fault and returns false (stop).
    pub fn bad_row(
        &self,
        result: &mut BlockOut,
        rel_line: u64,
        offset: u64,
        raw: &[u8],
        reason: String,
    ) -> bool {
        match self.policy {
            BadRowPolicy::Fail => {
                result.error = Some(Fault {
                    rel_line,
                    offset,
                    reason,
                });
                false
            }
            BadRowPolicy::Skip => {
                result.rejects.push(RejectRow {
                    rel_line,
                    offset,
                    raw: raw.to_vec(),
                    reason,
                });
                true
            }
        }
    }

    /// Predicts `rows` and formats one output line per row: its ids, then the prediction and
    /// class probabilities.
    pub fn predict(&self, rows: &Rows, result: &mut BlockOut) {
        let mut preds = Predictions::default();
        let n = rows.id_ends.len();
        let by_columns = rows.columns.as_ref().is_some_and(|columns| {
            let columns: Vec<&[f64]> = columns.iter().map(|a| a.values().as_ref()).collect();
            self.model.predict_columns(&columns, n, &mut preds)
        });
        if !by_columns && let Err(message) = self.model.predict(&rows.x, &mut preds) {
            // the model, not a row, failed: no policy makes it a rejected row
            result.model_fault = Some(message);
            return;
        }
        result.scored = n as u64;
        if self.output.format != OutputFormat::Csv {
            self.typed(rows, &preds, result);
            return;
        }
        let k = self.labels.len();
        let mut out = Vec::with_capacity(rows.ids.len() + n * (16 + 24 * k));
        let mut fbuf = ryu::Buffer::new();
        let mut start = 0;
        for (r, &end) in rows.id_ends.iter().enumerate() {
            out.extend_from_slice(&rows.ids[start..end]);
            start = end;
            if self.n_ids > 0 {
                out.push(b',');
            }
            match self.model.task() {
                Task::Classification => {
                    out.extend_from_slice(&self.labels[preds.class[r] as usize]);
                    for &p in &preds.proba[r * k..(r + 1) * k] {
                        out.push(b',');
                        match self.shares.as_ref().and_then(|s| s.get(p)) {
                            Some(text) => out.extend_from_slice(text),
                            None => out.extend_from_slice(fbuf.format(p).as_bytes()),
                        }
                    }
                }
                Task::Regression => out.extend_from_slice(fbuf.format(preds.value[r]).as_bytes()),
            }
            out.push(b'\n');
        }
        result.out = out;
    }
}

impl Scorer<'_> {
    /// The block's predictions as a batch (Parquet) or JSON lines formatted from one.
    fn typed(&self, rows: &Rows, preds: &Predictions, result: &mut BlockOut) {
        let ids = match &rows.typed_ids {
            Some(ids) => ids.clone(),
            None => output::text_ids(&rows.ids, &rows.id_ends, self.n_ids),
        };
        let built = output::prediction_batch(
            self.model,
            self.id_names,
            ids,
            &preds.class,
            &preds.proba,
            &preds.value,
        );
        let batch = match built {
            Ok(b) => b,
            Err(m) => {
                result.model_fault = Some(m);
                return;
            }
        };
        match self.output.format {
            OutputFormat::Jsonl => {
                if let Err(m) = output::jsonl_lines(&batch, &mut result.out) {
                    result.input_fault = Some(m);
                }
            }
            _ => result.batch = Some(batch),
        }
    }
}

/// The text of every probability a voting forest can give, formatted once: a 50-tree forest
/// has 51, and formatting them per row was a tenth of the forest's CPU time after the kernel.
struct VoteShares {
    n_trees: f64,
    /// Per vote count: the probability's bits and its text.
    text: Vec<(u64, Vec<u8>)>,
}

impl VoteShares {
    fn new(n_trees: usize) -> Self {
        let inv = 1.0 / n_trees as f64;
        let mut fbuf = ryu::Buffer::new();
        let text = (0..=n_trees as u32)
            .map(|c| {
                let p = f64::from(c) * inv;
                (p.to_bits(), fbuf.format(p).as_bytes().to_vec())
            })
            .collect();
        Self {
            n_trees: n_trees as f64,
            text,
        }
    }

    /// The text of `p` when it is exactly one of the shares; any other value is formatted as
    /// usual, so the output never depends on the table.
    #[inline]
    fn get(&self, p: f64) -> Option<&[u8]> {
        // `as` saturates (NaN and negatives to 0); the bit comparison rejects any miss
        let c = (p * self.n_trees).round() as usize;
        let (bits, text) = self.text.get(c)?;
        (*bits == p.to_bits()).then_some(text.as_slice())
    }
}

/// Where one piece's block results go, in input order: checked, written to the part and the
/// rejects, counted and reported.
pub(super) struct PieceSink<'a, 's> {
    pub source: &'a Location,
    pub model: &'a Location,
    /// The line (Parquet: row) number of the piece's first row, when known.
    pub first_line: Option<u64>,
    /// What `first_line` counts: "line" or "row".
    pub unit: &'static str,
    pub piece_start: u64,
    pub part: &'a mut PartWriter,
    pub rejects: &'a mut Rejects<'s>,
    pub progress: &'a mut Progress<'s>,
    /// The counts of the pieces before this one.
    pub before: Counts,
    /// This piece's counts so far.
    pub counts: Counts,
}

impl PieceSink<'_, '_> {
    fn place(&self, rel: u64, offset: u64) -> RowPlace {
        RowPlace {
            source: self.source.to_string(),
            line: self.first_line.map(|b| b + rel),
            byte_offset: offset,
            unit: self.unit,
        }
    }

    /// Checks one block's result and writes it.
    pub fn accept(&mut self, out: BlockOut) -> Result<(), Error> {
        if let Some(fault) = &out.error {
            return Err(Error::BadRow {
                place: self.place(fault.rel_line + out.line_base, fault.offset),
                reason: fault.reason.clone(),
            });
        }
        if let Some(message) = &out.input_fault {
            return Err(Error::BadInput {
                source_name: self.source.to_string(),
                message: message.clone(),
            });
        }
        if let Some(message) = &out.model_fault {
            return Err(Error::ModelFault {
                model: self.model.to_string(),
                source_name: self.source.to_string(),
                byte_offset: out.start,
                message: message.clone(),
            });
        }
        let rejected = out.rejects.len() as u64;
        if out.counted != out.scored + rejected {
            return Err(Error::RowsUnaccounted {
                source_name: format!("{} (bytes {}..{})", self.source, out.start, out.end),
                rows_in: out.counted,
                scored: out.scored,
                rejected,
            });
        }
        if !out.ends_at_record_end {
            return Err(Error::BadInput {
                source_name: self.source.to_string(),
                message: format!(
                    "the CSV reader cut a record at byte offset {} (inside a quoted field by an independent count); the job fails rather than lose or split rows",
                    out.end
                ),
            });
        }
        self.part.write_block(&out.out, out.batch.as_ref())?;
        for r in &out.rejects {
            let place = self.place(r.rel_line + out.line_base, r.offset);
            self.rejects.write(&place, &r.reason, &r.raw)?;
        }
        self.counts.read += out.counted;
        self.counts.scored += out.scored;
        self.counts.rejected += rejected;
        let done_in_piece = out.end.saturating_sub(self.piece_start);
        self.progress.tick(
            &Counts {
                read: self.before.read + self.counts.read,
                scored: self.before.scored + self.counts.scored,
                rejected: self.before.rejected + self.counts.rejected,
            },
            done_in_piece,
        );
        Ok(())
    }
}
