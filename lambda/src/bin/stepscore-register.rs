//! The register Lambda (state machine task Register). Thin: tracing, adapters built once, then `lambda_runtime::run`.

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

    let config = stepscore_lambda::runtime::sdk_config("stepscore-register").await;
    let table = leak(stepscore_aws::DynamoTable::new(&config, table));

    serve(move |event: serde_json::Value| async move {
        stepscore_handlers::register(table, &SystemClock, &event).await
    })
    .await
}
