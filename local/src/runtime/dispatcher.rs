//! The interpreter's task dispatcher: Lambda invocations go to the runtime's registered
//! functions, `states:startExecution` to the executions table.

use serde_json::{Value, json};
use stepscore_asl::{TaskDispatcher, TaskOutcome, TaskRequest};
use stepscore_core::ports::{ExecutionError, Executions};

use super::LocalRuntime;

/// Runs an execution's Task states: its runtime's functions, on the runtime's tokio handle.
pub(super) struct Dispatcher {
    pub(super) runtime: LocalRuntime,
    pub(super) handle: tokio::runtime::Handle,
    /// A Distributed Map's objects and Map Run journal.
    pub(super) items: super::map_run::DirItemStore,
}

/// The optimized integration that starts an execution (fire and forget; no `.sync`).
const START_EXECUTION_RESOURCE: &str = "arn:aws:states:::states:startExecution";

impl Dispatcher {
    /// `states:startExecution` on this state machine: StartExecution's result
    /// (`ExecutionArn`, `StartDate`), idempotent by name and input as on AWS.
    fn start_execution(&self, request: &TaskRequest<'_>) -> TaskOutcome {
        let p = request.input;
        let ours = self.runtime.inner.executions.state_machine_arn().to_owned();
        let failed = |error: &str, cause: String| TaskOutcome::Failed {
            error: error.into(),
            cause: Some(cause),
        };
        match p.get("StateMachineArn").and_then(Value::as_str) {
            Some(arn) if arn == ours => {}
            other => {
                return failed(
                    "States.TaskFailed",
                    format!(
                        "Task '{}' starts state machine {}; the local runtime runs only {ours}",
                        request.state_name,
                        other.unwrap_or("(no StateMachineArn)")
                    ),
                );
            }
        }
        let name = p
            .get("Name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // Input may be given as JSON or as a string of JSON, as StartExecution takes it
        let input = match p.get("Input") {
            None => json!({}),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    return failed(
                        "StepFunctions.InvalidExecutionInputException",
                        format!("Input of Task '{}' is not JSON: {e}", request.state_name),
                    );
                }
            },
            Some(v) => v.clone(),
        };
        let started = self
            .handle
            .block_on(self.runtime.inner.executions.start(&name, &input));
        match started {
            Ok(s) => TaskOutcome::Succeeded(json!({
                "ExecutionArn": s.execution_arn(),
                "StartDate": stepscore_core::ports::Clock::now(&self.runtime.clock()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })),
            Err(ExecutionError::NameConflict { message, .. }) => {
                failed("StepFunctions.ExecutionAlreadyExistsException", message)
            }
            Err(e) if e.is_transient() => {
                failed("StepFunctions.AWSStepFunctionsException", e.to_string())
            }
            Err(e) => failed("States.TaskFailed", e.to_string()),
        }
    }
}

impl TaskDispatcher for Dispatcher {
    fn item_store(&self) -> Option<&dyn stepscore_asl::store::ItemStore> {
        Some(&self.items)
    }

    fn dispatch(
        &self,
        request: &TaskRequest<'_>,
        _clock: &dyn stepscore_asl::Clock,
    ) -> TaskOutcome {
        let (function, payload, wrap) = if request.resource == "arn:aws:states:::lambda:invoke" {
            let Some(f) = request.input.get("FunctionName").and_then(Value::as_str) else {
                return TaskOutcome::Failed {
                    error: "States.Runtime".into(),
                    cause: Some(format!(
                        "Task '{}' calls lambda:invoke without a FunctionName parameter",
                        request.state_name
                    )),
                };
            };
            (
                f.to_owned(),
                request
                    .input
                    .get("Payload")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
                true,
            )
        } else if request.resource.starts_with("arn:aws:lambda:") {
            (request.resource.to_owned(), request.input.clone(), false)
        } else if request.resource == START_EXECUTION_RESOURCE {
            return self.start_execution(request);
        } else {
            return TaskOutcome::Failed {
                error: "States.TaskFailed".into(),
                cause: Some(format!(
                    "resource '{}' of Task '{}' is not available locally; the local runtime runs Lambda functions (arn:aws:states:::lambda:invoke)",
                    request.resource, request.state_name
                )),
            };
        };
        tracing::debug!(function = %function, state = request.state_name, "invoking local function");
        match self.handle.block_on(self.runtime.invoke(&function, payload)) {
            Ok(out) if wrap => TaskOutcome::Succeeded(stepscore_asl::env::lambda_invoke_result(out)),
            Ok(out) => TaskOutcome::Succeeded(out),
            Err(e) => TaskOutcome::Failed {
                cause: Some(json!({"errorMessage": e.error_message, "errorType": e.error_type, "trace": []}).to_string()),
                error: e.error_type,
            },
        }
    }
}
