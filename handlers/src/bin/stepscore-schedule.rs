//! The schedule Lambda (EventBridge Scheduler runs). Thin: tracing, adapters built once, then `lambda_runtime::run`.

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
    let state_machine = required(
        "STEPSCORE_STATE_MACHINE_ARN",
        std::env::var("STEPSCORE_STATE_MACHINE_ARN"),
        "the scoring state machine's ARN",
    )?;
    let config = AwsSettings::from_env().load().await;
    let table = leak(stepscore_aws::DynamoTable::new(&config, table));
    let store = leak(stepscore_aws::S3Store::new(&config));
    let executions = leak(stepscore_aws::SfnExecutions::new(&config, state_machine));
    let ports = stepscore_handlers::AdmitPorts {
        store,
        table,
        executions,
        clock: &SystemClock,
    };
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            stepscore_handlers::schedule(ports, &event.payload)
                .await
                .map_err(Diagnostic::from)
        },
    ))
    .await
}
