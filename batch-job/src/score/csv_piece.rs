//! A piece of CSV input (a file, a shard's byte range of one, or a compressed file) scored
//! chunk by chunk.

use stepscore_core::config::feature_columns;

use super::block::{BlockOut, PieceSink, Rows, Scorer};
use super::ordered::run_ordered;
use super::{Piece, ScoreJob};
use crate::csvread::{self, Chunk, ChunkError, ColumnPlan, OpenError, OpenedPiece};
use crate::error::Error;
use crate::input::Codec;
use crate::model::Model;
use crate::storage::{Location, Storage};

/// Scores the CSV records of `piece` (compressed with `codec`) into `sink`.
pub(super) fn score_csv(
    model: &Model,
    job: &ScoreJob,
    piece: &Piece,
    codec: Codec,
    storage: &Storage,
    sink: &mut PieceSink<'_, '_>,
) -> Result<(), Error> {
    let loc = &piece.input.location;
    let size = piece.input.size;
    let opened = if codec == Codec::None {
        csvread::open_piece(
            |range| storage.open_input(&piece.input, Some(range.unwrap_or(0..size))),
            size,
            piece.range,
            csvread::CHUNK_BYTES,
        )
    } else {
        // a compressed file is read whole from its start (its planner never cuts it)
        csvread::open_piece(
            |_| {
                storage.open_input(&piece.input, None).and_then(|r| {
                    codec.decode(r).map_err(|e| Error::BadInput {
                        source_name: loc.to_string(),
                        message: e.to_string(),
                    })
                })
            },
            u64::MAX,
            None,
            csvread::CHUNK_BYTES,
        )
    }
    .map_err(|e| match e {
        OpenError::Open(e) => e,
        OpenError::Chunk(e) => chunk_error(loc, 0, e),
    })?;
    let Some(OpenedPiece {
        header,
        mut chunker,
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
    let plan = column_plan(model, job, &names).map_err(|m| Error::BadInput {
        source_name: loc.to_string(),
        message: m,
    })?;
    let scorer = Scorer::new(model, job.on_bad_row, &job.id_columns, job.output_format);
    sink.first_line = first_line;
    run_ordered(
        || {
            let at = chunker.offset();
            chunker.next_chunk().map_err(|e| chunk_error(loc, at, e))
        },
        |chunk| process_chunk(&scorer, &plan, chunk),
        |out| sink.accept(out),
    )
}

/// The columns of `names` that feed the model's features (through the job's feature map) and
/// the id columns.
pub(super) fn column_plan(
    model: &Model,
    job: &ScoreJob,
    names: &[String],
) -> Result<ColumnPlan, String> {
    let columns = feature_columns(&model.header.features, &job.features);
    ColumnPlan::new(names, &columns, &job.id_columns).map_err(|m| {
        if job.features.is_empty() {
            m
        } else {
            let mapped: Vec<String> = job
                .features
                .iter()
                .map(|(f, c)| format!("{f} -> {c}"))
                .collect();
            format!(
                "{m} (features read through the feature map: {})",
                mapped.join(", ")
            )
        }
    })
}

/// A read failure, named for its input: a decoder's refusal (corrupt gzip or zstd data) is bad
/// data, a broken stream from the store is transient.
pub(super) fn chunk_error(source: &Location, offset: u64, e: ChunkError) -> Error {
    match (e, source) {
        (ChunkError::Io(e), _) if e.kind() == std::io::ErrorKind::InvalidData => Error::BadInput {
            source_name: source.to_string(),
            message: format!("{e} (read from offset {offset})"),
        },
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

fn process_chunk(scorer: &Scorer<'_>, plan: &ColumnPlan, chunk: &Chunk) -> BlockOut {
    let nf = plan.n_features;
    // sized from the line count so the feature matrix never reallocates (copying it), but no
    // larger than rows of at least 2 bytes per feature could fill (a chunk of blank lines)
    let lines = memchr::memchr_iter(b'\n', &chunk.data).count() + 1;
    let lines = lines.min(chunk.data.len() / (2 * nf).max(1) + 1);
    let mut rows = Rows {
        x: Vec::with_capacity(nf * lines),
        ids: Vec::with_capacity(64 * 1024),
        id_ends: Vec::with_capacity(lines),
        typed_ids: None,
        columns: None,
    };
    let mut feats = vec![0.0f64; nf];
    // the invariant's independent side: records by a separate byte-level count, and whether
    // the chunk ends between records as that count sees it
    let mut state = csvread::ScanState::RecordStart;
    let counted = csvread::count_records(&mut state, &chunk.data);
    let mut result = BlockOut::new(
        counted,
        chunk.offset,
        chunk.offset + chunk.data.len() as u64,
    );
    result.ends_at_record_end = chunk.eof || state == csvread::ScanState::RecordStart;
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
        if let Err(fault) = rows.push_parsed(&mut feats, |f, ids| plan.parse_record(line, f, ids))
            && !scorer.bad_row(&mut result, rel_line, offset, line, fault.reason)
        {
            return result;
        }
    }
    scorer.predict(&rows, &mut result);
    result
}
