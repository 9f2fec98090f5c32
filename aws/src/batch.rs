//! [`BatchClient`]: the batch port over AWS Batch (SubmitJob, DescribeJobs, and ListJobs for a
//! failed array job's children).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_batch::Client;
use aws_sdk_batch::types::JobStatus as SdkJobStatus;
use aws_sdk_batch::types::{
    ArrayProperties, ContainerOverrides, EvaluateOnExit, JobTimeout, KeyValuePair,
    ResourceRequirement, ResourceType, RetryAction as SdkRetryAction,
    RetryStrategy as SdkRetryStrategy,
};
use stepscore_core::batch::{
    ArrayChildFailure, BatchJobView, BatchStatus, RetryAction, SubmitJobRequest,
};
use stepscore_core::ports::{BatchError, BatchService, SubmittedJob};

use aws_sdk_batch::config::http::HttpResponse;
use aws_sdk_batch::error::{ProvideErrorMetadata, SdkError};

use stepscore_aws_s3::errors::classify;

/// AWS Batch through one client.
#[derive(Debug, Clone)]
pub struct BatchClient {
    client: Client,
}

impl BatchClient {
    /// A client built from `config`.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self::from_client(Client::from_conf(
            stepscore_aws_s3::with_call_log!(
                aws_sdk_batch::config::Builder::from(config),
                crate::calllog::services
            )
            .build(),
        ))
    }

    /// Over an existing client.
    pub fn from_client(client: Client) -> Self {
        BatchClient { client }
    }

    /// The underlying client (for administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl BatchService for BatchClient {
    #[tracing::instrument(level = "debug", skip(self, request), fields(job_name = %request.job_name, queue = %request.job_queue))]
    async fn submit(&self, request: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        let client_error = |message: String| BatchError::Client { message };
        let mut overrides = ContainerOverrides::builder();
        for (name, value) in &request.environment {
            overrides =
                overrides.environment(KeyValuePair::builder().name(name).value(value).build());
        }
        // resourceRequirements, not the deprecated vcpus/memory fields (Fargate rejects those)
        overrides = overrides
            .resource_requirements(
                ResourceRequirement::builder()
                    .r#type(ResourceType::Vcpu)
                    .value(request.vcpus.to_string())
                    .build(),
            )
            .resource_requirements(
                ResourceRequirement::builder()
                    .r#type(ResourceType::Memory)
                    .value(request.memory_mib.to_string())
                    .build(),
            );
        let mut retry =
            SdkRetryStrategy::builder().attempts(request.retry_strategy.attempts as i32);
        for rule in &request.retry_strategy.evaluate_on_exit {
            retry = retry.evaluate_on_exit(
                EvaluateOnExit::builder()
                    .set_on_status_reason(rule.on_status_reason.clone())
                    .set_on_reason(rule.on_reason.clone())
                    .set_on_exit_code(rule.on_exit_code.clone())
                    .action(match rule.action {
                        RetryAction::Retry => SdkRetryAction::Retry,
                        RetryAction::Exit => SdkRetryAction::Exit,
                    })
                    .build(),
            );
        }
        let timeout = i32::try_from(request.timeout_seconds.max(60)).map_err(|_| {
            client_error(format!(
                "timeout of {} s for job {} is too long for Batch",
                request.timeout_seconds, request.job_name
            ))
        })?;
        let mut call = self
            .client
            .submit_job()
            .job_name(&request.job_name)
            .job_queue(&request.job_queue)
            .job_definition(&request.job_definition)
            .container_overrides(overrides.build())
            .retry_strategy(retry.build())
            .timeout(
                JobTimeout::builder()
                    .attempt_duration_seconds(timeout)
                    .build(),
            );
        if let Some(size) = request.array_size {
            call = call.array_properties(ArrayProperties::builder().size(size as i32).build());
        }
        if !request.tags.is_empty() {
            let tags: HashMap<String, String> = request.tags.clone().into_iter().collect();
            call = call.set_tags(Some(tags)).propagate_tags(true);
        }
        let out = call.send().await.map_err(|e| batch_error(&e))?;
        let job_id = out.job_id().ok_or_else(|| BatchError::Client {
            message: format!("SubmitJob for {} returned no job id", request.job_name),
        })?;
        Ok(SubmittedJob {
            job_id: job_id.to_owned(),
            job_name: out.job_name().unwrap_or(&request.job_name).to_owned(),
        })
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn terminate(&self, job_id: &str, reason: &str) -> Result<(), BatchError> {
        // Batch cancels a job not yet STARTING, stops a running one, takes an array job's
        // children with it, and leaves an ended job as it is
        self.client
            .terminate_job()
            .job_id(job_id)
            .reason(reason)
            .send()
            .await
            .map_err(|e| batch_error(&e))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn find_by_name(
        &self,
        job_queue: &str,
        job_name: &str,
    ) -> Result<Option<SubmittedJob>, BatchError> {
        // a JOB_NAME filter lists jobs in every status
        let filter = aws_sdk_batch::types::KeyValuesPair::builder()
            .name("JOB_NAME")
            .values(job_name)
            .build();
        let mut pages = self
            .client
            .list_jobs()
            .job_queue(job_queue)
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| batch_error(&e))?;
            // the filter matches a prefix when it ends in `*`; ours never does, but be exact
            if let Some(job) = page
                .job_summary_list()
                .iter()
                .find(|j| j.job_name() == Some(job_name))
                && let Some(id) = job.job_id()
            {
                return Ok(Some(SubmittedJob {
                    job_id: id.to_owned(),
                    job_name: job_name.to_owned(),
                }));
            }
        }
        Ok(None)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn describe(&self, job_id: &str) -> Result<Option<BatchJobView>, BatchError> {
        let out = self
            .client
            .describe_jobs()
            .jobs(job_id)
            .send()
            .await
            .map_err(|e| batch_error(&e))?;
        let Some(job) = out.jobs().iter().find(|j| j.job_id() == Some(job_id)) else {
            return Ok(None);
        };
        let status_name = job.status().map(|s| s.as_str()).unwrap_or_default();
        let status = BatchStatus::parse(status_name).ok_or_else(|| BatchError::Client {
            message: format!("DescribeJobs gave job {job_id} the unknown status '{status_name}'"),
        })?;
        let last = job.attempts().last();
        let exit_code = last
            .and_then(|a| a.container())
            .and_then(|c| c.exit_code())
            .or_else(|| job.container().and_then(|c| c.exit_code()));
        let container_reason = last
            .and_then(|a| a.container())
            .and_then(|c| c.reason())
            .or_else(|| job.container().and_then(|c| c.reason()))
            .map(str::to_owned);
        let array = job.array_properties();
        let failed_children = if status == BatchStatus::Failed && array.is_some() {
            self.failed_children(job_id).await?
        } else {
            Vec::new()
        };
        Ok(Some(BatchJobView {
            job_id: job_id.to_owned(),
            job_queue: job.job_queue().unwrap_or_default().to_owned(),
            status,
            status_reason: job.status_reason().map(str::to_owned),
            exit_code,
            container_reason,
            attempts: job.attempts().len() as u32,
            array_status_summary: array.and_then(|a| a.status_summary()).map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), (*v).max(0) as u32))
                    .collect::<BTreeMap<_, _>>()
            }),
            array_size: array.and_then(|a| a.size()).map(|s| s.max(0) as u32),
            failed_children,
        }))
    }
}

/// A failed call as the port's error: transient (throttling, 5xx, timeouts) or the caller's.
fn batch_error<E>(e: &SdkError<E, HttpResponse>) -> BatchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let f = classify(e);
    if f.transient {
        BatchError::Transient { message: f.message }
    } else {
        BatchError::Client { message: f.message }
    }
}

impl BatchClient {
    /// The failed children of array job `parent`, by index (ListJobs, every page).
    async fn failed_children(&self, parent: &str) -> Result<Vec<ArrayChildFailure>, BatchError> {
        let mut pages = self
            .client
            .list_jobs()
            .array_job_id(parent)
            .job_status(SdkJobStatus::Failed)
            .into_paginator()
            .send();
        let mut children = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| batch_error(&e))?;
            for child in page.job_summary_list() {
                // the index is in arrayProperties; a child's id is also `<parent>:<index>`
                let index = child
                    .array_properties()
                    .and_then(|a| a.index())
                    .map(|i| i.max(0) as u32)
                    .or_else(|| {
                        child
                            .job_id()
                            .and_then(|id| id.rsplit_once(':'))
                            .and_then(|(_, i)| i.parse().ok())
                    });
                let Some(index) = index else { continue };
                children.push(ArrayChildFailure {
                    index,
                    status_reason: child.status_reason().map(str::to_owned),
                    exit_code: child.container().and_then(|c| c.exit_code()),
                    container_reason: child
                        .container()
                        .and_then(|c| c.reason())
                        .map(str::to_owned),
                });
            }
        }
        children.sort_by_key(|c| c.index);
        Ok(children)
    }
}
