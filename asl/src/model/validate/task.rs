//! The Task state's own fields: `Resource` (an ARN AWS recognises, see `model::integrations`;
//! `.sync` and `.waitForTaskToken` only in STANDARD machines), `Credentials`, and the timeout and heartbeat.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::{MachineType, SecondsField, TaskSpec, integrations};

impl Validator {
    pub(super) fn task(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        jp: bool,
    ) -> Option<TaskSpec> {
        let Some(r) = obj.get("Resource") else {
            self.err(base, "These fields are required: [Resource]");
            return None;
        };
        let resource = self.string(r, &Self::loc(base, "Resource"))?.to_string();
        let wait_for_task_token = resource.ends_with(".waitForTaskToken");
        if wait_for_task_token && self.options.machine_type == MachineType::Express {
            self.err(
                Self::loc(base, "Resource"),
                "Express state machine does not support '.waitForTaskToken' service integration ",
            );
        }
        match integrations::recognise(&resource) {
            None => self.err(Self::loc(base, "Resource"), format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.")),
            Some(r) if r.runs_a_job() && self.options.machine_type == MachineType::Express => {
                let pattern = resource.rsplit_once(".sync").map_or(".sync", |(_, tail)| {
                    if tail.is_empty() { ".sync" } else { ".sync:2" }
                });
                self.err(
                    Self::loc(base, "Resource"),
                    format!("Express state machine does not support '{pattern}' service integration "),
                );
            }
            Some(_) => {}
        }
        if let Some(c) = obj.get("Credentials") {
            match c.as_object() {
                Some(co) if co.contains_key("RoleArn") || co.contains_key("RoleArn.$") => {}
                Some(_) => self.err(
                    Self::loc(base, "Credentials"),
                    "The field 'RoleArn' is required but was missing",
                ),
                None => self.err(
                    Self::loc(base, "Credentials"),
                    "Expected value of type: Object",
                ),
            }
        }
        let (timeout, heartbeat) = if jp {
            (
                self.seconds_field(obj, base, "TimeoutSeconds", "TimeoutSecondsPath"),
                self.seconds_field(obj, base, "HeartbeatSeconds", "HeartbeatSecondsPath"),
            )
        } else {
            (
                self.query_count(obj, base, "TimeoutSeconds", None),
                self.query_count(obj, base, "HeartbeatSeconds", None),
            )
        };
        if let (Some(SecondsField::Literal(t)), Some(SecondsField::Literal(h))) =
            (&timeout, &heartbeat)
            && h >= t
        {
            self.err(
                Self::loc(base, "HeartbeatSeconds"),
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            );
        }
        Some(TaskSpec {
            resource,
            timeout,
            heartbeat,
            wait_for_task_token,
        })
    }
}
