//! Task resources: the optimized integrations AWS documents (one table with its source), any AWS
//! SDK integration, Lambda and activity ARNs are accepted; what AWS refuses is refused with its
//! message.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use stepscore_asl::model::integrations::{
    self, OPTIMIZED, REQUEST_RESPONSE, SYNC, SYNC_2, TaskResource, WAIT_FOR_TASK_TOKEN,
};
use stepscore_asl::model::{MachineType, ValidationOptions, parse_definition};

const PATTERNS: [(&str, u8); 4] = [
    ("", REQUEST_RESPONSE),
    (".sync", SYNC),
    (".sync:2", SYNC_2),
    (".waitForTaskToken", WAIT_FOR_TASK_TOKEN),
];

#[test]
fn every_entry_of_the_table_has_the_shape_of_an_aws_integration() {
    let mut seen = BTreeSet::new();
    for o in OPTIMIZED {
        assert!(
            integrations::is_service_name(o.service),
            "{o:?}: service name"
        );
        assert!(integrations::is_action_name(o.action), "{o:?}: action name");
        assert!(
            o.patterns & REQUEST_RESPONSE != 0,
            "{o:?}: every optimized API answers requests"
        );
        assert!(o.patterns & !(REQUEST_RESPONSE | SYNC | SYNC_2 | WAIT_FOR_TASK_TOKEN) == 0);
        assert!(
            o.source
                .starts_with("https://docs.aws.amazon.com/step-functions/latest/dg/")
                && o.source.ends_with(".html"),
            "{o:?}: source"
        );
        assert!(seen.insert((o.service, o.action)), "{o:?} listed twice");
    }
    // the 20 services of AWS's optimized-integrations table, and the HTTP Task
    let services: BTreeSet<&str> = OPTIMIZED.iter().map(|o| o.service).collect();
    assert_eq!(services.len(), 21, "{services:?}");
}

#[test]
fn each_integration_is_recognised_with_exactly_the_patterns_aws_documents_for_it() {
    for o in OPTIMIZED {
        for (suffix, bit) in PATTERNS {
            let arn = format!("arn:aws:states:::{}:{}{suffix}", o.service, o.action);
            let recognised = integrations::recognise(&arn);
            assert_eq!(recognised.is_some(), o.patterns & bit != 0, "{arn}");
        }
    }
}

#[test]
fn sdk_integrations_take_any_service_and_action_but_never_run_a_job() {
    let sdk = |r: &str| integrations::recognise(&format!("arn:aws:states:::aws-sdk:{r}"));
    assert!(matches!(
        sdk("s3:getObject"),
        Some(TaskResource::Integration { .. })
    ));
    assert!(sdk("sfn:startExecution.waitForTaskToken").is_some());
    assert!(sdk("bedrockagentruntime:invokeAgent").is_some());
    assert!(sdk("s3:getObject.sync").is_none());
    assert!(sdk("s3:GetObject").is_none(), "actions are camelCase");
    assert!(sdk("s3").is_none());
}

fn definition(resource: &str) -> Value {
    json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}})
}

fn problems(resource: &str, machine_type: MachineType) -> Vec<String> {
    match parse_definition(
        &definition(resource),
        ValidationOptions {
            machine_type,
            ..ValidationOptions::default()
        },
    ) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.into_iter().map(|d| d.message).collect(),
    }
}

#[test]
fn definitions_with_the_integrations_ml_pipelines_use_validate() {
    for resource in [
        "arn:aws:states:::sagemaker:createModel",
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
        "arn:aws:states:::bedrock:createModelCustomizationJob.sync",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::aws-sdk:sagemaker:describeModel",
        "arn:aws:lambda:eu-west-1:123456789012:function:score",
        "arn:aws:states:eu-west-1:123456789012:activity:approve",
        "arn:aws-cn:states:::lambda:invoke",
    ] {
        assert_eq!(
            problems(resource, MachineType::Standard),
            Vec::<String>::new(),
            "{resource}"
        );
    }
}

#[test]
fn unknown_integrations_are_refused_with_aws_message() {
    for resource in [
        "arn:aws:states:::dynamodb:query",
        "arn:aws:states:::sagemaker:createModel.sync",
        "arn:aws:states:::lambda:invoke.sync",
        "arn:aws:states:::glue:startCrawler",
        "arn:aws:states:::sagemaker",
        "arn::states:::lambda:invoke",
        "not-an-arn",
    ] {
        assert_eq!(
            problems(resource, MachineType::Standard),
            vec![format!(
                "The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
            )],
            "{resource}"
        );
    }
}

#[test]
fn express_machines_refuse_integrations_that_run_a_job_or_wait_for_a_callback() {
    let refused = [
        ("arn:aws:states:::batch:submitJob.sync", ".sync"),
        ("arn:aws:states:::states:startExecution.sync:2", ".sync:2"),
        (
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            ".waitForTaskToken",
        ),
    ];
    for (resource, pattern) in refused {
        assert_eq!(
            problems(resource, MachineType::Express),
            vec![format!(
                "Express state machine does not support '{pattern}' service integration "
            )],
            "{resource}"
        );
        assert!(
            problems(resource, MachineType::Standard).is_empty(),
            "{resource}"
        );
    }
    assert!(problems("arn:aws:states:::batch:submitJob", MachineType::Express).is_empty());
}
