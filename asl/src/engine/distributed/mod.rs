//! Distributed Map: a Map state run as a Map Run of child executions, each with a history of its
//! own, over items streamed from the object store (`ItemReader`), grouped by `ItemBatcher`,
//! within the tolerated failures, with results written back by `ResultWriter`.
//!
//! Children run one after another on the calling thread, so at most one is in flight: AWS's
//! 10,000-concurrent-children limit and any `MaxConcurrency` hold trivially, and memory is
//! bounded by one batch plus the reader's buffer. A child's input over 256 KiB fails that child
//! with `States.DataLimitExceeded`, as on AWS.
//!
//! Crash safety comes from the store port's Map Run journal: the Map Run's id is derived from
//! the execution, the state and the event that entered it, so a resumed execution re-enters the
//! same Map Run, skips every child the journal holds, and writes its results files once, at
//! the end (nothing is published under the results prefix before then).
//!
//! - `reader`: the item stream (`ItemReader`).
//! - `batcher`: `ItemBatcher`.
//! - `results`: `ResultWriter`'s files and manifest.

mod batcher;
mod reader;
mod results;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::*;
use crate::history::{Details, History, history_limit_cause};
use crate::jsonpath::Scope;
use crate::model::distributed::DistributedSpec;
use crate::model::{MapSpec, PathField, PercentField, State};
use crate::store::ChildRecord;
use batcher::Batcher;
use reader::{Items, Source};
use results::{Destination, ResultsWriter, RunIdentity};

pub use reader::MAX_JSON_OBJECT_BYTES;

/// Most child executions of one Map Run that may run at once (AWS's hard limit).
pub const MAX_CONCURRENT_CHILDREN: u64 = 10_000;

/// Why a Distributed Map in a JSONata state fails (`States.Runtime`): its `Items`, selector and
/// thresholds are JSONata templates, which the Map Run does not evaluate yet.
const JSONATA_NOT_RUN: &str = "A Distributed Map in a JSONata state is not run by this engine yet; write the state in JSONPath (QueryLanguage JSONPath on the state) to run it locally";

/// Cause of `States.ExceedToleratedFailureThreshold`.
const THRESHOLD_CAUSE: &str = "The specified tolerated failure threshold was exceeded";

/// Items that succeeded and failed, counted by item (a failed batch fails all its items).
#[derive(Default)]
struct Tally {
    succeeded: u64,
    failed: u64,
}

/// What a finished Map Run hands back: its tally and the state's raw result.
type RunResult = Result<(Tally, Value), StateError>;

/// `ItemBatcher`'s limits, resolved: items, bytes (0: none) and `BatchInput`.
type BatchLimits = Option<(u64, u64, Option<serde_json::Map<String, Value>>)>;

/// The state's raw result while no `ResultWriter` exports it: outputs up to the payload limit.
struct Collected {
    values: Vec<Value>,
    bytes: usize,
}

impl Runner<'_> {
    /// Runs a Distributed Map state's body: from `MapRunStarted` to `MapRunSucceeded` or
    /// `MapRunFailed`, returning the state's raw result.
    pub(super) fn distributed_map(
        &mut self,
        st: &State,
        entered: u64,
        m: &MapSpec,
        d: &DistributedSpec,
        eff: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Arc<Value>, BodyError> {
        let fatal = |e: StateError| BodyError::Fatal(Fault::Error(e));
        if Self::is_query(st) {
            return Err(fatal(self.runtime(
                st,
                entered,
                JSONATA_NOT_RUN.to_string(),
            )));
        }
        let tolerated_count = self.resolve_count(
            st,
            entered,
            "ToleratedFailureCount",
            &m.tolerated_failure_count,
            eff,
            vars,
        )?;
        let tolerated_pct = match &m.tolerated_failure_percentage {
            None => None,
            Some(PercentField::Literal(p)) => Some(*p),
            Some(PercentField::Query(_)) => {
                return Err(fatal(self.runtime(
                    st,
                    entered,
                    JSONATA_NOT_RUN.to_string(),
                )));
            }
            Some(PercentField::Path(p)) => {
                let v = p
                    .resolve(&self.scope(eff, vars))
                    .map_err(|e| fatal(self.runtime(st, entered, e)))?;
                match v.as_f64().filter(|f| (0.0..=100.0).contains(f)) {
                    Some(f) => Some(f),
                    None => return Err(fatal(self.runtime(st, entered, format!("The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid percentage: {}", value_text(&v), p.as_str())))),
                }
            }
        };
        self.resolve_count(st, entered, "MaxConcurrency", &m.max_concurrency, eff, vars)?;
        let limits = self.batcher_limits(st, entered, d, eff, vars)?;
        let identity = self.run_identity(st, d);
        let k = self.names.get("MapRunStarted").clone();
        self.push(
            &k,
            Details {
                extra: Some(json!({"mapRunArn": identity.map_run_arn})),
                ..Details::default()
            },
        )?;
        let threshold = Threshold {
            count: tolerated_count,
            percentage: tolerated_pct,
        };
        self.enter_nested()?;
        let saved_state = self.ctx.get("State").cloned();
        let run = self.map_run(st, m, d, eff, vars, &identity, limits, &threshold);
        if let Value::Object(c) = &mut *self.ctx {
            c.remove("Map");
            if let Some(s) = saved_state {
                c.insert("State".into(), s);
            }
        }
        self.depth -= 1;
        match run? {
            Ok((_, out)) => {
                let k = self.names.get("MapRunSucceeded").clone();
                self.push(&k, Details::default())?;
                Ok(Arc::new(out))
            }
            Err(e) => {
                let k = self.names.get("MapRunFailed").clone();
                self.push(
                    &k,
                    Details {
                        error: e.error.clone(),
                        cause: e.cause.clone(),
                        ..Details::default()
                    },
                )?;
                Err(BodyError::Catchable(e))
            }
        }
    }

    fn scope<'s>(&'s self, eff: &'s Value, vars: &'s Vars) -> Scope<'s> {
        Scope {
            input: eff,
            context: self.ctx,
            variables: vars,
        }
    }

    /// `ItemBatcher`'s limits and `BatchInput`, evaluated against the state input.
    fn batcher_limits(
        &self,
        st: &State,
        entered: u64,
        d: &DistributedSpec,
        eff: &Arc<Value>,
        vars: &Vars,
    ) -> Result<BatchLimits, BodyError> {
        let Some(b) = &d.item_batcher else {
            return Ok(None);
        };
        let items = self.resolve_count(st, entered, "MaxItemsPerBatch", &b.max_items, eff, vars)?;
        let bytes = self.resolve_count(
            st,
            entered,
            "MaxInputBytesPerBatch",
            &b.max_bytes,
            eff,
            vars,
        )?;
        let input = match &b.batch_input {
            None => None,
            Some(t) => match t.evaluate(&self.scope(eff, vars)) {
                Ok(Value::Object(m)) => Some(m),
                Ok(other) => {
                    return Err(BodyError::Fatal(Fault::Error(self.runtime(
                        st,
                        entered,
                        format!("BatchInput must produce a JSON object but produced {other}"),
                    ))));
                }
                Err(e) => return Err(BodyError::Fatal(self.template_error(st, entered, e, eff))),
            },
        };
        let bytes = bytes.unwrap_or(0).min(MAX_PAYLOAD_BYTES as u64);
        Ok(Some((items.unwrap_or(0), bytes, input)))
    }

    /// The Map Run's ARN and its children's ARNs. Its id is derived from the execution, the
    /// state and the id its `MapRunStarted` event is about to get: a resumed execution replays
    /// the same events and finds the same Map Run (and its journal), while a Retry of the state
    /// starts after more events and so starts a new Map Run rather than reading the failed one's
    /// children back.
    fn run_identity(&self, st: &State, d: &DistributedSpec) -> RunIdentity {
        let started_event = self.history.last_id + 1;
        let text = |p: &str| {
            self.ctx
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let execution_arn = text("/Execution/Id");
        let sm_arn = text("/StateMachine/Id");
        let sm_name = text("/StateMachine/Name");
        let mut h = Sha1::new();
        h.update(execution_arn.as_bytes());
        h.update([0]);
        h.update(st.name.as_bytes());
        h.update(started_event.to_be_bytes());
        let id = digest_uuid(&h.finalize());
        let label = d.label.as_deref().unwrap_or(&st.name);
        let base = sm_arn
            .split(":stateMachine:")
            .next()
            .unwrap_or_default()
            .to_string();
        let kind = match d.execution_type {
            crate::model::MachineType::Standard => "execution",
            crate::model::MachineType::Express => "express",
        };
        RunIdentity {
            map_run_arn: format!("{base}:mapRun:{sm_name}/{label}:{id}"),
            state_machine_arn: format!("{sm_arn}/{label}"),
            execution_arn_prefix: format!("{base}:{kind}:{sm_name}/{label}:"),
        }
    }

    /// Reads, batches and runs every child; the outer `Err` is a fault of the parent (its
    /// deadline, its history limit), the inner one how the Map Run failed.
    #[allow(clippy::too_many_arguments)]
    fn map_run(
        &mut self,
        st: &State,
        m: &MapSpec,
        d: &DistributedSpec,
        eff: &Arc<Value>,
        vars: &Vars,
        identity: &RunIdentity,
        limits: BatchLimits,
        threshold: &Threshold,
    ) -> Result<RunResult, BodyError> {
        let reader_failed = |cause: String| StateError::new("States.ItemReaderFailed", cause);
        let writer_failed = |cause: String| StateError::new("States.ResultWriterFailed", cause);
        let tasks = self.tasks;
        let store = tasks.item_store();
        let map_run_id = identity.map_run_arn.rsplit(':').next().unwrap_or_default();
        let no_store = |what: &str| {
            format!(
                "{what} needs an object store, and none is configured for this execution; run it in the local runtime (or pass a store directory)"
            )
        };
        let mut items: Items<'_> = match &d.item_reader {
            Some(r) => {
                let p = r
                    .parameters
                    .evaluate(&self.scope(eff, vars))
                    .map_err(|e| BodyError::Fatal(self.template_error(st, 0, e, eff)))?;
                let source = match Source::from_parameters(r, &p) {
                    Ok(s) => s,
                    Err(e) => return Ok(Err(reader_failed(e))),
                };
                let Some(store) = store else {
                    return Ok(Err(reader_failed(no_store("ItemReader"))));
                };
                let max = self.resolve_count(st, 0, "MaxItems", &r.max_items, eff, vars)?;
                match reader::open(r, source, store) {
                    Ok(it) => match max {
                        Some(n) if n > 0 => {
                            Box::new(it.take(usize::try_from(n).unwrap_or(usize::MAX)))
                        }
                        _ => it,
                    },
                    Err(e) => return Ok(Err(reader_failed(e))),
                }
            }
            None => match self.inline_items(st, m, eff, vars)? {
                Ok(v) => Box::new(v.into_iter().map(Ok)),
                Err(e) => return Err(BodyError::Fatal(Fault::Error(e))),
            },
        };
        let exporting = d
            .result_writer
            .as_ref()
            .and_then(|w| w.parameters.as_ref().map(|p| (w, p)));
        let mut writer = match exporting {
            None => None,
            Some((w, p)) => {
                let p = p
                    .evaluate(&self.scope(eff, vars))
                    .map_err(|e| BodyError::Fatal(self.template_error(st, 0, e, eff)))?;
                let dest = match Destination::from_parameters(&p, map_run_id) {
                    Ok(dest) => dest,
                    Err(e) => return Ok(Err(writer_failed(e))),
                };
                let Some(store) = store else {
                    return Ok(Err(writer_failed(no_store("ResultWriter"))));
                };
                Some(ResultsWriter::new(store, dest, w.transformation, w.jsonl))
            }
        };
        let transformation = d.result_writer.as_ref().map(|w| w.transformation);
        let journal: HashMap<u64, ChildRecord> = match store {
            None => HashMap::new(),
            Some(s) => match s.finished_children(&identity.map_run_arn) {
                Ok(v) => v.into_iter().map(|c| (c.index, c)).collect(),
                Err(e) => {
                    return Err(BodyError::Fatal(Fault::Error(StateError::new(
                        "States.Runtime",
                        format!(
                            "the journal of Map Run {} could not be read: {e}",
                            identity.map_run_arn
                        ),
                    ))));
                }
            },
        };
        let mut batcher = limits.map(|(n, b, input)| Batcher::new(n, b, input));
        let mut tally = Tally::default();
        let mut collected = Collected {
            values: Vec::new(),
            bytes: 2,
        };
        let mut index: u64 = 0;
        let mut item_index: u64 = 0;
        let mut stopped = false;
        let mut failure: Option<StateError> = None;
        loop {
            let next = match items.next() {
                None => None,
                Some(Err(e)) => {
                    failure = Some(reader_failed(e));
                    None
                }
                Some(Ok(item)) => Some(item),
            };
            let child_input = match (next, batcher.as_mut()) {
                (Some(item), b) => {
                    let selected = self.select_item(st, m, eff, vars, item, item_index)?;
                    item_index += 1;
                    match b {
                        Some(b) => match b.push(selected) {
                            Some(batch) => batch,
                            None => continue,
                        },
                        None => (selected, 1),
                    }
                }
                (None, Some(b)) if failure.is_none() => match b.finish() {
                    Some(batch) => batch,
                    None => break,
                },
                (None, _) => break,
            };
            let (input, n) = child_input;
            let record = if stopped {
                pending(index, identity, &input, n)
            } else if let Some(done) = journal.get(&index) {
                done.clone()
            } else {
                let (record, history) = self.run_child(st, m, identity, index, input, n, vars)?;
                if let Some(s) = store {
                    let kept = s
                        .record_child(&identity.map_run_arn, &record)
                        .and_then(|()| {
                            s.keep_child_history(&identity.map_run_arn, &record, &history)
                        });
                    if let Err(e) = kept {
                        return Err(BodyError::Fatal(Fault::Error(StateError::new(
                            "States.Runtime",
                            format!(
                                "child {index} of Map Run {} could not be recorded: {e}",
                                identity.map_run_arn
                            ),
                        ))));
                    }
                }
                record
            };
            index += 1;
            match record.status.as_str() {
                "SUCCEEDED" => tally.succeeded += record.items,
                "FAILED" => tally.failed += record.items,
                _ => {}
            }
            if let Some(w) = writer.as_mut() {
                if let Err(e) = w.add(&record, identity) {
                    return Ok(Err(writer_failed(e)));
                }
            } else if !stopped {
                collect(&mut collected, &record, identity, transformation);
            }
            if !stopped && threshold.exceeded_already(tally.failed) {
                stopped = true;
                failure = Some(StateError::new(
                    "States.ExceedToleratedFailureThreshold",
                    THRESHOLD_CAUSE,
                ));
                if writer.is_none() {
                    break;
                }
            }
        }
        if failure.is_none() && threshold.exceeded(&tally) {
            failure = Some(StateError::new(
                "States.ExceedToleratedFailureThreshold",
                THRESHOLD_CAUSE,
            ));
        }
        let manifest = match writer {
            Some(w) => {
                let bucket = w.bucket().to_string();
                match w.finish(identity) {
                    Ok(key) => Some((bucket, key)),
                    Err(e) => return Ok(Err(writer_failed(e))),
                }
            }
            None => None,
        };
        if let Some(e) = failure {
            return Ok(Err(e));
        }
        let out = match manifest {
            Some((bucket, key)) => json!({
                "MapRunArn": identity.map_run_arn,
                "ResultWriterDetails": {"Bucket": bucket, "Key": key},
            }),
            None if collected.bytes > MAX_PAYLOAD_BYTES => {
                return Ok(Err(StateError::new(
                    "States.DataLimitExceeded",
                    format!(
                        "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                        st.name
                    ),
                )));
            }
            None => Value::Array(collected.values),
        };
        Ok(Ok((tally, out)))
    }

    /// Items from `Items` or `ItemsPath` when there is no `ItemReader`.
    fn inline_items(
        &self,
        st: &State,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Result<Vec<Value>, StateError>, BodyError> {
        let v = match (&m.items, &m.items_path) {
            (Some(_), _) => return Ok(Err(self.runtime(st, 0, JSONATA_NOT_RUN.to_string()))),
            (None, PathField::Path(p)) => match p.resolve(&self.scope(eff, vars)) {
                Ok(v) => v,
                Err(e) => return Ok(Err(self.runtime(st, 0, path_error_text(p, &e)))),
            },
            (None, _) => (**eff).clone(),
        };
        Ok(match v {
            Value::Array(a) => Ok(a),
            other => Err(self.runtime(
                st,
                0,
                format!("Map state input must be an array but was: {other}"),
            )),
        })
    }

    /// Applies `ItemSelector` to one item (with `$$.Map.Item.Index` and `.Value` set).
    fn select_item(
        &mut self,
        st: &State,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &Vars,
        item: Value,
        index: u64,
    ) -> Result<Value, BodyError> {
        let Some(t) = &m.item_selector else {
            return Ok(item);
        };
        if let Value::Object(c) = &mut *self.ctx {
            c.insert(
                "Map".into(),
                json!({"Item": {"Index": index, "Value": item}}),
            );
        }
        t.evaluate(&self.scope(eff, vars))
            .map_err(|e| BodyError::Fatal(self.template_error(st, 0, e, eff)))
    }

    /// Runs one child execution with a history of its own.
    #[allow(clippy::too_many_arguments)]
    fn run_child(
        &mut self,
        st: &State,
        m: &MapSpec,
        identity: &RunIdentity,
        index: u64,
        input: Value,
        items: u64,
        vars: &Vars,
    ) -> Result<(ChildRecord, History), BodyError> {
        let name = child_name(&identity.map_run_arn, index);
        let start = self.now();
        let input_text = serde_json::to_string(&input).unwrap_or_default();
        let mut history = History::new();
        let input = Arc::new(input);
        history.push(
            &self.names.execution_started,
            start,
            Details {
                input: Some(input.clone()),
                ..Details::default()
            },
        );
        let result = if input_text.len() > MAX_PAYLOAD_BYTES {
            Err(StateError::new(
                "States.DataLimitExceeded",
                format!(
                    "The input of child execution {index} of Map state '{}' is {} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit; lower ItemBatcher's MaxItemsPerBatch or set MaxInputBytesPerBatch",
                    st.name,
                    input_text.len()
                ),
            ))
        } else {
            std::mem::swap(self.history, &mut history);
            let r = self.run_machine(&m.processor, input, vars);
            std::mem::swap(self.history, &mut history);
            match r {
                Ok(out) => Ok(out),
                Err(Fault::TimedOut) => return Err(BodyError::Fatal(Fault::TimedOut)),
                Err(Fault::HistoryLimit) => {
                    Err(StateError::new("States.Runtime", history_limit_cause()))
                }
                Err(Fault::Error(e) | Fault::Retriable(e)) => Err(e),
            }
        };
        let stop = self.now();
        let mut record = ChildRecord {
            index,
            name,
            status: String::new(),
            input: input_text,
            output: None,
            error: None,
            cause: None,
            items,
            start_date: format_time(start),
            stop_date: format_time(stop),
        };
        match result {
            Ok(out) => {
                history.push(
                    &self.names.execution_succeeded,
                    stop,
                    Details {
                        output: Some(out.clone()),
                        ..Details::default()
                    },
                );
                record.status = "SUCCEEDED".into();
                record.output = Some(serde_json::to_string(&*out).unwrap_or_default());
            }
            Err(e) => {
                history.push(
                    &self.names.execution_failed,
                    stop,
                    Details {
                        error: e.error.clone(),
                        cause: e.cause.clone(),
                        ..Details::default()
                    },
                );
                record.status = "FAILED".into();
                record.error = e.error;
                record.cause = e.cause;
            }
        }
        Ok((record, history))
    }
}

/// `ToleratedFailureCount` / `ToleratedFailurePercentage`, resolved. With neither, no failure
/// is tolerated; with both, passing either fails the Map Run.
struct Threshold {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Threshold {
    /// Whether the failures so far already exceed it, whatever the remaining children do.
    fn exceeded_already(&self, failed: u64) -> bool {
        match (self.count, self.percentage) {
            (None, None) => failed > 0,
            (Some(c), _) => failed > c,
            (None, Some(_)) => false,
        }
    }

    /// Whether the finished run exceeded it.
    fn exceeded(&self, t: &Tally) -> bool {
        let total = t.succeeded + t.failed;
        self.exceeded_already(t.failed)
            || self
                .percentage
                .is_some_and(|p| total > 0 && (t.failed as f64) * 100.0 / (total as f64) > p)
    }
}

/// A child the Map Run never started (it failed first).
fn pending(index: u64, identity: &RunIdentity, input: &Value, items: u64) -> ChildRecord {
    ChildRecord {
        index,
        name: child_name(&identity.map_run_arn, index),
        status: "PENDING".into(),
        input: serde_json::to_string(input).unwrap_or_default(),
        output: None,
        error: None,
        cause: None,
        items,
        start_date: String::new(),
        stop_date: String::new(),
    }
}

/// Adds a child's result to the state's raw result, stopping (the result is then too large)
/// once it passes the payload limit, so memory stays bounded.
fn collect(
    c: &mut Collected,
    record: &ChildRecord,
    identity: &RunIdentity,
    transformation: Option<crate::model::distributed::Transformation>,
) {
    if c.bytes > MAX_PAYLOAD_BYTES {
        return;
    }
    let values = match transformation {
        Some(t) => results::entries(record, identity, t).unwrap_or_default(),
        None => vec![match record.status.as_str() {
            "SUCCEEDED" => serde_json::from_str(record.output.as_deref().unwrap_or("null"))
                .unwrap_or(Value::Null),
            _ => {
                let mut eo = serde_json::Map::new();
                eo.insert(
                    "Error".into(),
                    record.error.clone().map_or(Value::Null, Value::String),
                );
                if let Some(cause) = &record.cause {
                    eo.insert("Cause".into(), Value::String(cause.clone()));
                }
                Value::Object(eo)
            }
        }],
    };
    for v in values {
        c.bytes += json_size(&v) + 1;
        c.values.push(v);
    }
}

/// A child execution's name: UUID-shaped, derived from the Map Run and the child's index.
fn child_name(map_run_arn: &str, index: u64) -> String {
    let mut h = Sha1::new();
    h.update(map_run_arn.as_bytes());
    h.update(index.to_be_bytes());
    digest_uuid(&h.finalize()).to_string()
}

fn digest_uuid(d: &[u8]) -> uuid::Uuid {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_sha1_bytes(b).into_uuid()
}
