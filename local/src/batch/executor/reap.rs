//! Attempts that run: their timeouts, injected spot reclaims and TerminateJob requests, and
//! what an ended attempt becomes under its retry strategy.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use rusqlite::params;
use stepscore_core::batch::{BatchStatus, RetryAction};

use super::super::config::SpotReclaim;
use super::super::reasons::{EXITED_REASON, TIMEOUT_REASON, host_terminated_reason};
use super::Executor;

/// Why the executor killed an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kill {
    Timeout,
    Reclaim,
    /// A reclaim asked for by hand ([`LocalBatch::request_reclaim`](super::super::LocalBatch::request_reclaim)):
    /// the same end as `Reclaim`, not counted against the injected ones.
    ReclaimRequested,
    Terminated,
}

/// An attempt this executor runs.
pub(super) struct Running {
    pub(super) child: Child,
    pub(super) started: Instant,
    pub(super) timeout: Duration,
    pub(super) compute_environment: String,
    pub(super) vcpus: u32,
    pub(super) memory_mib: u32,
    pub(super) reclaim_at: Option<Instant>,
    pub(super) killed: Option<Kill>,
    pub(super) attempt: u32,
    pub(super) logs: [PathBuf; 2],
    pub(super) retry: stepscore_core::batch::RetryStrategy,
}

impl Executor {
    /// Ends the running attempts whose job TerminateJob named (its reason is in the row).
    fn terminate_requested(&mut self) {
        let requested: Vec<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, terminate_reason FROM batch_jobs
                 WHERE terminate_reason IS NOT NULL AND status IN ('STARTING', 'RUNNING')",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "local Batch could not read termination requests; retrying next tick");
                Vec::new()
            });
        for (id, reason) in requested {
            match self.running.get_mut(&id) {
                Some(r) if r.killed.is_none() => {
                    tracing::warn!(job_id = %id, reason = %reason, "terminating a running attempt");
                    r.killed = Some(Kill::Terminated);
                    let _ = r.child.kill();
                }
                Some(_) => {}
                // an ended attempt whose end is not written yet: that end stands
                None if self.unrecorded.contains_key(&id) => {}
                // placed by a process that is gone: nothing runs it any more
                None => self.step(
                    &id,
                    BatchStatus::Failed,
                    &[
                        ("status_reason", reason.into()),
                        ("pid", rusqlite::types::Value::Null),
                    ],
                ),
            }
        }
    }

    /// Kills the running spot attempts whose reclaim was asked for, and clears each request
    /// once carried out (an attempt on on-demand capacity has no spot host to lose: its request
    /// is dropped).
    fn reclaim_requested(&mut self) {
        let requested: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM batch_jobs WHERE reclaim_requested = 1 AND status = 'RUNNING'",
            )
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "local Batch could not read reclaim requests; retrying next tick");
                Vec::new()
            });
        for id in requested {
            let Some(r) = self.running.get_mut(&id) else {
                // run by another process, or ended and not yet recorded
                continue;
            };
            let spot = self
                .config
                .compute_environments
                .iter()
                .any(|c| c.name == r.compute_environment && c.spot);
            if spot && r.killed.is_none() {
                tracing::warn!(job_id = %id, "reclaiming a spot attempt on request");
                r.killed = Some(Kill::ReclaimRequested);
                let _ = r.child.kill();
            }
            if let Err(e) = self.conn.execute(
                "UPDATE batch_jobs SET reclaim_requested = 0 WHERE id = ?1",
                params![id],
            ) {
                tracing::warn!(job_id = %id, error = %e, "cannot clear a reclaim request");
            }
        }
    }

    pub(super) fn reap(&mut self) {
        self.terminate_requested();
        self.reclaim_requested();
        let now = Instant::now();
        let mut finished = Vec::new();
        for (id, r) in self.running.iter_mut() {
            if r.killed.is_none() {
                if now.duration_since(r.started) > r.timeout {
                    tracing::warn!(job_id = %id, "attempt timed out; killing it");
                    r.killed = Some(Kill::Timeout);
                    let _ = r.child.kill();
                } else if r.reclaim_at.is_some_and(|t| now >= t)
                    && output_reached(&r.logs, self.config.spot_reclaim.as_ref())
                {
                    tracing::warn!(job_id = %id, "injecting a spot reclaim");
                    r.killed = Some(Kill::Reclaim);
                    let _ = r.child.kill();
                }
            }
            match r.child.try_wait() {
                Ok(Some(status)) => finished.push((id.clone(), status)),
                Ok(None) => {}
                Err(e) => tracing::warn!(job_id = %id, error = %e, "cannot poll a running attempt"),
            }
        }
        for (id, status) in finished {
            let Some(r) = self.running.remove(&id) else {
                continue;
            };
            if r.killed == Some(Kill::Reclaim) {
                self.reclaims_done += 1;
            }
            self.finish(&id, r, status);
        }
    }

    fn finish(&mut self, id: &str, r: Running, status: std::process::ExitStatus) {
        use rusqlite::types::Value as V;
        use std::os::unix::process::ExitStatusExt;
        // a container killed by a signal reports 128 + the signal, as Docker does
        let code = status.code().or_else(|| status.signal().map(|s| 128 + s));
        let (status_reason, exit_code) = match r.killed {
            Some(Kill::Timeout) => (TIMEOUT_REASON.to_string(), None),
            Some(Kill::Reclaim | Kill::ReclaimRequested) => (host_terminated_reason(), None),
            Some(Kill::Terminated) => (self.terminate_reason(id), None),
            None => (EXITED_REASON.to_string(), code),
        };
        let ok = r.killed.is_none() && code == Some(0);
        let next = if ok {
            BatchStatus::Succeeded
        } else if matches!(r.killed, Some(Kill::Timeout | Kill::Terminated)) {
            // AWS retries neither an attempt that ran past its timeout nor a terminated job
            BatchStatus::Failed
        } else if r.retry.decide(&status_reason, "", exit_code) == RetryAction::Retry
            && r.attempt < r.retry.attempts
        {
            BatchStatus::Runnable
        } else {
            BatchStatus::Failed
        };
        tracing::info!(job_id = %id, attempt = r.attempt, exit_code = ?exit_code, status_reason = %status_reason, next = next.as_str(), "batch attempt ended");
        self.record(
            id,
            next,
            vec![
                ("status_reason", status_reason.into()),
                (
                    "exit_code",
                    exit_code.map(i64::from).map(V::Integer).unwrap_or(V::Null),
                ),
                ("container_reason", V::Null),
                ("pid", V::Null),
            ],
        );
    }

    /// The reason TerminateJob gave job `id`.
    fn terminate_reason(&self, id: &str) -> String {
        self.conn
            .query_row(
                "SELECT terminate_reason FROM batch_jobs WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .ok()
            .flatten()
            .unwrap_or_else(|| "Terminated by TerminateJob".into())
    }

    pub(super) fn kill_all(&mut self) {
        for (id, mut r) in self.running.drain() {
            tracing::info!(job_id = %id, "stopping a running attempt at shutdown");
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// True when the reclaim has no output condition, or the attempt's output meets it.
fn output_reached(logs: &[PathBuf; 2], reclaim: Option<&SpotReclaim>) -> bool {
    let Some(text) = reclaim.and_then(|r| r.when_output_contains.as_deref()) else {
        return true;
    };
    logs.iter().any(|p| {
        std::fs::read(p).is_ok_and(|b| b.windows(text.len().max(1)).any(|w| w == text.as_bytes()))
    })
}
