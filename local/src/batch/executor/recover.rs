//! Jobs a previous process left placed on a host: that host is gone, as when an EC2 instance
//! disappears under a job.

use rusqlite::types::Value;
use stepscore_core::batch::{BatchStatus, RetryAction};

use super::super::reasons::host_terminated_reason;
use super::Executor;

impl Executor {
    /// Jobs a previous process left placed on a host: that host is gone. An error, naming the
    /// job, when that cannot be recorded: an executor that ran on would place jobs beside
    /// attempts state.db still shows running.
    pub(super) fn recover(&mut self) -> Result<(), String> {
        for row in self.rows(&["STARTING", "RUNNING"]) {
            if let Some(pid) = row.pid {
                kill_orphan(pid, &row.id, row.attempts);
            }
            let reason = host_terminated_reason();
            tracing::warn!(job_id = %row.id, attempt = row.attempts, "job was running when the executor stopped: treating its host as lost");
            let action = row.request.retry_strategy.decide(&reason, "", None);
            let next = if action == RetryAction::Retry
                && row.attempts < row.request.retry_strategy.attempts
            {
                BatchStatus::Runnable
            } else {
                BatchStatus::Failed
            };
            let lost = [
                ("status_reason", reason.into()),
                ("exit_code", Value::Null),
                ("container_reason", Value::Null),
                ("pid", Value::Null),
            ];
            self.set(&row.id, next, &lost).map_err(|e| {
                format!(
                    "cannot record that job {} lost its host (attempt {} ran when the last executor stopped): {e}; the local Batch starts once the database takes writes again",
                    row.id, row.attempts
                )
            })?;
        }
        // a job TerminateJob named while it ran is not run again
        self.conn
            .execute(
                "UPDATE batch_jobs SET status = 'FAILED', status_reason = terminate_reason
                 WHERE terminate_reason IS NOT NULL AND status IN ('SUBMITTED', 'PENDING', 'RUNNABLE')",
                [],
            )
            .map_err(|e| format!("cannot end the jobs TerminateJob named while no executor ran: {e}"))?;
        Ok(())
    }
}

/// Kills a previous process's child when it is still running and is provably this job's
/// attempt (its environment names the job and attempt), so a reused pid is never hit.
fn kill_orphan(pid: u32, job_id: &str, attempt: u32) {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return;
    };
    let want_id = format!("AWS_BATCH_JOB_ID={job_id}");
    let want_attempt = format!("AWS_BATCH_JOB_ATTEMPT={attempt}");
    let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
    let has = |w: &str| vars.contains(&w.as_bytes());
    if has(&want_id) && has(&want_attempt) {
        let Some(p) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return;
        };
        match rustix::process::kill_process(p, rustix::process::Signal::KILL) {
            Ok(()) => tracing::warn!(
                job_id,
                pid,
                "killed an orphaned attempt left by a previous process"
            ),
            Err(e) => tracing::warn!(job_id, pid, error = %e, "cannot kill an orphaned attempt"),
        }
    }
}
