//! The Task state's own fields: `Resource` (a known ARN; `.waitForTaskToken` only in STANDARD
//! machines), `Credentials`, and the timeout and heartbeat.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::{MachineType, SecondsField, TaskSpec};

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
        if !resource_is_known(&resource) {
            self.err(Self::loc(base, "Resource"), format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."));
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

/// Whether a Task `Resource` is an ARN the engine can accept: a Lambda function, an activity, or a
/// known optimized/SDK service integration (AWS rejects unknown `arn:aws:states:::` integrations).
fn resource_is_known(resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:") else {
        // Templated resources (`${...}`) are filled in later by the deployment.
        return resource.contains("${");
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() < 5 {
        return false;
    }
    if parts[1] != "states" || !parts[3].is_empty() {
        return true;
    }
    let api = parts[4];
    let api = api
        .strip_suffix(".waitForTaskToken")
        .or_else(|| api.strip_suffix(".sync:2"))
        .or_else(|| api.strip_suffix(".sync"))
        .unwrap_or(api);
    if api.starts_with("aws-sdk:") {
        return true;
    }
    const KNOWN: &[&str] = &[
        "lambda:invoke",
        "sns:publish",
        "sqs:sendMessage",
        "dynamodb:getItem",
        "dynamodb:putItem",
        "dynamodb:deleteItem",
        "dynamodb:updateItem",
        "batch:submitJob",
        "ecs:runTask",
        "glue:startJobRun",
        "states:startExecution",
        "events:putEvents",
        "apigateway:invoke",
        "athena:startQueryExecution",
        "athena:getQueryExecution",
        "athena:getQueryResults",
        "athena:stopQueryExecution",
        "athena:getQueryExecution",
        "codebuild:startBuild",
        "eks:runJob",
        "eks:call",
        "eks:createCluster",
        "eks:deleteCluster",
        "elasticmapreduce:createCluster",
        "elasticmapreduce:addStep",
        "sagemaker:createTrainingJob",
        "sagemaker:createTransformJob",
        "sagemaker:createEndpoint",
        "emr-serverless:startJobRun",
        "emr-containers:startJobRun",
        "http:invoke",
        "bedrock:invokeModel",
        "mediaconvert:createJob",
        "glue:startCrawler",
        "states:startExecution.sync",
    ];
    KNOWN.contains(&api)
}
