//! What the embedder provides to an execution: time ([`Clock`]) and Task resources
//! ([`TaskDispatcher`]).

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Source of time for an execution; Wait states and retries sleep through it.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Blocks (or, for a virtual clock, jumps) until `deadline`.
    fn sleep_until(&self, deadline: DateTime<Utc>);
}

/// Wall-clock time; sleeps really sleep.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) {
        if let Ok(d) = (deadline - Utc::now()).to_std() {
            std::thread::sleep(d);
        }
    }
}

/// A clock that never sleeps: `sleep_until` moves time forward instantly, so tests and
/// time-compressed local runs of hour-long waits finish at once.
#[derive(Debug)]
pub struct VirtualClock {
    now: Mutex<DateTime<Utc>>,
}

impl VirtualClock {
    /// A virtual clock starting at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        VirtualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves time forward by `seconds` (e.g. to simulate a slow Task in a dispatcher), stopping
    /// at the first or last instant chrono can represent.
    pub fn advance(&self, seconds: f64) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        // `as` saturates (NaN becomes 0); `i64::MIN` milliseconds is the one value chrono refuses.
        let ms = ((seconds * 1000.0) as i64).max(-i64::MAX);
        let limit = if ms < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        };
        *now = now
            .checked_add_signed(chrono::Duration::milliseconds(ms))
            .unwrap_or(limit);
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::new(
            DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
        )
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if deadline > *now {
            *now = deadline;
        }
    }
}

/// One Task invocation handed to the embedder.
#[derive(Debug, Clone)]
pub struct TaskRequest<'a> {
    /// The Task's `Resource` ARN as written (including `.sync` / `.waitForTaskToken`).
    pub resource: &'a str,
    /// The effective parameters (after InputPath and Parameters).
    pub input: &'a Value,
    /// Name of the Task state.
    pub state_name: &'a str,
    /// Task token (always set; `.waitForTaskToken` resources must hand it to the worker, whose
    /// callback completes the task).
    pub task_token: &'a str,
    /// Effective `TimeoutSeconds`, if any.
    pub timeout_seconds: Option<u64>,
    /// Effective `HeartbeatSeconds`, if any.
    pub heartbeat_seconds: Option<u64>,
    /// 0 for the first attempt, then 1, 2, ... for retries.
    pub attempt: u32,
}

/// How a Task invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The task returned a result (for `.waitForTaskToken`: the SendTaskSuccess output).
    Succeeded(Value),
    /// The task failed with an error name (matched by Retry/Catch) and an optional cause.
    Failed {
        /// Error name, e.g. `Lambda.ServiceException` or a handler's `errorType`.
        error: String,
        /// Cause text.
        cause: Option<String>,
    },
    /// No heartbeat arrived within `HeartbeatSeconds` (becomes `States.HeartbeatTimeout`).
    HeartbeatTimedOut,
}

/// Runs Task resources on the embedder's side (Lambda handlers in process, activities, ...).
///
/// The dispatcher may advance a virtual clock to model task duration; the engine turns a task
/// that ends after its `TimeoutSeconds` into `States.Timeout`.
pub trait TaskDispatcher {
    /// Runs one Task attempt to completion.
    fn dispatch(&self, request: &TaskRequest<'_>, clock: &dyn Clock) -> TaskOutcome;

    /// The object store a Distributed Map reads its items from and writes its results to;
    /// `None` (the default) when the embedder has none.
    fn item_store(&self) -> Option<&dyn crate::store::ItemStore> {
        None
    }
}

/// A dispatcher that knows no resources: every Task fails with `States.TaskFailed`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTasks;

impl TaskDispatcher for NoTasks {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        TaskOutcome::Failed {
            error: "States.TaskFailed".to_string(),
            cause: Some(format!(
                "No task dispatcher is configured for resource '{}'; register a handler for it",
                request.resource
            )),
        }
    }
}

/// Wraps a Lambda function's returned payload in the `arn:aws:states:::lambda:invoke` result
/// shape (`Payload`, `StatusCode`, ...), which embedders use to mimic the optimized integration.
pub fn lambda_invoke_result(payload: Value) -> Value {
    serde_json::json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "HttpHeaders": {"Content-Type": "application/json"},
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": uuid::Uuid::new_v4().to_string()},
        "StatusCode": 200
    })
}
