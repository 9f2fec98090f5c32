//! Distributed Map, specified: each ItemReader type over an in-memory object store (empty
//! source, one item, malformed input, header-only CSV), ItemBatcher, tolerated failures at the
//! boundary, ResultWriter's layout, Map Run events, the Map Run journal, and validation.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use stepscore_asl::store::{ChildRecord, ItemStore, ObjectInfo, ObjectSink};
use stepscore_asl::{
    Clock, ExecutionConfig, ExecutionStatus, MachineType, NoTasks, RunResult, TaskDispatcher,
    TaskOutcome, TaskRequest, ValidationOptions, VirtualClock,
};

/// An object store in memory, with a Map Run journal.
#[derive(Default)]
pub(super) struct MemStore {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    journal: Mutex<Vec<(String, ChildRecord)>>,
    children_run: Mutex<u64>,
}

impl MemStore {
    pub(super) fn with(objects: &[(&str, &[u8])]) -> MemStore {
        let s = MemStore::default();
        for (k, v) in objects {
            s.put(k, v);
        }
        s
    }

    pub(super) fn put(&self, key: &str, bytes: &[u8]) {
        self.put_in("in", key, bytes);
    }

    pub(super) fn put_in(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), bytes.to_vec());
    }

    fn object(&self, bucket: &str, key: &str) -> Option<Value> {
        let o = self.objects.lock().unwrap();
        o.get(&(bucket.to_string(), key.to_string()))
            .map(|b| serde_json::from_slice(b).expect("results are JSON"))
    }

    fn keys(&self, bucket: &str) -> Vec<String> {
        let o = self.objects.lock().unwrap();
        o.keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

struct MemSink<'s> {
    store: &'s MemStore,
    bucket: String,
    key: String,
    buf: Vec<u8>,
}

impl Write for MemSink<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ObjectSink for MemSink<'_> {
    fn commit(self: Box<Self>) -> Result<u64, String> {
        let n = self.buf.len() as u64;
        self.store
            .objects
            .lock()
            .unwrap()
            .insert((self.bucket, self.key), self.buf);
        Ok(n)
    }
}

impl ItemStore for MemStore {
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<Vec<ObjectInfo>, String> {
        let o = self.objects.lock().unwrap();
        Ok(o.iter()
            .filter(|((b, k), _)| {
                b == bucket && k.starts_with(prefix) && start_after.is_none_or(|a| k.as_str() > a)
            })
            .take(max_keys)
            .map(|((_, k), v)| ObjectInfo {
                key: k.clone(),
                etag: format!("\"etag-{}\"", v.len()),
                last_modified: "2024-01-01T00:00:00.000Z".into(),
                size: v.len() as u64,
                storage_class: "STANDARD".into(),
            })
            .collect())
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Box<dyn Read + Send + '_>, String> {
        let o = self.objects.lock().unwrap();
        match o.get(&(bucket.to_string(), key.to_string())) {
            Some(b) => Ok(Box::new(std::io::Cursor::new(b.clone()))),
            None => Err(format!("s3://{bucket}/{key} does not exist")),
        }
    }

    fn create(&self, bucket: &str, key: &str) -> Result<Box<dyn ObjectSink + '_>, String> {
        Ok(Box::new(MemSink {
            store: self,
            bucket: bucket.into(),
            key: key.into(),
            buf: Vec::new(),
        }))
    }

    fn finished_children(&self, arn: &str) -> Result<Vec<ChildRecord>, String> {
        let j = self.journal.lock().unwrap();
        Ok(j.iter()
            .filter(|(a, _)| a == arn)
            .map(|(_, c)| c.clone())
            .collect())
    }

    fn record_child(&self, arn: &str, child: &ChildRecord) -> Result<(), String> {
        *self.children_run.lock().unwrap() += 1;
        self.journal
            .lock()
            .unwrap()
            .push((arn.into(), child.clone()));
        Ok(())
    }
}

struct WithStore<'s>(&'s MemStore);

impl TaskDispatcher for WithStore<'_> {
    fn dispatch(&self, request: &TaskRequest<'_>, clock: &dyn Clock) -> TaskOutcome {
        NoTasks.dispatch(request, clock)
    }
    fn item_store(&self) -> Option<&dyn ItemStore> {
        Some(self.0)
    }
}

/// A Distributed Map state `Map` with these extra fields, processing each child with `processor`.
pub(super) fn machine(fields: Value, processor: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P",
            "States": processor,
        },
        "End": true,
    });
    for (k, v) in fields.as_object().unwrap() {
        map[k] = v.clone();
    }
    json!({"StartAt": "Map", "States": {"Map": map}})
}

pub(super) fn pass() -> Value {
    json!({"P": {"Type": "Pass", "End": true}})
}

/// Fails the child whose input has `"v": "bad"`.
fn fail_on_bad() -> Value {
    json!({
        "P": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringEquals": "bad", "Next": "F"}], "Default": "S"},
        "F": {"Type": "Fail", "Error": "Bad", "Cause": "bad item"},
        "S": {"Type": "Succeed"}
    })
}

pub(super) fn run(def: &Value, input: Value, store: &MemStore) -> RunResult {
    let clock = VirtualClock::default();
    stepscore_asl::run(
        def,
        input,
        ExecutionConfig::default(),
        &clock,
        &WithStore(store),
    )
    .expect("definition is valid")
}

pub(super) fn reader(resource: &str, params: Value, config: Value) -> Value {
    json!({"ItemReader": {"Resource": format!("arn:aws:states:::s3:{resource}"), "Parameters": params, "ReaderConfig": config}})
}

pub(super) fn get_object(input_type: &str) -> Value {
    reader(
        "getObject",
        json!({"Bucket": "in", "Key": "data"}),
        json!({"InputType": input_type}),
    )
}

/// Runs a reader over `data` and returns the output (items through a Pass) or error and cause.
pub(super) fn read(fields: Value, data: &[u8]) -> Result<Value, (String, String)> {
    let store = MemStore::with(&[("data", data)]);
    let r = run(&machine(fields, pass()), json!({}), &store);
    match r.outcome.status {
        ExecutionStatus::Succeeded => Ok(r.outcome.output.unwrap()),
        _ => Err((
            r.outcome.error.unwrap(),
            r.outcome.cause.unwrap_or_default(),
        )),
    }
}

#[test]
fn csv_reader_yields_one_object_per_row_keyed_by_the_first_row() {
    assert_eq!(read(get_object("CSV"), b"").unwrap(), json!([]));
    assert_eq!(read(get_object("CSV"), b"id,name\n").unwrap(), json!([]));
    assert_eq!(
        read(get_object("CSV"), b"id,name\n1,ann\n").unwrap(),
        json!([{"id": "1", "name": "ann"}])
    );
    // a row with fewer fields than the header is not malformed on AWS (item_reader.rs); text
    // that is not UTF-8 is
    let (error, cause) = read(get_object("CSV"), b"id,name\n1,ann\n2,\xff\n").unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "The CSV row at line 3 of s3://in/data is not UTF-8 text; save the file as UTF-8"
    );
}

#[test]
fn csv_reader_takes_given_headers_and_a_delimiter() {
    let fields = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "data"}),
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"], "CSVDelimiter": "PIPE", "MaxItems": 2}),
    );
    assert_eq!(
        read(fields, b"1|x\n2|y\n3|z\n").unwrap(),
        json!([{"a": "1", "b": "x"}, {"a": "2", "b": "y"}])
    );
}

#[test]
fn json_reader_yields_the_array_elements() {
    assert_eq!(read(get_object("JSON"), b"[]").unwrap(), json!([]));
    assert_eq!(
        read(get_object("JSON"), b"[{\"k\":1}]").unwrap(),
        json!([{"k": 1}])
    );
    let (error, cause) = read(get_object("JSON"), b"[{\"k\":1},\n{\"k\":]").unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert!(cause.contains("line 2"), "{cause}");
    let (_, cause) = read(get_object("JSON"), b"{\"k\":1}").unwrap_err();
    assert!(cause.contains("holds a JSON object"), "{cause}");
}

#[test]
fn jsonl_reader_yields_one_item_per_line() {
    assert_eq!(read(get_object("JSONL"), b"").unwrap(), json!([]));
    assert_eq!(
        read(get_object("JSONL"), b"{\"k\":1}\n").unwrap(),
        json!([{"k": 1}])
    );
    let (error, cause) = read(get_object("JSONL"), b"{\"k\":1}\n{oops}\n").unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert!(cause.contains("line 2 of s3://in/data"), "{cause}");
}

#[test]
fn list_objects_yields_the_fields_s3_returns_for_each_object() {
    let fields = reader(
        "listObjectsV2",
        json!({"Bucket": "in", "Prefix": "logs/"}),
        json!({}),
    );
    let store = MemStore::with(&[("other", b"x")]);
    let r = run(&machine(fields.clone(), pass()), json!({}), &store);
    assert_eq!(r.outcome.output, Some(json!([])));
    store.put("logs/a.txt", b"abc");
    let r = run(&machine(fields, pass()), json!({}), &store);
    assert_eq!(
        r.outcome.output,
        Some(
            json!([{"Etag": "\"etag-3\"", "Key": "logs/a.txt", "LastModified": 1704067200, "Size": 3, "StorageClass": "STANDARD"}])
        )
    );
}

#[test]
fn manifest_reader_reads_the_inventory_data_files() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"\"src\",\"k1\",\"10\"\n\"src\",\"k2\",\"20\"\n")
        .unwrap();
    let gz = gz.finish().unwrap();
    let manifest = json!({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::in", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/a.csv.gz", "size": 1, "MD5checksum": "x"}, {"key": "inv/data/b.csv", "size": 1, "MD5checksum": "y"}]
    });
    let store = MemStore::with(&[
        ("inv/manifest.json", manifest.to_string().as_bytes()),
        ("inv/data/a.csv.gz", &gz),
        ("inv/data/b.csv", b""),
    ]);
    let fields = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "inv/manifest.json"}),
        json!({"InputType": "MANIFEST"}),
    );
    let r = run(&machine(fields, pass()), json!({}), &store);
    assert_eq!(
        r.outcome.output,
        Some(
            json!([{"Bucket": "src", "Key": "k1", "Size": "10"}, {"Bucket": "src", "Key": "k2", "Size": "20"}])
        )
    );
    // a data file that is not UTF-8 text fails the reader, naming the file
    store.put("inv/data/b.csv", b"\"src\",\"k\xff\"\n");
    let r = run(
        &machine(
            reader(
                "getObject",
                json!({"Bucket": "in", "Key": "inv/manifest.json"}),
                json!({"InputType": "MANIFEST"}),
            ),
            pass(),
        ),
        json!({}),
        &store,
    );
    assert_eq!(r.outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    assert!(r.outcome.cause.unwrap().contains("s3://in/inv/data/b.csv"));
}

#[test]
fn a_missing_object_fails_the_reader_naming_it() {
    let store = MemStore::default();
    let r = run(&machine(get_object("CSV"), pass()), json!({}), &store);
    assert_eq!(r.outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    assert_eq!(
        r.outcome.cause.as_deref(),
        Some("s3://in/data does not exist")
    );
}

#[test]
fn item_batcher_groups_selected_items_with_batch_input() {
    let fields = json!({
        "ItemsPath": "$.xs",
        "ItemSelector": {"x.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"job.$": "$.job"}},
    });
    let r = run(
        &machine(fields, pass()),
        json!({"xs": [10, 20, 30], "job": "j"}),
        &MemStore::default(),
    );
    assert_eq!(
        r.outcome.output,
        Some(json!([
            {"Items": [{"x": 10, "i": 0}, {"x": 20, "i": 1}], "job": "j"},
            {"Items": [{"x": 30, "i": 2}], "job": "j"}
        ]))
    );
}

#[test]
fn item_batcher_closes_a_batch_before_it_passes_max_input_bytes() {
    // Each item is 7 bytes; the envelope {"Items":[]} is 12: two items fit in 28 bytes, three do not.
    let fields = json!({"ItemBatcher": {"MaxInputBytesPerBatch": 28}});
    let r = run(
        &machine(fields, pass()),
        json!(["aaaaa", "bbbbb", "ccccc"]),
        &MemStore::default(),
    );
    assert_eq!(
        r.outcome.output,
        Some(json!([{"Items": ["aaaaa", "bbbbb"]}, {"Items": ["ccccc"]}]))
    );
}

/// Four items, `bad` of them failing, under these tolerance fields: the error, if any.
fn tolerance(bad: usize, fields: Value) -> Option<String> {
    let items: Vec<Value> = (0..4)
        .map(|i| json!({"v": if i < bad { "bad" } else { "ok" }}))
        .collect();
    let r = run(
        &machine(fields, fail_on_bad()),
        Value::Array(items),
        &MemStore::default(),
    );
    r.outcome.error
}

#[test]
fn tolerated_failures_hold_at_the_boundary_and_fail_one_past_it() {
    let exceeded = Some("States.ExceedToleratedFailureThreshold".to_string());
    assert_eq!(tolerance(0, json!({})), None);
    assert_eq!(tolerance(1, json!({})), exceeded);
    assert_eq!(tolerance(1, json!({"ToleratedFailureCount": 1})), None);
    assert_eq!(tolerance(2, json!({"ToleratedFailureCount": 1})), exceeded);
    assert_eq!(
        tolerance(1, json!({"ToleratedFailurePercentage": 25})),
        None
    );
    assert_eq!(
        tolerance(1, json!({"ToleratedFailurePercentage": 24.9})),
        exceeded
    );
    assert_eq!(
        tolerance(4, json!({"ToleratedFailurePercentage": 100})),
        None
    );
}

#[test]
fn a_tolerated_failure_appears_in_the_output_as_error_and_cause() {
    let items = json!([{"v": "bad"}, {"v": "ok"}]);
    let r = run(
        &machine(json!({"ToleratedFailureCount": 1}), fail_on_bad()),
        items,
        &MemStore::default(),
    );
    assert_eq!(
        r.outcome.output,
        Some(json!([{"Error": "Bad", "Cause": "bad item"}, {"v": "ok"}]))
    );
}

#[test]
fn the_map_run_is_recorded_in_the_parent_history_and_children_are_not() {
    let r = run(
        &machine(json!({"Label": "lbl"}), pass()),
        json!([1, 2]),
        &MemStore::default(),
    );
    let kinds: Vec<&str> = r.history.events.iter().map(|e| &*e.kind).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let arn = r.history.events[2].details.extra.as_ref().unwrap()["mapRunArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:StateMachine/lbl:"),
        "{arn}"
    );
}

#[test]
fn result_writer_writes_aws_layout_and_returns_the_manifest_location() {
    let store = MemStore::default();
    let fields = json!({
        "ToleratedFailureCount": 1,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs/"}},
    });
    let r = run(
        &machine(fields, fail_on_bad()),
        json!([{"v": "ok"}, {"v": "bad"}]),
        &store,
    );
    let out = r
        .outcome
        .output
        .expect("the run succeeds within its tolerance");
    let arn = out["MapRunArn"].as_str().unwrap();
    let id = arn.rsplit(':').next().unwrap();
    assert_eq!(
        out["ResultWriterDetails"],
        json!({"Bucket": "out", "Key": format!("runs/{id}/manifest.json")})
    );
    assert_eq!(
        store.keys("out"),
        [
            format!("runs/{id}/FAILED_0.json"),
            format!("runs/{id}/SUCCEEDED_0.json"),
            format!("runs/{id}/manifest.json")
        ]
    );
    let manifest = store
        .object("out", &format!("runs/{id}/manifest.json"))
        .unwrap();
    assert_eq!(manifest["DestinationBucket"], "out");
    assert_eq!(manifest["MapRunArn"], arn);
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    assert_eq!(
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
        format!("runs/{id}/SUCCEEDED_0.json")
    );
    let succeeded = store
        .object("out", &format!("runs/{id}/SUCCEEDED_0.json"))
        .unwrap();
    let s = &succeeded[0];
    assert_eq!(s["Status"], "SUCCEEDED");
    assert_eq!(s["Input"], "{\"v\":\"ok\"}");
    assert_eq!(s["Output"], "{\"v\":\"ok\"}");
    assert_eq!(s["InputDetails"], json!({"Included": true}));
    assert!(
        s["ExecutionArn"]
            .as_str()
            .unwrap()
            .contains(":execution:StateMachine/Map:")
    );
    let failed = store
        .object("out", &format!("runs/{id}/FAILED_0.json"))
        .unwrap();
    assert_eq!(
        (&failed[0]["Error"], &failed[0]["Cause"]),
        (&json!("Bad"), &json!("bad item"))
    );
    let size = manifest["ResultFiles"]["FAILED"][0]["Size"]
        .as_u64()
        .unwrap();
    assert_eq!(size, serde_json::to_vec(&failed).unwrap().len() as u64);
}

#[test]
fn a_failed_map_run_lists_the_children_it_never_started_as_pending() {
    let store = MemStore::default();
    let fields = json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}}});
    let r = run(
        &machine(fields, fail_on_bad()),
        json!([{"v": "bad"}, {"v": "ok"}, {"v": "ok"}]),
        &store,
    );
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    assert_eq!(
        r.outcome.cause.as_deref(),
        Some("The specified tolerated failure threshold was exceeded")
    );
    let manifest_key = store
        .keys("out")
        .into_iter()
        .find(|k| k.ends_with("manifest.json"))
        .unwrap();
    let manifest = store.object("out", &manifest_key).unwrap();
    let pending_key = manifest["ResultFiles"]["PENDING"][0]["Key"]
        .as_str()
        .unwrap();
    let pending = store.object("out", pending_key).unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 2);
    assert_eq!(pending[0]["Status"], "PENDING");
    assert_eq!(*store.children_run.lock().unwrap(), 1);
    let kinds: Vec<&str> = r.history.events.iter().map(|e| &*e.kind).collect();
    assert!(kinds.contains(&"MapRunFailed") && !kinds.contains(&"MapStateFailed"));
}

#[test]
fn a_resumed_map_run_takes_finished_children_from_its_journal() {
    let store = MemStore::default();
    let def = machine(json!({}), pass());
    let first = run(&def, json!([1, 2, 3]), &store);
    assert_eq!(first.outcome.output, Some(json!([1, 2, 3])));
    assert_eq!(*store.children_run.lock().unwrap(), 3);
    // The same execution entering the same state again (a resume) finds the journal: the
    // recorded output of child 1 is used, nothing runs again.
    store.journal.lock().unwrap()[1].1.output = Some("\"from journal\"".into());
    let again = run(&def, json!([1, 2, 3]), &store);
    assert_eq!(again.outcome.output, Some(json!([1, "from journal", 3])));
    assert_eq!(*store.children_run.lock().unwrap(), 3);
}

#[test]
fn a_retried_map_run_runs_its_children_again_rather_than_reading_the_failed_ones_back() {
    let store = MemStore::default();
    let mut def = machine(json!({}), json!({"P": {"Type": "Fail", "Error": "Boom"}}));
    def["States"]["Map"]["Retry"] =
        json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}]);
    let r = run(&def, json!([1, 2, 3]), &store);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // children run in order and the first failure ends a Map Run with no tolerance: one child
    // in each of two Map Runs. The retry is a new Map Run, not the failed one read back from
    // the journal (which ran one child in all).
    assert_eq!(*store.children_run.lock().unwrap(), 2);
}

#[test]
fn an_oversized_child_input_fails_that_child_with_data_limit_exceeded() {
    let fields = json!({"ItemsPath": "$.xs", "ToleratedFailureCount": 1, "ItemSelector": {"a.$": "$.big", "b.$": "$.big", "i.$": "$$.Map.Item.Value"}});
    let def = machine(
        fields,
        json!({"P": {"Type": "Pass", "OutputPath": "$.i", "End": true}}),
    );
    let input = json!({"big": "x".repeat(150_000), "xs": [0]});
    let r = run(&def, input, &MemStore::default());
    let out = r.outcome.output.unwrap();
    assert_eq!(out[0]["Error"], "States.DataLimitExceeded");
    let small = json!({"big": "x", "xs": [0]});
    assert_eq!(
        run(&def, small, &MemStore::default()).outcome.output,
        Some(json!([0]))
    );
}

#[test]
fn without_a_store_an_item_reader_fails_saying_so() {
    let clock = VirtualClock::default();
    let r = stepscore_asl::run(
        &machine(get_object("CSV"), pass()),
        json!({}),
        ExecutionConfig::default(),
        &clock,
        &NoTasks,
    )
    .unwrap();
    assert_eq!(r.outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    assert!(r.outcome.cause.unwrap().contains("needs an object store"));
}

/// Validation diagnostics of a Map with these fields, as `location: message`.
pub(super) fn diagnostics(fields: Value, processor_config: Value) -> Vec<String> {
    let mut def = machine(fields, pass());
    def["States"]["Map"]["ItemProcessor"]["ProcessorConfig"] = processor_config;
    stepscore_asl::validate(
        &def,
        ValidationOptions {
            machine_type: MachineType::Standard,
            ..ValidationOptions::default()
        },
    )
    .iter()
    .map(|d| format!("{}: {}", d.location.clone().unwrap_or_default(), d.message))
    .collect()
}

#[test]
fn validation_checks_distributed_fields_structurally() {
    let dist = json!({"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"});
    assert!(diagnostics(get_object("CSV"), dist.clone()).is_empty());
    assert_eq!(
        diagnostics(get_object("CSV"), json!({"Mode": "INLINE"})),
        [
            "/States/Map/ItemReader: Field 'ItemReader' is only supported when ItemProcessor.ProcessorConfig.Mode is DISTRIBUTED"
        ]
    );
    assert_eq!(
        diagnostics(json!({}), json!({"Mode": "DISTRIBUTED"})),
        [
            "/States/Map/ItemProcessor/ProcessorConfig: These fields are required: [ExecutionType] (STANDARD or EXPRESS) when Mode is DISTRIBUTED"
        ]
    );
    assert_eq!(
        diagnostics(get_object("XML"), dist.clone()),
        [
            "/States/Map/ItemReader/ReaderConfig/InputType: Value \"XML\" is not one of [CSV, JSON, JSONL, PARQUET, MANIFEST]"
        ]
    );
    let given = reader(
        "getObject",
        json!({"Bucket": "b", "Key": "k"}),
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}),
    );
    assert_eq!(
        diagnostics(given, dist.clone()),
        [
            "/States/Map/ItemReader/ReaderConfig: These fields are required: [CSVHeaders] when CSVHeaderLocation is GIVEN"
        ]
    );
    assert_eq!(
        diagnostics(
            json!({"ItemBatcher": {"MaxInputBytesPerBatch": 300000}}),
            dist.clone()
        ),
        [
            "/States/Map/ItemBatcher/MaxInputBytesPerBatch: MaxInputBytesPerBatch must be at most 262144 (256 KiB) but got 300000"
        ]
    );
    assert_eq!(
        diagnostics(json!({"ResultWriter": {}}), dist.clone()),
        [
            "/States/Map/ResultWriter: The ResultWriter field cannot be empty: give Resource and Parameters, WriterConfig, or all three"
        ]
    );
    assert_eq!(
        diagnostics(json!({"Label": "has space"}), dist),
        [
            "/States/Map/Label: Label 'has space' must be 1 to 40 characters without whitespace, brackets, wildcards or any of \" # % \\ ^ | ~ ` $ & , ; : /"
        ]
    );
}

/// A dispatcher that may be called from several threads: each call sleeps the item's `ms`
/// (real time) and counts how many calls are in flight at once; an item with `"v": "bad"` fails.
#[derive(Default)]
struct Concurrent<'s> {
    store: Option<&'s MemStore>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    calls: Mutex<Vec<Value>>,
    /// The execution counts as stopped (StopExecution) once this many calls have begun.
    stop_after_calls: Option<usize>,
}

impl TaskDispatcher for Concurrent<'_> {
    fn dispatch(&self, request: &TaskRequest<'_>, _clock: &dyn Clock) -> TaskOutcome {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        self.calls.lock().unwrap().push(request.input.clone());
        let ms = request.input["ms"].as_u64().unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if request.input["v"] == "bad" {
            return TaskOutcome::Failed {
                error: "Bad".into(),
                cause: Some("bad item".into()),
            };
        }
        TaskOutcome::Succeeded(request.input["v"].clone())
    }
    fn item_store(&self) -> Option<&dyn ItemStore> {
        self.store.map(|s| s as &dyn ItemStore)
    }
    fn concurrent(&self) -> Option<&(dyn TaskDispatcher + Sync)> {
        Some(self)
    }
    fn stop_requested(&self) -> bool {
        self.stop_after_calls
            .is_some_and(|n| self.calls.lock().unwrap().len() >= n)
    }
}

/// Each child calls the dispatcher once with its item.
fn slow_task() -> Value {
    json!({"P": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow", "End": true}})
}

fn run_concurrent(def: &Value, input: Value, tasks: &Concurrent<'_>) -> RunResult {
    let clock = VirtualClock::default();
    stepscore_asl::run(def, input, ExecutionConfig::default(), &clock, tasks).expect("valid")
}

/// `n` items that each take `ms` milliseconds, with values 0, 1, ...
fn timed_items(n: u64, ms: impl Fn(u64) -> u64) -> Value {
    Value::Array((0..n).map(|i| json!({"v": i, "ms": ms(i)})).collect())
}

#[test]
fn children_run_concurrently_up_to_max_concurrency() {
    let tasks = Concurrent::default();
    let def = machine(json!({"MaxConcurrency": 3}), slow_task());
    let r = run_concurrent(&def, timed_items(9, |_| 100), &tasks);
    assert_eq!(r.outcome.output, Some(json!([0, 1, 2, 3, 4, 5, 6, 7, 8])));
    assert_eq!(tasks.most_in_flight.load(Ordering::SeqCst), 3);
}

#[test]
fn without_max_concurrency_every_child_may_run_at_once() {
    let tasks = Concurrent::default();
    let def = machine(json!({}), slow_task());
    let r = run_concurrent(&def, timed_items(6, |_| 300), &tasks);
    assert_eq!(r.outcome.output, Some(json!([0, 1, 2, 3, 4, 5])));
    assert_eq!(tasks.most_in_flight.load(Ordering::SeqCst), 6);
}

#[test]
fn max_concurrency_one_runs_children_one_at_a_time() {
    let tasks = Concurrent::default();
    let def = machine(json!({"MaxConcurrency": 1}), slow_task());
    let r = run_concurrent(&def, timed_items(4, |_| 20), &tasks);
    assert_eq!(r.outcome.output, Some(json!([0, 1, 2, 3])));
    assert_eq!(tasks.most_in_flight.load(Ordering::SeqCst), 1);
}

#[test]
fn results_keep_item_order_when_later_children_end_first() {
    let store = MemStore::default();
    let tasks = Concurrent {
        store: Some(&store),
        ..Concurrent::default()
    };
    let fields = json!({
        "MaxConcurrency": 5,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}, "WriterConfig": {"Transformation": "COMPACT"}},
    });
    // child i sleeps (5 - i) * 40 ms: they end in the reverse of their order
    let r = run_concurrent(
        &machine(fields, slow_task()),
        timed_items(5, |i| (5 - i) * 40),
        &tasks,
    );
    let out = r.outcome.output.expect("the Map Run succeeds");
    let id = out["MapRunArn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(
        store.object("out", &format!("{id}/SUCCEEDED_0.json")),
        Some(json!([0, 1, 2, 3, 4]))
    );
    assert!(tasks.most_in_flight.load(Ordering::SeqCst) > 1);
}

#[test]
fn once_the_tolerated_failures_are_exceeded_no_child_starts() {
    let store = MemStore::default();
    let tasks = Concurrent {
        store: Some(&store),
        ..Concurrent::default()
    };
    let fields = json!({
        "MaxConcurrency": 2,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}},
    });
    // child 0 fails after 50 ms while child 1 (300 ms) runs; children 2..9 never start
    let mut items = timed_items(10, |_| 300);
    items[0] = json!({"v": "bad", "ms": 50});
    let r = run_concurrent(&machine(fields, slow_task()), items, &tasks);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    assert_eq!(tasks.calls.lock().unwrap().len(), 2);
    let manifest_key = store
        .keys("out")
        .into_iter()
        .find(|k| k.ends_with("manifest.json"))
        .unwrap();
    let manifest = store.object("out", &manifest_key).unwrap();
    let file = |status: &str| {
        store
            .object(
                "out",
                manifest["ResultFiles"][status][0]["Key"].as_str().unwrap(),
            )
            .unwrap()
    };
    let names = |v: Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(e["Input"].as_str().unwrap()).unwrap())
            .map(|i: Value| i["v"].clone())
            .collect()
    };
    assert_eq!(names(file("FAILED")), [json!("bad")]);
    assert_eq!(names(file("SUCCEEDED")), [json!(1)]);
    assert_eq!(
        names(file("PENDING")),
        (2..10).map(|i| json!(i)).collect::<Vec<_>>()
    );
}

#[test]
fn a_resumed_concurrent_map_run_runs_no_finished_child_again() {
    let store = MemStore::default();
    let tasks = Concurrent {
        store: Some(&store),
        ..Concurrent::default()
    };
    let def = machine(json!({"MaxConcurrency": 4}), slow_task());
    let first = run_concurrent(&def, timed_items(8, |i| (8 - i) * 10), &tasks);
    assert_eq!(first.outcome.output, Some(json!([0, 1, 2, 3, 4, 5, 6, 7])));
    assert_eq!(tasks.calls.lock().unwrap().len(), 8);
    assert_eq!(*store.children_run.lock().unwrap(), 8);
    // a resume finds all eight in the journal (journaled in the order they ended) and runs none
    store.journal.lock().unwrap()[0].1.output = Some("\"from journal\"".into());
    let again = run_concurrent(&def, timed_items(8, |i| (8 - i) * 10), &tasks);
    let out = again.outcome.output.unwrap();
    assert_eq!(out.as_array().unwrap().len(), 8);
    assert_eq!(
        out.as_array()
            .unwrap()
            .iter()
            .filter(|v| **v == json!("from journal"))
            .count(),
        1
    );
    assert_eq!(tasks.calls.lock().unwrap().len(), 8);
    assert_eq!(*store.children_run.lock().unwrap(), 8);
}

#[test]
fn a_child_execution_has_a_context_object_of_its_own() {
    let store = MemStore::default();
    let r = run(
        &machine(
            json!({
                "Label": "rows",
                "ItemsPath": "$.items",
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}},
            }),
            json!({"P": {"Type": "Pass", "Parameters": {
                "id.$": "$$.Execution.Id",
                "name.$": "$$.Execution.Name",
                "input.$": "$$.Execution.Input",
                "start.$": "$$.Execution.StartTime",
                "role.$": "$$.Execution.RoleArn",
                "redrives.$": "$$.Execution.RedriveCount",
                "machine.$": "$$.StateMachine.Id",
                "machineName.$": "$$.StateMachine.Name"
            }, "End": true}}),
        ),
        json!({"parent": "input", "items": [{"k": 1}, {"k": 2}]}),
        &store,
    );
    let out = r.outcome.output.expect("the Map Run succeeds");
    let id = out["MapRunArn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    let results = store
        .object("out", &format!("{id}/SUCCEEDED_0.json"))
        .unwrap();
    for (i, entry) in results.as_array().unwrap().iter().enumerate() {
        let seen: Value = serde_json::from_str(entry["Output"].as_str().unwrap()).unwrap();
        // the child's context names the child execution the results file lists
        assert_eq!(seen["id"], entry["ExecutionArn"]);
        assert_eq!(seen["name"], entry["Name"]);
        assert_eq!(seen["start"], entry["StartDate"]);
        assert_eq!(seen["input"], json!({"k": i + 1}));
        assert_eq!(seen["machine"], entry["StateMachineArn"]);
        assert_eq!(
            seen["machine"],
            "arn:aws:states:us-east-1:111111111111:stateMachine:StateMachine/rows"
        );
        assert_eq!(seen["machineName"], "StateMachine/rows");
        assert_eq!(
            seen["role"],
            "arn:aws:iam::111111111111:role/StepFunctionsRole"
        );
        assert_eq!(seen["redrives"], 0);
        assert!(
            seen["id"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:states:us-east-1:111111111111:execution:StateMachine/rows:"),
            "{seen}"
        );
    }
}

#[test]
fn stopping_the_parent_aborts_the_map_run_and_its_children() {
    let store = MemStore::default();
    let tasks = Concurrent {
        store: Some(&store),
        stop_after_calls: Some(2),
        ..Concurrent::default()
    };
    let fields = json!({
        "MaxConcurrency": 2,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}},
    });
    let processor = json!({
        "P": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow", "Next": "After"},
        "After": {"Type": "Pass", "End": true}
    });
    // the stop comes while children 0 and 1 are in their Task (300 ms)
    let r = run_concurrent(
        &machine(fields, processor),
        timed_items(10, |_| 300),
        &tasks,
    );
    assert_eq!(r.outcome.status, ExecutionStatus::Aborted);
    let kinds: Vec<&str> = r.history.events.iter().map(|e| &*e.kind).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapRunStarted",
            "MapRunAborted"
        ]
    );
    // no child started after the stop; the two running end ABORTED before their next state
    assert_eq!(tasks.calls.lock().unwrap().len(), 2);
    let journal = store.journal.lock().unwrap();
    let statuses: Vec<&str> = journal.iter().map(|(_, c)| c.status.as_str()).collect();
    assert_eq!(statuses, ["ABORTED", "ABORTED"]);
    drop(journal);
    // an aborted Map Run publishes no results
    assert_eq!(store.keys("out"), Vec::<String>::new());
}

/// A JSONata machine: Distributed Map `Map` with these fields, then `After` (its output is the
/// Map's output and the variable `run`).
fn jsonata_machine(fields: Value, processor: Value) -> Value {
    let mut def = machine(fields, processor);
    def["QueryLanguage"] = json!("JSONata");
    def["States"]["Map"]["End"] = Value::Null;
    def["States"]["Map"].as_object_mut().unwrap().remove("End");
    def["States"]["Map"]["Next"] = json!("After");
    def["States"]["After"] = json!({"Type": "Pass", "Output": {"map": "{% $states.input %}", "run": "{% $exists($run) ? $run : null %}"}, "End": true});
    def
}

/// The Map ran as a Map Run of child executions, not as an inline Map's iterations.
fn assert_ran_as_a_map_run(r: &RunResult) {
    let kinds: Vec<&str> = r.history.events.iter().map(|e| &*e.kind).collect();
    assert!(
        kinds.contains(&"MapRunSucceeded") && !kinds.contains(&"MapIterationStarted"),
        "{kinds:?}"
    );
}

#[test]
fn a_jsonata_distributed_map_evaluates_every_field_as_an_expression() {
    let store = MemStore::default();
    store.put_in("in", "rows.csv", b"id,v\n1,a\n2,b\n3,c\n4,d\n");
    let fields = json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "MaxItems": "{% $states.input.max %}"},
            "Arguments": {"Bucket": "{% $states.input.bucket %}", "Key": "{% $states.input.key %}"}
        },
        "ItemSelector": {"id": "{% $states.context.Map.Item.Value.id %}", "i": "{% $states.context.Map.Item.Index %}"},
        "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.per %}", "BatchInput": {"job": "{% $states.input.job %}"}},
        "MaxConcurrency": "{% $states.input.conc %}",
        "ToleratedFailureCount": "{% $states.input.tolerated %}",
        "ToleratedFailurePercentage": "{% $states.input.pct %}",
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Arguments": {"Bucket": "{% $states.input.out %}", "Prefix": "{% 'runs/' & $states.input.job %}"},
            "WriterConfig": {"Transformation": "COMPACT"}
        },
        "Output": {"manifest": "{% $states.result.ResultWriterDetails.Key %}"},
        "Assign": {"run": "{% $states.result.MapRunArn %}"}
    });
    let processor = json!({"P": {"Type": "Pass", "Output": {
        "ids": "{% $states.input.Items.id %}",
        "at": "{% $states.input.Items.i %}",
        "job": "{% $states.input.job %}",
        "me": "{% $states.context.Execution.Name %}"
    }, "End": true}});
    let input = json!({"bucket": "in", "key": "rows.csv", "max": 3, "per": 2, "job": "j1", "conc": 2, "tolerated": 0, "pct": 0, "out": "out"});
    let r = run(&jsonata_machine(fields, processor), input, &store);
    assert_eq!(r.outcome.error, None, "{:?}", r.outcome.cause);
    let out = r.outcome.output.unwrap();
    let run_arn = out["run"]
        .as_str()
        .expect("Assign set $run to the Map Run's ARN");
    let id = run_arn.rsplit(':').next().unwrap();
    assert_eq!(
        out["map"],
        json!({"manifest": format!("runs/j1/{id}/manifest.json")})
    );
    let results = store
        .object("out", &format!("runs/j1/{id}/SUCCEEDED_0.json"))
        .unwrap();
    // MaxItems 3 of 4 rows, batches of 2, each batch with its BatchInput
    assert_eq!(results[0]["ids"], json!(["1", "2"]));
    assert_eq!(results[0]["at"], json!([0, 1]));
    assert_eq!(results[1]["ids"], json!("3"));
    assert_eq!(results[1]["job"], "j1");
    assert!(results[0]["me"].as_str().unwrap().len() == 36);
}

#[test]
fn a_jsonata_distributed_map_takes_items_from_an_expression() {
    let def = jsonata_machine(
        json!({
            "Items": "{% $states.input.xs %}",
            "ItemSelector": {"x": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"}
        }),
        pass(),
    );
    let r = run(&def, json!({"xs": ["a", "b"]}), &MemStore::default());
    assert_ran_as_a_map_run(&r);
    assert_eq!(
        r.outcome.output.unwrap()["map"],
        json!([{"x": "a", "i": 0}, {"x": "b", "i": 1}])
    );
    // Items that are not an array is the state's catchable States.QueryEvaluationError
    let mut def = def;
    def["States"]["Map"]["Catch"] = json!([{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "After", "Output": "caught"}]);
    let r = run(&def, json!({"xs": "nope"}), &MemStore::default());
    assert_eq!(r.outcome.output.unwrap()["map"], "caught");
}

#[test]
fn a_jsonata_tolerated_failure_percentage_holds_at_the_boundary() {
    let def = jsonata_machine(
        json!({
            "Items": "{% $states.input.xs %}",
            "ToleratedFailurePercentage": "{% $states.input.pct %}"
        }),
        json!({
            "P": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.v = 'bad' %}", "Next": "F"}], "Default": "S"},
            "F": {"Type": "Fail", "Error": "Bad", "Cause": "bad item"},
            "S": {"Type": "Succeed"}
        }),
    );
    let xs = json!([{"v": "bad"}, {"v": "ok"}, {"v": "ok"}, {"v": "ok"}]);
    let r = run(&def, json!({"xs": xs, "pct": 25}), &MemStore::default());
    assert_eq!(r.outcome.error, None, "{:?}", r.outcome.cause);
    assert_ran_as_a_map_run(&r);
    let r = run(&def, json!({"xs": xs, "pct": 24}), &MemStore::default());
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[test]
fn a_jsonata_distributed_map_refuses_jsonpath_fields() {
    let mut def = jsonata_machine(get_object("CSV"), pass());
    let errors: Vec<String> = stepscore_asl::validate(&def, ValidationOptions::default())
        .iter()
        .map(|d| format!("{}: {}", d.location.clone().unwrap_or_default(), d.message))
        .collect();
    assert_eq!(
        errors,
        ["/States/Map/ItemReader/Parameters: Field 'Parameters' is not supported"]
    );
    def["States"]["Map"]["ItemReader"]["Arguments"] = json!({"Bucket": "in", "Key": "data"});
    def["States"]["Map"]["ItemReader"]
        .as_object_mut()
        .unwrap()
        .remove("Parameters");
    assert!(stepscore_asl::validate(&def, ValidationOptions::default()).is_empty());
}
