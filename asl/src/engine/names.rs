//! Event type names, interned once per execution so recording history never formats strings.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::StateMachine;

/// Interned event names so history recording never formats strings.
#[derive(Debug)]
pub(crate) struct Names {
    pub(super) entered: HashMap<&'static str, Arc<str>>,
    pub(super) exited: HashMap<&'static str, Arc<str>>,
    pub(super) other: HashMap<&'static str, Arc<str>>,
    pub(super) execution_started: Arc<str>,
    pub(super) execution_succeeded: Arc<str>,
    pub(super) execution_failed: Arc<str>,
    pub(super) execution_timed_out: Arc<str>,
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
            "MapRunStarted",
            "MapRunSucceeded",
            "MapRunFailed",
            "MapRunAborted",
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

    pub(super) fn get(&self, k: &'static str) -> &Arc<str> {
        &self.other[k]
    }
}
