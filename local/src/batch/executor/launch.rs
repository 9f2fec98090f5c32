//! Placing a job: the attempt recorded as STARTING, its log files, its process with the
//! environment a Batch container gets, the attempt recorded as RUNNING with its pid — and what
//! an attempt that cannot start becomes.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use stepscore_core::batch::{BatchStatus, RetryAction};

use super::super::config::{ComputeEnvironment, JobQueue};
use super::Executor;
use super::reap::Running;
use super::records::Row;

/// The environment variables a container inherits from the executor's own.
const INHERITED: [&str; 6] = [
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

impl Executor {
    /// Starts the next attempt of `row` on `ce` through queue `q`.
    pub(super) fn launch(&mut self, row: Row, q: &JobQueue, ce: &ComputeEnvironment) {
        let attempt = row.attempts + 1;
        // the attempt is in state.db before its process exists, so a restart knows of it
        let starting = [
            ("attempts", i64::from(attempt).into()),
            ("compute_environment", ce.name.clone().into()),
        ];
        if let Err(e) = self.set(&row.id, BatchStatus::Starting, &starting) {
            tracing::error!(job_id = %row.id, attempt, db = %self.path.display(), error = %e, "cannot record that a batch job is starting; it stays RUNNABLE and is placed again next tick");
            return;
        }
        let (mut cmd, logs) = match self.command(&row, attempt, q, ce) {
            Ok(c) => c,
            Err(message) => return self.fail_to_start(&row, attempt, message),
        };
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let program = cmd.get_program().to_string_lossy().into_owned();
                return self.fail_to_start(&row, attempt, format!("cannot run '{program}': {e}"));
            }
        };
        let pid = child.id();
        if let Err(e) = self.set(&row.id, BatchStatus::Running, &[("pid", pid.into())]) {
            // without its pid in state.db, a restart could not find and stop this process: it
            // must not run on
            let _ = child.kill();
            let _ = child.wait();
            let message = format!(
                "cannot record that attempt {attempt} of job {} runs as pid {pid} in {}: {e}",
                row.id,
                self.path.display()
            );
            return self.fail_to_start(&row, attempt, message);
        }
        tracing::info!(job_id = %row.id, attempt, pid, queue = %q.name, compute_environment = %ce.name, "batch job running");
        let reclaim_at = match &self.config.spot_reclaim {
            Some(r) if ce.spot && self.reclaims_done < r.times => {
                Some(Instant::now() + Duration::from_secs_f64(r.after_seconds.max(0.0)))
            }
            _ => None,
        };
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
                logs,
                retry: row.request.retry_strategy.clone(),
            },
        );
    }

    /// The attempt's process, not yet started, and its stdout and stderr files; why it cannot
    /// be made otherwise (the container's reason).
    fn command(
        &self,
        row: &Row,
        attempt: u32,
        q: &JobQueue,
        ce: &ComputeEnvironment,
    ) -> Result<(Command, [PathBuf; 2]), String> {
        let name = &row.request.job_definition;
        let def = self
            .config
            .job_definitions
            .get(name)
            .ok_or_else(|| format!("job definition '{name}' is not configured"))?;
        let (program, args) = def
            .command
            .split_first()
            .ok_or_else(|| format!("job definition '{name}' has an empty command"))?;
        let dir = self.config.logs_dir.join(&row.id);
        let logs = [
            dir.join(format!("attempt-{attempt}.stdout")),
            dir.join(format!("attempt-{attempt}.stderr")),
        ];
        let files = std::fs::create_dir_all(&dir)
            .and_then(|_| Ok((File::create(&logs[0])?, File::create(&logs[1])?)));
        let (out, err) =
            files.map_err(|e| format!("cannot create log files in {}: {e}", dir.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| INHERITED.contains(&k.as_str())))
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
        Ok((cmd, logs))
    }

    /// Ends an attempt that did not start as ECS reports one (`CannotStartContainerError`);
    /// the retry strategy decides whether the job goes back to RUNNABLE.
    fn fail_to_start(&mut self, row: &Row, attempt: u32, message: String) {
        tracing::warn!(job_id = %row.id, attempt, error = %message, "container failed to start");
        let status_reason = "Task failed to start".to_string();
        let reason = format!("CannotStartContainerError: {message}");
        let strategy = &row.request.retry_strategy;
        let retry = strategy.decide(&status_reason, &reason, None) == RetryAction::Retry
            && attempt < strategy.attempts;
        let next = if retry {
            BatchStatus::Runnable
        } else {
            BatchStatus::Failed
        };
        self.record(
            &row.id,
            next,
            vec![
                ("status_reason", status_reason.into()),
                ("container_reason", reason.into()),
                ("exit_code", Value::Null),
            ],
        );
    }
}
