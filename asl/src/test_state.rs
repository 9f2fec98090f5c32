//! Run one state on its own, like the Step Functions `TestState` API: returns the output or
//! error, the next state, and inspection data (`afterInputPath`, `afterParameters`, `result`,
//! `afterResultSelector`, `afterResultPath`). Task results can be mocked.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::engine::{ExecutionConfig, Fault, Inspection, Names, Runner, Vars, format_time};
use crate::env::{Clock, TaskDispatcher, TaskOutcome, TaskRequest, VirtualClock};
use crate::history::History;
use crate::model::{self, StateKind, Transition, ValidationOptions};

/// How much inspection data to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InspectionLevel {
    /// Output/error only.
    #[default]
    Info,
    /// Plus the data after each processing step.
    Debug,
    /// Same as Debug for non-HTTP tasks.
    Trace,
}

pub use crate::engine::Mock;

/// A TestState request.
#[derive(Debug, Clone, Default)]
pub struct TestStateRequest {
    /// A state definition, or a whole state machine when `state_name` is set.
    pub definition: Value,
    /// Which state of the machine to test.
    pub state_name: Option<String>,
    /// State input.
    pub input: Value,
    /// Inspection level.
    pub inspection_level: InspectionLevel,
    /// Variables visible to the state.
    pub variables: Map<String, Value>,
    /// Mocked result for Task/Map/Parallel.
    pub mock: Option<Mock>,
    /// Context object to use instead of a generated one.
    pub context: Option<Value>,
    /// `stateConfiguration`: what the test pretends already happened.
    pub configuration: StateConfiguration,
}

/// TestState's `stateConfiguration`.
#[derive(Debug, Clone, Default)]
pub struct StateConfiguration {
    /// `retrierRetryCount`: retries every retrier has already made.
    pub retrier_retry_count: u32,
    /// `mapIterationFailureCount`: iterations of a mocked Map that failed.
    pub map_iteration_failure_count: u64,
    /// `mapItemReaderData`: the items a Map's `ItemReader` reads.
    pub map_item_reader_data: Option<Vec<Value>>,
}

/// TestState status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// The state completed.
    Succeeded,
    /// The state failed and nothing caught the error.
    Failed,
    /// A Catch matched; `next_state` is its target.
    CaughtError,
    /// A Retrier would retry.
    Retriable,
}

impl TestStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::CaughtError => "CAUGHT_ERROR",
            TestStatus::Retriable => "RETRIABLE",
        }
    }
}

/// TestState result.
#[derive(Debug, Clone)]
pub struct TestStateResult {
    /// Status.
    pub status: TestStatus,
    /// Output (succeeded or caught).
    pub output: Option<Value>,
    /// Error name.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
    /// Next state name.
    pub next_state: Option<String>,
    /// Inspection data (DEBUG/TRACE).
    pub inspection_data: Option<Value>,
}

/// Why a TestState request could not run.
#[derive(Debug, thiserror::Error)]
pub enum TestStateError {
    /// The state (or machine) definition is invalid.
    #[error("invalid state definition: {0}")]
    Invalid(String),
    /// `state_name` is not in the machine.
    #[error(
        "state '{0}' is not in the state machine definition; pass the name of one of its states"
    )]
    UnknownState(String),
}

const TESTED: &str = "TestedState";

/// Runs one state alone.
pub fn test_state(req: &TestStateRequest) -> Result<TestStateResult, TestStateError> {
    let (state_def, query_language) = match &req.state_name {
        Some(name) => find_state(&req.definition, name, None, 0)
            .ok_or_else(|| TestStateError::UnknownState(name.clone()))?,
        None => (req.definition.clone(), None),
    };
    // Wrap the state in a one-state machine whose transition targets exist, so the validator
    // accepts it; the target names are reported back as `nextState`.
    let mut states = Map::new();
    let mut targets = Vec::new();
    if let Some(n) = state_def.get("Next").and_then(Value::as_str) {
        targets.push(n.to_string());
    }
    if let Some(d) = state_def.get("Default").and_then(Value::as_str) {
        targets.push(d.to_string());
    }
    for list in ["Choices", "Catch"] {
        if let Some(arr) = state_def.get(list).and_then(Value::as_array) {
            targets.extend(
                arr.iter()
                    .filter_map(|c| c.get("Next").and_then(Value::as_str).map(str::to_string)),
            );
        }
    }
    states.insert(TESTED.to_string(), state_def.clone());
    for t in &targets {
        if t != TESTED {
            states.insert(t.clone(), json!({"Type": "Succeed"}));
        }
    }
    let mut machine_def = json!({"StartAt": TESTED, "States": states});
    if let Some(ql) = query_language {
        // The state takes its machine's (or Map processor's, branch's) query language.
        machine_def["QueryLanguage"] = ql;
    }
    let options = ValidationOptions {
        test_state: true,
        ..ValidationOptions::default()
    };
    let machine = model::parse_definition(&machine_def, options).map_err(|d| {
        TestStateError::Invalid(
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let reachable_check_ok = machine.index.contains_key(TESTED);
    if !reachable_check_ok {
        return Err(TestStateError::Invalid(
            "the tested state could not be built".into(),
        ));
    }
    let idx = machine.index[TESTED];
    let st = &machine.states[idx];

    let clock = VirtualClock::default();
    // TestState runs the state as an express execution; a state taken from a machine runs
    // without a role.
    let config = ExecutionConfig {
        machine_type: model::MachineType::Express,
        ..ExecutionConfig::default()
    };
    let role = match req.state_name {
        Some(_) => Value::Null,
        None => json!(config.role_arn),
    };
    let mut ctx = match &req.context {
        Some(c) => c.clone(),
        None => json!({
            "Execution": {"Id": config.execution_arn(), "Input": req.input, "StartTime": format_time(clock.now()), "Name": config.execution_name, "RoleArn": role},
            "StateMachine": {"Id": config.state_machine_arn(), "Name": config.state_machine_name},
            "State": {"EnteredTime": format_time(clock.now()), "Name": "StateName"}
        }),
    };
    let mut history = History::new();
    history.record = false;
    let names = Names::new(&machine);
    let mut token_counter = 0;
    let dispatcher = MockDispatcher {
        mock: req.mock.clone(),
    };
    let body_mock = match (&st.kind, &req.mock) {
        (StateKind::Map(_) | StateKind::Parallel { .. }, Some(m)) => Some(m.clone()),
        _ => None,
    };
    let mut runner = Runner {
        clock: &clock,
        tasks: &dispatcher,
        history: &mut history,
        ctx: &mut ctx,
        deadline: None,
        names: &names,
        token_counter: &mut token_counter,
        depth: 0,
        test: Some(crate::engine::TestMode {
            body_mock,
            caught: None,
            preserve_context: req.context.is_some(),
            error_details: None,
            retrier_retry_count: req.configuration.retrier_retry_count,
            map_iteration_failures: req.configuration.map_iteration_failure_count,
            map_items: req.configuration.map_item_reader_data.clone(),
        }),
    };
    let mut vars = Vars {
        local: req
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>(),
        parent: None,
    };
    let mut insp = Inspection::default();
    let input = Arc::new(req.input.clone());
    let result = runner.run_state_inspect(&machine, idx, input.clone(), &mut vars, Some(&mut insp));
    let caught = runner.test.as_mut().and_then(|t| t.caught.take());
    let error_details = runner.test.as_mut().and_then(|t| t.error_details.take());
    if !vars.local.is_empty() {
        insp.variables = Some(Value::Object(vars.local.clone().into_iter().collect()));
    }
    let name_of = |t: Transition| match t {
        Transition::Next(n) => Some(machine.states[n].name.to_string()),
        Transition::End => None,
    };
    let mut out = match result {
        Ok((t, o)) => TestStateResult {
            status: if caught.is_some() {
                TestStatus::CaughtError
            } else {
                TestStatus::Succeeded
            },
            output: Some((*o).clone()),
            error: caught.as_ref().and_then(|c| c.error.clone()),
            cause: caught.as_ref().and_then(|c| c.cause.clone()),
            next_state: name_of(t),
            inspection_data: None,
        },
        Err(Fault::Error(e)) => TestStateResult {
            status: TestStatus::Failed,
            output: None,
            error: e.error,
            cause: e.cause,
            next_state: None,
            inspection_data: None,
        },
        Err(Fault::Retriable(e)) => TestStateResult {
            status: TestStatus::Retriable,
            output: None,
            error: e.error,
            cause: e.cause,
            next_state: None,
            inspection_data: None,
        },
        Err(Fault::HistoryLimit) => TestStateResult {
            status: TestStatus::Failed,
            output: None,
            error: Some("States.Runtime".into()),
            cause: Some(crate::history::history_limit_cause()),
            next_state: None,
            inspection_data: None,
        },
        Err(Fault::TimedOut) => TestStateResult {
            status: TestStatus::Failed,
            output: None,
            error: Some("States.Timeout".into()),
            cause: None,
            next_state: None,
            inspection_data: None,
        },
    };
    if req.inspection_level != InspectionLevel::Info {
        let mut data = match st.common.query_language {
            model::QueryLanguage::JsonPath => inspection_json(st, &input, &insp),
            model::QueryLanguage::Jsonata => query_inspection_json(st, &input, &insp),
        };
        if let Some(d) = error_details {
            data.insert("errorDetails".into(), d);
        }
        if let Some(v) = insp.variables.take() {
            data.insert("variables".into(), v);
        }
        out.inspection_data = Some(Value::Object(data));
    }
    Ok(out)
}

/// `maxConcurrency` and the tolerated failures of a Map whose items were selected.
fn map_limits(insp: &Inspection, m: &mut Map<String, Value>) {
    if insp.after_items_path.is_none() {
        return;
    }
    m.insert(
        "maxConcurrency".into(),
        json!(insp.max_concurrency.unwrap_or(0)),
    );
    if let Some(c) = insp.tolerated_failure_count {
        m.insert("toleratedFailureCount".into(), json!(c));
    }
    if let Some(p) = insp.tolerated_failure_percentage {
        m.insert("toleratedFailurePercentage".into(), json!(p));
    }
}

/// Inspection data of a JSONata state: its input, a Task's arguments and result, a Map's limits.
fn query_inspection_json(
    st: &model::State,
    input: &Value,
    insp: &Inspection,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    match &st.kind {
        StateKind::Task(_) => {
            if let Some(a) = &insp.after_parameters {
                m.insert("afterArguments".into(), (**a).clone());
            }
            if let Some(r) = &insp.result {
                m.insert("result".into(), (**r).clone());
            }
        }
        StateKind::Map(_) => map_limits(insp, &mut m),
        _ => {}
    }
    m
}

fn inspection_json(st: &model::State, input: &Value, insp: &Inspection) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    let mut put = |k: &str, v: &Option<Arc<Value>>| {
        if let Some(v) = v {
            m.insert(k.into(), (**v).clone());
        }
    };
    match &st.kind {
        StateKind::Pass { result: Some(_) } => {
            put("result", &insp.result);
            put("afterResultSelector", &insp.result);
            put("afterResultPath", &insp.after_result_path);
        }
        StateKind::Pass { result: None } => {
            put("afterInputPath", &insp.after_input_path);
            put("afterParameters", &insp.after_parameters);
            put("afterResultSelector", &insp.after_parameters);
            put("afterResultPath", &insp.after_result_path);
        }
        StateKind::Choice { .. } | StateKind::Succeed | StateKind::Fail(_) | StateKind::Wait(_) => {
            put("afterInputPath", &insp.after_input_path);
        }
        StateKind::Task(_) => {
            put("afterInputPath", &insp.after_input_path);
            put("afterParameters", &insp.after_parameters);
            put("result", &insp.result);
            put("afterResultSelector", &insp.after_result_selector);
            put("afterResultPath", &insp.after_result_path);
        }
        StateKind::Parallel { .. } => {
            put("afterResultSelector", &insp.after_result_selector);
            put("afterResultPath", &insp.after_result_path);
        }
        StateKind::Map(_) => {
            put("afterInputPath", &insp.after_input_path);
            put("afterItemsPath", &insp.after_items_path);
            put("afterResultSelector", &insp.after_result_selector);
            put("afterResultPath", &insp.after_result_path);
            map_limits(insp, &mut m);
        }
    }
    if matches!(st.kind, StateKind::Fail(_)) && !m.contains_key("afterInputPath") {
        m.insert("afterInputPath".into(), input.clone());
    }
    m
}

/// Finds a state by name anywhere in a machine (including Parallel branches and Map
/// processors), with the query language it inherits from the machine around it.
fn find_state(
    machine: &Value,
    name: &str,
    inherited: Option<&Value>,
    depth: usize,
) -> Option<(Value, Option<Value>)> {
    if depth > model::MAX_DEFINITION_DEPTH {
        return None;
    }
    let ql = machine.get("QueryLanguage").or(inherited);
    let states = machine.get("States")?.as_object()?;
    if let Some(s) = states.get(name) {
        return Some((s.clone(), ql.cloned()));
    }
    for s in states.values() {
        let ql = s.get("QueryLanguage").or(ql);
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(p) = s.get(key)
                && let Some(found) = find_state(p, name, ql, depth + 1)
            {
                return Some(found);
            }
        }
        if let Some(bs) = s.get("Branches").and_then(Value::as_array) {
            for b in bs {
                if let Some(found) = find_state(b, name, ql, depth + 1) {
                    return Some(found);
                }
            }
        }
    }
    None
}

struct MockDispatcher {
    mock: Option<Mock>,
}

impl TaskDispatcher for MockDispatcher {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        match &self.mock {
            Some(Mock::Result(v)) => TaskOutcome::Succeeded(v.clone()),
            Some(Mock::Error { error, cause }) => TaskOutcome::Failed {
                error: error.clone(),
                cause: cause.clone(),
            },
            None => TaskOutcome::Failed {
                error: "States.TaskFailed".into(),
                cause: Some(format!(
                    "TestState without a mock cannot call resource '{}'; pass a mock result",
                    request.resource
                )),
            },
        }
    }
}
