//! The schedule Lambda (EventBridge Scheduler runs). Thin: tracing, adapters built once, then `lambda_runtime::run`.

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
    // schedule admits the documents it builds itself: no object under the jobs prefix
    let config = sdk_config("stepscore-schedule").await;
    let ports = admit_ports(
        &config,
        table,
        state_machine,
        stepscore_handlers::DEFAULT_JOBS_PREFIX.into(),
    );
    serve(move |event: serde_json::Value| async move {
        stepscore_handlers::schedule(ports, &event).await
    })
    .await
}
