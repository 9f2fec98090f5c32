//! The interpreter: runs a validated [`StateMachine`] one top-level state at a time, recording
//! AWS-shaped history, and can be snapshotted to JSON between steps and resumed later.
//!
//! Branches of Parallel and iterations of Map run one after another on the calling thread, in
//! order; that is observably equivalent for the outputs AWS guarantees (results keep their
//! positions) and makes runs deterministic. A Distributed Map's child executions are the
//! exception: they may run concurrently, up to `MaxConcurrency` (`distributed`).
//!
//! This file is the public API (configuration, [`Execution`], snapshots, outcomes); the
//! interpreter is split by job: `runner` (entering a state, Retry/Catch, faults), `data` (paths,
//! Parameters, ResultPath, Assign, Fail, Wait targets), `query` (the data flow of JSONata
//! states: `Arguments`, `Output`, `Assign`, `$states`), `map_parallel`, `distributed` (a
//! Distributed Map's Map Run), `task`, `names` (event
//! type names) and `payload` (document size and depth).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::env::{Clock, TaskDispatcher};
use crate::history::{Details, History, history_limit_cause};
use crate::model::{StateMachine, Transition};

mod data;
pub mod distributed;
mod map_parallel;
mod names;
mod payload;
mod query;
mod runner;
mod task;

pub(crate) use names::Names;
pub use payload::{json_shape, json_size};
pub(crate) use runner::{Fault, Runner, TestMode, Vars};
pub use runner::{Inspection, Mock, StateError, error_matches};
// Shared by the files of the engine; each file imports `super::*`.
use data::{add_seconds, path_error_text};
use query::{QUERY_EVALUATION_ERROR, StatesData};
use runner::{BodyError, MapIterations, Tolerance};

/// Maximum size of a state's input or output (AWS's 256 KiB payload limit).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Deepest nesting of a state's output. A loop can nest a document one level per state (a
/// Parameters `{"x.$": "$"}`, a one-branch Parallel) until recursive code (serde_json's
/// serializer, clone and drop) overflows the stack and aborts the process. 1,000 is the default
/// maximum nesting depth of Jackson (`StreamReadConstraints`), the JSON library of AWS's Java
/// SDKs; what AWS Step Functions does past it is not documented, so this limit and its
/// `States.Runtime` error are this engine's choice.
pub const MAX_NESTING_DEPTH: usize = 1_000;

/// Identity of an execution, used for the context object (`$$.Execution...`) and ARNs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionConfig {
    /// State machine name.
    pub state_machine_name: String,
    /// Execution name.
    pub execution_name: String,
    /// AWS region used in ARNs.
    pub region: String,
    /// AWS account id used in ARNs.
    pub account: String,
    /// Role ARN reported in `$$.Execution.RoleArn`.
    pub role_arn: String,
    /// Whether to store history events (ids are counted either way).
    pub record_history: bool,
    /// STANDARD or EXPRESS (express executions have `express:` ARNs and no RedriveCount).
    #[serde(default)]
    pub machine_type: crate::model::MachineType,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            state_machine_name: "StateMachine".into(),
            execution_name: "execution".into(),
            region: "us-east-1".into(),
            account: "111111111111".into(),
            role_arn: "arn:aws:iam::111111111111:role/StepFunctionsRole".into(),
            record_history: true,
            machine_type: crate::model::MachineType::Standard,
        }
    }
}

impl ExecutionConfig {
    /// ARN of the state machine.
    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, self.state_machine_name
        )
    }

    /// ARN of the execution.
    pub fn execution_arn(&self) -> String {
        match self.machine_type {
            crate::model::MachineType::Standard => format!(
                "arn:aws:states:{}:{}:execution:{}:{}",
                self.region, self.account, self.state_machine_name, self.execution_name
            ),
            crate::model::MachineType::Express => {
                format!(
                    "arn:aws:states:{}:{}:express:{}:{}:{}",
                    self.region,
                    self.account,
                    self.state_machine_name,
                    self.execution_name,
                    express_id(&self.execution_name)
                )
            }
        }
    }
}

/// A stable UUID-shaped id for an express execution (AWS appends one to express ARNs).
fn express_id(name: &str) -> uuid::Uuid {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let a = h.finish();
    uuid::Uuid::from_u64_pair(a, a.rotate_left(29) ^ 0x5bd1_e995)
}

/// Status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Not finished yet.
    Running,
    /// Reached a Succeed state or an End.
    Succeeded,
    /// Failed with an error.
    Failed,
    /// Hit the state machine's `TimeoutSeconds`.
    TimedOut,
    /// Stopped (StopExecution) while a state ran (see [`TaskDispatcher::stop_requested`]). The
    /// history ends at the last event of that state (`MapRunAborted` for a Distributed Map): the
    /// embedder that stopped it adds `ExecutionAborted` with the stop's error and cause.
    Aborted,
}

/// Everything needed to continue an execution, serializable to JSON.
///
/// Snapshots are taken between top-level states: a state that was running when the process
/// died (e.g. a Task that was scheduled but not completed) runs again on resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionSnapshot {
    /// Format version of this snapshot.
    pub version: u32,
    /// Execution identity.
    pub config: ExecutionConfig,
    /// Current status.
    pub status: ExecutionStatus,
    /// Name of the next top-level state to run (while running).
    pub next_state: Option<String>,
    /// Input of the next state (while running) or the final output.
    pub document: Arc<Value>,
    /// Top-level workflow variables.
    pub variables: HashMap<String, Value>,
    /// Execution input.
    pub execution_input: Arc<Value>,
    /// When the execution started.
    pub start_time: DateTime<Utc>,
    /// Error of a failed execution.
    pub error: Option<String>,
    /// Cause of a failed execution.
    pub cause: Option<String>,
    /// History so far.
    pub history: History,
    /// Counter for task tokens.
    pub token_counter: u64,
}

/// Current snapshot format version.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Final result of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionOutcome {
    /// Terminal status.
    pub status: ExecutionStatus,
    /// Output when succeeded.
    pub output: Option<Value>,
    /// Error when failed.
    pub error: Option<String>,
    /// Cause when failed.
    pub cause: Option<String>,
}

/// Why an execution cannot be started or resumed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A snapshot refers to a state that is not in the definition.
    #[error(
        "snapshot names state '{0}', which the definition does not contain; resume with the definition the execution started with"
    )]
    UnknownState(String),
    /// A snapshot has a format version this build does not read.
    #[error("snapshot version {0} is not supported (expected {SNAPSHOT_VERSION})")]
    SnapshotVersion(u32),
    /// The execution input is larger than AWS allows.
    #[error(
        "execution input is {0} bytes, over the 262144-byte limit; pass a reference (e.g. an S3 key) instead"
    )]
    InputTooLarge(usize),
}

/// A running (or finished) execution of a state machine.
pub struct Execution<'m> {
    machine: &'m StateMachine,
    snap: ExecutionSnapshot,
    ctx: Value,
    names: Names,
}

impl std::fmt::Debug for Execution<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("status", &self.snap.status)
            .field("next_state", &self.snap.next_state)
            .finish_non_exhaustive()
    }
}

impl<'m> Execution<'m> {
    /// Starts an execution: records `ExecutionStarted` and positions at `StartAt`.
    pub fn start(
        machine: &'m StateMachine,
        input: Value,
        config: ExecutionConfig,
        clock: &dyn Clock,
    ) -> Result<Self, EngineError> {
        let size = json_size(&input);
        if size > MAX_PAYLOAD_BYTES {
            return Err(EngineError::InputTooLarge(size));
        }
        let now = clock.now();
        let mut history = History::new();
        history.record = config.record_history;
        let names = Names::new(machine);
        let input = Arc::new(input);
        history.push(
            &names.execution_started,
            now,
            Details {
                input: Some(input.clone()),
                extra: Some(json!({"roleArn": config.role_arn})),
                ..Details::default()
            },
        );
        let snap = ExecutionSnapshot {
            version: SNAPSHOT_VERSION,
            next_state: Some(machine.states[machine.start_at].name.to_string()),
            document: input.clone(),
            variables: HashMap::new(),
            execution_input: input,
            start_time: now,
            error: None,
            cause: None,
            history,
            token_counter: 0,
            status: ExecutionStatus::Running,
            config,
        };
        let ctx = context_object(&snap);
        Ok(Execution {
            machine,
            snap,
            ctx,
            names,
        })
    }

    /// Continues an execution from a snapshot taken with [`Execution::snapshot`].
    pub fn resume(
        machine: &'m StateMachine,
        snapshot: ExecutionSnapshot,
    ) -> Result<Self, EngineError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(EngineError::SnapshotVersion(snapshot.version));
        }
        if let Some(n) = &snapshot.next_state
            && !machine.index.contains_key(n)
        {
            return Err(EngineError::UnknownState(n.clone()));
        }
        let ctx = context_object(&snapshot);
        Ok(Execution {
            machine,
            names: Names::new(machine),
            snap: snapshot,
            ctx,
        })
    }

    /// The execution's persistent state; serialize it with serde to store it.
    pub fn snapshot(&self) -> &ExecutionSnapshot {
        &self.snap
    }

    /// History recorded so far.
    pub fn history(&self) -> &History {
        &self.snap.history
    }

    /// The history, without copying it (for an execution that has ended).
    pub fn into_history(self) -> History {
        self.snap.history
    }

    /// Current status.
    pub fn status(&self) -> ExecutionStatus {
        self.snap.status
    }

    /// Runs one top-level state; returns the outcome once the execution has ended.
    pub fn step(
        &mut self,
        clock: &dyn Clock,
        tasks: &dyn TaskDispatcher,
    ) -> Option<ExecutionOutcome> {
        if self.snap.status != ExecutionStatus::Running {
            return Some(self.outcome());
        }
        let Some(name) = self.snap.next_state.as_deref() else {
            return Some(self.outcome());
        };
        let idx = self.machine.index[name];
        let deadline = self
            .machine
            .timeout_seconds
            .and_then(|t| add_seconds(self.snap.start_time, t));
        let mut vars = Vars {
            local: std::mem::take(&mut self.snap.variables),
            parent: None,
        };
        let input = self.snap.document.clone();
        let mut runner = Runner {
            clock,
            tasks,
            history: &mut self.snap.history,
            ctx: &mut self.ctx,
            deadline,
            names: &self.names,
            token_counter: &mut self.snap.token_counter,
            depth: 0,
            test: None,
        };
        let result = runner.run_state(self.machine, idx, input, &mut vars);
        self.snap.variables = vars.local;
        let now = clock.now();
        match result {
            Ok((Transition::Next(n), out)) => {
                self.snap.next_state = Some(self.machine.states[n].name.to_string());
                self.snap.document = out;
                None
            }
            Ok((Transition::End, out)) => {
                self.snap.next_state = None;
                self.snap.status = ExecutionStatus::Succeeded;
                self.snap.history.push(
                    &self.names.execution_succeeded,
                    now,
                    Details {
                        output: Some(out.clone()),
                        ..Details::default()
                    },
                );
                self.snap.document = out;
                Some(self.outcome())
            }
            Err(Fault::TimedOut) => {
                self.snap.next_state = None;
                self.snap.status = ExecutionStatus::TimedOut;
                let at = deadline.unwrap_or(now);
                self.snap
                    .history
                    .push(&self.names.execution_timed_out, at, Details::default());
                Some(self.outcome())
            }
            Err(Fault::Aborted) => {
                self.snap.next_state = None;
                self.snap.status = ExecutionStatus::Aborted;
                Some(self.outcome())
            }
            Err(Fault::HistoryLimit) => Some(self.end_failed(
                now,
                StateError::new("States.Runtime", history_limit_cause()),
            )),
            Err(Fault::Error(e) | Fault::Retriable(e)) => Some(self.end_failed(now, e)),
        }
    }

    /// Ends the execution with `ExecutionFailed`.
    fn end_failed(&mut self, now: DateTime<Utc>, e: StateError) -> ExecutionOutcome {
        self.snap.next_state = None;
        self.snap.status = ExecutionStatus::Failed;
        self.snap.history.push(
            &self.names.execution_failed,
            now,
            Details {
                error: e.error.clone(),
                cause: e.cause.clone(),
                ..Details::default()
            },
        );
        self.snap.error = e.error;
        self.snap.cause = e.cause;
        self.outcome()
    }

    /// Runs to the end.
    pub fn run(&mut self, clock: &dyn Clock, tasks: &dyn TaskDispatcher) -> ExecutionOutcome {
        tracing::debug!(execution = %self.snap.config.execution_name, next_state = ?self.snap.next_state, "execution running");
        loop {
            if let Some(o) = self.step(clock, tasks) {
                tracing::debug!(
                    execution = %self.snap.config.execution_name,
                    status = ?o.status,
                    error = ?o.error,
                    events = self.snap.history.last_id,
                    "execution ended"
                );
                return o;
            }
        }
    }

    /// The outcome so far (status `Running` while not finished).
    pub fn outcome(&self) -> ExecutionOutcome {
        ExecutionOutcome {
            status: self.snap.status,
            output: (self.snap.status == ExecutionStatus::Succeeded)
                .then(|| (*self.snap.document).clone()),
            error: self.snap.error.clone(),
            cause: self.snap.cause.clone(),
        }
    }
}

/// The context object (`$$`) for an execution.
fn context_object(snap: &ExecutionSnapshot) -> Value {
    let c = &snap.config;
    let mut execution = json!({
        "Id": c.execution_arn(),
        "Input": &*snap.execution_input,
        "StartTime": format_time(snap.start_time),
        "Name": c.execution_name,
        "RoleArn": c.role_arn,
    });
    if c.machine_type == crate::model::MachineType::Standard {
        execution["RedriveCount"] = json!(0);
    }
    json!({
        "Execution": execution,
        "StateMachine": {"Id": c.state_machine_arn(), "Name": c.state_machine_name},
        "State": {"EnteredTime": "", "Name": ""},
    })
}

/// Timestamps as AWS renders them in the context object.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
