//! Scoring: stream the input in chunks, score chunks in parallel, write them in order.
//!
//! A reader thread cuts the input into ~1 MiB chunks of whole records; one worker thread per
//! core takes the next chunk and scores it (parse, predict, format); the calling thread writes
//! the results in input order. Memory stays bounded by the number of chunks in flight, whatever
//! the input size.

use std::time::{Duration, Instant};

use stepscore_core::config::{BadRowPolicy, FeatureMap, InputFormat, OutputFormat};
use stepscore_core::manifest::{
    InputIdentity, MANIFEST_VERSION, ModelIdentity, ScoringManifest, manifest_name, part_name,
    rejects_name,
};

use crate::csvread;
use crate::error::Error;
use crate::input;
use crate::model::Model;
use crate::storage::{InputObject, Location, Storage};

mod block;
mod csv_piece;
mod jsonl_piece;
mod ordered;
mod output;
mod parquet_piece;
mod progress;
mod rejects;

use block::PieceSink;
use output::PartWriter;
pub use output::{OutputSpec, prediction_names};
use progress::Progress;
use rejects::{Rejects, SinkLike};

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
    /// How input files are read.
    pub input_format: InputFormat,
    /// The input column of each model feature whose column has another name.
    pub features: FeatureMap,
    /// What to do with a row that cannot be scored.
    pub on_bad_row: BadRowPolicy,
    /// Which shard to score.
    pub shard: Shard,
    /// How often the run reports its progress (log line and `progress-<i>.json`).
    pub progress_interval: Duration,
    /// The Batch job running this shard (`AWS_BATCH_JOB_ID`), recorded in progress reports.
    pub batch_job_id: Option<String>,
    /// How predictions are written.
    pub output_format: OutputSpec,
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
///
/// A single input that cannot be split (`splittable` false: a gzip or zstd file) goes whole to
/// shard 0; the other shards score nothing and say so in their manifests.
pub fn plan_shard(inputs: &[InputObject], shard: Shard, splittable: bool) -> Vec<Piece> {
    let n = u64::from(shard.count.max(1));
    let i = u64::from(shard.index);
    if inputs.len() == 1 && n > 1 && !splittable {
        return if i == 0 {
            vec![Piece {
                input: inputs[0].clone(),
                range: None,
            }]
        } else {
            Vec::new()
        };
    }
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
    let splittable = match inputs.as_slice() {
        [one] if job.shard.count > 1 => {
            let d = detect(job.input_format, storage, one)?;
            if !d.splittable() {
                tracing::warn!(input = %one.location, compression = d.codec.name(), "a compressed file cannot be split by byte range: shard 0 scores it whole");
            }
            d.splittable()
        }
        _ => true,
    };
    let pieces = plan_shard(&inputs, job.shard, splittable);
    tracing::info!(
        inputs = inputs.len(),
        pieces = pieces.len(),
        shard = job.shard.index,
        shards = job.shard.count,
        "input planned"
    );
    let part_loc = job
        .output
        .join(&part_file_name(job.shard.index, job.output_format.format));
    let rejects_loc = job.output.join(&rejects_name(job.shard.index));
    let mut part = PartWriter::new(
        job.output_format,
        storage.create(&part_loc)?,
        &output_header(&model, &job.id_columns),
    )?;
    let mut rejects = Rejects {
        storage,
        location: rejects_loc,
        sink: None,
    };
    let result = (|| {
        let mut counts = Counts::default();
        let mut progress = Progress::new(job, storage, &pieces);
        for piece in &pieces {
            let mut sink = PieceSink {
                source: &piece.input.location,
                model: &job.model,
                first_line: None,
                unit: "line",
                piece_start: piece.start(),
                part: &mut part,
                rejects: &mut rejects,
                progress: &mut progress,
                before: counts,
                counts: Counts::default(),
            };
            score_piece(&model, job, piece, storage, &mut sink)?;
            let piece_counts = sink.counts;
            piece_counts.check(&piece.input.location.to_string())?;
            progress.piece_done(piece.byte_len());
            counts.read += piece_counts.read;
            counts.scored += piece_counts.scored;
            counts.rejected += piece_counts.rejected;
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
    part.finish(|| output::empty_schema(&model, &job.id_columns))?;
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

/// The name of shard `index`'s predictions file: `part-<i>.csv`, `.jsonl` or `.parquet`.
pub fn part_file_name(index: u32, format: OutputFormat) -> String {
    match format {
        OutputFormat::Csv => part_name(index),
        other => format!("part-{index}.{}", other.extension()),
    }
}

/// The predictions header: id columns, `prediction`, then `p_<label>` per class.
pub fn output_header(model: &Model, id_columns: &[String]) -> Vec<u8> {
    let mut names: Vec<String> = id_columns.to_vec();
    names.extend(prediction_names(model));
    let mut out = Vec::new();
    let fields: Vec<&[u8]> = names.iter().map(|s| s.as_bytes()).collect();
    csvread::encode_ids(&fields, &mut out);
    out.push(b'\n');
    out
}

/// Scores one piece in its input's format.
fn score_piece(
    model: &Model,
    job: &ScoreJob,
    piece: &Piece,
    storage: &Storage,
    sink: &mut PieceSink<'_, '_>,
) -> Result<(), Error> {
    let loc = &piece.input.location;
    if let Some((s, e)) = piece.range
        && s >= e
    {
        return Ok(());
    }
    if piece.input.size == 0 {
        tracing::warn!(input = %loc, "input is empty (no header): no rows");
        return Ok(());
    }
    let detected = detect(job.input_format, storage, &piece.input)?;
    tracing::info!(input = %loc, format = detected.format.as_str(), compression = detected.codec.name(), "reading");
    match detected.format {
        InputFormat::Jsonl => {
            jsonl_piece::score_jsonl(model, job, piece, detected.codec, storage, sink)
        }
        InputFormat::Parquet => parquet_piece::score_parquet(model, job, piece, storage, sink),
        InputFormat::Auto | InputFormat::Csv => {
            csv_piece::score_csv(model, job, piece, detected.codec, storage, sink)
        }
    }
}

/// The format and compression of `input`, from its first bytes and its name.
fn detect(
    forced: InputFormat,
    storage: &Storage,
    input: &InputObject,
) -> Result<input::Detected, Error> {
    let n = input.size.min(input::SNIFF_BYTES);
    let mut head = Vec::with_capacity(n as usize);
    if n > 0 {
        use std::io::Read;
        storage
            .open_input(input, Some(0..n))?
            .take(n)
            .read_to_end(&mut head)
            .map_err(|e| match &input.location {
                Location::Local(_) => Error::io(&input.location, e),
                Location::Object(_) => crate::storage::stream_error(&input.location, e),
            })?;
    }
    input::detect(forced, &input.location.to_string(), &head).map_err(|message| Error::BadInput {
        source_name: input.location.to_string(),
        message,
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
