//! The executions list over many executions: keyset pages that visit each once, newest first,
//! with the status filter and the job id search; the state machine graph and schedules.

use std::collections::BTreeSet;

use serde_json::json;
use stepscore_core::ports::Executions;

use crate::harness::Console;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_execution_once_and_filters_narrow_them() {
    let c = Console::start().await;
    // executions started by hand with nobody serving: they stay RUNNING
    for i in 0..230 {
        c.rt.executions()
            .start(&format!("job-{i:04}"), &json!({}))
            .await
            .unwrap();
    }
    c.rt.executions()
        .stop("job-0007", "stepscore.Stopped", "by a test")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = c.get(&format!("executions?limit=100&after={after}")).await;
        assert_eq!(status, 200, "{page}");
        let rows = page["executions"].as_array().unwrap();
        assert!(rows.len() <= 100);
        seen.extend(rows.iter().map(|r| r["name"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 230);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 230, "each once");
    assert_eq!(seen[0], "job-0229", "newest first");

    let (_, aborted) = c.get("executions?status=ABORTED").await;
    let names: Vec<&str> = aborted["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["job-0007"]);
    assert_eq!(aborted["executions"][0]["error"], "stepscore.Stopped");
    let (_, found) = c.get("executions?search=job-012").await;
    assert_eq!(found["executions"].as_array().unwrap().len(), 10);
    let (_, none) = c.get("executions?search=zzz").await;
    assert_eq!(none["executions"], json!([]));
    assert_eq!(none["next"], json!(null));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_machine_graph_has_the_pipelines_states_choices_and_catches() {
    let c = Console::start().await;
    let (status, sm) = c.get("state-machine").await;
    assert_eq!(status, 200);
    let nodes: BTreeSet<&str> = sm["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for s in [
        "__start",
        "__end",
        "Register",
        "Submit",
        "CheckStatus",
        "JobDone?",
        "JobFailed",
    ] {
        assert!(nodes.contains(s), "{s} in {nodes:?}");
    }
    let edges = sm["graph"]["edges"].as_array().unwrap();
    let kinds: BTreeSet<&str> = edges.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["catch", "choice", "default", "next"].into_iter().collect()
    );
    assert!(
        edges.iter().any(|e| e["from"] == "Register"
            && e["to"] == "RegisterFailed"
            && e["kind"] == "catch"),
        "{edges:?}"
    );
    let (status, schedules) = c.get("schedules").await;
    assert_eq!(status, 200);
    assert_eq!(schedules["schedules"], json!([]));
    assert_eq!(schedules["source"], json!(null));
    c.shutdown().await;
}
