//! What every Lambda binary shares: tracing setup, its environment, the port adapters (built once
//! per process) and the runtime loop that reports a handler's error under its `stepscore.*` name.

use stepscore_handlers::{AdmitPorts, HandlerError};

/// Installs the tracing subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (the Lambda
/// advanced logging setting), else text without ANSI colours or timestamps (CloudWatch adds them).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().with_current_span(false).init();
    } else {
        builder.without_time().with_ansi(false).init();
    }
}

/// The value of environment variable `name`, or an error naming it and what it is for.
pub fn required(
    name: &str,
    value: Result<String, std::env::VarError>,
    purpose: &str,
) -> Result<String, String> {
    value.ok().filter(|v| !v.is_empty()).ok_or_else(|| {
        format!(
            "environment variable {name} is not set: {purpose} (see handlers/lambda-functions.json)"
        )
    })
}

/// Moves an adapter to the heap for the life of the process, so the handler closure can borrow it.
pub fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// The SDK config of `component` (its binary's name, which names it in the AWS call log and the
/// user agent), with the SDK's own settings from the environment.
pub async fn sdk_config(component: &str) -> stepscore_aws::SdkConfig {
    stepscore_aws::AwsSettings::from_env()
        .component(component)
        .load()
        .await
}

/// The ports admission needs (admit, schedule, intake) over AWS with `config` (the binary's
/// [`sdk_config`]): the job table `table`, the state machine `state_machine_arn`, configs
/// admitted under `jobs_prefix`.
pub fn admit_ports(
    config: &stepscore_aws::SdkConfig,
    table: String,
    state_machine_arn: String,
    jobs_prefix: String,
) -> AdmitPorts<'static> {
    AdmitPorts {
        store: leak(stepscore_aws::S3Store::new(config)),
        table: leak(stepscore_aws::DynamoTable::new(config, table)),
        executions: leak(stepscore_aws::SfnExecutions::new(config, state_machine_arn)),
        clock: &stepscore_core::ports::SystemClock,
        jobs_prefix: leak(jobs_prefix),
    }
}

/// Runs the Lambda runtime loop: each event's payload goes to `handler`, whose error reaches
/// the caller (Step Functions' Retry/Catch) under its `stepscore.*` name.
pub async fn serve<E, F, Fut, T>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(E) -> Fut,
    Fut: std::future::Future<Output = Result<T, HandlerError>>,
    T: serde::Serialize,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<E>| {
            let result = handler(event.payload);
            async move { result.await.map_err(diagnostic) }
        },
    ))
    .await
}

/// The Lambda error of a handler's failure: `errorType` is the fixed name the state machine's
/// Retry/Catch match (`stepscore.Transient`, ...), `errorMessage` says what failed.
pub fn diagnostic(e: HandlerError) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: e.error_type().to_owned(),
        error_message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_error_reaches_lambda_under_its_stepscore_name_with_its_message() {
        for (error, name) in [
            (
                HandlerError::Transient("SlowDown".into()),
                "stepscore.Transient",
            ),
            (
                HandlerError::BadConfig("no model".into()),
                "stepscore.BadConfig",
            ),
            (
                HandlerError::NotFound("no record".into()),
                "stepscore.NotFound",
            ),
            (
                HandlerError::Internal("broken".into()),
                "stepscore.Internal",
            ),
        ] {
            let message = error.to_string();
            let d = diagnostic(error);
            assert_eq!((d.error_type.as_str(), d.error_message), (name, message));
        }
    }

    #[test]
    fn a_missing_or_empty_variable_is_named_with_its_purpose() {
        for value in [Err(std::env::VarError::NotPresent), Ok(String::new())] {
            let e = required("STEPSCORE_TABLE", value, "the job table's name").unwrap_err();
            assert_eq!(
                e,
                "environment variable STEPSCORE_TABLE is not set: the job table's name (see handlers/lambda-functions.json)"
            );
        }
        assert_eq!(
            required("STEPSCORE_TABLE", Ok("jobs".into()), "the job table's name"),
            Ok("jobs".into())
        );
    }
}
