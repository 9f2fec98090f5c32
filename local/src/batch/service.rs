//! The [`BatchService`] port over the local Batch: SubmitJob, ListJobs by name, TerminateJob
//! and DescribeJobs, each one statement or transaction on the `batch_jobs` table.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use stepscore_core::batch::{BatchJobView, BatchStatus, SubmitJobRequest};
use stepscore_core::ports::{BatchError, BatchService, SubmittedJob};

use super::jobs_table::{child_summary, failed_children, load_job, now_us, transient};
use super::{BatchConfig, LocalBatch};

impl LocalBatch {
    fn submit_blocking(&self, r: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        check_request(self.config(), r)?;
        let id = uuid::Uuid::new_v4().to_string();
        let request = serde_json::to_string(r).map_err(|e| BatchError::Client {
            message: e.to_string(),
        })?;
        let now = now_us();
        let mut c = self.conn();
        let tx = c.transaction().map_err(transient)?;
        tx.execute(
            "INSERT INTO batch_jobs (id, name, queue, request, parent_id, array_index, array_size, status, attempts, created_us, updated_us)
             VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5, 'SUBMITTED', 0, ?6, ?6)",
            params![id, r.job_name, r.job_queue, request, r.array_size, now],
        )
        .map_err(transient)?;
        if let Some(n) = r.array_size {
            for i in 0..n {
                tx.execute(
                    "INSERT INTO batch_jobs (id, name, queue, request, parent_id, array_index, array_size, status, attempts, created_us, updated_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 'SUBMITTED', 0, ?7, ?7)",
                    params![format!("{id}:{i}"), r.job_name, r.job_queue, request, id, i, now],
                )
                .map_err(transient)?;
            }
        }
        tx.commit().map_err(transient)?;
        drop(c);
        tracing::info!(job_id = %id, job_name = %r.job_name, queue = %r.job_queue, array_size = ?r.array_size, "batch job submitted");
        self.wake_executor();
        Ok(SubmittedJob {
            job_id: id,
            job_name: r.job_name.clone(),
        })
    }
}

/// Refuses what AWS's SubmitJob refuses: an unknown queue or job definition, an array size or
/// retry attempts out of range.
fn check_request(cfg: &BatchConfig, r: &SubmitJobRequest) -> Result<(), BatchError> {
    if !cfg.queues.iter().any(|q| q.name == r.job_queue) {
        return Err(BatchError::Client {
            message: format!(
                "job queue '{}' does not exist; the local queues are {}",
                r.job_queue,
                cfg.queues
                    .iter()
                    .map(|q| q.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if !cfg.job_definitions.contains_key(&r.job_definition) {
        return Err(BatchError::Client {
            message: format!(
                "job definition '{}' does not exist; the local definitions are {}",
                r.job_definition,
                cfg.job_definitions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(n) = r.array_size
        && !(2..=10_000).contains(&n)
    {
        return Err(BatchError::Client {
            message: format!("arrayProperties.size {n} must be between 2 and 10000"),
        });
    }
    if !(1..=10).contains(&r.retry_strategy.attempts) {
        return Err(BatchError::Client {
            message: format!(
                "retryStrategy.attempts {} must be between 1 and 10",
                r.retry_strategy.attempts
            ),
        });
    }
    Ok(())
}

#[async_trait]
impl BatchService for LocalBatch {
    async fn submit(&self, request: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        let this = self.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || this.submit_blocking(&request))
            .await
            .map_err(|e| BatchError::Transient {
                message: e.to_string(),
            })?
    }

    async fn find_by_name(
        &self,
        job_queue: &str,
        job_name: &str,
    ) -> Result<Option<SubmittedJob>, BatchError> {
        let this = self.clone();
        let (queue, name) = (job_queue.to_owned(), job_name.to_owned());
        let id = tokio::task::spawn_blocking(move || {
            let c = this.conn();
            c.query_row(
                "SELECT id FROM batch_jobs WHERE queue = ?1 AND name = ?2 AND parent_id IS NULL
                 ORDER BY created_us LIMIT 1",
                params![queue, name],
                |r| r.get::<_, String>(0),
            )
            .optional()
        })
        .await
        .map_err(|e| BatchError::Transient {
            message: e.to_string(),
        })?
        .map_err(transient)?;
        Ok(id.map(|job_id| SubmittedJob {
            job_id,
            job_name: job_name.to_owned(),
        }))
    }

    async fn terminate(&self, job_id: &str, reason: &str) -> Result<(), BatchError> {
        let this = self.clone();
        let (id, reason) = (job_id.to_owned(), reason.to_owned());
        tokio::task::spawn_blocking(move || {
            let c = this.conn();
            // a job (or an array parent's children) not yet placed is cancelled here; one placed
            // on a host is ended by the executor running it, which reads the reason. Ended jobs
            // are left as they are.
            c.execute(
                "UPDATE batch_jobs SET terminate_reason = ?1
                 WHERE (id = ?2 OR parent_id = ?2) AND status NOT IN ('SUCCEEDED', 'FAILED')",
                params![reason, id],
            )?;
            c.execute(
                "UPDATE batch_jobs SET status = 'FAILED', status_reason = ?1, updated_us = ?3
                 WHERE (id = ?2 OR parent_id = ?2) AND status IN ('SUBMITTED', 'PENDING', 'RUNNABLE')",
                params![reason, id, now_us()],
            )
        })
        .await
        .map_err(|e| BatchError::Transient {
            message: e.to_string(),
        })?
        .map_err(transient)?;
        self.wake_executor();
        Ok(())
    }

    async fn describe(&self, job_id: &str) -> Result<Option<BatchJobView>, BatchError> {
        let this = self.clone();
        let id = job_id.to_owned();
        let job = tokio::task::spawn_blocking(move || {
            let c = this.conn();
            let job = load_job(&c, &id)?;
            let summary = match &job {
                Some(j) if j.array_size.is_some() => Some(child_summary(&c, &j.job_id)?),
                _ => None,
            };
            let failed_children = match &job {
                Some(j) if j.array_size.is_some() && j.status == BatchStatus::Failed => {
                    failed_children(&c, &j.job_id)?
                }
                _ => Vec::new(),
            };
            Ok::<_, rusqlite::Error>(job.map(|j| (j, summary, failed_children)))
        })
        .await
        .map_err(|e| BatchError::Transient {
            message: e.to_string(),
        })?
        .map_err(transient)?;
        Ok(job.map(|(j, summary, failed_children)| BatchJobView {
            job_id: j.job_id,
            job_queue: j.job_queue,
            status: j.status,
            status_reason: j.status_reason,
            exit_code: j.exit_code,
            container_reason: j.container_reason,
            attempts: j.attempts,
            array_status_summary: summary,
            array_size: j.array_size,
            failed_children,
        }))
    }
}
