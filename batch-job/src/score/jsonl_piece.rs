//! A piece of JSON Lines input (a file, a shard's byte range of one, or a compressed file)
//! scored chunk by chunk.

use stepscore_core::config::feature_columns;

use super::block::{BlockOut, PieceSink, Rows, Scorer};
use super::csv_piece::chunk_error;
use super::ordered::run_ordered;
use super::{Piece, ScoreJob};
use crate::csvread::{CHUNK_BYTES, Chunk};
use crate::error::Error;
use crate::input::Codec;
use crate::input::jsonl::{KeyPlan, LineChunker, count_lines};
use crate::model::Model;
use crate::storage::Storage;

/// Scores the lines of `piece` (compressed with `codec`) into `sink`.
pub(super) fn score_jsonl(
    model: &Model,
    job: &ScoreJob,
    piece: &Piece,
    codec: Codec,
    storage: &Storage,
    sink: &mut PieceSink<'_, '_>,
) -> Result<(), Error> {
    let loc = &piece.input.location;
    let size = piece.input.size;
    let (start, limit) = match piece.range {
        Some((s, e)) if codec == Codec::None => (s, Some(e)),
        _ => (0, None),
    };
    // a shard starting mid-file opens a byte early: the line starting at `start` is its own
    // exactly when the byte before it ends a line
    let open_at = start.saturating_sub(1);
    let reader = storage.open_input(&piece.input, Some(open_at..size))?;
    let reader = codec.decode(reader).map_err(|e| Error::BadInput {
        source_name: loc.to_string(),
        message: e.to_string(),
    })?;
    let mut chunker = LineChunker::new(reader, open_at, limit, CHUNK_BYTES);
    if start > 0 {
        chunker
            .skip_partial_line()
            .map_err(|e| chunk_error(loc, open_at, e))?;
    }
    sink.first_line = (start == 0).then_some(1);
    let plan = KeyPlan {
        features: feature_columns(&model.header.features, &job.features),
        ids: job.id_columns.clone(),
    };
    let scorer = Scorer::new(model, job.on_bad_row, &job.id_columns, job.output_format);
    run_ordered(
        || {
            let at = chunker.offset();
            chunker.next_chunk().map_err(|e| chunk_error(loc, at, e))
        },
        |chunk| process_chunk(&scorer, &plan, chunk),
        |out| sink.accept(out),
    )
}

fn process_chunk(scorer: &Scorer<'_>, plan: &KeyPlan, chunk: &Chunk) -> BlockOut {
    let nf = plan.features.len();
    let lines = memchr::memchr_iter(b'\n', &chunk.data).count() + 1;
    let mut rows = Rows {
        x: Vec::with_capacity(nf * lines),
        ids: Vec::with_capacity(16 * lines),
        id_ends: Vec::with_capacity(lines),
        typed_ids: None,
        columns: None,
    };
    let mut feats = vec![0.0f64; nf];
    let mut result = BlockOut::new(
        count_lines(&chunk.data),
        chunk.offset,
        chunk.offset + chunk.data.len() as u64,
    );
    let mut pos = 0usize;
    for raw in chunk.data.split_inclusive(|&b| b == b'\n') {
        let rel_line = result.lines;
        result.lines += 1;
        let offset = chunk.offset + pos as u64;
        pos += raw.len();
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Err(reason) = rows.push_parsed(&mut feats, |f, ids| plan.parse_line(line, f, ids))
            && !scorer.bad_row(&mut result, rel_line, offset, line, reason)
        {
            return result;
        }
    }
    scorer.predict(&rows, &mut result);
    result
}
