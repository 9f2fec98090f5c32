//! SfnExecutions: the core executions contract, plus what only Step Functions shows (one
//! execution listed after repeated and concurrent starts, a missing state machine).

use serde_json::json;
use stepscore_aws::SfnExecutions;
use stepscore_core::executions_contract::check_executions;
use stepscore_core::ports::{ExecutionError, Executions, Started};

use super::{moto, unique};

async fn machine() -> SfnExecutions {
    let config = moto().await;
    let client = aws_sdk_sfn::Client::new(&config);
    let definition = json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let out = client
        .create_state_machine()
        .name(unique("sm"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/stepscore-sfn")
        .send()
        .await
        .unwrap();
    SfnExecutions::from_client(client, out.state_machine_arn())
}

#[tokio::test]
async fn sfn_executions_meet_the_executions_contract() {
    check_executions(&machine().await).await;
}

#[tokio::test]
async fn starting_the_same_name_and_input_twice_runs_one_execution() {
    let sm = machine().await;
    let input = json!({"job_id": "daily-0123456789abcdef", "source": "s3://b/jobs/daily.json"});
    let first = sm.start("daily-0123456789abcdef", &input).await.unwrap();
    let Started::Started { execution_arn } = &first else {
        panic!("first start must start: {first:?}")
    };
    assert_eq!(
        execution_arn,
        &sm.execution_arn("daily-0123456789abcdef"),
        "the ARN is predictable from the name"
    );
    // while it runs, Step Functions answers a repeat with the same execution
    let again = sm.start("daily-0123456789abcdef", &input).await.unwrap();
    assert_eq!(again.execution_arn(), execution_arn);
    let machine_arn = execution_arn
        .rsplit_once(':')
        .unwrap()
        .0
        .replace(":execution:", ":stateMachine:");
    let listed = sm
        .client()
        .list_executions()
        .state_machine_arn(&machine_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), 1);

    // once it has closed, the name answers ExecutionAlreadyExists: reported as AlreadyExists
    sm.client()
        .stop_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .unwrap();
    let after_close = sm.start("daily-0123456789abcdef", &input).await.unwrap();
    assert_eq!(
        after_close,
        Started::AlreadyExists {
            execution_arn: execution_arn.clone()
        }
    );
    assert_eq!(
        executions(&sm, &machine_arn).await,
        1,
        "nothing new was started"
    );
}

/// How many executions state machine `machine_arn` has.
async fn executions(sm: &SfnExecutions, machine_arn: &str) -> usize {
    sm.client()
        .list_executions()
        .state_machine_arn(machine_arn)
        .send()
        .await
        .unwrap()
        .executions()
        .len()
}

#[tokio::test]
async fn concurrent_starts_of_one_job_start_one_execution() {
    let sm = machine().await;
    let input = json!({"job_id": "race"});
    let (a, b) = tokio::join!(sm.start("race", &input), sm.start("race", &input));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.execution_arn(),
        b.execution_arn(),
        "both name the one execution"
    );
    let machine_arn = a
        .execution_arn()
        .rsplit_once(':')
        .unwrap()
        .0
        .replace(":execution:", ":stateMachine:");
    assert_eq!(
        executions(&sm, &machine_arn).await,
        1,
        "one execution exists"
    );
}

#[tokio::test]
async fn a_missing_state_machine_is_a_permanent_error() {
    let config = moto().await;
    let sm = SfnExecutions::new(
        &config,
        "arn:aws:states:us-east-1:123456789012:stateMachine:nope",
    );
    let err = sm.start("x", &json!({})).await.unwrap_err();
    assert!(matches!(err, ExecutionError::Other { .. }), "{err}");
}
