//! LocalExecutions: the core executions contract, on a state database of its own with no runner
//! (an execution stays RUNNING until it is stopped, as one waiting in its first state does).

use stepscore_core::executions_contract::check_executions;
use stepscore_local::LocalExecutions;

#[tokio::test]
async fn local_executions_meet_the_executions_contract() {
    let dir = tempfile::tempdir().unwrap();
    let executions = LocalExecutions::open(
        &dir.path().join("state.db"),
        "eu-west-1",
        "123456789012",
        "stepscore-scoring",
    )
    .unwrap();
    check_executions(&executions).await;
}
