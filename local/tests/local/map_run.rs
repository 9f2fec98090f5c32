//! A Distributed Map in the local runtime: items from a CSV in the directory store, children
//! through a local function, results written back in AWS's layout — and a Map Run that
//! survives SIGKILL: the restarted runtime runs no finished child again and writes its results
//! once.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::example_process::{Killed, spawn_example};
use serde_json::{Value, json};
use stepscore_core::ObjectUri;
use stepscore_core::ports::ObjectStore;
use stepscore_local::{ExecutionState, LocalRuntime};

#[path = "../../examples/map_run_server/main.rs"]
#[allow(dead_code)]
mod server;

fn spawn_server(dir: &Path) -> Killed {
    spawn_example("map_run_server", dir, &[])
}

fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Puts an `n`-row CSV at `in/items.csv` and starts execution `name` of the Distributed Map
/// fixture over it (the server, started after, runs it).
async fn start_map_run_over_rows(rt: &LocalRuntime, name: &str, n: usize) {
    let mut csv = String::from("id,value\n");
    for i in 0..n {
        csv.push_str(&format!("r{i},{i}\n"));
    }
    rt.store()
        .put_bytes(
            &ObjectUri::new("data-1", "in/items.csv").unwrap(),
            csv.into_bytes(),
        )
        .await
        .unwrap();
    rt.start_execution(name, &json!({"key": "in/items.csv"}))
        .await
        .unwrap();
}

/// Waits (60 s at most) until the children have processed `at_least` rows.
fn wait_for_calls(dir: &Path, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls(dir).len() < at_least {
        assert!(
            Instant::now() < deadline,
            "the Map Run never got going: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn object(rt: &LocalRuntime, key: &str) -> Value {
    let uri = ObjectUri::new("data-1", key).unwrap();
    serde_json::from_slice(&rt.store().get_bytes(&uri, 1 << 24).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_map_run_resumes_without_rerunning_finished_children() {
    let d = tempfile::tempdir().unwrap();
    let rt = LocalRuntime::open(server::config(d.path())).unwrap();
    let n = 40;
    start_map_run_over_rows(&rt, "mr-1", n).await;
    let child = spawn_server(d.path());
    wait_for_calls(d.path(), 10);
    drop(child); // SIGKILL
    let at_kill = calls(d.path()).len();
    assert!(at_kill < n, "the kill came too late to test anything");
    let _child = spawn_server(d.path());
    let deadline = Instant::now() + Duration::from_secs(120);
    let info = loop {
        let info = rt.execution("mr-1").unwrap().unwrap();
        if info.status != ExecutionState::Running {
            break info;
        }
        assert!(
            Instant::now() < deadline,
            "the Map Run did not finish after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(info.status, ExecutionState::Succeeded, "{info:?}");
    // every row was processed; only the batches in flight at the kill (MaxConcurrency 2 of 2
    // rows) may run twice
    let all = calls(d.path());
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), n);
    assert!(
        all.len() <= n + 4,
        "{} calls for {n} rows: finished children ran again",
        all.len()
    );
    // results written once, in one Map Run folder, one entry per child
    let keys: Vec<String> = rt
        .store()
        .list(&ObjectUri::new("data-1", "results/").unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uri.key().to_string())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let manifest_key = keys.iter().find(|k| k.ends_with("/manifest.json")).unwrap();
    let manifest = object(&rt, manifest_key).await;
    let succeeded = object(
        &rt,
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert_eq!(succeeded.as_array().unwrap().len(), n / 2);
    let output: Value = info.output.clone().unwrap();
    assert_eq!(output["ResultWriterDetails"]["Key"], json!(manifest_key));
    // each child execution's history is kept and readable by its name
    let child_name = succeeded[0]["Name"].as_str().unwrap();
    let h = rt.history(child_name).unwrap().expect("child history");
    let kinds: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    let parent = rt.history("mr-1").unwrap().unwrap();
    let parent_kinds: Vec<&str> = parent["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        parent_kinds.contains(&"MapRunStarted") && parent_kinds.contains(&"MapRunSucceeded"),
        "{parent_kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_an_execution_aborts_its_map_run() {
    use stepscore_core::ports::Executions;
    let d = tempfile::tempdir().unwrap();
    let rt = LocalRuntime::open(server::config(d.path())).unwrap();
    let n = 40;
    start_map_run_over_rows(&rt, "mr-stop", n).await;
    let _child = spawn_server(d.path());
    wait_for_calls(d.path(), 4);
    rt.executions()
        .stop("mr-stop", "Operator", "stopped by the test")
        .await
        .unwrap();
    // the runner saves the history that ends with MapRunAborted once the running children end
    let deadline = Instant::now() + Duration::from_secs(30);
    let kinds = loop {
        let h = rt.history("mr-stop").unwrap().unwrap();
        let kinds: Vec<String> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        if kinds.iter().any(|k| k == "MapRunAborted") {
            break kinds;
        }
        assert!(
            Instant::now() < deadline,
            "no MapRunAborted: {kinds:?}\n{}",
            std::fs::read_to_string(d.path().join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        kinds[kinds.len() - 3..],
        ["MapRunStarted", "MapRunAborted", "ExecutionAborted"]
    );
    let info = rt.execution("mr-stop").unwrap().unwrap();
    assert_eq!(info.status, ExecutionState::Aborted);
    // no child starts after the stop: the rows called stay short of all of them
    let called = calls(d.path()).len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(calls(d.path()).len(), called);
    assert!(called < n, "{called} of {n} rows were processed");
    // nothing is published under the results prefix
    let results = rt
        .store()
        .list(&ObjectUri::new("data-1", "results/").unwrap())
        .await
        .unwrap();
    assert!(results.is_empty(), "{results:?}");
}
