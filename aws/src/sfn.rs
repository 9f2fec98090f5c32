//! [`SfnExecutions`]: the executions port over Step Functions.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use serde_json::Value;
use stepscore_core::ports::{ExecutionError, Executions, Started};

use crate::errors::classify;

/// Starts executions of one state machine, named by job id.
#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: Client,
    state_machine_arn: String,
}

impl SfnExecutions {
    /// Executions of `state_machine_arn` through a client built from `config`.
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self::from_client(Client::new(config), state_machine_arn)
    }

    /// Executions through an existing client.
    pub fn from_client(client: Client, state_machine_arn: impl Into<String>) -> Self {
        SfnExecutions { client, state_machine_arn: state_machine_arn.into() }
    }

    /// The underlying client (for administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Executions for SfnExecutions {
    fn execution_arn(&self, name: &str) -> String {
        // arn:aws:states:<region>:<account>:stateMachine:<sm> -> ...:execution:<sm>:<name>
        match self.state_machine_arn.split_once(":stateMachine:") {
            Some((head, machine)) => format!("{head}:execution:{machine}:{name}"),
            None => format!("{}:{name}", self.state_machine_arn),
        }
    }

    #[tracing::instrument(level = "debug", skip(self, input), fields(state_machine = %self.state_machine_arn))]
    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(out) => Ok(Started::Started { execution_arn: out.execution_arn().to_owned() }),
            Err(e) => {
                let f = classify(&e);
                if f.code.as_deref() == Some("ExecutionAlreadyExists") {
                    // Step Functions answers ExecutionAlreadyExists only when the input differs
                    // (the same name and input returns the running execution); moto and some
                    // emulators answer it for both, so compare the inputs ourselves.
                    let arn = self.execution_arn(name);
                    let described = self
                        .client
                        .describe_execution()
                        .execution_arn(&arn)
                        .send()
                        .await
                        .map_err(|e| ExecutionError::Other { name: name.into(), message: classify(&e).message })?;
                    let existing: Option<Value> = described.input().and_then(|i| serde_json::from_str(i).ok());
                    if existing.as_ref() == Some(input) {
                        return Ok(Started::AlreadyExists { execution_arn: described.execution_arn().to_owned() });
                    }
                    return Err(ExecutionError::NameConflict { name: name.into(), message: f.message });
                }
                if f.transient {
                    Err(ExecutionError::Transient { name: name.into(), message: f.message })
                } else {
                    Err(ExecutionError::Other { name: name.into(), message: f.message })
                }
            }
        }
    }
}
