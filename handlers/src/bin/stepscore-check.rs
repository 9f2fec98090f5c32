//! The check Lambda (state machine task CheckStatus). Thin: tracing, adapters built once, then `lambda_runtime::run`.

use lambda_runtime::{Diagnostic, LambdaEvent, run, service_fn};
use stepscore_aws::AwsSettings;
use stepscore_core::ports::SystemClock;
use stepscore_handlers::runtime::{init_tracing, leak, required};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let table = required(
        "STEPSCORE_TABLE",
        std::env::var("STEPSCORE_TABLE"),
        "the job table's name",
    )?;

    let config = AwsSettings::from_env().load().await;
    let table = leak(stepscore_aws::DynamoTable::new(&config, table));
    let batch = leak(stepscore_aws::BatchClient::new(&config));
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            stepscore_handlers::check(batch, table, &SystemClock, &event.payload)
                .await
                .map_err(Diagnostic::from)
        },
    ))
    .await
}
