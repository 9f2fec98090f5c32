//! The schedule Lambda (EventBridge Scheduler runs). Thin: tracing, adapters built once, then `lambda_runtime::run`.

use lambda_runtime::{Diagnostic, LambdaEvent, run, service_fn};
use stepscore_handlers::runtime::{admit_ports_from_env, init_tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let ports = admit_ports_from_env().await?;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            stepscore_handlers::schedule(ports, &event.payload)
                .await
                .map_err(Diagnostic::from)
        },
    ))
    .await
}
