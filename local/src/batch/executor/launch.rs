//! Placing a job: its attempt's log files, its process with the environment a Batch container
//! gets, and what a process that cannot start becomes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stepscore_core::batch::{BatchStatus, RetryAction};

use super::super::config::{ComputeEnvironment, JobQueue};
use super::reap::Running;
use super::{Executor, Row};

impl Executor {
    pub(super) fn launch(&mut self, row: Row, q: &JobQueue, ce: &ComputeEnvironment) {
        let attempt = row.attempts + 1;
        self.set(
            &row.id,
            BatchStatus::Starting,
            &[
                ("attempts", i64::from(attempt).into()),
                ("compute_environment", ce.name.clone().into()),
            ],
        );
        let fail_to_start = |this: &mut Self, message: String| {
            tracing::warn!(job_id = %row.id, attempt, error = %message, "container failed to start");
            let status_reason = "Task failed to start".to_string();
            let reason = format!("CannotStartContainerError: {message}");
            let retry = row
                .request
                .retry_strategy
                .decide(&status_reason, &reason, None)
                == RetryAction::Retry
                && attempt < row.request.retry_strategy.attempts;
            this.set(
                &row.id,
                if retry {
                    BatchStatus::Runnable
                } else {
                    BatchStatus::Failed
                },
                &[
                    ("status_reason", status_reason.into()),
                    ("container_reason", reason.into()),
                    ("exit_code", rusqlite::types::Value::Null),
                ],
            );
        };
        let Some(def) = self
            .config
            .job_definitions
            .get(&row.request.job_definition)
            .cloned()
        else {
            return fail_to_start(
                self,
                format!(
                    "job definition '{}' is not configured",
                    row.request.job_definition
                ),
            );
        };
        let Some((program, args)) = def.command.split_first() else {
            return fail_to_start(
                self,
                format!(
                    "job definition '{}' has an empty command",
                    row.request.job_definition
                ),
            );
        };
        let dir = self.config.logs_dir.join(&row.id);
        let files = std::fs::create_dir_all(&dir).and_then(|_| {
            Ok((
                std::fs::File::create(dir.join(format!("attempt-{attempt}.stdout")))?,
                std::fs::File::create(dir.join(format!("attempt-{attempt}.stderr")))?,
            ))
        });
        let (out, err) = match files {
            Ok(f) => f,
            Err(e) => {
                return fail_to_start(
                    self,
                    format!("cannot create log files in {}: {e}", dir.display()),
                );
            }
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "PATH" | "HOME" | "TMPDIR" | "LANG" | "RUST_LOG" | "RUST_BACKTRACE"
                )
            }))
            .envs(&self.config.environment)
            .envs(&row.request.environment)
            .env("AWS_BATCH_JOB_ID", &row.id)
            .env("AWS_BATCH_JOB_ATTEMPT", attempt.to_string())
            .env("AWS_BATCH_JQ_NAME", &q.name)
            .env("AWS_BATCH_CE_NAME", &ce.name)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(i) = row.array_index {
            cmd.env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string());
        }
        match cmd.spawn() {
            Ok(child) => {
                let pid = child.id();
                let reclaim_at = match &self.config.spot_reclaim {
                    Some(r) if ce.spot && self.reclaims_done < r.times => {
                        Some(Instant::now() + Duration::from_secs_f64(r.after_seconds.max(0.0)))
                    }
                    _ => None,
                };
                self.set(
                    &row.id,
                    BatchStatus::Running,
                    &[("pid", i64::from(pid).into())],
                );
                tracing::info!(job_id = %row.id, attempt, pid, queue = %q.name, compute_environment = %ce.name, "batch job running");
                self.running.insert(
                    row.id.clone(),
                    Running {
                        child,
                        started: Instant::now(),
                        timeout: Duration::from_secs(row.request.timeout_seconds.max(1)),
                        compute_environment: ce.name.clone(),
                        vcpus: row.request.vcpus.max(1),
                        memory_mib: row.request.memory_mib,
                        reclaim_at,
                        killed: None,
                        attempt,
                        logs: [
                            dir.join(format!("attempt-{attempt}.stdout")),
                            dir.join(format!("attempt-{attempt}.stderr")),
                        ],
                        retry: row.request.retry_strategy.clone(),
                    },
                );
            }
            Err(e) => fail_to_start(self, format!("cannot run '{program}': {e}")),
        }
    }
}
