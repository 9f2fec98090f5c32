//! State machines recorded by `stepscore asl run` (the library it calls), read over HTTP: listed
//! beside the pipeline's, each with its graph per version, its executions filtered by state
//! machine, and an execution's detail naming the version it ran and each state's outcome.

use std::path::Path;

use serde_json::{Value, json};
use stepscore_asl::{ExecutionConfig, NoTasks, ValidationOptions, VirtualClock, parse_definition};
use stepscore_local::machines::Recorder;

use crate::harness::Console;

/// A Choice, a Task that fails (no resources are bound in `asl run`) and is caught, a Map.
fn flow(greeting: &str) -> Value {
    json!({"StartAt": "Route", "States": {
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Call"}], "Default": "Skip"},
        "Skip": {"Type": "Pass", "End": true},
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:none",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Each"}],
                 "End": true},
        "Each": {"Type": "Map", "ItemsPath": "$.items",
                 "ItemProcessor": {"StartAt": "Greet", "States": {
                     "Greet": {"Type": "Pass", "Result": greeting, "End": true}}},
                 "End": true}}})
}

/// Runs `definition` as `asl run` does, recorded as state machine `flow`, execution `name`.
fn run(state: &Path, definition: &Value, name: &str) {
    let recorder = Recorder::open(
        state,
        "flow",
        Path::new("flow.asl.json"),
        &definition.to_string(),
    )
    .unwrap();
    let machine = parse_definition(definition, ValidationOptions::default()).unwrap();
    recorder
        .run(
            &machine,
            Some(name),
            json!({"n": 2, "items": [1, 2]}),
            ExecutionConfig::default(),
            &VirtualClock::new(chrono::Utc::now()),
            &NoTasks,
        )
        .unwrap();
}

fn names(page: &Value) -> Vec<&str> {
    page["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_definition_is_listed_with_its_graph_and_its_execution_coloured_per_state() {
    let c = Console::start().await;
    run(&c.state_dir(), &flow("hi"), "flow-run-1");
    let (status, list) = c.get("state-machines").await;
    assert_eq!(status, 200, "{list}");
    let machines = list["state_machines"].as_array().unwrap();
    assert_eq!(machines.len(), 2, "{list}");
    assert_eq!(machines[0]["name"], "stepscore-scoring-pipeline");
    assert_eq!(machines[0]["kind"], "pipeline");
    assert_eq!(machines[1]["name"], "flow");
    assert_eq!(machines[1]["kind"], "recorded");
    assert_eq!(machines[1]["version"], 1);
    assert_eq!(machines[1]["executions"], 1);
    assert!(
        machines[1]["file"]
            .as_str()
            .unwrap()
            .ends_with("/flow.asl.json")
    );

    let (status, sm) = c.get("state-machines/flow").await;
    assert_eq!(status, 200, "{sm}");
    assert_eq!(
        sm["arn"],
        "arn:aws:states:local:000000000000:stateMachine:flow"
    );
    let edges = sm["graph"]["edges"].as_array().unwrap();
    assert!(
        edges
            .iter()
            .any(|e| e["from"] == "Call" && e["to"] == "Each" && e["kind"] == "catch")
    );
    assert!(
        edges
            .iter()
            .any(|e| e["from"] == "Route" && e["to"] == "Skip" && e["kind"] == "default")
    );
    let nodes = sm["graph"]["nodes"].as_array().unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n["id"] == "Each" && n["container"] == true)
    );

    // its executions, and only its, under its name; the pipeline's list leaves it out
    let (_, mine) = c.get("executions?state_machine=flow").await;
    assert_eq!(names(&mine), ["flow-run-1"]);
    assert_eq!(mine["executions"][0]["state_machine"], "flow");
    assert_eq!(mine["executions"][0]["status"], "SUCCEEDED");
    let (_, pipeline) = c
        .get("executions?state_machine=stepscore-scoring-pipeline")
        .await;
    assert_eq!(names(&pipeline), Vec::<&str>::new());
    let (_, all) = c.get("executions").await;
    assert_eq!(names(&all), ["flow-run-1"]);

    let (status, detail) = c.get("executions/flow-run-1").await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["state_machine"]["name"], "flow");
    assert_eq!(detail["state_machine"]["version"], 1);
    assert_eq!(detail["job_id"], Value::Null);
    assert_eq!(
        detail["execution"]["state_machine_arn"],
        "arn:aws:states:local:000000000000:stateMachine:flow"
    );
    let states = &detail["states"];
    assert_eq!(states["Route"]["status"], "succeeded");
    assert_eq!(states["Call"]["status"], "caught");
    assert_eq!(states["Each"]["status"], "succeeded");
    assert_eq!(states["Skip"], Value::Null, "never entered");
    let types: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));

    // a changed definition is version 2; the first execution keeps version 1's graph
    let mut changed = flow("hello");
    changed["States"]["Skip"] = json!({"Type": "Succeed"});
    run(&c.state_dir(), &changed, "flow-run-2");
    let (_, latest) = c.get("state-machines/flow").await;
    assert_eq!(
        (latest["version"].clone(), latest["latest_version"].clone()),
        (json!(2), json!(2))
    );
    let (_, first) = c.get("state-machines/flow?version=1").await;
    assert_eq!(first["definition"]["States"]["Skip"]["Type"], "Pass");
    let (_, second) = c.get("executions/flow-run-2").await;
    assert_eq!(second["state_machine"]["version"], 2);

    let (status, none) = c.get("state-machines/nope").await;
    assert_eq!(status, 404);
    assert!(
        none["message"]
            .as_str()
            .unwrap()
            .contains("stepscore asl run"),
        "{none}"
    );
    let (status, bad) = c.get("executions?state_machine=a%20b").await;
    assert_eq!(status, 400, "{bad}");
    c.shutdown().await;
}
