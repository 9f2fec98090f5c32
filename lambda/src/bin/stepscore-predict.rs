//! The predict Lambda (API Gateway HTTP API routes POST /v1/models/{name}:predict and
//! GET /v1/models/{name}). Thin: tracing, settings checked and the model loaded from S3 once at
//! init, then `lambda_runtime::run` answering each event.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use stepscore_lambda::predict::{PredictEnv, PredictSettings, answer, service};
use stepscore_lambda::runtime::{init_tracing, leak, sdk_config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let settings = PredictSettings::from_env(PredictEnv {
        model_uri: std::env::var("STEPSCORE_MODEL_URI").ok(),
        model_name: std::env::var("STEPSCORE_MODEL_NAME").ok(),
        check_seconds: std::env::var("STEPSCORE_MODEL_CHECK_SECONDS").ok(),
        max_body_bytes: std::env::var("STEPSCORE_MAX_BODY_BYTES").ok(),
        max_rows: std::env::var("STEPSCORE_MAX_ROWS").ok(),
    })
    // the message, not the Debug form main's error return would print
    .map_err(|e| e.to_string())?;
    let config = sdk_config("stepscore-predict").await;
    let store = Arc::new(stepscore_aws::S3Store::new(&config));
    // a model that cannot be loaded fails the init, so Lambda reports it and retries the cold
    // start, rather than each request answering 500
    let service = leak(service(&settings, store).await.map_err(|e| e.to_string())?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, lambda_runtime::Error>(answer(service, &event.payload).await)
        },
    ))
    .await
}
