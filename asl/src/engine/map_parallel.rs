//! Parallel branches and Map iterations, run in order on the calling thread.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::*;
use crate::history::{Details, History, history_limit_cause};
use crate::jsonpath::Scope;
use crate::model::{MapSpec, PathField, State, StateMachine};
use crate::query::Expected;

impl Runner<'_> {
    pub(super) fn parallel(
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
            Some(f @ (Fault::TimedOut | Fault::HistoryLimit | Fault::Aborted)) => {
                Err(BodyError::Fatal(f))
            }
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

    pub(super) fn map(
        &mut self,
        st: &State,
        entered: u64,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &mut Vars,
        mut insp: Option<&mut Inspection>,
    ) -> Result<Arc<Value>, BodyError> {
        // TestState runs a Map's body through the inline path, which knows its mocks and
        // `stateConfiguration` (mapItemReaderData, mapIterationFailureCount)
        if let Some(d) = &m.dist
            && self.test.is_none()
        {
            return self.distributed_map(st, entered, m, d, eff, vars);
        }
        let fatal = |e: StateError| BodyError::Fatal(Fault::Error(e));
        let query = Self::is_query(st);
        let test_items = self
            .test
            .as_ref()
            .filter(|_| self.depth == 0)
            .and_then(|t| t.map_items.clone());
        let items_val: Value = match (test_items, &m.items) {
            (Some(items), _) => Value::Array(items),
            (None, Some(t)) => self
                .query(
                    st,
                    entered,
                    t,
                    StatesData::input(eff),
                    vars,
                    Some(Expected::Array),
                )
                .map_err(BodyError::Catchable)?,
            (None, None) => match &m.items_path {
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
            if query {
                return Err(BodyError::Catchable(self.state_error(
                    QUERY_EVALUATION_ERROR,
                    st,
                    entered,
                    detail,
                )));
            }
            return Err(fatal(self.runtime(st, entered, detail)));
        };
        if let Some(i) = insp.as_deref_mut() {
            i.after_items_path = Some(Arc::new(Value::Array(items.clone())));
        }
        let max_concurrency =
            self.resolve_count(st, entered, "MaxConcurrency", &m.max_concurrency, eff, vars)?;
        let tolerated_count = self.resolve_count(
            st,
            entered,
            "ToleratedFailureCount",
            &m.tolerated_failure_count,
            eff,
            vars,
        )?;
        let tolerated_pct =
            self.resolve_percentage(st, entered, &m.tolerated_failure_percentage, eff, vars)?;
        if let Some(i) = insp.as_deref_mut() {
            i.max_concurrency = max_concurrency;
            i.tolerated_failure_count = tolerated_count;
            i.tolerated_failure_percentage = tolerated_pct;
        }
        if self.depth == 0
            && let Some(t) = &self.test
            && let Some(mock) = t.body_mock.clone()
        {
            // TestState with a mocked Map result: items are still selected and checked, the
            // iterations are not run; `mapIterationFailureCount` of them count as failed.
            let failed = usize::try_from(t.map_iteration_failures).unwrap_or(usize::MAX);
            let tolerance = Tolerance {
                count: tolerated_count,
                percentage: tolerated_pct,
            };
            let tolerated = tolerance.count.is_none() && tolerance.percentage.is_none()
                || failed == 0
                || tolerance.tolerates(failed, items.len().max(1));
            return match mock {
                Mock::Result(_) if !tolerated => Err(BodyError::Catchable(StateError::new(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                ))),
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
    pub(super) fn map_iterations(
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
            let iter_input = match (&m.item_selector, &m.query_item_selector) {
                (_, Some(t)) => {
                    if let Value::Object(c) = &mut *self.ctx {
                        c.insert(
                            "Map".into(),
                            distributed::map_item(i as u64, item, distributed::STATE_DATA),
                        );
                    }
                    self.query(st, entered, t, StatesData::input(eff), vars, None)
                        .map_err(BodyError::Catchable)?
                }
                (Some(t), None) => {
                    if let Value::Object(c) = &mut *self.ctx {
                        c.insert(
                            "Map".into(),
                            distributed::map_item(i as u64, item, distributed::STATE_DATA),
                        );
                    }
                    let scope = Scope {
                        input: eff,
                        context: self.ctx,
                        variables: vars,
                    };
                    t.evaluate(&scope)
                        .map_err(|e| self.template_error(st, entered, e, eff))?
                }
                (None, None) => item,
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
                Err(f @ (Fault::TimedOut | Fault::HistoryLimit | Fault::Aborted)) => {
                    return Err(f.into());
                }
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
    pub(super) fn push_iteration(
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
    pub(super) fn run_iteration(
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
}
