//! What each state of an execution did, read from its history events: the colour the graph
//! gives it (succeeded, failed, caught, in progress, aborted) and its latest input, output,
//! error and cause, for the JSON viewer.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// How a state's latest visit went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateStatus {
    /// Entered and not left (the execution runs there now).
    InProgress,
    /// Left normally (after retries, if any).
    Succeeded,
    /// Failed and a Catch took the execution on to another state.
    Caught,
    /// Failed and the failure ended the execution (or a Fail state).
    Failed,
    /// Was running when the execution was stopped.
    Aborted,
}

/// One state's visits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateRun {
    /// The latest visit's outcome.
    pub status: StateStatus,
    /// Times entered.
    pub entered: u32,
    /// The latest visit's input.
    pub input: Option<Value>,
    /// The latest visit's output.
    pub output: Option<Value>,
    /// The latest failure's error name.
    pub error: Option<String>,
    /// The latest failure's cause.
    pub cause: Option<String>,
    /// The latest entry's event timestamp.
    pub entered_at: Option<String>,
    /// The latest exit's event timestamp.
    pub exited_at: Option<String>,
}

/// Each state's runs, by state name, from `events` (GetExecutionHistory's event objects).
pub fn state_runs(events: &[Value]) -> BTreeMap<String, StateRun> {
    let mut runs: BTreeMap<String, StateRun> = BTreeMap::new();
    // states entered and not yet left, innermost last: failures belong to the last
    let mut open: Vec<String> = Vec::new();
    for ev in events {
        let kind = ev.get("type").and_then(Value::as_str).unwrap_or_default();
        let time = ev
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if kind.ends_with("StateEntered") {
            let d = &ev["stateEnteredEventDetails"];
            let Some(name) = d.get("name").and_then(Value::as_str) else {
                continue;
            };
            let run = runs.entry(name.to_owned()).or_insert(StateRun {
                status: StateStatus::InProgress,
                entered: 0,
                input: None,
                output: None,
                error: None,
                cause: None,
                entered_at: None,
                exited_at: None,
            });
            run.entered += 1;
            run.status = if kind == "FailStateEntered" {
                StateStatus::Failed
            } else {
                StateStatus::InProgress
            };
            run.input = d.get("input").map(json_text);
            run.output = None;
            run.error = None;
            run.cause = None;
            run.entered_at = time;
            run.exited_at = None;
            open.retain(|n| n != name);
            open.push(name.to_owned());
        } else if kind.ends_with("StateExited") {
            let d = &ev["stateExitedEventDetails"];
            let Some(name) = d.get("name").and_then(Value::as_str) else {
                continue;
            };
            open.retain(|n| n != name);
            if let Some(run) = runs.get_mut(name) {
                run.status = if run.error.is_some() {
                    StateStatus::Caught
                } else {
                    StateStatus::Succeeded
                };
                run.output = d.get("output").map(json_text);
                run.exited_at = time;
            }
        } else if is_state_failure(kind) {
            let details = failure_details(ev);
            if let Some(run) = open.last().and_then(|n| runs.get_mut(n)) {
                run.error = details
                    .get("error")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                run.cause = details
                    .get("cause")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                run.status = StateStatus::Failed;
            }
        } else if is_task_success(kind) {
            // a retry that worked: the earlier failure is history, not this visit's outcome
            if let Some(run) = open.last().and_then(|n| runs.get_mut(n)) {
                run.error = None;
                run.cause = None;
                run.status = StateStatus::InProgress;
            }
        } else if kind.starts_with("Execution") && kind != "ExecutionStarted" {
            let end = match kind {
                "ExecutionAborted" => StateStatus::Aborted,
                "ExecutionSucceeded" => StateStatus::Succeeded,
                _ => StateStatus::Failed,
            };
            let details = failure_details(ev);
            for name in open.drain(..) {
                if let Some(run) = runs.get_mut(&name)
                    && run.status == StateStatus::InProgress
                {
                    run.status = end;
                    if end != StateStatus::Succeeded && run.error.is_none() {
                        run.error = details
                            .get("error")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        run.cause = details
                            .get("cause")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                }
            }
        }
    }
    runs
}

/// Adds the state the execution is in (or was in when it ended) that the history does not show
/// yet: the interpreter saves a snapshot, history included, after each top-level state, so the
/// state that runs now appears only as the snapshot's `next_state`, with `input` its input.
pub fn add_current(
    runs: &mut BTreeMap<String, StateRun>,
    name: &str,
    input: Option<Value>,
    status: StateStatus,
) {
    let run = runs.entry(name.to_owned()).or_insert(StateRun {
        status,
        entered: 0,
        input: None,
        output: None,
        error: None,
        cause: None,
        entered_at: None,
        exited_at: None,
    });
    if matches!(run.status, StateStatus::InProgress | StateStatus::Aborted) && run.entered > 0 {
        // the history already shows this visit
        run.status = status;
        return;
    }
    run.entered += 1;
    run.status = status;
    run.input = input;
    run.output = None;
    run.error = None;
    run.cause = None;
    run.entered_at = None;
    run.exited_at = None;
}

/// A state's input or output: history events carry JSON as text; text that is not JSON is kept
/// as a string.
fn json_text(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

fn is_state_failure(kind: &str) -> bool {
    !kind.starts_with("Execution")
        && !kind.starts_with("MapIteration")
        && (kind.ends_with("Failed")
            || kind.ends_with("TimedOut")
            || kind.ends_with("StartFailed")
            || kind.ends_with("SubmitFailed"))
}

fn is_task_success(kind: &str) -> bool {
    matches!(kind, "TaskSucceeded" | "LambdaFunctionSucceeded")
}

/// The `…EventDetails` object of an event (the one key other than id, type, timestamps).
fn failure_details(ev: &Value) -> &Value {
    ev.as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.ends_with("EventDetails"))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entered(kind: &str, name: &str, input: &str) -> Value {
        json!({"type": kind, "timestamp": "t", "stateEnteredEventDetails": {"name": name, "input": input}})
    }
    fn exited(kind: &str, name: &str, output: &str) -> Value {
        json!({"type": kind, "timestamp": "t", "stateExitedEventDetails": {"name": name, "output": output}})
    }
    fn failed(error: &str) -> Value {
        json!({"type": "TaskFailed", "taskFailedEventDetails": {"error": error, "cause": "why"}})
    }

    #[test]
    fn a_caught_failure_a_retried_one_and_the_running_state_are_told_apart() {
        let events = vec![
            entered("TaskStateEntered", "Register", r#"{"a":1}"#),
            failed("Lambda.Unknown"),
            json!({"type": "TaskSucceeded"}),
            exited("TaskStateExited", "Register", r#"{"b":2}"#),
            entered("TaskStateEntered", "Submit", "{}"),
            failed("States.TaskFailed"),
            exited("TaskStateExited", "Submit", "{}"),
            entered("TaskStateEntered", "FinalizeFailed", "{}"),
        ];
        let runs = state_runs(&events);
        assert_eq!(runs["Register"].status, StateStatus::Succeeded);
        assert_eq!(runs["Register"].input, Some(json!({"a": 1})));
        assert_eq!(runs["Register"].output, Some(json!({"b": 2})));
        assert_eq!(runs["Register"].error, None);
        assert_eq!(runs["Submit"].status, StateStatus::Caught);
        assert_eq!(runs["Submit"].error.as_deref(), Some("States.TaskFailed"));
        assert_eq!(runs["Submit"].cause.as_deref(), Some("why"));
        assert_eq!(runs["FinalizeFailed"].status, StateStatus::InProgress);
    }

    #[test]
    fn the_executions_end_closes_what_was_running() {
        let mut events = vec![
            entered("WaitStateEntered", "Wait", "{}"),
            json!({"type": "ExecutionAborted", "executionAbortedEventDetails": {"error": "stepscore.Stopped", "cause": "by hand"}}),
        ];
        assert_eq!(state_runs(&events)["Wait"].status, StateStatus::Aborted);
        events[1] = json!({"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "E", "cause": "c"}});
        let runs = state_runs(&events);
        assert_eq!(runs["Wait"].status, StateStatus::Failed);
        assert_eq!(runs["Wait"].error.as_deref(), Some("E"));
        let fail = vec![entered("FailStateEntered", "JobFailed", "{}")];
        assert_eq!(state_runs(&fail)["JobFailed"].status, StateStatus::Failed);
    }

    #[test]
    fn the_state_the_snapshot_will_run_next_is_the_current_one() {
        let events = vec![
            entered("WaitStateEntered", "Wait", "{}"),
            exited("WaitStateExited", "Wait", "{}"),
        ];
        let mut runs = state_runs(&events);
        add_current(
            &mut runs,
            "Wait",
            Some(json!({"n": 2})),
            StateStatus::InProgress,
        );
        assert_eq!(runs["Wait"].status, StateStatus::InProgress);
        assert_eq!(runs["Wait"].entered, 2);
        assert_eq!(runs["Wait"].input, Some(json!({"n": 2})));
        assert_eq!(runs["Wait"].output, None);
        add_current(&mut runs, "Check", None, StateStatus::Aborted);
        assert_eq!(runs["Check"].status, StateStatus::Aborted);
        assert_eq!(runs["Check"].entered, 1);
    }

    #[test]
    fn events_without_names_or_details_are_skipped() {
        let events = vec![
            json!({"type": "TaskStateEntered"}),
            json!({"type": "TaskFailed"}),
            json!(42),
            json!({"type": "TaskStateExited", "stateExitedEventDetails": {"name": "Never"}}),
        ];
        assert!(state_runs(&events).is_empty());
    }
}
