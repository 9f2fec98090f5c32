//! One state: its `Type` and the fields that type allows, its query language, its transition
//! (`Next`/`End`), the input and output fields every data-processing state shares, its `Retry`
//! and `Catch` lists, and then its type's own fields.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Validator;
use crate::model::{
    Catcher, Common, Diagnostic, PathField, QueryFields, QueryLanguage, Retrier, State, StateKind,
    Transition,
};
use crate::template::Template;

const COMMON_IO: &[&str] = &["InputPath", "OutputPath"];

// The fields each state type allows besides `Type`, `Comment`, `QueryLanguage` and (all but
// Fail) `InputPath` and `OutputPath`.
const PASS_FIELDS: &[&str] = &[
    "Result",
    "ResultPath",
    "Parameters",
    "Next",
    "End",
    "Assign",
    "Output",
];
const TASK_FIELDS: &[&str] = &[
    "Resource",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Next",
    "End",
    "Assign",
    "Credentials",
    "Arguments",
    "Output",
];
const CHOICE_FIELDS: &[&str] = &["Choices", "Default", "Assign", "Output"];
const WAIT_FIELDS: &[&str] = &[
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Next",
    "End",
    "Assign",
    "Output",
];
const SUCCEED_FIELDS: &[&str] = &["Output"];
const FAIL_FIELDS: &[&str] = &["Error", "Cause", "ErrorPath", "CausePath"];
const PARALLEL_FIELDS: &[&str] = &[
    "Branches",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Next",
    "End",
    "Assign",
    "Arguments",
    "Output",
];
const MAP_FIELDS: &[&str] = &[
    "Iterator",
    "ItemProcessor",
    "ItemsPath",
    "Items",
    "ItemSelector",
    "Parameters",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Next",
    "End",
    "Assign",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ItemReader",
    "ResultWriter",
    "ItemBatcher",
    "Label",
    "Output",
    "Arguments",
];

/// A state type's AWS name and the fields it allows, or `None` for a type AWS does not have.
fn state_type(ty: &str) -> Option<(&'static str, &'static [&'static str])> {
    match ty {
        "Pass" => Some(("Pass", PASS_FIELDS)),
        "Task" => Some(("Task", TASK_FIELDS)),
        "Choice" => Some(("Choice", CHOICE_FIELDS)),
        "Wait" => Some(("Wait", WAIT_FIELDS)),
        "Succeed" => Some(("Succeed", SUCCEED_FIELDS)),
        "Fail" => Some(("Fail", FAIL_FIELDS)),
        "Parallel" => Some(("Parallel", PARALLEL_FIELDS)),
        "Map" => Some(("Map", MAP_FIELDS)),
        _ => None,
    }
}

/// The input and output fields of a state (absent ones default; JSONata states have none).
struct DataFields {
    input_path: PathField,
    output_path: PathField,
    result_path: PathField,
    parameters: Option<Template>,
    result_selector: Option<Template>,
    assign: Option<Template>,
    query: Option<Box<QueryFields>>,
}

impl Validator {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn state(
        &mut self,
        name: &str,
        obj: &Map<String, Value>,
        base: &str,
        index: &HashMap<String, usize>,
        parent_ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Option<State> {
        let Some(ty) = obj.get("Type") else {
            self.err(base, "These fields are required: [Type]");
            return None;
        };
        let Some(ty) = ty.as_str() else {
            self.err(
                Self::loc(base, "Type"),
                format!("Expected value of type: String but got {ty}"),
            );
            return None;
        };
        let ql = self.state_query_language(obj, base, parent_ql, top_ql);
        let Some((type_name, allowed)) = state_type(ty) else {
            self.err(Self::loc(base, "Type"), format!("Value '{ty}' is not a valid state type; use one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map"));
            return None;
        };
        let io: &[&str] = if matches!(type_name, "Fail") {
            &[]
        } else {
            COMMON_IO
        };
        let mut all: Vec<&str> = vec!["Type", "Comment", "QueryLanguage"];
        all.extend_from_slice(allowed);
        all.extend_from_slice(io);
        self.check_fields(obj, base, &all, &[]);
        self.language_fields(obj, base, ql);
        let transition = self.transition(obj, base, index, type_name);
        let jp = ql == QueryLanguage::JsonPath;
        let data = self.data_fields(obj, base, type_name, jp);
        let retry = self.retry_list(obj, base);
        let catch = self.catch_list(obj, base, index, jp);

        let kind = match type_name {
            "Pass" => StateKind::Pass {
                result: obj.get("Result").cloned(),
            },
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(Box::new(self.fail(obj, base, jp))),
            "Task" => StateKind::Task(Box::new(self.task(obj, base, jp)?)),
            "Wait" => StateKind::Wait(self.wait(obj, base, jp)?),
            "Choice" => self.choice(obj, base, index, jp)?,
            "Parallel" => self.parallel(obj, base, ql, top_ql, depth)?,
            "Map" => StateKind::Map(Box::new(self.map(obj, base, ql, top_ql, depth, jp)?)),
            _ => return None,
        };
        let uses_context = serde_json::to_string(obj)
            .is_ok_and(|t| t.contains("$$") || (!jp && crate::query::reads_context(&t)));
        Some(State {
            name: name.into(),
            type_name,
            common: Common {
                input_path: data.input_path,
                output_path: data.output_path,
                result_path: data.result_path,
                parameters: data.parameters,
                result_selector: data.result_selector,
                assign: data.assign,
                query: data.query,
                transition,
                retry,
                catch,
                query_language: ql,
                uses_context,
            },
            kind,
        })
    }

    /// The state's `QueryLanguage`, or its machine's when it sets none.
    fn state_query_language(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        parent_ql: QueryLanguage,
        top_ql: QueryLanguage,
    ) -> QueryLanguage {
        match obj.get("QueryLanguage") {
            Some(q) => {
                let q = self
                    .query_language(q, &Self::loc(base, "QueryLanguage"))
                    .unwrap_or(parent_ql);
                if q == QueryLanguage::JsonPath && top_ql == QueryLanguage::Jsonata {
                    self.err(base, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine");
                }
                q
            }
            None => parent_ql,
        }
    }

    /// `Next` or `End` (Choice, Succeed and Fail have neither: they end the state themselves).
    fn transition(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        index: &HashMap<String, usize>,
        type_name: &str,
    ) -> Transition {
        let terminal = matches!(type_name, "Choice" | "Succeed" | "Fail");
        if terminal {
            return Transition::End;
        }
        match (obj.get("Next"), obj.get("End")) {
            (Some(_), Some(Value::Bool(true))) => {
                self.err(base, "These fields are mutually exclusive: [Next, End]");
                Transition::End
            }
            (Some(n), _) => match self.string(n, &Self::loc(base, "Next")) {
                Some(n) => match index.get(n) {
                    Some(i) => Transition::Next(*i),
                    None => {
                        self.diags.push(Diagnostic::error(
                            "MISSING_TRANSITION_TARGET",
                            Self::loc(base, "Next"),
                            format!("Missing 'Next' target: {n}"),
                        ));
                        Transition::End
                    }
                },
                None => Transition::End,
            },
            (None, Some(Value::Bool(true))) => Transition::End,
            (None, Some(other)) if !other.is_boolean() => {
                self.err(
                    Self::loc(base, "End"),
                    format!("Expected value of type: Boolean but got {other}"),
                );
                Transition::End
            }
            _ => {
                self.diags.push(Diagnostic::error("MISSING_TRANSITION_TARGET", base, "State is not an end state and has no 'Next' field; add \"Next\" or \"End\": true"));
                Transition::End
            }
        }
    }

    /// `InputPath`, `OutputPath`, `ResultPath`, `Parameters` (Map's is its item selector),
    /// `ResultSelector` and `Assign`.
    fn data_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        type_name: &str,
        jp: bool,
    ) -> DataFields {
        if !jp {
            return self.query_data_fields(obj, base, type_name);
        }
        let input_path = if jp {
            self.path_field(obj, "InputPath", base, false)
        } else {
            PathField::Default
        };
        let output_path = if jp {
            self.path_field(obj, "OutputPath", base, false)
        } else {
            PathField::Default
        };
        let result_path = if jp {
            self.path_field(obj, "ResultPath", base, true)
        } else {
            PathField::Default
        };
        let parameters = if jp && type_name != "Map" {
            obj.get("Parameters")
                .and_then(|p| self.template(p, &Self::loc(base, "Parameters")))
        } else {
            None
        };
        let result_selector = if jp {
            obj.get("ResultSelector")
                .and_then(|p| self.template(p, &Self::loc(base, "ResultSelector")))
        } else {
            None
        };
        let assign = if jp {
            obj.get("Assign")
                .and_then(|p| self.assign(p, &Self::loc(base, "Assign")))
        } else {
            None
        };
        if let Some(p) = obj.get("Parameters").filter(|_| jp)
            && !p.is_object()
        {
            self.err(
                Self::loc(base, "Parameters"),
                format!("Expected value of type: Object but got {p}"),
            );
        }
        DataFields {
            input_path,
            output_path,
            result_path,
            parameters,
            result_selector,
            assign,
            query: None,
        }
    }

    /// A JSONata state's `Arguments` (Task, Parallel), `Output` and `Assign`.
    fn query_data_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        type_name: &str,
    ) -> DataFields {
        let arguments = if matches!(type_name, "Task" | "Parallel") {
            self.query_field(obj, base, "Arguments")
        } else {
            None
        };
        let output = self.query_field(obj, base, "Output");
        let assign = obj
            .get("Assign")
            .and_then(|a| self.query_assign(a, &Self::loc(base, "Assign")));
        let query = (arguments.is_some() || output.is_some() || assign.is_some()).then(|| {
            Box::new(QueryFields {
                arguments,
                output,
                assign,
            })
        });
        DataFields {
            input_path: PathField::Default,
            output_path: PathField::Default,
            result_path: PathField::Default,
            parameters: None,
            result_selector: None,
            assign: None,
            query,
        }
    }

    /// The `Retry` elements that validate.
    fn retry_list(&mut self, obj: &Map<String, Value>, base: &str) -> Vec<Retrier> {
        let mut retry = Vec::new();
        if let Some(r) = obj.get("Retry") {
            match r.as_array() {
                Some(arr) => {
                    for (i, rv) in arr.iter().enumerate() {
                        if let Some(r) = self.retrier(rv, &format!("{base}/Retry/{i}")) {
                            retry.push(r);
                        }
                    }
                }
                None => self.err(Self::loc(base, "Retry"), "Expected value of type: Array"),
            }
        }
        retry
    }

    /// The `Catch` elements that validate.
    fn catch_list(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        index: &HashMap<String, usize>,
        jp: bool,
    ) -> Vec<Catcher> {
        let mut catch = Vec::new();
        if let Some(c) = obj.get("Catch") {
            match c.as_array() {
                Some(arr) => {
                    for (i, cv) in arr.iter().enumerate() {
                        if let Some(c) = self.catcher(cv, &format!("{base}/Catch/{i}"), index, jp) {
                            catch.push(c);
                        }
                    }
                }
                None => self.err(Self::loc(base, "Catch"), "Expected value of type: Array"),
            }
        }
        catch
    }
}
