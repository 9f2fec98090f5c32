//! The admit Lambda (S3 ObjectCreated on jobs/). Thin: tracing, adapters built once, then `lambda_runtime::run`.

use stepscore_lambda::runtime::{admit_ports, init_tracing, required, sdk_config, serve};

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
    let config = sdk_config("stepscore-admit").await;
    let ports = admit_ports(&config, table, state_machine, jobs_prefix);
    serve(move |event: aws_lambda_events::s3::S3Event| async move {
        stepscore_handlers::admit(ports, &event).await
    })
    .await
}
