//! The intake Lambda (SQS event source mapping on the job queue, ReportBatchItemFailures).
//! Thin: tracing, adapters built once, then `lambda_runtime::run`.

use stepscore_handlers::IntakePorts;
use stepscore_lambda::runtime::{admit_ports, init_tracing, leak, required, sdk_config, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let table = required(
        "STEPSCORE_TABLE",
        std::env::var("STEPSCORE_TABLE"),
        "the job table's name",
    )?;
    let state_machine = required(
        "STEPSCORE_STATE_MACHINE_ARN",
        std::env::var("STEPSCORE_STATE_MACHINE_ARN"),
        "the scoring state machine's ARN",
    )?;
    let jobs_prefix = required(
        "STEPSCORE_JOBS_PREFIX",
        std::env::var("STEPSCORE_JOBS_PREFIX"),
        "the key prefix job configs are admitted under (Terraform's jobs_prefix)",
    )?;
    let dead_letters = required(
        "STEPSCORE_JOB_DLQ_URL",
        std::env::var("STEPSCORE_JOB_DLQ_URL"),
        "the URL of the job queue's dead-letter queue",
    )?;
    let max_receives = required(
        "STEPSCORE_MAX_RECEIVES",
        std::env::var("STEPSCORE_MAX_RECEIVES"),
        "the job queue's maxReceiveCount (its redrive policy)",
    )?;
    let max_receives: u32 = max_receives
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            format!("environment variable STEPSCORE_MAX_RECEIVES is '{max_receives}': a whole number of 1 or more, the job queue's maxReceiveCount")
        })?;
    let config = sdk_config("stepscore-intake").await;
    let ports = IntakePorts {
        admit: admit_ports(&config, table, state_machine, jobs_prefix),
        dead_letters: leak(stepscore_aws::SqsQueue::new(&config, dead_letters)),
        max_receives,
    };
    serve(move |event: aws_lambda_events::sqs::SqsEvent| async move {
        Ok(stepscore_handlers::intake(ports, &event).await)
    })
    .await
}
