//! JSONata states: the data flow AWS defines for `QueryLanguage: JSONata`. A state's input is
//! `$states.input`; `Arguments` makes a Task's or Parallel's input; the result is
//! `$states.result`; `Output` makes the state output (by default the result, or the input where
//! there is none); `Assign` sets variables, evaluated against the variables as they were when
//! the state was entered. Every evaluation failure is `States.QueryEvaluationError`.

use std::sync::Arc;

use serde_json::Value;

use super::*;
use crate::model::{ChoiceBranch, ChoiceTest, FailSpec, QueryFields, State};
use crate::query::{Expected, QueryError, QueryScope, QueryTemplate};

/// AWS's error name for a JSONata template that cannot be evaluated.
pub(crate) const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// The data a JSONata state's templates see besides the variables.
#[derive(Clone, Copy)]
pub(super) struct StatesData<'d> {
    pub(super) input: &'d Value,
    pub(super) result: Option<&'d Value>,
    pub(super) error_output: Option<&'d Value>,
}

impl<'d> StatesData<'d> {
    pub(super) fn input(input: &'d Value) -> Self {
        StatesData {
            input,
            result: None,
            error_output: None,
        }
    }
}

impl Runner<'_> {
    /// Evaluates a template of state `st`; a failure is the state's
    /// `States.QueryEvaluationError`.
    pub(super) fn query(
        &self,
        st: &State,
        entered: u64,
        t: &QueryTemplate,
        data: StatesData,
        vars: &Vars,
        expected: Option<Expected>,
    ) -> Result<Value, StateError> {
        let scope = QueryScope {
            input: data.input,
            context: self.ctx,
            result: data.result,
            error_output: data.error_output,
            variables: vars,
        };
        let v = match expected {
            Some(x) => t.evaluate_as(&scope, x),
            None => t.evaluate(&scope),
        };
        v.map_err(|e| self.query_error(st, entered, e))
    }

    pub(super) fn query_error(&self, st: &State, entered: u64, e: QueryError) -> StateError {
        self.state_error(QUERY_EVALUATION_ERROR, st, entered, e)
    }

    /// The output of a JSONata state (its `Output`, else `default`), and its `Assign` applied.
    /// Both are evaluated before either takes effect, so `Output` sees the variables as they were.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn query_finish(
        &self,
        st: &State,
        entered: u64,
        output: Option<&QueryTemplate>,
        assign: Option<&QueryTemplate>,
        data: StatesData,
        default: &Arc<Value>,
        vars: &mut Vars,
    ) -> Result<Arc<Value>, StateError> {
        let out = match output {
            Some(t) => Arc::new(self.query(st, entered, t, data, vars, None)?),
            None => default.clone(),
        };
        if let Some(t) = assign
            && let Value::Object(m) = self.query(st, entered, t, data, vars, None)?
        {
            vars.local.extend(m);
        }
        Ok(out)
    }

    /// [`Runner::query_finish`] with a state's (or rule's, or catcher's) JSONata fields.
    pub(super) fn query_finish_fields(
        &self,
        st: &State,
        entered: u64,
        fields: Option<&QueryFields>,
        data: StatesData,
        default: &Arc<Value>,
        vars: &mut Vars,
    ) -> Result<Arc<Value>, StateError> {
        self.query_finish(
            st,
            entered,
            fields.and_then(|f| f.output.as_ref()),
            fields.and_then(|f| f.assign.as_ref()),
            data,
            default,
            vars,
        )
    }

    /// A JSONata Pass or Succeed state: its output.
    pub(super) fn query_pass(
        &self,
        st: &State,
        entered: u64,
        input: &Arc<Value>,
        vars: &mut Vars,
    ) -> Result<Arc<Value>, Fault> {
        let data = StatesData::input(input);
        Ok(self.query_finish_fields(st, entered, st.common.query.as_deref(), data, input, vars)?)
    }

    /// A JSONata Fail state's error and cause.
    pub(super) fn query_fail(
        &self,
        st: &State,
        entered: u64,
        f: &FailSpec,
        input: &Value,
        vars: &Vars,
    ) -> Result<StateError, Fault> {
        let data = StatesData::input(input);
        let mut out = StateError {
            error: f.error.clone(),
            cause: f.cause.clone(),
        };
        for (t, slot) in [
            (&f.error_query, &mut out.error),
            (&f.cause_query, &mut out.cause),
        ] {
            if let Some(t) = t {
                let v = self.query(st, entered, t, data, vars, Some(Expected::String))?;
                *slot = v.as_str().map(str::to_string);
            }
        }
        Ok(out)
    }

    /// A JSONata Choice state: the first branch whose `Condition` holds (else `Default`), and the
    /// output and variables of that branch (its own `Output`/`Assign`, else the state's).
    pub(super) fn query_choice(
        &self,
        st: &State,
        entered: u64,
        choices: &[ChoiceBranch],
        default: Option<usize>,
        input: &Arc<Value>,
        vars: &mut Vars,
    ) -> Result<(usize, Arc<Value>), Fault> {
        let data = StatesData::input(input);
        let mut chosen = None;
        for b in choices {
            let ChoiceTest::Condition(t) = &b.test else {
                continue;
            };
            let v = self.query(st, entered, t, data, vars, Some(Expected::Boolean))?;
            if v == Value::Bool(true) {
                chosen = Some(b);
                break;
            }
        }
        let next = match (chosen, default) {
            (Some(b), _) => b.next,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(StateError::new("States.NoChoiceMatched", format!("No Choice Rules matched the input and no Default is specified in state '{}'. The input was: {}", st.name, input)).into());
            }
        };
        let rule = chosen.and_then(|b| b.query.as_deref());
        let state = st.common.query.as_deref();
        let pick = |f: fn(&QueryFields) -> Option<&QueryTemplate>| {
            rule.and_then(f).or_else(|| state.and_then(f))
        };
        let out = self.query_finish(
            st,
            entered,
            pick(|q| q.output.as_ref()),
            pick(|q| q.assign.as_ref()),
            data,
            input,
            vars,
        )?;
        Ok((next, out))
    }

    /// `Arguments` of a JSONata Task or Parallel (the state input when absent).
    pub(super) fn query_arguments(
        &self,
        st: &State,
        entered: u64,
        input: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, StateError> {
        match st
            .common
            .query
            .as_deref()
            .and_then(|q| q.arguments.as_ref())
        {
            Some(t) => Ok(Arc::new(self.query(
                st,
                entered,
                t,
                StatesData::input(input),
                vars,
                None,
            )?)),
            None => Ok(input.clone()),
        }
    }

    /// True for a state in JSONata.
    pub(super) fn is_query(st: &State) -> bool {
        st.common.query_language == crate::model::QueryLanguage::Jsonata
    }
}
