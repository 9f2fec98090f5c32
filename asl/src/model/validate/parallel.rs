//! The Parallel state's own field: `Branches`, each a machine of its own.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::{QueryLanguage, StateKind};

impl Validator {
    pub(super) fn parallel(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Option<StateKind> {
        let Some(branches) = obj.get("Branches").and_then(Value::as_array) else {
            self.err(base, "These fields are required: [Branches]");
            return None;
        };
        let mut out = Vec::new();
        for (i, b) in branches.iter().enumerate() {
            let bbase = format!("{base}/Branches/{i}");
            match b.as_object() {
                Some(bo) => {
                    self.check_fields(
                        bo,
                        &bbase,
                        &["StartAt", "States", "Comment", "QueryLanguage"],
                        &[],
                    );
                    if let Some(m) = self.machine(bo, &bbase, ql, top_ql, depth + 1) {
                        out.push(m);
                    }
                }
                None => self.err(bbase, "Expected value of type: Object"),
            }
        }
        if out.len() != branches.len() {
            return None;
        }
        Some(StateKind::Parallel { branches: out })
    }
}
