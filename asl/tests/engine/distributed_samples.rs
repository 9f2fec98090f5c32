//! AWS's published Distributed Map samples (asl/testdata/distributed-map, MIT-0): each
//! validates, and the CSV iterator runs over a CSV in the store.

use serde_json::{Value, json};
use stepscore_asl::store::ItemStore;
use stepscore_asl::{
    Clock, ExecutionConfig, MachineType, TaskDispatcher, TaskOutcome, TaskRequest,
    ValidationOptions, VirtualClock,
};

use super::distributed::MemStore;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/distributed-map");

/// A sample with its `${placeholders}` filled: ARNs for functions and state machines, names
/// for the rest.
fn sample(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/{name}.asl.json")).unwrap();
    let re = regex::Regex::new(r"\$\{([A-Za-z_]+)\}").unwrap();
    let filled = re.replace_all(&text, |c: &regex::Captures<'_>| match &c[1] {
        n if n.ends_with("FunctionArn") => {
            format!("arn:aws:lambda:us-east-1:111111111111:function:{n}")
        }
        n if n.contains("StateMachine") => {
            format!("arn:aws:states:us-east-1:111111111111:stateMachine:{n}")
        }
        n => n.to_lowercase(),
    });
    serde_json::from_str(&filled).unwrap()
}

#[test]
fn every_sample_validates() {
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .strip_suffix(".asl.json")
        else {
            continue;
        };
        let d = stepscore_asl::validate(
            &sample(name),
            ValidationOptions {
                machine_type: MachineType::Standard,
                ..ValidationOptions::default()
            },
        );
        assert!(d.is_empty(), "{name}: {d:?}");
    }
}

/// Answers `states:startExecution` as StartExecution does and counts the calls.
struct StartExecutions<'s> {
    store: &'s MemStore,
    started: std::sync::Mutex<Vec<Value>>,
}

impl TaskDispatcher for StartExecutions<'_> {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        assert_eq!(request.resource, "arn:aws:states:::states:startExecution");
        self.started.lock().unwrap().push(request.input.clone());
        TaskOutcome::Succeeded(
            json!({"ExecutionArn": "arn:aws:states:us-east-1:111111111111:execution:child:x"}),
        )
    }
    fn item_store(&self) -> Option<&dyn ItemStore> {
        Some(self.store)
    }
}

#[test]
fn the_csv_iterator_sample_starts_one_child_workflow_per_row() {
    let store = MemStore::default();
    let csv = b"date,metric\n2024-01-01,3\n2024-01-02,5\n";
    store.put_in("csvbucket", "metrics.csv", csv);
    let tasks = StartExecutions {
        store: &store,
        started: Default::default(),
    };
    let clock = VirtualClock::default();
    let r = stepscore_asl::run(
        &sample("distributed-map-csv-iterator"),
        json!({}),
        ExecutionConfig::default(),
        &clock,
        &tasks,
    )
    .unwrap();
    assert_eq!(r.outcome.error, None, "{:?}", r.outcome.cause);
    let started = tasks.started.lock().unwrap();
    assert_eq!(started.len(), 2);
    assert_eq!(
        started[1]["Input"]["StatePayload"],
        json!({"date": "2024-01-02", "metric": "5"})
    );
}
