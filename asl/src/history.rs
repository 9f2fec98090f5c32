//! Execution history events with AWS's type names, ids and `previousEventId`, renderable in the
//! shape of `GetExecutionHistory` output.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Most events one execution's history may hold (AWS quota "Maximum execution history size",
/// a hard limit). AWS records the failure as the last of them: when an execution would record
/// its 25,000th event while still running, event 25,000 is instead `ExecutionFailed` with
/// `States.Runtime` and [`history_limit_cause`]; every state event therefore has an id below
/// the limit. Inline Map iterations and Parallel branches record their events in the same
/// history, so they count too; a distributed Map's iterations are child executions, each with a
/// history and a limit of its own.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

/// The cause AWS gives an execution that reached [`MAX_HISTORY_EVENTS`].
pub fn history_limit_cause() -> String {
    format!("The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS}).")
}

/// One history event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryEvent {
    /// 1-based id.
    pub id: u64,
    /// Id of the event this one follows (0 for the first).
    pub previous_event_id: u64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// AWS event type, e.g. `PassStateEntered`.
    #[serde(rename = "type")]
    pub kind: Arc<str>,
    /// Event-specific details.
    pub details: Details,
}

/// Event details; which fields are set depends on the event type.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Details {
    /// State name (state events, Map iterations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Arc<str>>,
    /// Input document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Arc<Value>>,
    /// Output document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Arc<Value>>,
    /// Error name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Task resource type (`lambda`, `states`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Task resource (`invoke`, function ARN, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Map iteration index or Map length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Any further AWS fields (timeouts, assigned variables, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// Appends events with consecutive ids.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    /// Events in order.
    pub events: Vec<HistoryEvent>,
    /// When false, events are counted but not stored (ids stay correct).
    #[serde(default = "yes")]
    pub record: bool,
    /// Id of the last event added.
    pub last_id: u64,
}

fn yes() -> bool {
    true
}

impl History {
    /// An empty history that records events.
    pub fn new() -> Self {
        History {
            events: Vec::new(),
            record: true,
            last_id: 0,
        }
    }

    /// Appends an event and returns its id.
    pub fn push(&mut self, kind: &Arc<str>, timestamp: DateTime<Utc>, details: Details) -> u64 {
        let id = self.last_id + 1;
        if self.record {
            self.events.push(HistoryEvent {
                id,
                previous_event_id: self.last_id,
                timestamp,
                kind: kind.clone(),
                details,
            });
        }
        self.last_id = id;
        id
    }

    /// The history as `GetExecutionHistory` would return it (`{"events": [...]}`).
    pub fn to_aws_json(&self) -> Value {
        json!({"events": self.events.iter().map(HistoryEvent::to_aws_json).collect::<Vec<_>>()})
    }
}

impl HistoryEvent {
    /// This event in `GetExecutionHistory` form.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("previousEventId".into(), json!(self.previous_event_id));
        m.insert(
            "timestamp".into(),
            json!(self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        m.insert("type".into(), json!(&*self.kind));
        let d = &self.details;
        let mut det = Map::new();
        if let Some(n) = &d.name {
            det.insert("name".into(), json!(&**n));
        }
        if let Some(i) = &d.input {
            det.insert("input".into(), json!(i.to_string()));
            det.insert("inputDetails".into(), json!({"truncated": false}));
        }
        if let Some(o) = &d.output {
            det.insert("output".into(), json!(o.to_string()));
            det.insert("outputDetails".into(), json!({"truncated": false}));
        }
        if let Some(e) = &d.error {
            det.insert("error".into(), json!(e));
        }
        if let Some(c) = &d.cause {
            det.insert("cause".into(), json!(c));
        }
        if let Some(r) = &d.resource_type {
            det.insert("resourceType".into(), json!(r));
        }
        if let Some(r) = &d.resource {
            det.insert("resource".into(), json!(r));
        }
        if let Some(Value::Object(extra)) = &d.extra {
            for (k, v) in extra {
                det.insert(k.clone(), v.clone());
            }
        }
        let kind = &*self.kind;
        if let Some(ix) = d.index {
            if kind == "MapStateStarted" {
                det.insert("length".into(), json!(ix));
            } else {
                det.insert("index".into(), json!(ix));
            }
        }
        if let Some(key) = details_key(kind) {
            m.insert(key, Value::Object(det));
        }
        Value::Object(m)
    }
}

/// AWS's details field name for an event type (`PassStateEntered` -> `stateEnteredEventDetails`).
fn details_key(kind: &str) -> Option<String> {
    if kind.ends_with("StateEntered") {
        return Some("stateEnteredEventDetails".into());
    }
    if kind.ends_with("StateExited") {
        return Some("stateExitedEventDetails".into());
    }
    match kind {
        "ParallelStateStarted"
        | "ParallelStateSucceeded"
        | "MapStateSucceeded"
        | "WaitStateAborted"
        | "ExecutionTimedOut" => None,
        k => {
            let mut c = k.chars();
            let first = c.next()?.to_lowercase().collect::<String>();
            Some(format!("{first}{}EventDetails", c.as_str()))
        }
    }
}
