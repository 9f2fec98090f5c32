//! Scoring: stream the input in chunks, score chunks in parallel, write them in order.
//!
//! A reader thread cuts the input into ~1 MiB chunks of whole records; one worker thread per
//! core takes the next chunk and scores it (parse, predict, format); the calling thread writes
//! the results in input order. Memory stays bounded by the number of chunks in flight, whatever
//! the input size.

use std::io::Write;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use stepscore_core::config::BadRowPolicy;
use stepscore_core::manifest::{
    InputIdentity, MANIFEST_VERSION, ModelIdentity, ScoringManifest, manifest_name, part_name,
    rejects_name,
};

use crate::artifact::Task;
use crate::csvread::{self, Chunk, ChunkError, Chunker, ColumnPlan, OpenError, OpenedPiece};
use crate::error::{Error, RowPlace};
use crate::kernel::Predictions;
use crate::model::Model;
use crate::storage::{InputObject, Location, OutputSink, Storage};

mod progress;
use progress::Progress;

/// Which shard of an array job this run scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index (`AWS_BATCH_JOB_ARRAY_INDEX`).
    pub index: u32,
    /// Number of shards (`STEPSCORE_SHARDS`); 1 for a single job.
    pub count: u32,
}

impl Shard {
    /// The single, unsharded job.
    pub const SINGLE: Shard = Shard { index: 0, count: 1 };
}

/// A validated scoring job.
#[derive(Debug, Clone)]
pub struct ScoreJob {
    /// The job id (recorded in the manifest).
    pub job_id: String,
    /// The model artifact.
    pub model: Location,
    /// One file/object, or a directory/prefix of them.
    pub input: Location,
    /// The directory/prefix that receives `part-<i>.csv`, `manifest-<i>.json`, `rejects-<i>.csv`.
    pub output: Location,
    /// Columns passed through to the predictions, in order.
    pub id_columns: Vec<String>,
    /// What to do with a row that cannot be scored.
    pub on_bad_row: BadRowPolicy,
    /// Which shard to score.
    pub shard: Shard,
    /// How often the run reports its progress (log line and `progress-<i>.json`).
    pub progress_interval: Duration,
    /// The Batch job running this shard (`AWS_BATCH_JOB_ID`), recorded in progress reports.
    pub batch_job_id: Option<String>,
}

/// One unit of a shard's work: a whole input, or a byte range of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The input.
    pub input: InputObject,
    /// The byte range `[start, end)` this shard owns records starting in, when split by range.
    pub range: Option<(u64, u64)>,
}

impl Piece {
    /// The bytes this piece owns: its range, or the whole input.
    pub fn byte_len(&self) -> u64 {
        match self.range {
            Some((start, end)) => end.saturating_sub(start),
            None => self.input.size,
        }
    }

    /// Where the piece's bytes start in its input.
    pub fn start(&self) -> u64 {
        self.range.map_or(0, |(start, _)| start)
    }
}

/// The pieces shard `shard` scores: with several inputs, input i (in sorted order) goes to
/// shard i mod n; one input is split into n byte ranges, each owning the records (not lines:
/// a quoted field may hold newlines) that start in it.
pub fn plan_shard(inputs: &[InputObject], shard: Shard) -> Vec<Piece> {
    let n = u64::from(shard.count.max(1));
    let i = u64::from(shard.index);
    if inputs.len() == 1 && n > 1 {
        let input = &inputs[0];
        let start = input.size * i / n;
        let end = input.size * (i + 1) / n;
        return vec![Piece {
            input: input.clone(),
            range: Some((start, end)),
        }];
    }
    inputs
        .iter()
        .enumerate()
        .filter(|(k, _)| *k as u64 % n == i)
        .map(|(_, input)| Piece {
            input: input.clone(),
            range: None,
        })
        .collect()
}

/// Row counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data rows in the input (blank lines are not rows), by the independent count
    /// ([`csvread::count_records`]), not by the parser.
    pub read: u64,
    /// Rows scored.
    pub scored: u64,
    /// Rows rejected under `skip`.
    pub rejected: u64,
}

impl Counts {
    /// The invariant of every file and shard: each row in is scored or rejected.
    fn check(&self, source_name: &str) -> Result<(), Error> {
        if self.read == self.scored + self.rejected {
            return Ok(());
        }
        Err(Error::RowsUnaccounted {
            source_name: source_name.to_owned(),
            rows_in: self.read,
            scored: self.scored,
            rejected: self.rejected,
        })
    }
}

/// Scores `job`, writing its part, rejects (if any) and manifest; returns the manifest.
///
/// Blocking: call it from a thread outside the store's runtime.
pub fn score(job: &ScoreJob, storage: &Storage) -> Result<ScoringManifest, Error> {
    let started = Instant::now();
    if job.shard.count == 0 || job.shard.index >= job.shard.count {
        return Err(Error::usage(format!(
            "array index {} is outside the {} shard(s) of the job; set STEPSCORE_SHARDS to the array size",
            job.shard.index, job.shard.count
        )));
    }
    let model_name = job.model.to_string();
    let bytes = storage.read_small(&job.model, "model")?;
    let model = Model::from_slice(&bytes, &model_name)?;
    drop(bytes);
    tracing::info!(
        model = %model_name,
        algorithm = model.header.algorithm.as_str(),
        features = model.n_features(),
        "model loaded"
    );
    let inputs = storage.list_inputs(&job.input)?;
    let pieces = plan_shard(&inputs, job.shard);
    tracing::info!(
        inputs = inputs.len(),
        pieces = pieces.len(),
        shard = job.shard.index,
        shards = job.shard.count,
        "input planned"
    );
    let part_loc = job.output.join(&part_name(job.shard.index));
    let rejects_loc = job.output.join(&rejects_name(job.shard.index));
    let mut part = storage.create(&part_loc)?;
    let mut rejects = Rejects {
        storage,
        location: rejects_loc,
        sink: None,
    };
    let result = (|| {
        part.write_all(&output_header(&model, &job.id_columns))
            .map_err(|e| write_error(&part, e))?;
        let mut counts = Counts::default();
        let mut progress = Progress::new(job, storage, &pieces);
        for piece in &pieces {
            score_piece(
                &model,
                job,
                piece,
                storage,
                &mut part,
                &mut rejects,
                &mut counts,
                &mut progress,
            )?;
        }
        counts.check(&format!(
            "{} (shard {} of {})",
            job.input, job.shard.index, job.shard.count
        ))?;
        Ok((counts, progress))
    })();
    let (counts, progress) = match result {
        Ok(c) => c,
        Err(e) => {
            part.abort();
            if let Some(s) = rejects.sink.take() {
                s.abort();
            }
            return Err(e);
        }
    };
    part.finish()?;
    let rejects_written = match rejects.sink.take() {
        Some(s) => {
            s.finish()?;
            Some(rejects.location.to_string())
        }
        None => None,
    };
    let manifest = ScoringManifest {
        version: MANIFEST_VERSION,
        job_id: job.job_id.clone(),
        shard_index: job.shard.index,
        shard_count: job.shard.count,
        rows_read: counts.read,
        rows_scored: counts.scored,
        rows_rejected: counts.rejected,
        duration_seconds: started.elapsed().as_secs_f64(),
        model: ModelIdentity {
            uri: model_name,
            algorithm: model.header.algorithm.as_str().to_owned(),
            format_version: model.header.format_version,
        },
        inputs: pieces
            .iter()
            .map(|p| InputIdentity {
                uri: p.input.location.to_string(),
                size: p.input.size,
                etag: p.input.etag.clone(),
                range: p.range,
            })
            .collect(),
        output: part_loc.to_string(),
        rejects: rejects_written,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal {
        message: format!("manifest serialisation: {e}"),
    })?;
    storage.write_small(&job.output.join(&manifest_name(job.shard.index)), &json)?;
    progress.finish(&counts);
    tracing::info!(
        rows_read = counts.read,
        rows_scored = counts.scored,
        rows_rejected = counts.rejected,
        seconds = manifest.duration_seconds,
        output = %part_loc,
        "scoring finished"
    );
    Ok(manifest)
}

/// The predictions header: id columns, `prediction`, then `p_<label>` per class.
pub fn output_header(model: &Model, id_columns: &[String]) -> Vec<u8> {
    let mut names: Vec<String> = id_columns.to_vec();
    names.push("prediction".into());
    if model.task() == Task::Classification {
        names.extend(model.header.class_labels.iter().map(|l| format!("p_{l}")));
    }
    let mut out = Vec::new();
    let fields: Vec<&[u8]> = names.iter().map(|s| s.as_bytes()).collect();
    csvread::encode_ids(&fields, &mut out);
    out.push(b'\n');
    out
}

struct Rejects<'a> {
    storage: &'a Storage,
    location: Location,
    sink: Option<csv::Writer<OutputSink>>,
}

impl Rejects<'_> {
    fn write(&mut self, place: &RowPlace, reason: &str, raw: &[u8]) -> Result<(), Error> {
        if self.sink.is_none() {
            let sink = self.storage.create(&self.location)?;
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(["source", "line", "byte_offset", "reason", "row"])
                .map_err(|e| self.error(e))?;
            self.sink = Some(w);
        }
        let line = place.line.map(|l| l.to_string()).unwrap_or_default();
        let offset = place.byte_offset.to_string();
        let row = String::from_utf8_lossy(raw);
        if let Some(w) = &mut self.sink {
            w.write_record([place.source.as_str(), &line, &offset, reason, &row])
                .map_err(|e| Error::Stream {
                    location: self.location.to_string(),
                    source: std::io::Error::other(e),
                })?;
        }
        Ok(())
    }

    fn error(&self, e: csv::Error) -> Error {
        Error::Stream {
            location: self.location.to_string(),
            source: std::io::Error::other(e),
        }
    }
}

// csv::Writer wraps the sink; finishing and aborting go through the inner sink
trait SinkLike {
    fn finish(self) -> Result<(), Error>;
    fn abort(self);
}

impl SinkLike for csv::Writer<OutputSink> {
    fn finish(self) -> Result<(), Error> {
        match self.into_inner() {
            Ok(s) => s.finish(),
            Err(e) => Err(Error::Stream {
                location: "rejects file".to_owned(),
                source: std::io::Error::other(e.error().to_string()),
            }),
        }
    }
    fn abort(self) {
        if let Ok(s) = self.into_inner() {
            s.abort();
        }
    }
}

fn write_error(sink: &OutputSink, e: std::io::Error) -> Error {
    Error::Stream {
        location: sink.location().to_owned(),
        source: e,
    }
}

fn chunk_error(source: &Location, offset: u64, e: ChunkError) -> Error {
    match (e, source) {
        (ChunkError::Io(e), Location::Local(_)) => Error::io(source, e),
        (ChunkError::Io(e), Location::Object(_)) => crate::storage::stream_error(source, e),
        (ChunkError::RecordTooLong { offset: at }, _) => Error::BadInput {
            source_name: source.to_string(),
            message: format!(
                "the record at byte offset {} is longer than {} MiB; split it or check the file is CSV (read from offset {offset})",
                at,
                csvread::MAX_RECORD_BYTES >> 20
            ),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn score_piece(
    model: &Model,
    job: &ScoreJob,
    piece: &Piece,
    storage: &Storage,
    part: &mut OutputSink,
    rejects: &mut Rejects<'_>,
    counts: &mut Counts,
    progress: &mut Progress<'_>,
) -> Result<(), Error> {
    let loc = &piece.input.location;
    let size = piece.input.size;
    let piece_start = piece.start();
    if let Some((s, e)) = piece.range
        && s >= e
    {
        return Ok(());
    }
    if size == 0 {
        tracing::warn!(input = %loc, "input is empty (no header): no rows");
        return Ok(());
    }
    let opened = csvread::open_piece(
        |range| storage.open_input(&piece.input, Some(range.unwrap_or(0..size))),
        size,
        piece.range,
        csvread::CHUNK_BYTES,
    )
    .map_err(|e| match e {
        OpenError::Open(e) => e,
        OpenError::Chunk(e) => chunk_error(loc, 0, e),
    })?;
    let Some(OpenedPiece {
        header,
        chunker,
        first_line,
    }) = opened
    else {
        tracing::warn!(input = %loc, "input has no header (only blank lines): no rows");
        return Ok(());
    };
    let names = csvread::parse_header(&header).map_err(|m| Error::BadInput {
        source_name: loc.to_string(),
        message: m,
    })?;
    let plan = ColumnPlan::new(&names, &model.header.features, &job.id_columns).map_err(|m| {
        Error::BadInput {
            source_name: loc.to_string(),
            message: m,
        }
    })?;
    let ctx = ChunkContext {
        model,
        plan: &plan,
        policy: job.on_bad_row,
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
    };
    let mut piece_counts = Counts::default();
    run_ordered(chunker, &ctx, |chunk, out| {
        let base = first_line;
        let place = |rel: u64, offset: u64| RowPlace {
            source: loc.to_string(),
            line: base.map(|b| b + rel),
            byte_offset: offset,
        };
        if let Some(fault) = &out.error {
            return Err(Error::BadRow {
                place: place(fault.rel_line + out.line_base, fault.offset),
                reason: fault.reason.clone(),
            });
        }
        if let Some(message) = &out.model_fault {
            return Err(Error::ModelFault {
                model: job.model.to_string(),
                source_name: loc.to_string(),
                byte_offset: chunk.offset,
                message: message.clone(),
            });
        }
        let rejected = out.rejects.len() as u64;
        if out.counted != out.scored + rejected {
            return Err(Error::RowsUnaccounted {
                source_name: format!("{loc} (bytes {}..{})", chunk.offset, chunk.offset + chunk.data.len() as u64),
                rows_in: out.counted,
                scored: out.scored,
                rejected,
            });
        }
        if !out.ends_at_record_end {
            return Err(Error::BadInput {
                source_name: loc.to_string(),
                message: format!(
                    "the CSV reader cut a record at byte offset {} (inside a quoted field by an independent count); the job fails rather than lose or split rows",
                    chunk.offset + chunk.data.len() as u64
                ),
            });
        }
        part.write_all(&out.out).map_err(|e| write_error(part, e))?;
        for r in &out.rejects {
            let raw = &chunk.data[(r.offset - chunk.offset) as usize..][..r.len];
            rejects.write(&place(r.rel_line + out.line_base, r.offset), &r.reason, raw)?;
        }
        piece_counts.read += out.counted;
        piece_counts.scored += out.scored;
        piece_counts.rejected += rejected;
        let done_in_piece = (chunk.offset + chunk.data.len() as u64).saturating_sub(piece_start);
        progress.tick(
            &Counts {
                read: counts.read + piece_counts.read,
                scored: counts.scored + piece_counts.scored,
                rejected: counts.rejected + piece_counts.rejected,
            },
            done_in_piece,
        );
        Ok(())
    })
    .map_err(|e| match e {
        OrderedError::Chunk(offset, e) => chunk_error(loc, offset, e),
        OrderedError::Other(e) => e,
    })?;
    piece_counts.check(&loc.to_string())?;
    progress.piece_done(piece.byte_len());
    counts.read += piece_counts.read;
    counts.scored += piece_counts.scored;
    counts.rejected += piece_counts.rejected;
    Ok(())
}

struct ChunkContext<'a> {
    model: &'a Model,
    plan: &'a ColumnPlan,
    policy: BadRowPolicy,
    labels: Vec<Vec<u8>>,
    shares: Option<VoteShares>,
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

struct Fault {
    rel_line: u64,
    offset: u64,
    reason: String,
}

struct RejectRow {
    rel_line: u64,
    offset: u64,
    len: usize,
    reason: String,
}

/// What scoring one chunk produced.
struct ChunkOut {
    out: Vec<u8>,
    rejects: Vec<RejectRow>,
    /// Rows the independent count found in the chunk.
    counted: u64,
    /// Whether the independent count ends the chunk between records (or the chunk ends the
    /// input).
    ends_at_record_end: bool,
    scored: u64,
    /// Physical lines the chunk spans (to number the next chunk's lines).
    lines: u64,
    /// Lines before this chunk in the piece (filled in by the ordered writer).
    line_base: u64,
    error: Option<Fault>,
    /// The model failed on the chunk's rows.
    model_fault: Option<String>,
}

fn process_chunk(ctx: &ChunkContext<'_>, chunk: &Chunk) -> ChunkOut {
    let nf = ctx.plan.n_features;
    // sized from the line count so the feature matrix never reallocates (copying it), but no
    // larger than rows of at least 2 bytes per feature could fill (a chunk of blank lines)
    let lines = memchr::memchr_iter(b'\n', &chunk.data).count() + 1;
    let lines = lines.min(chunk.data.len() / (2 * nf).max(1) + 1);
    let mut x: Vec<f64> = Vec::with_capacity(nf * lines);
    let mut ids: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut id_ends: Vec<usize> = Vec::with_capacity(lines);
    let mut feats = vec![0.0f64; nf];
    // the invariant's independent side: records by a separate byte-level count, and whether
    // the chunk ends between records as that count sees it
    let mut state = csvread::ScanState::RecordStart;
    let counted = csvread::count_records(&mut state, &chunk.data);
    let mut result = ChunkOut {
        out: Vec::new(),
        rejects: Vec::new(),
        counted,
        ends_at_record_end: chunk.eof || state == csvread::ScanState::RecordStart,
        model_fault: None,
        scored: 0,
        lines: 0,
        line_base: 0,
        error: None,
    };
    let mut pos = 0usize;
    for seg in csvread::records(&chunk.data, chunk.shape) {
        let rel_line = result.lines;
        result.lines += match chunk.shape {
            csvread::Shape::Plain => 1,
            _ => csvread::line_breaks(seg.raw),
        };
        let offset = chunk.offset + pos as u64;
        pos += seg.raw.len();
        let line = seg.record;
        if line.is_empty() {
            continue;
        }
        let mark = ids.len();
        match ctx.plan.parse_record(line, &mut feats, &mut ids) {
            Ok(()) => {
                x.extend_from_slice(&feats);
                id_ends.push(ids.len());
            }
            Err(fault) => {
                ids.truncate(mark);
                match ctx.policy {
                    BadRowPolicy::Fail => {
                        result.error = Some(Fault {
                            rel_line,
                            offset,
                            reason: fault.reason,
                        });
                        return result;
                    }
                    BadRowPolicy::Skip => result.rejects.push(RejectRow {
                        rel_line,
                        offset,
                        len: line.len(),
                        reason: fault.reason,
                    }),
                }
            }
        }
    }
    let n = id_ends.len();
    let mut preds = Predictions::default();
    if let Err(message) = ctx.model.predict(&x, &mut preds) {
        // the model, not a row, failed: no policy makes it a rejected row
        result.model_fault = Some(message);
        return result;
    }
    result.scored = n as u64;
    let k = ctx.labels.len();
    let mut out = Vec::with_capacity(ids.len() + n * (16 + 24 * k));
    let mut fbuf = ryu::Buffer::new();
    let mut start = 0;
    for (r, &end) in id_ends.iter().enumerate() {
        out.extend_from_slice(&ids[start..end]);
        start = end;
        if ctx.plan.n_ids > 0 {
            out.push(b',');
        }
        match ctx.model.task() {
            Task::Classification => {
                out.extend_from_slice(&ctx.labels[preds.class[r] as usize]);
                for &p in &preds.proba[r * k..(r + 1) * k] {
                    out.push(b',');
                    match ctx.shares.as_ref().and_then(|s| s.get(p)) {
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
    result
}

enum OrderedError {
    Chunk(u64, ChunkError),
    Other(Error),
}

/// Scores the chunker's chunks on one worker thread per core and hands them to `write` in input
/// order. A chunk goes to whichever worker is free (no batch barrier where fast workers wait for
/// slow ones); the reader may run at most `window` chunks ahead of the writer, which bounds
/// memory whatever the input size.
fn run_ordered<R: std::io::Read + Send>(
    mut chunker: Chunker<R>,
    ctx: &ChunkContext<'_>,
    mut write: impl FnMut(&Chunk, &ChunkOut) -> Result<(), Error>,
) -> Result<(), OrderedError> {
    type Read = Result<Chunk, (u64, ChunkError)>;
    type Scored = Result<(Chunk, ChunkOut), (u64, ChunkError)>;
    let workers = rayon::current_num_threads().max(1);
    let window = workers * 3;
    std::thread::scope(|s| {
        // Channel capacities equal the window, and at most `window` chunks are out at once, so
        // no send below ever blocks; each thread stops when its peer's end is dropped.
        let (work_tx, work_rx) = sync_channel::<(u64, Read)>(window);
        let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Scored)>(window);
        let (token_tx, token_rx) = sync_channel::<()>(window);
        for _ in 0..window {
            let _ = token_tx.send(());
        }
        s.spawn(move || {
            for seq in 0u64.. {
                if token_rx.recv().is_err() {
                    break;
                }
                let (item, last) = match chunker.next_chunk() {
                    Ok(Some(c)) => (Ok(c), false),
                    Ok(None) => break,
                    Err(e) => (Err((0, e)), true),
                };
                if work_tx.send((seq, item)).is_err() || last {
                    break;
                }
            }
        });
        for _ in 0..workers {
            let work_rx = std::sync::Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            s.spawn(move || {
                loop {
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((seq, item)) = next else {
                        break;
                    };
                    let scored = item.map(|c| {
                        let out = process_chunk(ctx, &c);
                        (c, out)
                    });
                    if done_tx.send((seq, scored)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0u64;
        let mut line_base = 0u64;
        while let Ok((seq, scored)) = done_rx.recv() {
            pending.insert(seq, scored);
            while let Some(scored) = pending.remove(&next) {
                let (chunk, mut out) = scored.map_err(|(o, e)| OrderedError::Chunk(o, e))?;
                out.line_base = line_base;
                line_base += out.lines;
                write(&chunk, &out).map_err(OrderedError::Other)?;
                next += 1;
                // the reader may be done already; a refused token is then no loss
                let _ = token_tx.send(());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_neither_scored_nor_rejected_fail_the_job_as_bad_data_naming_the_counts() {
        let ok = Counts {
            read: 5,
            scored: 3,
            rejected: 2,
        };
        ok.check("in.csv").unwrap();
        let lost = Counts {
            read: 60_000,
            scored: 30_100,
            rejected: 0,
        };
        let e = lost.check("s3://b/in.csv").unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_DATA);
        let text = e.to_string();
        assert!(
            text.starts_with(
                "s3://b/in.csv: 60000 row(s) in the input, but 30100 scored + 0 rejected"
            ),
            "{text}"
        );
    }
}

#[cfg(test)]
mod csv_crate_agreement;
