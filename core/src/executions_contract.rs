//! The executions contract: the cases every [`Executions`] implementation passes, Step
//! Functions' adapter, the embedded executions and the handlers' fake alike.
//!
//! An implementation's tests call [`check_executions`] with executions of a state machine that
//! does not end on its own while the cases run (its first state waits an hour, say). Executions
//! are named `executions-contract-…`. A failing case panics naming itself and what it saw.

use serde_json::{Value, json};

use crate::ports::{ExecutionError, Executions, Started, Stopped};

/// Runs every case against `executions`.
pub async fn check_executions(executions: &dyn Executions) {
    the_arn_is_known_from_the_name_and_start_uses_it(executions).await;
    starting_again_with_the_same_input_is_idempotent(executions).await;
    the_same_name_with_another_input_is_a_name_conflict(executions).await;
    a_running_execution_stops_once_and_its_name_stays_taken(executions).await;
    stopping_an_unknown_name_is_not_found(executions).await;
}

async fn start(
    executions: &dyn Executions,
    name: &str,
    input: &Value,
    case: &str,
) -> Result<Started, ExecutionError> {
    let started = executions.start(name, input).await;
    if let Err(e) = &started
        && !matches!(e, ExecutionError::NameConflict { .. })
    {
        panic!("{case}: start {name}: {e}");
    }
    started
}

async fn stop(executions: &dyn Executions, name: &str, case: &str) -> Stopped {
    let stopped = executions
        .stop(
            name,
            "stepscore.Contract",
            "the executions contract stops it",
        )
        .await;
    stopped.unwrap_or_else(|e| panic!("{case}: stop {name}: {e}"))
}

async fn the_arn_is_known_from_the_name_and_start_uses_it(executions: &dyn Executions) {
    let case = "the ARN is known from the name, and start uses it";
    let name = "executions-contract-arn";
    let arn = executions.execution_arn(name);
    assert!(
        arn.ends_with(&format!(":{name}")),
        "{case}: an execution ARN ends with ':<name>', got {arn}"
    );
    assert_ne!(
        executions.execution_arn("executions-contract-other"),
        arn,
        "{case}: another name has another ARN"
    );
    let started = start(executions, name, &json!({"job_id": name}), case).await;
    assert_eq!(
        started.ok(),
        Some(Started::Started { execution_arn: arn }),
        "{case}: a new name starts an execution with the ARN known beforehand"
    );
}

async fn starting_again_with_the_same_input_is_idempotent(executions: &dyn Executions) {
    let case = "starting again with the same input is idempotent";
    let name = "executions-contract-again";
    let arn = executions.execution_arn(name);
    let input = json!({"job_id": name, "config": {"model": "s3://m/a.json", "shards": 2}});
    let first = start(executions, name, &input, case).await;
    assert!(
        matches!(&first, Ok(Started::Started { .. })),
        "{case}: the first start starts, got {first:?}"
    );
    // Step Functions answers a repeat while the execution runs with plain success (the adapter
    // cannot tell it from a start): either answer names the one execution
    let again = start(executions, name, &input, case).await;
    assert_eq!(
        again.as_ref().map(Started::execution_arn).ok(),
        Some(arn.as_str()),
        "{case}: a repeat is a success naming the same execution, got {again:?}"
    );
    // the same JSON written in another key order is the same input
    let reordered = json!({"config": {"shards": 2, "model": "s3://m/a.json"}, "job_id": name});
    let reordered = start(executions, name, &reordered, case).await;
    assert_eq!(
        reordered.as_ref().map(Started::execution_arn).ok(),
        Some(arn.as_str()),
        "{case}: inputs are compared as JSON, not as text, got {reordered:?}"
    );
}

async fn the_same_name_with_another_input_is_a_name_conflict(executions: &dyn Executions) {
    let case = "the same name with another input is a name conflict";
    let name = "executions-contract-conflict";
    let first = start(executions, name, &json!({"job_id": "a"}), case).await;
    assert!(first.is_ok(), "{case}: the first start: {first:?}");
    match start(executions, name, &json!({"job_id": "b"}), case).await {
        // a conflict, not a transient failure: retrying cannot help
        Err(ExecutionError::NameConflict { name: named, .. }) => {
            assert_eq!(named, name, "{case}: the error names the execution")
        }
        other => panic!("{case}: another input under a taken name gave {other:?}"),
    }
}

async fn a_running_execution_stops_once_and_its_name_stays_taken(executions: &dyn Executions) {
    let case = "a running execution stops once, and its name stays taken";
    let name = "executions-contract-stopped";
    let arn = executions.execution_arn(name);
    let input = json!({"job_id": name});
    let first = start(executions, name, &input, case).await;
    assert!(first.is_ok(), "{case}: the first start: {first:?}");
    assert_eq!(
        stop(executions, name, case).await,
        Stopped::Stopped {
            execution_arn: arn.clone()
        },
        "{case}: stopping a running execution stops it"
    );
    let aborted = Stopped::AlreadyEnded {
        execution_arn: arn.clone(),
        status: "ABORTED".into(),
    };
    assert_eq!(
        stop(executions, name, case).await,
        aborted,
        "{case}: stopping it again finds it ended ABORTED"
    );
    // an ended execution keeps its name: a redelivered start must not run the job again
    assert_eq!(
        start(executions, name, &input, case).await.ok(),
        Some(Started::AlreadyExists {
            execution_arn: arn.clone()
        }),
        "{case}: starting an ended execution's name and input again starts nothing"
    );
    assert_eq!(
        stop(executions, name, case).await,
        aborted,
        "{case}: the execution is still the aborted one"
    );
    let other = start(executions, name, &json!({"job_id": "other"}), case).await;
    assert!(
        matches!(other, Err(ExecutionError::NameConflict { .. })),
        "{case}: another input under an ended execution's name is a name conflict, got {other:?}"
    );
}

async fn stopping_an_unknown_name_is_not_found(executions: &dyn Executions) {
    let case = "stopping an unknown name is not found";
    assert_eq!(
        stop(executions, "executions-contract-never-started", case).await,
        Stopped::NotFound,
        "{case}"
    );
}
