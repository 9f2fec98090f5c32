//! `ResultWriter`: the Map Run's child executions written to the store in AWS's layout —
//! `<Prefix>/<map run id>/SUCCEEDED_0.json` (and `FAILED_0.json`, `PENDING_0.json` when there
//! are such children) and a `manifest.json` listing them — streamed as children end, so the
//! results never sit in memory whole.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::model::distributed::Transformation;
use crate::store::{ChildRecord, ItemStore, ObjectSink};

/// Where results go: bucket and the `<Prefix>/<map run id>` folder.
pub(super) struct Destination {
    pub(super) bucket: String,
    pub(super) folder: String,
}

impl Destination {
    /// The destination from evaluated `ResultWriter.Parameters` (`Bucket`, optional `Prefix`).
    pub(super) fn from_parameters(p: &Value, map_run_id: &str) -> Result<Destination, String> {
        let bucket = match p.get("Bucket") {
            Some(Value::String(b)) if !b.is_empty() => b.clone(),
            Some(v) => return Err(format!("ResultWriter Parameters field 'Bucket' must be a bucket name but was {v}")),
            None => return Err("ResultWriter Parameters has no 'Bucket' field; name the bucket to write results to".into()),
        };
        let prefix = match p.get("Prefix") {
            None => String::new(),
            Some(Value::String(s)) => s.trim_end_matches('/').to_string(),
            Some(v) => {
                return Err(format!(
                    "ResultWriter Parameters field 'Prefix' must be a string but was {v}"
                ));
            }
        };
        let folder = if prefix.is_empty() {
            map_run_id.to_string()
        } else {
            format!("{prefix}/{map_run_id}")
        };
        Ok(Destination { bucket, folder })
    }

    /// Key of the manifest.
    pub(super) fn manifest_key(&self) -> String {
        format!("{}/manifest.json", self.folder)
    }
}

/// Identity shared by every entry of a Map Run's result files.
pub(super) struct RunIdentity {
    pub(super) map_run_arn: String,
    pub(super) state_machine_arn: String,
    /// Child execution ARNs are this followed by the child's name.
    pub(super) execution_arn_prefix: String,
}

/// One results file being written (`SUCCEEDED_0.json`, ...).
struct ResultFile<'s> {
    key: String,
    sink: Box<dyn ObjectSink + 's>,
    entries: u64,
}

/// Writes result entries as children end, then the manifest.
pub(super) struct ResultsWriter<'s> {
    store: &'s dyn ItemStore,
    dest: Destination,
    transformation: Transformation,
    jsonl: bool,
    files: [Option<ResultFile<'s>>; 3],
}

const STATUSES: [&str; 3] = ["SUCCEEDED", "FAILED", "PENDING"];

impl<'s> ResultsWriter<'s> {
    pub(super) fn new(
        store: &'s dyn ItemStore,
        dest: Destination,
        transformation: Transformation,
        jsonl: bool,
    ) -> Self {
        ResultsWriter {
            store,
            dest,
            transformation,
            jsonl,
            files: [None, None, None],
        }
    }

    /// Appends one finished (or never started, `PENDING`) child to its status's file.
    pub(super) fn add(&mut self, child: &ChildRecord, id: &RunIdentity) -> Result<(), String> {
        let slot = STATUSES
            .iter()
            .position(|s| *s == child.status)
            .ok_or_else(|| {
                format!(
                    "child {} has status {}, which has no results file",
                    child.name, child.status
                )
            })?;
        let values = entries(child, id, self.transformation)?;
        if self.files[slot].is_none() {
            let key = format!("{}/{}_0.json", self.dest.folder, STATUSES[slot]);
            let sink = self.store.create(&self.dest.bucket, &key)?;
            self.files[slot] = Some(ResultFile {
                key,
                sink,
                entries: 0,
            });
        }
        let jsonl = self.jsonl;
        let file = self.files[slot].as_mut().ok_or("results file missing")?;
        let w = |e: std::io::Error| format!("writing {}: {e}", file_name(&file.key));
        for v in values {
            let sep: &[u8] = match (jsonl, file.entries) {
                (true, _) => b"",
                (false, 0) => b"[",
                (false, _) => b",",
            };
            file.sink.write_all(sep).map_err(w)?;
            serde_json::to_writer(&mut file.sink, &v).map_err(|e| w(e.into()))?;
            if jsonl {
                file.sink.write_all(b"\n").map_err(w)?;
            }
            file.entries += 1;
        }
        Ok(())
    }

    /// Publishes every results file, then the manifest; returns the manifest's key.
    pub(super) fn finish(self, id: &RunIdentity) -> Result<String, String> {
        let mut listed: Map<String, Value> = Map::new();
        for (slot, file) in self.files.into_iter().enumerate() {
            let mut list = Vec::new();
            if let Some(mut f) = file {
                if !self.jsonl {
                    let tail: &[u8] = if f.entries == 0 { b"[]" } else { b"]" };
                    f.sink
                        .write_all(tail)
                        .map_err(|e| format!("writing {}: {e}", f.key))?;
                }
                let size = f.sink.commit()?;
                list.push(json!({"Key": f.key, "Size": size}));
            }
            listed.insert(STATUSES[slot].into(), Value::Array(list));
        }
        let manifest = json!({
            "DestinationBucket": self.dest.bucket,
            "MapRunArn": id.map_run_arn,
            "ResultFiles": {
                "FAILED": listed.remove("FAILED").unwrap_or_default(),
                "PENDING": listed.remove("PENDING").unwrap_or_default(),
                "SUCCEEDED": listed.remove("SUCCEEDED").unwrap_or_default(),
            },
        });
        let key = self.dest.manifest_key();
        let mut sink = self.store.create(&self.dest.bucket, &key)?;
        serde_json::to_writer(&mut sink, &manifest).map_err(|e| format!("writing {key}: {e}"))?;
        sink.commit()?;
        Ok(key)
    }

    /// The bucket results go to.
    pub(super) fn bucket(&self) -> &str {
        &self.dest.bucket
    }
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The values one child contributes to results: its execution record (`NONE`, and always for a
/// child that did not succeed), its output (`COMPACT`), or an array output's elements
/// (`FLATTEN`).
pub(super) fn entries(
    child: &ChildRecord,
    id: &RunIdentity,
    t: Transformation,
) -> Result<Vec<Value>, String> {
    let output = || -> Result<Value, String> {
        serde_json::from_str(child.output.as_deref().unwrap_or("null"))
            .map_err(|e| format!("the output of child {} is not JSON: {e}", child.name))
    };
    Ok(match (t, child.status.as_str()) {
        (Transformation::Compact, "SUCCEEDED") => vec![output()?],
        (Transformation::Flatten, "SUCCEEDED") => match output()? {
            Value::Array(a) => a,
            v => vec![v],
        },
        _ => vec![record(child, id)],
    })
}

/// A child's execution record as AWS writes it with `Transformation: NONE`.
fn record(child: &ChildRecord, id: &RunIdentity) -> Value {
    let mut m = Map::new();
    if let Some(c) = &child.cause {
        m.insert("Cause".into(), json!(c));
    }
    if let Some(e) = &child.error {
        m.insert("Error".into(), json!(e));
    }
    m.insert(
        "ExecutionArn".into(),
        json!(format!("{}{}", id.execution_arn_prefix, child.name)),
    );
    m.insert("Input".into(), json!(child.input));
    m.insert("InputDetails".into(), json!({"Included": true}));
    m.insert("Name".into(), json!(child.name));
    if let Some(o) = &child.output {
        m.insert("Output".into(), json!(o));
        m.insert("OutputDetails".into(), json!({"Included": true}));
    }
    if child.status != "PENDING" {
        m.insert("RedriveCount".into(), json!(0));
        m.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        m.insert(
            "RedriveStatusReason".into(),
            json!(format!(
                "Execution is {} and cannot be redriven",
                child.status
            )),
        );
        m.insert("StartDate".into(), json!(child.start_date));
    }
    m.insert("StateMachineArn".into(), json!(id.state_machine_arn));
    m.insert("Status".into(), json!(child.status));
    if child.status != "PENDING" {
        m.insert("StopDate".into(), json!(child.stop_date));
    }
    Value::Object(m)
}
