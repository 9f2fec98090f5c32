//! In-process Lambda functions: the function type, the error a function returns, and the
//! runtime's registry that invokes them by name or ARN as Lambda would.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::LocalRuntime;
use crate::names::{function_arn, function_name};

/// An error a Lambda function returns: its `errorType` is what Retry/Catch match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct LambdaError {
    /// The error name (`errorType`).
    pub error_type: String,
    /// The message (`errorMessage`).
    pub error_message: String,
}

/// What a function invocation returns.
pub type LambdaFuture = Pin<Box<dyn Future<Output = Result<Value, LambdaError>> + Send>>;
/// An in-process Lambda function: event in, payload or error out.
pub type LambdaFn = Arc<dyn Fn(Value) -> LambdaFuture + Send + Sync>;

impl LocalRuntime {
    /// Registers the in-process Lambda function `name` (e.g. `stepscore-admit`).
    pub fn register_function(&self, name: &str, f: LambdaFn) {
        self.inner
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), f);
    }

    /// Invokes a registered function the way Lambda would.
    pub async fn invoke(&self, function: &str, event: Value) -> Result<Value, LambdaError> {
        let f = self.function(function)?;
        match tokio::spawn(f(event)).await {
            Ok(r) => r,
            Err(e) => Err(LambdaError {
                error_type: "Lambda.Unknown".into(),
                error_message: format!("function '{function}' crashed: {e}"),
            }),
        }
    }

    fn function(&self, function: &str) -> Result<LambdaFn, LambdaError> {
        let name = function_name(function);
        self.inner
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| LambdaError {
                error_type: "Lambda.ResourceNotFoundException".into(),
                error_message: format!("Function not found: {}", function_arn(name)),
            })
    }
}
