//! SfnExecutions: StartExecution named by the job id is idempotent.

use serde_json::json;
use stepscore_aws::SfnExecutions;
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
async fn the_same_name_with_another_input_is_a_name_conflict() {
    let sm = machine().await;
    sm.start("job-a", &json!({"job_id": "job-a"}))
        .await
        .unwrap();
    let err = sm
        .start("job-a", &json!({"job_id": "job-b"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecutionError::NameConflict { name, .. } if name == "job-a"),
        "{err}"
    );
    assert!(!err.is_transient());
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

#[tokio::test]
async fn stop_aborts_a_running_execution_once_and_knows_an_unknown_name() {
    use stepscore_core::ports::Stopped;
    let sm = machine().await;
    sm.start("long-0123456789abcdef", &json!({})).await.unwrap();
    let first = sm
        .stop("long-0123456789abcdef", "stepscore.Stopped", "by a test")
        .await
        .unwrap();
    assert_eq!(
        first,
        Stopped::Stopped {
            execution_arn: sm.execution_arn("long-0123456789abcdef")
        }
    );
    let described = sm
        .client()
        .describe_execution()
        .execution_arn(sm.execution_arn("long-0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_eq!(described.status().as_str(), "ABORTED");
    let again = sm
        .stop("long-0123456789abcdef", "stepscore.Stopped", "by a test")
        .await
        .unwrap();
    assert!(
        matches!(&again, Stopped::AlreadyEnded { status, .. } if status == "ABORTED"),
        "{again:?}"
    );
    assert_eq!(
        sm.stop("never-started", "stepscore.Stopped", "by a test")
            .await
            .unwrap(),
        Stopped::NotFound
    );
}
