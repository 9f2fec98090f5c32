//! The per-step interpreter: enters a state, processes its data, applies Retry and Catch, and
//! records the state's events; state errors, faults and TestState mode.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::*;
use crate::env::{Clock, TaskDispatcher};
use crate::history::{Details, History, MAX_HISTORY_EVENTS};
use crate::jsonpath::{Scope, Variables};
use crate::model::{
    Catcher, ChoiceTest, MAX_DELAY_SECONDS, Retrier, State, StateKind, StateMachine, Transition,
};

/// An error raised by a state, with AWS's error name and cause.
#[derive(Debug, Clone, PartialEq)]
pub struct StateError {
    /// Error name (`States.Runtime`, a Fail state's Error, a task's error type...).
    pub error: Option<String>,
    /// Cause text.
    pub cause: Option<String>,
}

impl StateError {
    pub(super) fn new(error: &str, cause: impl Into<String>) -> Self {
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
    /// `errorDetails`: which retrier would retry and after how long, or which catcher caught.
    pub(crate) error_details: Option<Value>,
    /// `stateConfiguration.retrierRetryCount`: retries already made by every retrier.
    pub(crate) retrier_retry_count: u32,
    /// `stateConfiguration.mapIterationFailureCount`: iterations of a mocked Map that failed.
    pub(crate) map_iteration_failures: u64,
    /// `stateConfiguration.mapItemReaderData`: the items a Map's `ItemReader` would read.
    pub(crate) map_items: Option<Vec<Value>>,
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

    fn get_ref(&self, name: &str) -> Option<std::borrow::Cow<'_, Value>> {
        match self.local.get(name) {
            Some(v) => Some(std::borrow::Cow::Borrowed(v)),
            None => self.parent.and_then(|p| p.get_ref(name)),
        }
    }

    fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.local.keys().cloned().collect();
        if let Some(p) = self.parent {
            names.extend(
                p.visible_names()
                    .into_iter()
                    .filter(|n| !self.local.contains_key(n)),
            );
        }
        names
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
    /// Map only: `MaxConcurrency` as resolved.
    pub max_concurrency: Option<u64>,
    /// Map only: `ToleratedFailureCount` as resolved.
    pub tolerated_failure_count: Option<u64>,
    /// Map only: `ToleratedFailurePercentage` as resolved.
    pub tolerated_failure_percentage: Option<f64>,
}

/// Maximum nesting of Parallel/Map executions.
pub(super) const MAX_RUN_DEPTH: usize = 64;

/// What a Map's iterations produced: results, selected inputs, the failure that ended them.
pub(super) type MapIterations = (Vec<Value>, Vec<Value>, Option<StateError>);

/// A Map's `ToleratedFailureCount` / `ToleratedFailurePercentage`, resolved.
pub(super) struct Tolerance {
    pub(super) count: Option<u64>,
    pub(super) percentage: Option<f64>,
}

impl Tolerance {
    /// Whether `failed` failed iterations out of `total` are still tolerated.
    pub(super) fn tolerates(&self, failed: usize, total: usize) -> bool {
        self.count.is_some_and(|t| failed as u64 <= t)
            || self
                .percentage
                .is_some_and(|p| (failed as f64) * 100.0 / (total as f64) <= p)
    }
}

/// How a state body ended when it may be retried/caught.
pub(super) enum BodyError {
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

impl Runner<'_> {
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records an event of a running execution, or fails the execution when the event would take
    /// the id AWS reserves for the `ExecutionFailed` that ends a history at the limit.
    pub(super) fn push(&mut self, kind: &Arc<str>, details: Details) -> Result<u64, Fault> {
        if self.history.last_id + 1 >= MAX_HISTORY_EVENTS {
            return Err(Fault::HistoryLimit);
        }
        let now = self.clock.now();
        Ok(self.history.push(kind, now, details))
    }

    pub(super) fn runtime(
        &self,
        st: &State,
        entered: u64,
        detail: impl std::fmt::Display,
    ) -> StateError {
        self.state_error("States.Runtime", st, entered, detail)
    }

    /// Error `name` of state `st`, its cause naming the state and the event it entered at.
    pub(super) fn state_error(
        &self,
        name: &str,
        st: &State,
        entered: u64,
        detail: impl std::fmt::Display,
    ) -> StateError {
        if self.test.is_some() {
            // TestState reports the bare detail, without the execution-history prefix.
            return StateError::new(name, detail.to_string());
        }
        StateError::new(
            name,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{entered}). {detail}",
                st.name
            ),
        )
    }

    pub(super) fn check_deadline(&self) -> Result<(), Fault> {
        match self.deadline {
            Some(d) if self.clock.now() >= d => Err(Fault::TimedOut),
            _ => Ok(()),
        }
    }

    /// Sleeps until `until`, or until the execution deadline if that comes first.
    pub(super) fn sleep_until(&self, until: DateTime<Utc>) -> Result<(), Fault> {
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

    pub(super) fn set_state_context(&mut self, st: &State, retry_count: u32) {
        if !st.common.uses_context || self.test.as_ref().is_some_and(|t| t.preserve_context) {
            return;
        }
        let now = format_time(self.now());
        let mut s = Map::new();
        s.insert("EnteredTime".into(), Value::String(now));
        // TestState runs the state under the name "StateName", whatever it is called.
        let name = if self.test.is_some() {
            "StateName"
        } else {
            &st.name
        };
        s.insert("Name".into(), Value::String(name.to_string()));
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
            StateKind::Succeed | StateKind::Pass { .. } if Self::is_query(st) => {
                if let Some(i) = insp.as_deref_mut() {
                    i.after_input_path = Some(input.clone());
                }
                let out = self.query_pass(st, entered, &input, vars)?;
                let next = match st.kind {
                    StateKind::Succeed => Transition::End,
                    _ => c.transition,
                };
                Ok((next, out))
            }
            StateKind::Fail(f) if Self::is_query(st) => {
                return Err(Fault::Error(self.query_fail(st, entered, f, &input, vars)?));
            }
            StateKind::Choice { choices, default } if Self::is_query(st) => {
                if let Some(i) = insp.as_deref_mut() {
                    i.after_input_path = Some(input.clone());
                }
                let (next, out) =
                    self.query_choice(st, entered, choices, *default, &input, vars)?;
                Ok((Transition::Next(next), out))
            }
            StateKind::Wait(w) if Self::is_query(st) => {
                let until = self.wait_until(st, entered, w, &input, vars)?;
                self.sleep_until(until)?;
                let out = self.query_pass(st, entered, &input, vars)?;
                Ok((c.transition, out))
            }
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
                for b in choices {
                    let ChoiceTest::Rule(rule) = &b.test else {
                        continue;
                    };
                    match rule.evaluate(&scope) {
                        Ok(true) => {
                            chosen = Some((b.next, b.assign.as_ref()));
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

    pub(super) fn run_retryable(
        &mut self,
        st: &State,
        entered: u64,
        input: Arc<Value>,
        vars: &mut Vars,
        mut insp: Option<&mut Inspection>,
    ) -> Result<(Transition, Arc<Value>), Fault> {
        let c = &st.common;
        let query = Self::is_query(st);
        let eff = if query {
            input.clone()
        } else {
            self.input_path(st, entered, &input, vars)?
        };
        if let Some(i) = insp.as_deref_mut() {
            i.after_input_path = Some(eff.clone());
        }
        let done = self.test.as_ref().map_or(0, |t| t.retrier_retry_count);
        let mut attempts: Vec<u32> = vec![done; c.retry.len()];
        let mut retry_count = 0u32;
        loop {
            let body = self.body(st, entered, &eff, vars, retry_count, insp.as_deref_mut());
            let err = match body {
                Ok(raw) if query => {
                    if let Some(i) = insp.as_deref_mut() {
                        i.result = Some(raw.clone());
                    }
                    let data = StatesData {
                        input: &input,
                        result: Some(&raw),
                        error_output: None,
                    };
                    match self.query_finish_fields(
                        st,
                        entered,
                        c.query.as_deref(),
                        data,
                        &raw,
                        vars,
                    ) {
                        Ok(out) => return Ok((c.transition, out)),
                        Err(e) => e,
                    }
                }
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
                if let Some(t) = &mut self.test {
                    let mut details = Map::new();
                    details.insert("retryIndex".into(), json!(ri));
                    if attempts[ri] < r.max_attempts {
                        details.insert(
                            "retryBackoffIntervalSeconds".into(),
                            json_number(backoff_seconds(r, attempts[ri])),
                        );
                        t.error_details = Some(Value::Object(details));
                        return Err(Fault::Retriable(err));
                    }
                    t.error_details = Some(Value::Object(details));
                }
                if attempts[ri] < r.max_attempts {
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
            if let Some((ci, catcher)) = c
                .catch
                .iter()
                .enumerate()
                .find(|(_, k)| error_matches(&k.error_equals, name))
            {
                if let Some(t) = &mut self.test {
                    t.caught = Some(err.clone());
                    t.error_details = Some(json!({"catchIndex": ci}));
                }
                return self.catch(st, entered, catcher, &input, err, vars);
            }
            return Err(Fault::Error(err));
        }
    }

    pub(super) fn catch(
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
        if Self::is_query(st) {
            let data = StatesData {
                input,
                result: None,
                error_output: Some(&error_output),
            };
            let out = self.query_finish_fields(
                st,
                entered,
                catcher.query.as_deref(),
                data,
                &error_output,
                vars,
            )?;
            return Ok((Transition::Next(catcher.next), out));
        }
        if let Some(a) = &catcher.assign {
            self.assign(st, entered, a, &error_output, vars)?;
        }
        let out = self.result_path(st, entered, &catcher.result_path, input, error_output)?;
        Ok((Transition::Next(catcher.next), out))
    }

    pub(super) fn body(
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
                let params = if Self::is_query(st) {
                    self.query_arguments(st, entered, eff, vars)
                        .map_err(BodyError::Catchable)
                } else {
                    self.parameters(st, entered, eff.clone(), vars)
                        .map_err(BodyError::Fatal)
                };
                if let Value::Object(c) = &mut *self.ctx {
                    c.remove("Task");
                }
                let params = params?;
                if let Some(i) = insp {
                    i.after_parameters = Some(params.clone());
                }
                self.task(st, entered, t, &params, eff, vars, retry_count, &token)
            }
            StateKind::Parallel { branches } => {
                let params = if Self::is_query(st) {
                    self.query_arguments(st, entered, eff, vars)
                        .map_err(BodyError::Catchable)?
                } else {
                    self.parameters(st, entered, eff.clone(), vars)
                        .map_err(BodyError::Fatal)?
                };
                if let Some(i) = insp {
                    i.after_parameters = Some(params.clone());
                }
                self.parallel(st, branches, params, vars)
            }
            StateKind::Map(m) => self.map(st, entered, m, eff, vars, insp),
            _ => Ok(eff.clone()),
        }
    }

    pub(super) fn enter_nested(&mut self) -> Result<(), BodyError> {
        if self.depth >= MAX_RUN_DEPTH {
            return Err(BodyError::Fatal(Fault::Error(StateError::new(
                "States.Runtime",
                format!("Parallel/Map nesting exceeded {MAX_RUN_DEPTH} levels"),
            ))));
        }
        self.depth += 1;
        Ok(())
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

/// The backoff before retry number `attempt` (0-based), without jitter: what TestState reports.
fn backoff_seconds(r: &Retrier, attempt: u32) -> f64 {
    let d = r.interval_seconds * r.backoff_rate.powf(f64::from(attempt));
    r.max_delay_seconds.map_or(d, |m| d.min(m))
}

/// A number as JSON, an integer when it is whole (as AWS writes seconds).
fn json_number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        json!(f as i64)
    } else {
        json!(f)
    }
}

/// Seconds to wait before retry number `attempt` (0-based), at most [`MAX_DELAY_SECONDS`].
///
/// Without a `MaxDelaySeconds` the backoff grows without bound (to infinity in f64). The cap is
/// the largest `MaxDelaySeconds` AWS accepts (366 days and a second): on AWS no execution outlives it
/// (Standard executions end after one year), and it keeps the date arithmetic in range. This
/// engine does not end executions after a year, so here a capped retry runs a year later.
pub(super) fn retry_delay(r: &Retrier, attempt: u32) -> f64 {
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
