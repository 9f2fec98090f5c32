//! The live figures of a running job: what the scoring container's progress reports say, summed
//! over its shards by the check task and kept on the job record, so that `status` (local and
//! `--aws`) and any reader of the job table see how far a running job has got.
//!
//! Figures only grow within a Batch attempt of the pipeline; a new attempt (an on-demand
//! resubmission after a spot reclaim) starts again from nothing. [`LiveProgress::sequence`] is
//! the one number a table compares to keep the newest figures of an attempt
//! ([`JobRecord::apply_live`](crate::record::JobRecord::apply_live)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::manifest::ScoringProgress;

/// Most shards whose own figures a record keeps: a DynamoDB item holds at most 400 KB, and a
/// person reads a handful of rows; past this only the totals are kept.
pub const MAX_SHARDS_IN_RECORD: usize = 64;

/// How far the running attempt of a job has got, summed over its shards' progress reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveProgress {
    /// The pipeline attempt (the record's `attempt`) the figures belong to.
    pub attempt: u32,
    /// Grows with every new report of the attempt: rows read + bytes read + shards done. A
    /// table keeps the figures with the greatest sequence of an attempt.
    pub sequence: u64,
    /// Data rows read so far, over every shard.
    pub rows_read: u64,
    /// Rows scored so far.
    pub rows_scored: u64,
    /// Rows rejected so far.
    pub rows_rejected: u64,
    /// Input bytes read so far.
    pub bytes_read: u64,
    /// Input bytes of the shards that have reported.
    pub bytes_total: u64,
    /// The job's array size (1 for a single job).
    pub shard_count: u32,
    /// Shards that have written a progress report.
    pub shards_reporting: u32,
    /// Shards whose last report says their output is complete.
    pub shards_done: u32,
    /// The longest-running shard's seconds since it started.
    pub seconds: f64,
    /// Each reporting shard's figures, lowest index first, while the job has at most
    /// [`MAX_SHARDS_IN_RECORD`] shards (empty above that).
    #[serde(default)]
    pub shards: Vec<ShardProgress>,
    /// When the check task read these figures.
    pub updated_at: DateTime<Utc>,
}

/// One shard's figures, from its `progress-<i>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardProgress {
    /// The array index.
    pub index: u32,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows scored.
    pub rows_scored: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Input bytes read.
    pub bytes_read: u64,
    /// Input bytes this shard reads in all.
    pub bytes_total: u64,
    /// Seconds since the shard started.
    pub seconds: f64,
    /// Its output is complete.
    pub done: bool,
}

impl LiveProgress {
    /// The figures of attempt `attempt` of a job of `shard_count` shards, summed over `reports`
    /// (one per shard that has reported, any order), read at `at`.
    pub fn sum(
        attempt: u32,
        shard_count: u32,
        reports: &[ScoringProgress],
        at: DateTime<Utc>,
    ) -> Self {
        let mut shards: Vec<ShardProgress> = reports
            .iter()
            .map(|r| ShardProgress {
                index: r.shard_index,
                rows_read: r.rows_read,
                rows_scored: r.rows_scored,
                rows_rejected: r.rows_rejected,
                bytes_read: r.bytes_read,
                bytes_total: r.bytes_total,
                seconds: r.seconds,
                done: r.done,
            })
            .collect();
        shards.sort_by_key(|s| s.index);
        let total =
            |f: fn(&ShardProgress) -> u64| shards.iter().map(f).fold(0u64, u64::saturating_add);
        let rows_read = total(|s| s.rows_read);
        let bytes_read = total(|s| s.bytes_read);
        let shards_done = shards.iter().filter(|s| s.done).count() as u32;
        let mut live = LiveProgress {
            attempt,
            sequence: rows_read
                .saturating_add(bytes_read)
                .saturating_add(u64::from(shards_done)),
            rows_read,
            rows_scored: total(|s| s.rows_scored),
            rows_rejected: total(|s| s.rows_rejected),
            bytes_read,
            bytes_total: total(|s| s.bytes_total),
            shard_count,
            shards_reporting: shards.len() as u32,
            shards_done,
            seconds: shards.iter().map(|s| s.seconds).fold(0.0, f64::max),
            shards: Vec::new(),
            updated_at: at,
        };
        if shard_count as usize <= MAX_SHARDS_IN_RECORD {
            live.shards = shards;
        }
        live
    }

    /// Rows read per second so far (rows read over the longest shard's time).
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows_read as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The share of the input read, 0 to 1; `None` while no shard has said how much it reads,
    /// or before every shard has reported (the total is not known yet).
    pub fn fraction(&self) -> Option<f64> {
        if self.bytes_total == 0 || self.shards_reporting < self.shard_count {
            return None;
        }
        Some((self.bytes_read as f64 / self.bytes_total as f64).min(1.0))
    }

    /// Seconds left at the rate so far, from bytes; `None` while [`fraction`](Self::fraction)
    /// is unknown or nothing was read.
    pub fn eta_seconds(&self) -> Option<f64> {
        self.fraction()?;
        if self.bytes_read == 0 || self.seconds <= 0.0 {
            return None;
        }
        let left = self.bytes_total.saturating_sub(self.bytes_read) as f64;
        Some(left * self.seconds / self.bytes_read as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::MANIFEST_VERSION;
    use chrono::TimeZone;

    fn report(
        index: u32,
        rows: u64,
        bytes: u64,
        total: u64,
        seconds: f64,
        done: bool,
    ) -> ScoringProgress {
        ScoringProgress {
            version: MANIFEST_VERSION,
            job_id: "j-1".into(),
            shard_index: index,
            shard_count: 2,
            rows_read: rows,
            rows_scored: rows - rows / 10,
            rows_rejected: rows / 10,
            bytes_read: bytes,
            bytes_total: total,
            seconds,
            done,
            batch_job_id: None,
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000, 0).unwrap()
    }

    #[test]
    fn shards_are_summed_and_kept_in_index_order() {
        let live = LiveProgress::sum(
            1,
            2,
            &[
                report(1, 100, 5_000, 10_000, 4.0, false),
                report(0, 200, 10_000, 10_000, 2.0, true),
            ],
            at(),
        );
        assert_eq!(
            (live.rows_read, live.rows_scored, live.rows_rejected),
            (300, 270, 30)
        );
        assert_eq!((live.bytes_read, live.bytes_total), (15_000, 20_000));
        assert_eq!((live.shards_reporting, live.shards_done), (2, 1));
        assert_eq!(live.sequence, 300 + 15_000 + 1);
        assert_eq!(live.seconds, 4.0);
        assert_eq!(
            live.shards.iter().map(|s| s.index).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(live.rows_per_second(), 75.0);
        assert_eq!(live.fraction(), Some(0.75));
        // 5,000 bytes left at 15,000 bytes in 4 s
        assert_eq!(live.eta_seconds(), Some(5_000.0 * 4.0 / 15_000.0));
    }

    #[test]
    fn no_fraction_or_eta_before_every_shard_has_reported() {
        let live = LiveProgress::sum(1, 2, &[report(0, 10, 100, 1_000, 1.0, false)], at());
        assert_eq!(live.fraction(), None);
        assert_eq!(live.eta_seconds(), None);
        assert_eq!(LiveProgress::sum(1, 1, &[], at()).rows_per_second(), 0.0);
    }

    #[test]
    fn a_wide_array_keeps_only_its_totals() {
        let reports: Vec<ScoringProgress> = (0..100)
            .map(|i| report(i, 10, 100, 100, 1.0, true))
            .collect();
        let live = LiveProgress::sum(1, 100, &reports, at());
        assert!(live.shards.is_empty());
        assert_eq!((live.rows_read, live.shards_done), (1_000, 100));
    }
}
