//! A scoring run's progress reports: a log line and `progress-<i>.json` beside the output.

use std::time::{Duration, Instant};

use stepscore_core::manifest::{MANIFEST_VERSION, ScoringProgress, progress_name};

use super::{Counts, Piece, ScoreJob};
use crate::storage::{Location, Storage};

/// The run's progress reports: a log line and `progress-<i>.json` under the output, at most
/// once per interval, and a last one when the output is complete. Writing the report is best
/// effort: the scorer's exit code depends on its output, never on a progress report.
pub(super) struct Progress<'a> {
    storage: &'a Storage,
    location: Location,
    report: ScoringProgress,
    interval: Duration,
    started: Instant,
    last: Instant,
    /// Bytes of the pieces already finished.
    bytes_before: u64,
}

impl<'a> Progress<'a> {
    pub(super) fn new(job: &ScoreJob, storage: &'a Storage, pieces: &[Piece]) -> Self {
        let now = Instant::now();
        let bytes_total = pieces.iter().map(Piece::byte_len).sum();
        Self {
            storage,
            location: job.output.join(&progress_name(job.shard.index)),
            report: ScoringProgress {
                version: MANIFEST_VERSION,
                job_id: job.job_id.clone(),
                shard_index: job.shard.index,
                shard_count: job.shard.count,
                rows_read: 0,
                rows_scored: 0,
                rows_rejected: 0,
                bytes_read: 0,
                bytes_total,
                seconds: 0.0,
                done: false,
                batch_job_id: job.batch_job_id.clone(),
            },
            interval: job.progress_interval,
            started: now,
            last: now,
            bytes_before: 0,
        }
    }

    /// `counts` so far, `bytes` read of the current piece.
    pub(super) fn tick(&mut self, counts: &Counts, bytes: u64) {
        if self.last.elapsed() < self.interval {
            return;
        }
        self.last = Instant::now();
        self.update(counts, self.bytes_before + bytes);
        tracing::info!(
            rows_read = counts.read,
            rows_scored = counts.scored,
            rows_rejected = counts.rejected,
            rows_per_second = self.report.rows_per_second() as u64,
            bytes_read = self.report.bytes_read,
            bytes_total = self.report.bytes_total,
            "progress"
        );
        self.write();
    }

    /// A piece of `len` bytes is done.
    pub(super) fn piece_done(&mut self, len: u64) {
        self.bytes_before += len;
    }

    /// The last report: every byte read, the output complete.
    pub(super) fn finish(mut self, counts: &Counts) {
        self.update(counts, self.report.bytes_total);
        self.report.done = true;
        self.write();
    }

    fn update(&mut self, counts: &Counts, bytes_read: u64) {
        let r = &mut self.report;
        r.rows_read = counts.read;
        r.rows_scored = counts.scored;
        r.rows_rejected = counts.rejected;
        r.bytes_read = bytes_read.min(r.bytes_total);
        r.seconds = self.started.elapsed().as_secs_f64();
    }

    fn write(&self) {
        let written = serde_json::to_vec(&self.report)
            .map_err(|e| e.to_string())
            .and_then(|json| {
                self.storage
                    .write_small(&self.location, &json)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::warn!(location = %self.location, error = %e, "cannot write the progress report; scoring goes on");
        }
    }
}
