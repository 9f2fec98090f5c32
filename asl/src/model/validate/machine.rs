//! A machine (the definition itself, a Parallel branch or a Map item processor): its `StartAt`
//! and `States`, each state validated, and every state reachable from the start.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::Validator;
use super::fields::escape_pointer;
use crate::model::{Diagnostic, QueryLanguage, State, StateKind, StateMachine, Transition};

impl Validator {
    pub(super) fn machine(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        parent_ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Option<StateMachine> {
        if depth > 32 {
            self.err(
                Self::root(base),
                "Parallel/Map nesting is deeper than 32 levels",
            );
            return None;
        }
        let mut missing = Vec::new();
        if !obj.contains_key("States") {
            missing.push("States");
        }
        if !obj.contains_key("StartAt") {
            missing.push("StartAt");
        }
        if !missing.is_empty() {
            self.err(
                Self::root(base),
                format!("These fields are required: [{}]", missing.join(", ")),
            );
            return None;
        }
        let ql = match obj.get("QueryLanguage") {
            Some(q) if !base.is_empty() => self
                .query_language(q, &Self::loc(base, "QueryLanguage"))
                .unwrap_or(parent_ql),
            _ => parent_ql,
        };
        let Some(states_obj) = obj.get("States").and_then(Value::as_object) else {
            self.err(Self::loc(base, "States"), "Expected value of type: Object");
            return None;
        };
        let start = self
            .string(&obj["StartAt"], &Self::loc(base, "StartAt"))
            .map(str::to_string);
        let index: HashMap<String, usize> = states_obj
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        if states_obj.is_empty() {
            self.err(Self::loc(base, "States"), "States must not be empty");
        }
        let start_at = start.and_then(|s| self.start_index(&s, base, &index));
        let states = self.states(states_obj, base, &index, ql, top_ql, depth);
        let start_at = start_at?;
        if states.len() != states_obj.len() {
            return None;
        }
        if !self.all_reachable(&states, start_at, base) {
            return None;
        }
        Some(StateMachine {
            start_at,
            states,
            index,
            timeout_seconds: None,
            query_language: ql,
        })
    }

    /// The index of the `StartAt` state, if there is one of that name.
    fn start_index(
        &mut self,
        start: &str,
        base: &str,
        index: &HashMap<String, usize>,
    ) -> Option<usize> {
        match index.get(start) {
            Some(i) => Some(*i),
            None => {
                self.diags.push(Diagnostic::error(
                    "MISSING_TRANSITION_TARGET",
                    Self::loc(base, "StartAt"),
                    format!("Missing 'Next' target: {start}"),
                ));
                None
            }
        }
    }

    /// Every state of `States` that validates, in definition order.
    fn states(
        &mut self,
        states_obj: &Map<String, Value>,
        base: &str,
        index: &HashMap<String, usize>,
        ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Vec<State> {
        let mut states = Vec::with_capacity(states_obj.len());
        for (name, sv) in states_obj {
            let sbase = format!("{base}/States/{}", escape_pointer(name));
            if name.is_empty() || name.chars().count() > 80 {
                self.err(
                    &sbase,
                    format!("State name '{name}' must be 1 to 80 characters long"),
                );
            }
            let Some(sobj) = sv.as_object() else {
                self.err(
                    &sbase,
                    format!("Expected value of type: Object but got {sv}"),
                );
                continue;
            };
            if let Some(st) = self.state(name, sobj, &sbase, index, ql, top_ql, depth) {
                states.push(st);
            }
        }
        states
    }

    /// Whether every state is reachable from `start_at`; records each one that is not.
    fn all_reachable(&mut self, states: &[State], start_at: usize, base: &str) -> bool {
        // Unreachable states are a definition error on AWS.
        let mut seen = HashSet::new();
        let mut stack = vec![start_at];
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            let st: &State = &states[i];
            if let Transition::Next(n) = st.common.transition {
                stack.push(n);
            }
            stack.extend(st.common.catch.iter().map(|c| c.next));
            if let StateKind::Choice { choices, default } = &st.kind {
                stack.extend(choices.iter().map(|c| c.next));
                stack.extend(default.iter().copied());
            }
        }
        let mut ok = true;
        for (i, st) in states.iter().enumerate() {
            if !seen.contains(&i) {
                ok = false;
                self.diags.push(Diagnostic::error(
                    "UNREACHABLE_STATE",
                    format!("{base}/States/{}", escape_pointer(&st.name)),
                    format!("State \"{}\" is not reachable", st.name),
                ));
            }
        }
        ok
    }
}
