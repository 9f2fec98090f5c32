//! What every Lambda binary shares: tracing setup and required environment.

/// Installs the tracing subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (the Lambda
/// advanced logging setting), else text without ANSI colours or timestamps (CloudWatch adds them).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().with_current_span(false).init();
    } else {
        builder.without_time().with_ansi(false).init();
    }
}

/// Why a binary cannot start.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is not set: {purpose} (see handlers/lambda-functions.json)")]
pub struct MissingEnv {
    /// The variable.
    pub name: &'static str,
    /// What it is for.
    pub purpose: &'static str,
}

/// The value of a required environment variable.
pub fn required_env(name: &'static str, purpose: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(MissingEnv { name, purpose })
}
