//! The check Lambda (state machine task CheckStatus). Thin: tracing, adapters built once, then `lambda_runtime::run`.

use stepscore_core::ports::SystemClock;
use stepscore_lambda::runtime::{init_tracing, leak, required, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let table = required(
        "STEPSCORE_TABLE",
        std::env::var("STEPSCORE_TABLE"),
        "the job table's name",
    )?;

    let config = stepscore_lambda::runtime::sdk_config("stepscore-check").await;
    let table = leak(stepscore_aws::DynamoTable::new(&config, table));
    let batch = leak(stepscore_aws::BatchClient::new(&config));
    let store = leak(stepscore_aws::S3Store::new(&config));
    serve(move |event: serde_json::Value| async move {
        stepscore_handlers::check(batch, store, table, &SystemClock, &event).await
    })
    .await
}
