//! The cleanup Lambda (EventBridge: the state machine's executions that end ABORTED, TIMED_OUT or FAILED). Thin: tracing, adapters built once, then `lambda_runtime::run`.

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
    let bus = required(
        "STEPSCORE_EVENT_BUS",
        std::env::var("STEPSCORE_EVENT_BUS"),
        "the event bus (name or ARN) that job status changes are published to",
    )?;

    let config = stepscore_lambda::runtime::sdk_config("stepscore-cleanup").await;
    let table = leak(stepscore_aws::DynamoTable::new(&config, table));
    let events = leak(stepscore_aws::EventBridgeNotifier::new(&config, bus));
    let batch = leak(stepscore_aws::BatchClient::new(&config));
    serve(move |event: serde_json::Value| async move {
        stepscore_handlers::cleanup(batch, table, events, &SystemClock, &event).await
    })
    .await
}
