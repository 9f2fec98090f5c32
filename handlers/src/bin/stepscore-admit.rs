//! The admit Lambda (S3 ObjectCreated on jobs/). Thin: tracing, adapters built once, then `lambda_runtime::run`.

use lambda_runtime::{Diagnostic, LambdaEvent, run, service_fn};
use stepscore_handlers::runtime::{admit_ports_from_env, init_tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let ports = admit_ports_from_env().await?;
    run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::s3::S3Event>| async move {
            stepscore_handlers::admit(ports, &event.payload)
                .await
                .map_err(Diagnostic::from)
        },
    ))
    .await
}
