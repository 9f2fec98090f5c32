//! [`SfnExecutions`]: the executions port over Step Functions.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use serde_json::Value;
use stepscore_core::ports::{ExecutionError, Executions, Started, Stopped};

use stepscore_aws_s3::errors::classify;

/// Starts executions of one state machine, named by job id.
#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: Client,
    state_machine_arn: String,
}

impl SfnExecutions {
    /// Executions of `state_machine_arn` through a client built from `config`.
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self::from_client(
            Client::from_conf(
                stepscore_aws_s3::with_call_log!(
                    aws_sdk_sfn::config::Builder::from(config),
                    crate::calllog::services
                )
                .build(),
            ),
            state_machine_arn,
        )
    }

    /// Executions through an existing client.
    pub fn from_client(client: Client, state_machine_arn: impl Into<String>) -> Self {
        SfnExecutions {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The state machine executions are started of.
    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// The underlying client (for administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl SfnExecutions {
    /// Step Functions answers a repeated StartExecution of a *running* execution with the same
    /// input with that execution (a plain success, reported as Started); it answers
    /// ExecutionAlreadyExists when the name belongs to a closed execution or to one with another
    /// input. Telling those apart needs DescribeExecution, which a least-privilege role may lack:
    /// then the name is taken as this job's (names are job ids, derived from the config's object
    /// version, so another input under the same name does not arise in the pipeline).
    async fn existing(
        &self,
        name: &str,
        input: &Value,
        message: String,
    ) -> Result<Started, ExecutionError> {
        let arn = self.execution_arn(name);
        match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(described) => {
                let existing: Option<Value> =
                    described.input().and_then(|i| serde_json::from_str(i).ok());
                if existing.as_ref() == Some(input) {
                    Ok(Started::AlreadyExists {
                        execution_arn: described.execution_arn().to_owned(),
                    })
                } else {
                    Err(ExecutionError::NameConflict {
                        name: name.into(),
                        message,
                    })
                }
            }
            Err(e) => {
                tracing::debug!(execution = %arn, error = %classify(&e).message, "cannot describe the existing execution; taking it as this job's");
                Ok(Started::AlreadyExists { execution_arn: arn })
            }
        }
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
            Ok(out) => Ok(Started::Started {
                execution_arn: out.execution_arn().to_owned(),
            }),
            Err(e) => {
                let f = classify(&e);
                if f.code.as_deref() == Some("ExecutionAlreadyExists") {
                    return self.existing(name, input, f.message).await;
                }
                if f.transient {
                    Err(ExecutionError::Transient {
                        name: name.into(),
                        message: f.message,
                    })
                } else {
                    Err(ExecutionError::Other {
                        name: name.into(),
                        message: f.message,
                    })
                }
            }
        }
    }

    #[tracing::instrument(level = "debug", skip(self, cause), fields(state_machine = %self.state_machine_arn))]
    async fn stop(&self, name: &str, error: &str, cause: &str) -> Result<Stopped, ExecutionError> {
        let arn = self.execution_arn(name);
        let fail = |f: stepscore_aws_s3::errors::Failure| {
            if f.transient {
                ExecutionError::Transient {
                    name: name.into(),
                    message: f.message,
                }
            } else {
                ExecutionError::Other {
                    name: name.into(),
                    message: f.message,
                }
            }
        };
        // StopExecution would answer an ended execution with success too: describe first, so the
        // caller learns what it found
        let described = match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) => {
                let f = classify(&e);
                if f.code.as_deref() == Some("ExecutionDoesNotExist") {
                    return Ok(Stopped::NotFound);
                }
                return Err(fail(f));
            }
        };
        let status = described.status().as_str().to_owned();
        if status != "RUNNING" {
            return Ok(Stopped::AlreadyEnded {
                execution_arn: arn,
                status,
            });
        }
        self.client
            .stop_execution()
            .execution_arn(&arn)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| fail(classify(&e)))?;
        tracing::info!(execution = %arn, "execution stopped");
        Ok(Stopped::Stopped { execution_arn: arn })
    }
}
