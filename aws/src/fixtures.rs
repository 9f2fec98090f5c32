//! What the tests over moto of the AWS adapters and of the Lambda functions share: names no
//! other test uses, a bucket, a Batch world. A failed set-up step panics with what failed: these
//! run only in tests (`test-support`).

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_batch::types::{
    CeState, CeType, ComputeEnvironmentOrder, ContainerProperties, JobDefinitionType, JqState,
    ResourceRequirement, ResourceType,
};
use serde_json::json;

use crate::moto::MotoServer;
use crate::{BatchClient, S3Store};

/// A name no other test in this process uses, valid as a bucket or table name.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store over the shared moto server and a fresh bucket of its own.
pub async fn store_with_bucket() -> (S3Store, String) {
    let store = S3Store::new(&crate::moto::shared().sdk_config().await);
    let bucket = unique("s3");
    if let Err(e) = store.client().create_bucket().bucket(&bucket).send().await {
        panic!("moto did not create bucket {bucket}: {e:?}");
    }
    (store, bucket)
}

/// A store over the shared moto server and a fresh bucket with versioning enabled, as Terraform
/// creates the pipeline's bucket.
pub async fn store_with_versioned_bucket() -> (S3Store, String) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let (store, bucket) = store_with_bucket().await;
    let enabled = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    if let Err(e) = store
        .client()
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(enabled)
        .send()
        .await
    {
        panic!("moto did not turn on versioning of bucket {bucket}: {e:?}");
    }
    (store, bucket)
}

/// A Batch world: a compute environment, a queue and the scoring job definition.
#[derive(Debug)]
pub struct BatchWorld {
    /// The adapter, on the world's server.
    pub client: BatchClient,
    /// The job queue's name.
    pub queue: String,
    /// The scoring job definition's name.
    pub definition: String,
    /// The compute environment the queues place jobs on.
    pub compute_environment: String,
}

impl BatchWorld {
    /// Another enabled queue on the world's compute environment; returns its name.
    pub async fn another_queue(&self) -> String {
        let queue = unique("queue");
        create_queue(&self.client, &queue, &self.compute_environment).await;
        queue
    }
}

async fn create_queue(client: &BatchClient, queue: &str, compute_environment: &str) {
    if let Err(e) = client
        .client()
        .create_job_queue()
        .job_queue_name(queue)
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(compute_environment)
                .build(),
        )
        .send()
        .await
    {
        panic!("moto did not create the job queue {queue}: {e:?}");
    }
}

/// A Batch world on the shared moto server.
pub async fn batch_world() -> BatchWorld {
    batch_world_on(crate::moto::shared()).await
}

/// A Batch world on `server`, in docker-free mode (jobs succeed at once without running).
pub async fn batch_world_on(server: &MotoServer) -> BatchWorld {
    let fail = |step: &str, e: &dyn std::fmt::Debug| -> ! { panic!("moto did not {step}: {e:?}") };
    if let Err(e) = server.configure(&json!({"batch": {"use_docker": false}})) {
        fail("turn off docker for Batch", &e);
    }
    let role = server
        .create_role(&unique("batch-role"))
        .unwrap_or_else(|e| fail("create the Batch service role", &e));
    let client = BatchClient::new(&server.sdk_config().await);
    let sdk = client.client();
    let env = unique("ce");
    if let Err(e) = sdk
        .create_compute_environment()
        .compute_environment_name(&env)
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role(&role)
        .send()
        .await
    {
        fail("create the compute environment", &e);
    }
    let queue = unique("queue");
    create_queue(&client, &queue, &env).await;
    let definition = unique("scoring");
    if let Err(e) = sdk
        .register_job_definition()
        .job_definition_name(&definition)
        .r#type(JobDefinitionType::Container)
        .container_properties(
            ContainerProperties::builder()
                .image("stepscore-batch:latest")
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Vcpu)
                        .value("1")
                        .build(),
                )
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Memory)
                        .value("2048")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
    {
        fail("register the job definition", &e);
    }
    BatchWorld {
        client,
        queue,
        definition,
        compute_environment: env,
    }
}

/// The SQS job queue and its dead-letter queue, as `terraform/jobs_api.tf` makes them: the
/// queue's redrive policy moves a message to the DLQ after `max_receives` receives. Answers the
/// job queue's URL and the DLQ's.
pub async fn job_queues(
    config: &aws_config::SdkConfig,
    name: &str,
    max_receives: u32,
) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(config);
    let create = |queue: String, redrive: Option<String>| {
        let mut request = sqs.create_queue().queue_name(&queue);
        if let Some(policy) = redrive {
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy);
        }
        async move {
            match request.send().await {
                Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
                Err(e) => panic!("moto did not create queue {queue}: {e:?}"),
            }
        }
    };
    let dead_letters = create(format!("{name}-jobs-dlq"), None).await;
    let region = config.region().map(|r| r.as_ref()).unwrap_or("us-east-1");
    let redrive = json!({
        "deadLetterTargetArn": crate::calllog::queue_arn("aws", region, &dead_letters),
        "maxReceiveCount": max_receives
    });
    let jobs = create(format!("{name}-jobs"), Some(redrive.to_string())).await;
    (jobs, dead_letters)
}

/// An SQS message as the Lambda event source mapping hands it to a function: one record of an
/// SQS event (`{"Records": [...]}`), with the message's system and string attributes, read from
/// `queue_arn` in `region`.
pub fn sqs_event_record(
    message: &aws_sdk_sqs::types::Message,
    queue_arn: &str,
    region: &str,
) -> serde_json::Value {
    let attributes: std::collections::BTreeMap<&str, &str> = message
        .attributes()
        .map(|a| a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .unwrap_or_default();
    let message_attributes: serde_json::Map<String, serde_json::Value> = message
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({"stringValue": v.string_value(), "dataType": v.data_type()}),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": message.message_id(), "receiptHandle": message.receipt_handle(),
        "body": message.body(), "attributes": attributes, "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body(), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": region
    })
}
