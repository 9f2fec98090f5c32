//! The Task `Resource` values AWS Step Functions accepts: Lambda function and activity ARNs,
//! `arn:aws:states:::aws-sdk:<service>:<action>` for any service, and the optimized integrations
//! listed in [`OPTIMIZED`] with the integration patterns AWS documents for each.
//!
//! Source: the AWS Step Functions Developer Guide, "Integrating optimized services with Step
//! Functions" (<https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html>)
//! and the page of each service linked from it (`connect-<service>.html`, cited per entry),
//! read 2026-11-30. AWS SDK integrations support Request Response (Standard and Express) and
//! Wait for Callback (Standard), never Run a Job (`.sync`); Express workflows support only
//! Request Response.

/// Request Response: the bare resource.
pub const REQUEST_RESPONSE: u8 = 1;
/// Run a Job: `.sync`.
pub const SYNC: u8 = 2;
/// Run a Job returning parsed JSON output (`states:startExecution.sync:2` only).
pub const SYNC_2: u8 = 4;
/// Wait for Callback: `.waitForTaskToken`.
pub const WAIT_FOR_TASK_TOKEN: u8 = 8;

/// One optimized integration: `arn:aws:states:::<service>:<action>` and its patterns.
#[derive(Debug, Clone, Copy)]
pub struct Optimized {
    /// The service part of the resource (`sagemaker`, `elasticmapreduce`…).
    pub service: &'static str,
    /// The API, camelCase as it appears in the resource (`createModel`).
    pub action: &'static str,
    /// The patterns AWS accepts (`REQUEST_RESPONSE | SYNC`…).
    pub patterns: u8,
    /// The developer guide page that lists it.
    pub source: &'static str,
}

const RR: u8 = REQUEST_RESPONSE;
const RR_SYNC: u8 = REQUEST_RESPONSE | SYNC;
const RR_TOKEN: u8 = REQUEST_RESPONSE | WAIT_FOR_TASK_TOKEN;

macro_rules! integrations {
    ($($page:literal => { $($service:literal : $action:literal = $patterns:expr),+ $(,)? })+) => {
        &[$($(Optimized {
            service: $service,
            action: $action,
            patterns: $patterns,
            source: concat!("https://docs.aws.amazon.com/step-functions/latest/dg/", $page),
        }),+),+]
    };
}

/// Every optimized integration AWS documents.
pub const OPTIMIZED: &[Optimized] = integrations! {
    "connect-api-gateway.html" => { "apigateway": "invoke" = RR_TOKEN }
    "connect-athena.html" => {
        "athena": "startQueryExecution" = RR_SYNC,
        "athena": "stopQueryExecution" = RR,
        "athena": "getQueryExecution" = RR,
        "athena": "getQueryResults" = RR,
    }
    "connect-batch.html" => { "batch": "submitJob" = RR_SYNC }
    "connect-bedrock.html" => {
        "bedrock": "invokeModel" = RR_TOKEN,
        "bedrock": "createModelCustomizationJob" = RR_SYNC | WAIT_FOR_TASK_TOKEN,
    }
    "connect-codebuild.html" => {
        "codebuild": "startBuild" = RR_SYNC,
        "codebuild": "stopBuild" = RR,
        "codebuild": "batchDeleteBuilds" = RR,
        "codebuild": "batchGetReports" = RR,
        "codebuild": "startBuildBatch" = RR_SYNC,
        "codebuild": "stopBuildBatch" = RR,
        "codebuild": "retryBuildBatch" = RR_SYNC,
        "codebuild": "deleteBuildBatch" = RR,
    }
    "connect-ddb.html" => {
        "dynamodb": "getItem" = RR,
        "dynamodb": "putItem" = RR,
        "dynamodb": "updateItem" = RR,
        "dynamodb": "deleteItem" = RR,
    }
    "connect-ecs.html" => { "ecs": "runTask" = RR_SYNC | WAIT_FOR_TASK_TOKEN }
    "connect-eks.html" => {
        "eks": "createCluster" = RR_SYNC,
        "eks": "deleteCluster" = RR_SYNC,
        "eks": "createFargateProfile" = RR_SYNC,
        "eks": "deleteFargateProfile" = RR_SYNC,
        "eks": "createNodegroup" = RR_SYNC,
        "eks": "deleteNodegroup" = RR_SYNC,
        "eks": "runJob" = RR_SYNC,
        "eks": "call" = RR,
    }
    "connect-emr.html" => {
        "elasticmapreduce": "createCluster" = RR_SYNC,
        "elasticmapreduce": "setClusterTerminationProtection" = RR,
        "elasticmapreduce": "terminateCluster" = RR_SYNC,
        "elasticmapreduce": "addStep" = RR_SYNC,
        "elasticmapreduce": "cancelStep" = RR,
        "elasticmapreduce": "modifyInstanceFleetByName" = RR,
        "elasticmapreduce": "modifyInstanceGroupByName" = RR,
    }
    "connect-emr-eks.html" => {
        "emr-containers": "createVirtualCluster" = RR,
        "emr-containers": "deleteVirtualCluster" = RR_SYNC,
        "emr-containers": "startJobRun" = RR_SYNC,
    }
    "connect-emr-serverless.html" => {
        "emr-serverless": "createApplication" = RR_SYNC,
        "emr-serverless": "startApplication" = RR_SYNC,
        "emr-serverless": "stopApplication" = RR_SYNC,
        "emr-serverless": "deleteApplication" = RR_SYNC,
        "emr-serverless": "startJobRun" = RR_SYNC,
        "emr-serverless": "cancelJobRun" = RR_SYNC,
    }
    "connect-eventbridge.html" => { "events": "putEvents" = RR_TOKEN }
    "connect-glue.html" => { "glue": "startJobRun" = RR_SYNC }
    "connect-databrew.html" => { "databrew": "startJobRun" = RR_SYNC }
    "connect-lambda.html" => { "lambda": "invoke" = RR_TOKEN }
    "connect-mediaconvert.html" => { "mediaconvert": "createJob" = RR_SYNC }
    "connect-sagemaker.html" => {
        "sagemaker": "createEndpoint" = RR,
        "sagemaker": "createEndpointConfig" = RR,
        "sagemaker": "createHyperParameterTuningJob" = RR_SYNC,
        "sagemaker": "createLabelingJob" = RR_SYNC,
        "sagemaker": "createModel" = RR,
        "sagemaker": "createProcessingJob" = RR_SYNC,
        "sagemaker": "createTrainingJob" = RR_SYNC,
        "sagemaker": "createTransformJob" = RR_SYNC,
        "sagemaker": "updateEndpoint" = RR,
    }
    "connect-sns.html" => { "sns": "publish" = RR_TOKEN }
    "connect-sqs.html" => { "sqs": "sendMessage" = RR_TOKEN }
    "connect-stepfunctions.html" => {
        "states": "startExecution" = RR_SYNC | SYNC_2 | WAIT_FOR_TASK_TOKEN,
    }
    "call-https-apis.html" => { "http": "invoke" = RR }
};

/// What a Task `Resource` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResource {
    /// A Lambda function, an activity or another non-integration ARN, called directly.
    Arn,
    /// `arn:<partition>:states:::<service>:<action>[.<pattern>]`: an optimized or SDK integration.
    Integration {
        /// `aws-sdk:s3` for SDK integrations, else the optimized service.
        service: String,
        /// The API.
        action: String,
        /// The pattern suffix as written (`""`, `".sync"`, `".sync:2"`, `".waitForTaskToken"`).
        pattern: &'static str,
    },
    /// A deployment placeholder (`${LambdaArn}`), filled in before the definition reaches AWS.
    Placeholder,
}

impl TaskResource {
    /// Whether it waits for a job (`.sync`, `.sync:2`), which Express workflows cannot.
    pub fn runs_a_job(&self) -> bool {
        matches!(self, TaskResource::Integration { pattern, .. } if pattern.starts_with(".sync"))
    }
}

const PATTERNS: [(&str, u8); 3] = [
    (".waitForTaskToken", WAIT_FOR_TASK_TOKEN),
    (".sync:2", SYNC_2),
    (".sync", SYNC),
];

/// Classifies a Task `Resource`; `None` when AWS would answer "is not recognized".
pub fn recognise(resource: &str) -> Option<TaskResource> {
    let Some(rest) = resource.strip_prefix("arn:") else {
        return resource.contains("${").then_some(TaskResource::Placeholder);
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, api] = parts.as_slice() else {
        return None;
    };
    if partition.is_empty() {
        return None;
    }
    if *service != "states" || !region.is_empty() || !account.is_empty() {
        return Some(TaskResource::Arn);
    }
    let (api, pattern, bit) = PATTERNS
        .iter()
        .find_map(|&(suffix, bit)| api.strip_suffix(suffix).map(|a| (a, suffix, bit)))
        .unwrap_or((api, "", REQUEST_RESPONSE));
    if let Some(sdk) = api.strip_prefix("aws-sdk:") {
        let (sdk_service, action) = sdk.split_once(':')?;
        let sdk_patterns = REQUEST_RESPONSE | WAIT_FOR_TASK_TOKEN;
        let ok = is_service_name(sdk_service) && is_action_name(action) && sdk_patterns & bit != 0;
        return ok.then(|| TaskResource::Integration {
            service: format!("aws-sdk:{sdk_service}"),
            action: action.to_string(),
            pattern,
        });
    }
    let (service, action) = api.split_once(':')?;
    OPTIMIZED
        .iter()
        .find(|o| o.service == service && o.action == action && o.patterns & bit != 0)
        .map(|o| TaskResource::Integration {
            service: o.service.to_string(),
            action: o.action.to_string(),
            pattern,
        })
}

/// An AWS service's name in an ARN or SDK resource: lower case, digits and hyphens.
pub fn is_service_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// An API name as Step Functions writes it: camelCase, starting with a lower-case letter.
pub fn is_action_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}
