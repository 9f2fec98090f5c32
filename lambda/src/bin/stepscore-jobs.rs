//! The jobs Lambda (API Gateway HTTP API routes POST /jobs and GET /jobs/{id}). Thin: tracing,
//! adapters built once, then `lambda_runtime::run` answering each event.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use stepscore_handlers::FrontDoorPorts;
use stepscore_lambda::jobs::answer_jobs;
use stepscore_lambda::runtime::{init_tracing, leak, required, sdk_config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let table = required(
        "STEPSCORE_TABLE",
        std::env::var("STEPSCORE_TABLE"),
        "the job table's name",
    )?;
    let queue_url = required(
        "STEPSCORE_JOB_QUEUE_URL",
        std::env::var("STEPSCORE_JOB_QUEUE_URL"),
        "the URL of the SQS job queue submissions are sent to",
    )?;
    let jobs_prefix = required(
        "STEPSCORE_JOBS_PREFIX",
        std::env::var("STEPSCORE_JOBS_PREFIX"),
        "the key prefix job configs are admitted under (Terraform's jobs_prefix)",
    )?;
    let config = sdk_config("stepscore-jobs").await;
    let ports: FrontDoorPorts<'static> = FrontDoorPorts {
        store: leak(stepscore_aws::S3Store::new(&config)),
        table: leak(stepscore_aws::DynamoTable::new(&config, table)),
        queue: leak(stepscore_aws::SqsQueue::new(&config, queue_url)),
        jobs_prefix: leak(jobs_prefix),
    };
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, lambda_runtime::Error>(answer_jobs(ports, &event.payload).await)
        },
    ))
    .await
}
