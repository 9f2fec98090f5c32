//! The interpreter: runs a validated [`StateMachine`] one top-level state at a time, recording
//! AWS-shaped history, and can be snapshotted to JSON between steps and resumed later.
//!
//! Branches of Parallel and iterations of Map run one after another on the calling thread, in
//! order; that is observably equivalent for the outputs AWS guarantees (results keep their
//! positions) and makes runs deterministic.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::env::{Clock, TaskDispatcher, TaskOutcome, TaskRequest};
use crate::history::{Details, History, MAX_HISTORY_EVENTS, history_limit_cause};
use crate::jsonpath::{self, JsonPath, JsonPathError, Scope, Variables};
use crate::model::{
    Catcher, DynamicString, FailSpec, MAX_DELAY_SECONDS, MapSpec, PathField, PercentField, Retrier,
    SecondsField, State, StateKind, StateMachine, TaskSpec, Transition, WaitSpec,
};
use crate::template::{Template, TemplateError};

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
    /// The definition uses JSONata, which this engine does not execute.
    #[error(
        "state machine uses QueryLanguage JSONata, which the embedded engine does not support; use JSONPath"
    )]
    JsonataUnsupported,
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
        if machine.uses_jsonata {
            return Err(EngineError::JsonataUnsupported);
        }
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
        if machine.uses_jsonata {
            return Err(EngineError::JsonataUnsupported);
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

/// Interned event names so history recording never formats strings.
#[derive(Debug)]
pub(crate) struct Names {
    entered: HashMap<&'static str, Arc<str>>,
    exited: HashMap<&'static str, Arc<str>>,
    other: HashMap<&'static str, Arc<str>>,
    execution_started: Arc<str>,
    execution_succeeded: Arc<str>,
    execution_failed: Arc<str>,
    execution_timed_out: Arc<str>,
}

impl Names {
    pub(crate) fn new(_machine: &StateMachine) -> Self {
        let types = [
            "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
        ];
        let other = [
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskFailed",
            "TaskTimedOut",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "LambdaFunctionFailed",
            "LambdaFunctionTimedOut",
            "MapStateStarted",
            "MapStateSucceeded",
            "MapStateFailed",
            "MapIterationStarted",
            "MapIterationSucceeded",
            "MapIterationFailed",
            "ParallelStateStarted",
            "ParallelStateSucceeded",
            "ParallelStateFailed",
            "WaitStateAborted",
        ];
        Names {
            entered: types
                .iter()
                .map(|t| (*t, Arc::from(format!("{t}StateEntered"))))
                .collect(),
            exited: types
                .iter()
                .map(|t| (*t, Arc::from(format!("{t}StateExited"))))
                .collect(),
            other: other.iter().map(|t| (*t, Arc::from(*t))).collect(),
            execution_started: Arc::from("ExecutionStarted"),
            execution_succeeded: Arc::from("ExecutionSucceeded"),
            execution_failed: Arc::from("ExecutionFailed"),
            execution_timed_out: Arc::from("ExecutionTimedOut"),
        }
    }

    fn get(&self, k: &'static str) -> &Arc<str> {
        &self.other[k]
    }
}

/// An error raised by a state, with AWS's error name and cause.
#[derive(Debug, Clone, PartialEq)]
pub struct StateError {
    /// Error name (`States.Runtime`, a Fail state's Error, a task's error type...).
    pub error: Option<String>,
    /// Cause text.
    pub cause: Option<String>,
}

impl StateError {
    fn new(error: &str, cause: impl Into<String>) -> Self {
        StateError {
            error: Some(error.to_string()),
            cause: Some(cause.into()),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Fault {
    Error(StateError),
    TimedOut,
    /// The execution would record more than [`MAX_HISTORY_EVENTS`] events; it ends at once,
    /// past every Retry and Catch.
    HistoryLimit,
    /// TestState only: a retrier would retry this error.
    Retriable(StateError),
}

/// A mocked Task (or Map/Parallel) result, for TestState.
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    /// The state's raw result.
    Result(Value),
    /// The state fails with this error and cause.
    Error {
        /// Error name.
        error: String,
        /// Cause text.
        cause: Option<String>,
    },
}

/// TestState mode: one attempt, optional mocked Map/Parallel result, report caught errors.
#[derive(Debug, Default)]
pub(crate) struct TestMode {
    pub(crate) body_mock: Option<Mock>,
    pub(crate) caught: Option<StateError>,
    pub(crate) preserve_context: bool,
}

impl From<StateError> for Fault {
    fn from(e: StateError) -> Self {
        Fault::Error(e)
    }
}

/// Variables visible to a state: its own scope plus read-only enclosing scopes (Map/Parallel).
pub(crate) struct Vars<'p> {
    pub(crate) local: HashMap<String, Value>,
    pub(crate) parent: Option<&'p Vars<'p>>,
}

impl Variables for Vars<'_> {
    fn get(&self, name: &str) -> Option<Value> {
        match self.local.get(name) {
            Some(v) => Some(v.clone()),
            None => self.parent.and_then(|p| p.get(name)),
        }
    }
}

/// Per-step interpreter state borrowed from the execution.
pub(crate) struct Runner<'a> {
    pub(crate) clock: &'a dyn Clock,
    pub(crate) tasks: &'a dyn TaskDispatcher,
    pub(crate) history: &'a mut History,
    pub(crate) ctx: &'a mut Value,
    pub(crate) deadline: Option<DateTime<Utc>>,
    pub(crate) names: &'a Names,
    pub(crate) token_counter: &'a mut u64,
    pub(crate) depth: usize,
    pub(crate) test: Option<TestMode>,
}

/// What a state's JSONPath processing produced, step by step (for TestState inspection).
#[derive(Debug, Default, Clone)]
pub struct Inspection {
    /// Effective input after InputPath.
    pub after_input_path: Option<Arc<Value>>,
    /// After Parameters (or ItemSelector for Map).
    pub after_parameters: Option<Arc<Value>>,
    /// Map only: the items after ItemsPath/Items.
    pub after_items_path: Option<Arc<Value>>,
    /// Raw result.
    pub result: Option<Arc<Value>>,
    /// After ResultSelector.
    pub after_result_selector: Option<Arc<Value>>,
    /// After ResultPath.
    pub after_result_path: Option<Arc<Value>>,
    /// Variables after Assign.
    pub variables: Option<Value>,
}

/// Maximum nesting of Parallel/Map executions.
const MAX_RUN_DEPTH: usize = 64;

/// What a Map's iterations produced: results, selected inputs, the failure that ended them.
type MapIterations = (Vec<Value>, Vec<Value>, Option<StateError>);

/// A Map's `ToleratedFailureCount` / `ToleratedFailurePercentage`, resolved.
struct Tolerance {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    /// Whether `failed` failed iterations out of `total` are still tolerated.
    fn tolerates(&self, failed: usize, total: usize) -> bool {
        self.count.is_some_and(|t| failed as u64 <= t)
            || self
                .percentage
                .is_some_and(|p| (failed as f64) * 100.0 / (total as f64) <= p)
    }
}

/// How a state body ended when it may be retried/caught.
enum BodyError {
    /// Recoverable: goes through Retry/Catch.
    Catchable(StateError),
    /// Not catchable (States.Runtime from data processing, timeouts, the history limit).
    Fatal(Fault),
}

impl From<Fault> for BodyError {
    fn from(f: Fault) -> Self {
        BodyError::Fatal(f)
    }
}

impl<'a> Runner<'a> {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records an event of a running execution, or fails the execution when the event would take
    /// the id AWS reserves for the `ExecutionFailed` that ends a history at the limit.
    fn push(&mut self, kind: &Arc<str>, details: Details) -> Result<u64, Fault> {
        if self.history.last_id + 1 >= MAX_HISTORY_EVENTS {
            return Err(Fault::HistoryLimit);
        }
        let now = self.clock.now();
        Ok(self.history.push(kind, now, details))
    }

    fn runtime(&self, st: &State, entered: u64, detail: impl std::fmt::Display) -> StateError {
        if self.test.is_some() {
            // TestState reports the bare detail, without the execution-history prefix.
            return StateError::new("States.Runtime", detail.to_string());
        }
        StateError::new(
            "States.Runtime",
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{entered}). {detail}",
                st.name
            ),
        )
    }

    fn check_deadline(&self) -> Result<(), Fault> {
        match self.deadline {
            Some(d) if self.clock.now() >= d => Err(Fault::TimedOut),
            _ => Ok(()),
        }
    }

    /// Sleeps until `until`, or until the execution deadline if that comes first.
    fn sleep_until(&self, until: DateTime<Utc>) -> Result<(), Fault> {
        match self.deadline {
            Some(d) if until >= d => {
                self.clock.sleep_until(d);
                Err(Fault::TimedOut)
            }
            _ => {
                self.clock.sleep_until(until);
                Ok(())
            }
        }
    }

    /// Runs a whole (sub-)machine from its StartAt; used for Parallel branches and Map iterations.
    pub(crate) fn run_machine(
        &mut self,
        sm: &StateMachine,
        input: Arc<Value>,
        parent: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        let mut vars = Vars {
            local: HashMap::new(),
            parent: Some(parent),
        };
        let mut cur = sm.start_at;
        let mut doc = input;
        loop {
            let (next, out) = self.run_state(sm, cur, doc, &mut vars)?;
            match next {
                Transition::Next(n) => {
                    cur = n;
                    doc = out;
                }
                Transition::End => return Ok(out),
            }
        }
    }

    fn set_state_context(&mut self, st: &State, retry_count: u32) {
        if !st.common.uses_context || self.test.as_ref().is_some_and(|t| t.preserve_context) {
            return;
        }
        let now = format_time(self.now());
        let mut s = Map::new();
        s.insert("EnteredTime".into(), Value::String(now));
        s.insert("Name".into(), Value::String(st.name.to_string()));
        if matches!(
            st.kind,
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
        ) {
            s.insert("RetryCount".into(), json!(retry_count));
        }
        if let Value::Object(c) = &mut *self.ctx {
            c.insert("State".into(), Value::Object(s));
        }
    }

    /// Runs one state: records its events, processes data, handles Retry/Catch.
    pub(crate) fn run_state(
        &mut self,
        sm: &StateMachine,
        idx: usize,
        input: Arc<Value>,
        vars: &mut Vars,
    ) -> Result<(Transition, Arc<Value>), Fault> {
        self.run_state_inspect(sm, idx, input, vars, None)
    }

    pub(crate) fn run_state_inspect(
        &mut self,
        sm: &StateMachine,
        idx: usize,
        input: Arc<Value>,
        vars: &mut Vars,
        mut insp: Option<&mut Inspection>,
    ) -> Result<(Transition, Arc<Value>), Fault> {
        let st = &sm.states[idx];
        self.check_deadline()?;
        let entered = self.push(
            &self.names.entered[st.type_name].clone(),
            Details {
                name: Some(st.name.clone()),
                input: Some(input.clone()),
                ..Details::default()
            },
        )?;
        self.set_state_context(st, 0);
        let c = &st.common;
        let result = match &st.kind {
            StateKind::Succeed => {
                let eff = self.input_path(st, entered, &input, vars)?;
                if let Some(i) = insp.as_deref_mut() {
                    i.after_input_path = Some(eff.clone());
                }
                let out = self.output_path(st, entered, eff, vars)?;
                Ok((Transition::End, out))
            }
            StateKind::Fail(f) => {
                return Err(Fault::Error(self.fail(st, entered, f, &input, vars)?));
            }
            StateKind::Choice { choices, default } => {
                let eff = self.input_path(st, entered, &input, vars)?;
                if let Some(i) = insp.as_deref_mut() {
                    i.after_input_path = Some(eff.clone());
                }
                let scope = Scope {
                    input: &eff,
                    context: self.ctx,
                    variables: vars,
                };
                let mut chosen = None;
                for (rule, next, assign) in choices {
                    match rule.evaluate(&scope) {
                        Ok(true) => {
                            chosen = Some((*next, assign.as_ref()));
                            break;
                        }
                        Ok(false) => {}
                        Err(e) => return Err(self.runtime(st, entered, e).into()),
                    }
                }
                let (next, rule_assign) = match (chosen, default) {
                    (Some(c), _) => c,
                    (None, Some(d)) => (*d, None),
                    (None, None) => {
                        return Err(StateError::new("States.NoChoiceMatched", format!("No Choice Rules matched the input and no Default is specified in state '{}'. The input was: {}", st.name, eff)).into());
                    }
                };
                if let Some(t) = rule_assign {
                    self.assign(st, entered, t, &eff, vars)?;
                } else if let Some(a) = &c.assign {
                    self.assign(st, entered, a, &eff, vars)?;
                }
                let out = self.output_path(st, entered, eff, vars)?;
                Ok((Transition::Next(next), out))
            }
            StateKind::Wait(w) => {
                let eff = self.input_path(st, entered, &input, vars)?;
                let until = self.wait_until(st, entered, w, &eff, vars)?;
                self.sleep_until(until)?;
                if let Some(a) = &c.assign {
                    self.assign(st, entered, a, &eff, vars)?;
                }
                let out = self.output_path(st, entered, eff, vars)?;
                Ok((c.transition, out))
            }
            StateKind::Pass { result } => {
                let eff = self.input_path(st, entered, &input, vars)?;
                if let Some(i) = insp.as_deref_mut() {
                    i.after_input_path = Some(eff.clone());
                }
                let params = self.parameters(st, entered, eff, vars)?;
                if let Some(i) = insp.as_deref_mut() {
                    i.after_parameters = Some(params.clone());
                }
                let res = match result {
                    Some(r) => Arc::new(r.clone()),
                    None => params,
                };
                if let Some(i) = insp.as_deref_mut() {
                    i.result = Some(res.clone());
                }
                let after = self.result_path(st, entered, &c.result_path, &input, res.clone())?;
                if let Some(i) = insp.as_deref_mut() {
                    i.after_result_path = Some(after.clone());
                }
                if let Some(a) = &c.assign {
                    self.assign(st, entered, a, &res, vars)?;
                }
                let out = self.output_path(st, entered, after, vars)?;
                Ok((c.transition, out))
            }
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
                self.run_retryable(st, entered, input.clone(), vars, insp)
            }
        };
        let (next, out) = result?;
        let (size, depth) = json_shape(&out);
        if size > MAX_PAYLOAD_BYTES {
            return Err(StateError::new("States.DataLimitExceeded", format!("The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.", st.name)).into());
        }
        if depth > MAX_NESTING_DEPTH {
            return Err(self.runtime(st, entered, format!("The state's output is nested {depth} levels deep, deeper than the {MAX_NESTING_DEPTH} levels a JSON document may have.")).into());
        }
        let exited = self.names.exited[st.type_name].clone();
        self.push(
            &exited,
            Details {
                name: Some(st.name.clone()),
                output: Some(out.clone()),
                ..Details::default()
            },
        )?;
        Ok((next, out))
    }

    fn run_retryable(
        &mut self,
        st: &State,
        entered: u64,
        input: Arc<Value>,
        vars: &mut Vars,
        mut insp: Option<&mut Inspection>,
    ) -> Result<(Transition, Arc<Value>), Fault> {
        let c = &st.common;
        let eff = self.input_path(st, entered, &input, vars)?;
        if let Some(i) = insp.as_deref_mut() {
            i.after_input_path = Some(eff.clone());
        }
        let mut attempts: Vec<u32> = vec![0; c.retry.len()];
        let mut retry_count = 0u32;
        loop {
            let body = self.body(st, entered, &eff, vars, retry_count, insp.as_deref_mut());
            let err = match body {
                Ok(raw) => {
                    if let Some(i) = insp.as_deref_mut() {
                        i.result = Some(raw.clone());
                    }
                    let selected = match &c.result_selector {
                        Some(t) => {
                            let scope = Scope {
                                input: &raw,
                                context: self.ctx,
                                variables: vars,
                            };
                            let v = t
                                .evaluate(&scope)
                                .map_err(|e| self.template_error(st, entered, e, &raw))?;
                            Arc::new(v)
                        }
                        None => raw,
                    };
                    if let Some(i) = insp.as_deref_mut() {
                        i.after_result_selector = Some(selected.clone());
                    }
                    let after =
                        self.result_path(st, entered, &c.result_path, &input, selected.clone())?;
                    if let Some(i) = insp.as_deref_mut() {
                        i.after_result_path = Some(after.clone());
                    }
                    if let Some(a) = &c.assign {
                        self.assign(st, entered, a, &selected, vars)?;
                    }
                    let out = self.output_path(st, entered, after, vars)?;
                    return Ok((c.transition, out));
                }
                Err(BodyError::Fatal(f)) => return Err(f),
                Err(BodyError::Catchable(e)) => e,
            };
            let name = err.error.as_deref().unwrap_or("");
            // The first retrier whose ErrorEquals matches decides; an exhausted one does not fall
            // through to later retriers.
            if let Some(ri) = c
                .retry
                .iter()
                .position(|r| error_matches(&r.error_equals, name))
            {
                let r: &Retrier = &c.retry[ri];
                if attempts[ri] < r.max_attempts {
                    if self.test.is_some() {
                        return Err(Fault::Retriable(err));
                    }
                    let delay = retry_delay(r, attempts[ri]);
                    attempts[ri] += 1;
                    retry_count = retry_count.saturating_add(1);
                    // The delay is capped far below chrono's range, so only a clock already near
                    // the end of time can overflow; it then sleeps until the end of time.
                    let until = self
                        .now()
                        .checked_add_signed(chrono::Duration::milliseconds((delay * 1000.0) as i64))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    self.sleep_until(until)?;
                    self.set_state_context(st, retry_count);
                    continue;
                }
            }
            if let Some(catcher) = c
                .catch
                .iter()
                .find(|k| error_matches(&k.error_equals, name))
            {
                if let Some(t) = &mut self.test {
                    t.caught = Some(err.clone());
                }
                return self.catch(st, entered, catcher, &input, err, vars);
            }
            return Err(Fault::Error(err));
        }
    }

    fn catch(
        &mut self,
        st: &State,
        entered: u64,
        catcher: &Catcher,
        input: &Arc<Value>,
        err: StateError,
        vars: &mut Vars,
    ) -> Result<(Transition, Arc<Value>), Fault> {
        let mut eo = Map::new();
        eo.insert(
            "Error".into(),
            err.error.map(Value::String).unwrap_or(Value::Null),
        );
        if let Some(cause) = err.cause {
            eo.insert("Cause".into(), Value::String(cause));
        }
        let error_output = Arc::new(Value::Object(eo));
        if let Some(a) = &catcher.assign {
            self.assign(st, entered, a, &error_output, vars)?;
        }
        let out = self.result_path(st, entered, &catcher.result_path, input, error_output)?;
        Ok((Transition::Next(catcher.next), out))
    }

    fn body(
        &mut self,
        st: &State,
        entered: u64,
        eff: &Arc<Value>,
        vars: &mut Vars,
        retry_count: u32,
        insp: Option<&mut Inspection>,
    ) -> Result<Arc<Value>, BodyError> {
        if self.depth == 0
            && matches!(st.kind, StateKind::Parallel { .. })
            && let Some(mock) = self.test.as_ref().and_then(|t| t.body_mock.clone())
        {
            return match mock {
                Mock::Result(v) => Ok(Arc::new(v)),
                Mock::Error { error, cause } => Err(BodyError::Catchable(StateError {
                    error: Some(error),
                    cause,
                })),
            };
        }
        match &st.kind {
            StateKind::Task(t) => {
                *self.token_counter += 1;
                let token = format!("{}-{:08}", st.name, *self.token_counter);
                // `$$.Task.Token` is visible to the Task's Parameters (callback patterns).
                if let Value::Object(c) = &mut *self.ctx {
                    c.insert("Task".into(), json!({"Token": token}));
                }
                let params = self.parameters(st, entered, eff.clone(), vars);
                if let Value::Object(c) = &mut *self.ctx {
                    c.remove("Task");
                }
                let params = params.map_err(BodyError::Fatal)?;
                if let Some(i) = insp {
                    i.after_parameters = Some(params.clone());
                }
                self.task(st, entered, t, &params, eff, vars, retry_count, &token)
            }
            StateKind::Parallel { branches } => {
                let params = self
                    .parameters(st, entered, eff.clone(), vars)
                    .map_err(BodyError::Fatal)?;
                if let Some(i) = insp {
                    i.after_parameters = Some(params.clone());
                }
                self.parallel(st, branches, params, vars)
            }
            StateKind::Map(m) => self.map(st, entered, m, eff, vars, insp),
            _ => Ok(eff.clone()),
        }
    }

    fn enter_nested(&mut self) -> Result<(), BodyError> {
        if self.depth >= MAX_RUN_DEPTH {
            return Err(BodyError::Fatal(Fault::Error(StateError::new(
                "States.Runtime",
                format!("Parallel/Map nesting exceeded {MAX_RUN_DEPTH} levels"),
            ))));
        }
        self.depth += 1;
        Ok(())
    }

    fn parallel(
        &mut self,
        st: &State,
        branches: &[StateMachine],
        params: Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, BodyError> {
        self.enter_nested()?;
        let started = self.names.get("ParallelStateStarted").clone();
        if let Err(f) = self.push(&started, Details::default()) {
            self.depth -= 1;
            return Err(f.into());
        }
        let saved_state = self.ctx.get("State").cloned();
        let mut outs = Vec::with_capacity(branches.len());
        let mut failure = None;
        for b in branches {
            match self.run_machine(b, params.clone(), vars) {
                Ok(o) => outs.push(Arc::unwrap_or_clone(o)),
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        if let (Some(s), Value::Object(m)) = (saved_state, &mut *self.ctx) {
            m.insert("State".into(), s);
        }
        self.depth -= 1;
        match failure {
            None => {
                let k = self.names.get("ParallelStateSucceeded").clone();
                self.push(&k, Details::default())?;
                Ok(Arc::new(Value::Array(outs)))
            }
            Some(f @ (Fault::TimedOut | Fault::HistoryLimit)) => Err(BodyError::Fatal(f)),
            Some(Fault::Error(e) | Fault::Retriable(e)) => {
                let k = self.names.get("ParallelStateFailed").clone();
                self.push(
                    &k,
                    Details {
                        error: e.error.clone(),
                        cause: e.cause.clone(),
                        ..Details::default()
                    },
                )?;
                let _ = st;
                Err(BodyError::Catchable(e))
            }
        }
    }

    fn resolve_count(
        &self,
        st: &State,
        entered: u64,
        field: &str,
        f: &Option<SecondsField>,
        eff: &Value,
        vars: &Vars,
    ) -> Result<Option<u64>, BodyError> {
        match f {
            None => Ok(None),
            Some(SecondsField::Literal(n)) => Ok(Some(*n)),
            Some(SecondsField::Path(p)) => {
                let scope = Scope {
                    input: eff,
                    context: self.ctx,
                    variables: vars,
                };
                let v = p
                    .resolve(&scope)
                    .map_err(|e| BodyError::Fatal(self.runtime(st, entered, e).into()))?;
                let n = match &v {
                    Value::Number(n) => n.as_u64(),
                    // AWS parses the referenced text as an integer, so "1" is accepted.
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) => Ok(Some(n)),
                    None => Err(BodyError::Fatal(
                        self.runtime(st, entered, format!("The {field}Path field refers to value \"{}\" which is not a valid integer: {}", value_text(&v), p.as_str())).into(),
                    )),
                }
            }
        }
    }

    fn map(
        &mut self,
        st: &State,
        entered: u64,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &mut Vars,
        mut insp: Option<&mut Inspection>,
    ) -> Result<Arc<Value>, BodyError> {
        let fatal = |e: StateError| BodyError::Fatal(Fault::Error(e));
        let items_val: Value = match &m.items {
            Some(t) => {
                let scope = Scope {
                    input: eff,
                    context: self.ctx,
                    variables: vars,
                };
                t.evaluate(&scope)
                    .map_err(|e| match self.template_error(st, entered, e, eff) {
                        Fault::Error(e) => fatal(e),
                        f => BodyError::Fatal(f),
                    })?
            }
            None => match &m.items_path {
                PathField::Path(p) => {
                    let scope = Scope {
                        input: eff,
                        context: self.ctx,
                        variables: vars,
                    };
                    p.resolve(&scope)
                        .map_err(|e| fatal(self.runtime(st, entered, path_error_text(p, &e))))?
                }
                _ => (**eff).clone(),
            },
        };
        let Value::Array(items) = items_val else {
            let detail = match &m.items_path {
                PathField::Path(p) if m.items.is_none() => {
                    let shown = p
                        .as_str()
                        .strip_prefix('$')
                        .filter(|_| p.is_context())
                        .unwrap_or(p.as_str());
                    format!("Reference path \"{shown}\" must point to array.")
                }
                _ => format!("Map state input must be an array but was: {items_val}"),
            };
            return Err(fatal(self.runtime(st, entered, detail)));
        };
        if let Some(i) = insp.as_deref_mut() {
            i.after_items_path = Some(Arc::new(Value::Array(items.clone())));
        }
        self.resolve_count(st, entered, "MaxConcurrency", &m.max_concurrency, eff, vars)?;
        let tolerated_count = self.resolve_count(
            st,
            entered,
            "ToleratedFailureCount",
            &m.tolerated_failure_count,
            eff,
            vars,
        )?;
        let tolerated_pct = match &m.tolerated_failure_percentage {
            None => None,
            Some(PercentField::Literal(p)) => Some(*p),
            Some(PercentField::Path(p)) => {
                let scope = Scope {
                    input: eff,
                    context: self.ctx,
                    variables: vars,
                };
                let v = p
                    .resolve(&scope)
                    .map_err(|e| fatal(self.runtime(st, entered, e)))?;
                match v.as_f64().filter(|f| (0.0..=100.0).contains(f)) {
                    Some(f) => Some(f),
                    None => return Err(fatal(self.runtime(st, entered, format!("The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid percentage: {}", value_text(&v), p.as_str())))),
                }
            }
        };
        if self.depth == 0
            && let Some(mock) = self.test.as_ref().and_then(|t| t.body_mock.clone())
        {
            // TestState with a mocked Map result: items are still selected and checked, the
            // iterations are not run.
            return match mock {
                Mock::Result(v) => Ok(Arc::new(v)),
                Mock::Error { error, cause } => Err(BodyError::Catchable(StateError {
                    error: Some(error),
                    cause,
                })),
            };
        }
        self.enter_nested()?;
        let saved_state = self.ctx.get("State").cloned();
        let tolerance = Tolerance {
            count: tolerated_count,
            percentage: tolerated_pct,
        };
        let iterations =
            self.map_iterations(st, entered, m, eff, vars, items, &tolerance, insp.is_some());
        if let Value::Object(c) = &mut *self.ctx {
            c.remove("Map");
            if let Some(s) = saved_state {
                c.insert("State".into(), s);
            }
        }
        self.depth -= 1;
        let (outs, selected_inputs, first_failure) = iterations?;
        if let Some(i) = insp {
            i.after_parameters = Some(Arc::new(Value::Array(selected_inputs)));
        }
        match first_failure {
            None => {
                let k = self.names.get("MapStateSucceeded").clone();
                self.push(&k, Details::default())?;
                Ok(Arc::new(Value::Array(outs)))
            }
            Some(e) => {
                let k = self.names.get("MapStateFailed").clone();
                self.push(&k, Details::default())?;
                if tolerance.count.is_some() || tolerance.percentage.is_some() {
                    return Err(BodyError::Catchable(StateError::new(
                        "States.ExceedToleratedFailureThreshold",
                        "The specified tolerated failure threshold was exceeded",
                    )));
                }
                Err(BodyError::Catchable(e))
            }
        }
    }

    /// Runs a Map's iterations in order, from `MapStateStarted` up to (not including) its end
    /// event: the results, the selected inputs (when inspecting) and the first failure that was
    /// not tolerated.
    #[allow(clippy::too_many_arguments)]
    fn map_iterations(
        &mut self,
        st: &State,
        entered: u64,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &Vars,
        items: Vec<Value>,
        tolerance: &Tolerance,
        keep_inputs: bool,
    ) -> Result<MapIterations, BodyError> {
        let k = self.names.get("MapStateStarted").clone();
        self.push(
            &k,
            Details {
                index: Some(items.len() as u64),
                ..Details::default()
            },
        )?;
        let total = items.len();
        let mut outs = Vec::with_capacity(total);
        let mut failed = 0usize;
        let mut selected_inputs = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let iter_input = match &m.item_selector {
                Some(t) => {
                    if let Value::Object(c) = &mut *self.ctx {
                        c.insert("Map".into(), json!({"Item": {"Index": i, "Value": item}}));
                    }
                    let scope = Scope {
                        input: eff,
                        context: self.ctx,
                        variables: vars,
                    };
                    t.evaluate(&scope)
                        .map_err(|e| self.template_error(st, entered, e, eff))?
                }
                None => item,
            };
            if keep_inputs {
                selected_inputs.push(iter_input.clone());
            }
            self.push_iteration(
                m,
                "MapIterationStarted",
                Details {
                    name: Some(st.name.clone()),
                    index: Some(i as u64),
                    ..Details::default()
                },
            )?;
            match self.run_iteration(m, Arc::new(iter_input), vars) {
                Ok(o) => {
                    self.push_iteration(
                        m,
                        "MapIterationSucceeded",
                        Details {
                            name: Some(st.name.clone()),
                            index: Some(i as u64),
                            ..Details::default()
                        },
                    )?;
                    outs.push(Arc::unwrap_or_clone(o));
                }
                Err(f @ (Fault::TimedOut | Fault::HistoryLimit)) => return Err(f.into()),
                Err(Fault::Error(e) | Fault::Retriable(e)) => {
                    self.push_iteration(
                        m,
                        "MapIterationFailed",
                        Details {
                            name: Some(st.name.clone()),
                            index: Some(i as u64),
                            error: e.error.clone(),
                            cause: e.cause.clone(),
                            ..Details::default()
                        },
                    )?;
                    failed += 1;
                    if !tolerance.tolerates(failed, total) {
                        return Ok((outs, selected_inputs, Some(e)));
                    }
                    let mut eo = Map::new();
                    eo.insert(
                        "Error".into(),
                        e.error.map(Value::String).unwrap_or(Value::Null),
                    );
                    if let Some(c) = e.cause {
                        eo.insert("Cause".into(), Value::String(c));
                    }
                    outs.push(Value::Object(eo));
                }
            }
        }
        Ok((outs, selected_inputs, None))
    }

    /// Records an inline Map's iteration event. A distributed Map's iterations are child
    /// executions on AWS, which the parent's history does not list.
    fn push_iteration(
        &mut self,
        m: &MapSpec,
        kind: &'static str,
        details: Details,
    ) -> Result<(), Fault> {
        if !m.distributed {
            let k = self.names.get(kind).clone();
            self.push(&k, details)?;
        }
        Ok(())
    }

    /// Runs one Map iteration. An inline Map's iterations record into the execution's history.
    /// A distributed Map's iteration is a child execution on AWS, with a history (and a history
    /// limit) of its own that starts with its `ExecutionStarted`; that history is not kept here,
    /// and reaching its limit fails the iteration, not the parent.
    fn run_iteration(
        &mut self,
        m: &MapSpec,
        input: Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        if !m.distributed {
            return self.run_machine(&m.processor, input, vars);
        }
        let mut child = History {
            events: Vec::new(),
            record: false,
            last_id: 1,
        };
        std::mem::swap(self.history, &mut child);
        let result = self.run_machine(&m.processor, input, vars);
        std::mem::swap(self.history, &mut child);
        match result {
            Err(Fault::HistoryLimit) => {
                Err(StateError::new("States.Runtime", history_limit_cause()).into())
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn task(
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

    fn fail(
        &mut self,
        st: &State,
        entered: u64,
        f: &FailSpec,
        input: &Value,
        vars: &Vars,
    ) -> Result<StateError, Fault> {
        let mut out = StateError {
            error: f.error.clone(),
            cause: f.cause.clone(),
        };
        let scope = Scope {
            input,
            context: self.ctx,
            variables: vars,
        };
        for (field, dynamic, slot) in [
            ("ErrorPath", &f.error_path, &mut out.error),
            ("CausePath", &f.cause_path, &mut out.cause),
        ] {
            let Some(d) = dynamic else { continue };
            let v = match d {
                DynamicString::Path(p) => match p.resolve(&scope) {
                    Ok(v) => v,
                    Err(e) if crate::template::is_not_found(&e) => {
                        return Err(self
                            .runtime(st, entered, format!("The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'", p.as_str(), input))
                            .into());
                    }
                    Err(e) => return Err(self.runtime(st, entered, e).into()),
                },
                DynamicString::Intrinsic(call) => call
                    .evaluate(&scope)
                    .map_err(|e| Fault::Error(StateError::new(e.error_name(), e.to_string())))?,
            };
            match v {
                Value::String(s) => *slot = Some(s),
                other => {
                    return Err(self.runtime(st, entered, format!("The {field} field must resolve to a string, but '{}' resolved to {other}", d_text(d))).into());
                }
            }
        }
        Ok(out)
    }

    fn wait_until(
        &self,
        st: &State,
        entered: u64,
        w: &WaitSpec,
        eff: &Value,
        vars: &Vars,
    ) -> Result<DateTime<Utc>, Fault> {
        let now = self.now();
        let scope = Scope {
            input: eff,
            context: self.ctx,
            variables: vars,
        };
        let too_long = || -> Fault {
            self.runtime(st, entered, "Wait state delay is too long.")
                .into()
        };
        // AWS keeps wait delays in 32-bit seconds.
        let max = i64::from(i32::MAX);
        match self.wait_target(st, entered, w, &scope)? {
            WaitFor::Seconds(s) if s > max as u64 => Err(too_long()),
            WaitFor::Seconds(s) => add_seconds(now, s).ok_or_else(too_long),
            WaitFor::Until(t) if (t - now).num_seconds() > max => Err(too_long()),
            WaitFor::Until(t) => Ok(t),
        }
    }

    fn wait_target(
        &self,
        st: &State,
        entered: u64,
        w: &WaitSpec,
        scope: &Scope,
    ) -> Result<WaitFor, Fault> {
        Ok(match w {
            WaitSpec::Seconds(s) => WaitFor::Seconds(*s),
            WaitSpec::Timestamp(t) => WaitFor::Until(*t),
            WaitSpec::SecondsPath(p) => {
                let v = p
                    .resolve(scope)
                    .map_err(|e| self.runtime(st, entered, path_error_text(p, &e)))?;
                match &v {
                    Value::Number(n) if n.is_u64() => WaitFor::Seconds(n.as_u64().unwrap_or(u64::MAX)),
                    Value::Number(n) if n.is_i64() => {
                        return Err(self
                            .runtime(
                                st,
                                entered,
                                format!(
                                    "The SecondsPath parameter references a negative value: {} == {}",
                                    p.as_str(),
                                    n
                                ),
                            )
                            .into());
                    }
                    _ => return Err(self.runtime(st, entered, format!("The SecondsPath parameter cannot be parsed as a long value: {} == {}", p.as_str(), value_text(&v))).into()),
                }
            }
            WaitSpec::TimestampPath(p) => {
                let v = p
                    .resolve(scope)
                    .map_err(|e| self.runtime(st, entered, path_error_text(p, &e)))?;
                match v.as_str().and_then(crate::model::parse_timestamp) {
                    Some(t) => WaitFor::Until(t),
                    None => {
                        return Err(self
                            .runtime(st, entered, format!("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}", p.as_str(), value_text(&v)))
                            .into());
                    }
                }
            }
        })
    }

    pub(crate) fn input_path(
        &self,
        st: &State,
        entered: u64,
        input: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        self.select_path(st, entered, &st.common.input_path, input, vars)
    }

    pub(crate) fn output_path(
        &self,
        st: &State,
        entered: u64,
        doc: Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        self.select_path(st, entered, &st.common.output_path, &doc, vars)
    }

    fn select_path(
        &self,
        st: &State,
        entered: u64,
        field: &PathField,
        doc: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        match field {
            PathField::Default => Ok(doc.clone()),
            PathField::Null => Ok(Arc::new(Value::Object(Map::new()))),
            PathField::Path(p) => {
                if p.as_str() == "$" {
                    return Ok(doc.clone());
                }
                let scope = Scope {
                    input: doc,
                    context: self.ctx,
                    variables: vars,
                };
                match p.resolve(&scope) {
                    Ok(v) => Ok(Arc::new(v)),
                    Err(e) => Err(self.runtime(st, entered, path_error_text(p, &e)).into()),
                }
            }
        }
    }

    pub(crate) fn parameters(
        &self,
        st: &State,
        entered: u64,
        eff: Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, Fault> {
        match &st.common.parameters {
            None => Ok(eff),
            Some(t) => {
                let scope = Scope {
                    input: &eff,
                    context: self.ctx,
                    variables: vars,
                };
                t.evaluate(&scope)
                    .map(Arc::new)
                    .map_err(|e| self.template_error(st, entered, e, &eff))
            }
        }
    }

    fn template_error(&self, st: &State, entered: u64, e: TemplateError, input: &Value) -> Fault {
        match e {
            TemplateError::PathNotFound { path, field, .. } => {
                self.runtime(st, entered, format!("The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'")).into()
            }
            TemplateError::Intrinsic(ie) => StateError::new(ie.error_name(), ie.to_string()).into(),
            TemplateError::Path(pe) => self.runtime(st, entered, pe).into(),
        }
    }

    pub(crate) fn result_path(
        &self,
        st: &State,
        entered: u64,
        field: &PathField,
        input: &Arc<Value>,
        result: Arc<Value>,
    ) -> Result<Arc<Value>, Fault> {
        match field {
            PathField::Default => Ok(result),
            PathField::Null => Ok(input.clone()),
            PathField::Path(p) => {
                if p.as_str() == "$" {
                    return Ok(result);
                }
                let mut doc = (**input).clone();
                jsonpath::write_at(p, &mut doc, Arc::unwrap_or_clone(result))
                    .map_err(|e| self.runtime(st, entered, e))?;
                Ok(Arc::new(doc))
            }
        }
    }

    pub(crate) fn assign(
        &self,
        st: &State,
        entered: u64,
        t: &Template,
        doc: &Value,
        vars: &mut Vars,
    ) -> Result<(), Fault> {
        let scope = Scope {
            input: doc,
            context: self.ctx,
            variables: &*vars,
        };
        let v = t.evaluate(&scope).map_err(|e| match e {
            TemplateError::PathNotFound { path, field, .. } => {
                self.runtime(st, entered, format!("The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{doc}'")).into()
            }
            other => self.template_error(st, entered, other, doc),
        })?;
        if let Value::Object(m) = v {
            for (k, v) in m {
                vars.local.insert(k, v);
            }
        }
        Ok(())
    }
}

fn d_text(d: &DynamicString) -> String {
    match d {
        DynamicString::Path(p) => p.as_str().to_string(),
        DynamicString::Intrinsic(_) => "intrinsic function".to_string(),
    }
}

/// Renders a value as AWS does inside `==` messages (strings without quotes).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// AWS's cause detail for an InputPath/OutputPath/ItemsPath that cannot be applied.
fn path_error_text(p: &JsonPath, e: &JsonPathError) -> String {
    match e {
        JsonPathError::NotFound { message, .. } => {
            format!("Invalid path '{}' : {message}", p.as_str())
        }
        other => format!("Invalid path '{}' : {other}", p.as_str()),
    }
}

/// Does an `ErrorEquals` list match an error name?
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| {
        e == error
            || (e == "States.ALL"
                && error != "States.Runtime"
                && error != "States.DataLimitExceeded")
            || (e == "States.TaskFailed"
                && error != "States.Timeout"
                && error != "States.Runtime"
                && error != "States.DataLimitExceeded"
                && error != "States.HeartbeatTimeout"
                && !error.is_empty())
    })
}

/// What a Wait state waits for.
enum WaitFor {
    /// A delay from now.
    Seconds(u64),
    /// An instant.
    Until(DateTime<Utc>),
}

/// `t` plus `seconds`, or `None` past the last instant chrono can represent.
fn add_seconds(t: DateTime<Utc>, seconds: u64) -> Option<DateTime<Utc>> {
    let d = chrono::Duration::try_seconds(i64::try_from(seconds).ok()?)?;
    t.checked_add_signed(d)
}

/// Seconds to wait before retry number `attempt` (0-based), at most [`MAX_DELAY_SECONDS`].
///
/// Without a `MaxDelaySeconds` the backoff grows without bound (to infinity in f64). The cap is
/// the largest `MaxDelaySeconds` AWS accepts (366 days and a second): on AWS no execution outlives it
/// (Standard executions end after one year), and it keeps the date arithmetic in range. This
/// engine does not end executions after a year, so here a capped retry runs a year later.
fn retry_delay(r: &Retrier, attempt: u32) -> f64 {
    let mut d = r.interval_seconds * r.backoff_rate.powf(f64::from(attempt));
    if let Some(m) = r.max_delay_seconds {
        d = d.min(m);
    }
    if r.jitter_full {
        d *= rand::random::<f64>();
    }
    // `f64::min` ignores NaN (infinity times a zero jitter), which then counts as no delay.
    if d.is_nan() {
        return 0.0;
    }
    d.clamp(0.0, MAX_DELAY_SECONDS as f64)
}

/// `resourceType` and `resource` as history events show them.
fn resource_parts(resource: &str) -> (String, String) {
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

/// Serialized size of a JSON value in bytes, without allocating the text.
pub fn json_size(v: &Value) -> usize {
    json_shape(v).0
}

/// Serialized size in bytes (as `serde_json::to_writer` writes it) and nesting depth (a scalar
/// is 0, `[]` is 1) of a JSON value. Hand-written rather than serializing to a counting writer
/// because serde_json recurses once per level, which overflows the stack on documents that a
/// loop has nested thousands of levels deep; this walk keeps its own stack.
pub fn json_shape(v: &Value) -> (usize, usize) {
    let (mut size, mut depth) = (0usize, 0usize);
    // Only containers wait on the stack; scalars are counted where they are met, so a flat
    // document (the common case) is measured without allocating.
    let mut pending: Vec<(&Value, usize)> = Vec::new();
    let mut next = Some((v, 0usize));
    while let Some((v, level)) = next.take().or_else(|| pending.pop()) {
        match v {
            Value::Array(items) => {
                depth = depth.max(level + 1);
                // Brackets and commas.
                size += 2 + items.len().saturating_sub(1);
                for i in items {
                    match scalar_len(i) {
                        Some(n) => size += n,
                        None => pending.push((i, level + 1)),
                    }
                }
            }
            Value::Object(m) => {
                depth = depth.max(level + 1);
                // Braces, commas, colons and keys.
                size += 2 + m.len().saturating_sub(1) + m.len();
                for (k, i) in m {
                    size += string_len(k);
                    match scalar_len(i) {
                        Some(n) => size += n,
                        None => pending.push((i, level + 1)),
                    }
                }
            }
            scalar => size += scalar_len(scalar).unwrap_or(0),
        }
    }
    (size, depth)
}

/// Serialized length of a scalar (None for arrays and objects).
fn scalar_len(v: &Value) -> Option<usize> {
    Some(match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => number_len(n),
        Value::String(s) => string_len(s),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// Length of a JSON number as serde_json writes it.
fn number_len(n: &serde_json::Number) -> usize {
    if let Some(u) = n.as_u64() {
        return u.checked_ilog10().map_or(1, |d| d as usize + 1);
    }
    if let Some(i) = n.as_i64() {
        return 1 + i
            .unsigned_abs()
            .checked_ilog10()
            .map_or(1, |d| d as usize + 1);
    }
    n.to_string().len()
}

/// Length of a JSON string literal as serde_json writes it: quotes, UTF-8 bytes, and escapes
/// (`\"`, `\\` and the short control escapes take 2 bytes, other control characters 6).
fn string_len(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    2 + s.len() + escapes
}
