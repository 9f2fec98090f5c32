//! Task states: resolving timeouts, recording the Task events, dispatching to the embedder.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::*;
use crate::env::{TaskOutcome, TaskRequest};
use crate::history::Details;
use crate::model::{State, TaskSpec};

impl Runner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn task(
        &mut self,
        st: &State,
        entered: u64,
        t: &TaskSpec,
        params: &Arc<Value>,
        eff: &Value,
        vars: &Vars,
        retry_count: u32,
        token: &str,
    ) -> Result<Arc<Value>, BodyError> {
        let timeout = self.resolve_count(st, entered, "TimeoutSeconds", &t.timeout, eff, vars)?;
        let heartbeat =
            self.resolve_count(st, entered, "HeartbeatSeconds", &t.heartbeat, eff, vars)?;
        let (resource_type, resource) = resource_parts(&t.resource);
        let mut extra = Map::new();
        extra.insert("region".into(), json!("us-east-1"));
        extra.insert("parameters".into(), json!(params.to_string()));
        if let Some(t) = timeout {
            extra.insert("timeoutInSeconds".into(), json!(t));
        }
        if let Some(h) = heartbeat {
            extra.insert("heartbeatInSeconds".into(), json!(h));
        }
        let base = Details {
            resource_type: Some(resource_type.clone()),
            resource: Some(resource.clone()),
            ..Details::default()
        };
        let k = self.names.get("TaskScheduled").clone();
        self.push(
            &k,
            Details {
                extra: Some(Value::Object(extra)),
                ..base.clone()
            },
        )?;
        let k = self.names.get("TaskStarted").clone();
        self.push(&k, base.clone())?;
        let started = self.now();
        let req = TaskRequest {
            resource: &t.resource,
            input: params,
            state_name: &st.name,
            task_token: token,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            attempt: retry_count,
        };
        let outcome = self.tasks.dispatch(&req, self.clock);
        let ended = self.now();
        if let Some(d) = self.deadline
            && ended >= d
        {
            return Err(BodyError::Fatal(Fault::TimedOut));
        }
        // In i128: a TimeoutSecondsPath may resolve to any u64, whose milliseconds overflow i64.
        let timed_out = timeout.is_some_and(|t| {
            i128::from((ended - started).num_milliseconds()) > i128::from(t) * 1000
        });
        let fail = |this: &mut Self, kind: &'static str, e: StateError| {
            let k = this.names.get(kind).clone();
            this.push(
                &k,
                Details {
                    error: e.error.clone(),
                    cause: e.cause.clone(),
                    ..base.clone()
                },
            )?;
            Err(BodyError::Catchable(e))
        };
        if timed_out {
            return fail(
                self,
                "TaskTimedOut",
                StateError {
                    error: Some("States.Timeout".into()),
                    cause: None,
                },
            );
        }
        match outcome {
            TaskOutcome::Succeeded(v) => {
                if json_size(&v) > MAX_PAYLOAD_BYTES {
                    return fail(
                        self,
                        "TaskFailed",
                        StateError::new(
                            "States.DataLimitExceeded",
                            format!(
                                "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                                st.name
                            ),
                        ),
                    );
                }
                let v = Arc::new(v);
                let k = self.names.get("TaskSucceeded").clone();
                self.push(
                    &k,
                    Details {
                        output: Some(v.clone()),
                        ..base
                    },
                )?;
                Ok(v)
            }
            TaskOutcome::Failed { error, cause } => fail(
                self,
                "TaskFailed",
                StateError {
                    error: Some(error),
                    cause,
                },
            ),
            TaskOutcome::HeartbeatTimedOut => fail(
                self,
                "TaskTimedOut",
                StateError {
                    error: Some("States.HeartbeatTimeout".into()),
                    cause: None,
                },
            ),
        }
    }
}

/// `resourceType` and `resource` as history events show them.
pub(super) fn resource_parts(resource: &str) -> (String, String) {
    let parts: Vec<&str> = resource.split(':').collect();
    if parts.len() >= 7 && parts[2] == "states" && parts[4].is_empty() {
        let svc = parts[5].to_string();
        let rest = parts[6..].join(":");
        return (svc, rest);
    }
    if parts.len() >= 3 {
        return (parts[2].to_string(), resource.to_string());
    }
    ("unknown".to_string(), resource.to_string())
}
