//! Distributed Map: a Map state run as a Map Run of child executions, each with a history of its
//! own, over items streamed from the object store (`ItemReader`), grouped by `ItemBatcher`,
//! within the tolerated failures, with results written back by `ResultWriter`.
//!
//! The execution's thread reads, selects and batches items and launches children; up to
//! `MaxConcurrency` of them (0: AWS's limit of 10,000) run at once on worker threads when the
//! embedder's dispatcher may be shared ([`crate::TaskDispatcher::concurrent`]), one at a time
//! otherwise. Children end in any order and are handed to the results in item order; at most
//! twice `MaxConcurrency` children are between launch and hand-over, so memory is bounded by
//! the batches in flight, not by the item count. Once the failures exceed the tolerated
//! threshold no child starts (the children not started are `PENDING`), as on AWS. A child's
//! input over 256 KiB fails that child with `States.DataLimitExceeded`, as on AWS.
//!
//! Crash safety comes from the store port's Map Run journal: each child is journaled when it
//! ends, before the Map Run sees it end; the Map Run's id is derived from the execution, the
//! state and the event that entered it, so a resumed execution re-enters the same Map Run,
//! skips every child the journal holds, and writes its results files once, at the end (nothing
//! is published under the results prefix before then).
//!
//! - `reader`: the item stream (`ItemReader`).
//! - `batcher`: `ItemBatcher`.
//! - `children`: running child executions, each with its own history and context object.
//! - `results`: `ResultWriter`'s files and manifest.

mod batcher;
mod children;
mod reader;
mod results;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::*;
use crate::history::Details;
use crate::jsonpath::Scope;
use crate::model::distributed::{Arguments, DistributedSpec, Transformation};
use crate::model::{MAX_ITEMS, MapSpec, PathField, State};
use crate::query::Expected;
use crate::store::ChildRecord;
use batcher::Batcher;
use children::{ChildEnv, Children, Launch, STOP_POLL, Waiting, child_name, digest_uuid};
use reader::{Item, Items, Source};
use results::{Destination, ResultsWriter, RunIdentity};

pub use reader::{
    MAX_CSV_HEADER_BYTES, MAX_ITEM_BYTES, MAX_JSON_OBJECT_BYTES, MAX_PARQUET_FOOTER_BYTES,
    MAX_PARQUET_OBJECT_BYTES, MAX_ROW_GROUP_BYTES, STATE_DATA,
};

/// Most child executions of one Map Run that may run at once (AWS's hard limit).
pub const MAX_CONCURRENT_CHILDREN: u64 = 10_000;

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
        let tolerated_count = self.resolve_count(
            st,
            entered,
            "ToleratedFailureCount",
            &m.tolerated_failure_count,
            eff,
            vars,
        )?;
        let tolerated_pct =
            self.resolve_percentage(st, entered, &m.tolerated_failure_percentage, eff, vars)?;
        let concurrency = concurrency_limit(self.resolve_count(
            st,
            entered,
            "MaxConcurrency",
            &m.max_concurrency,
            eff,
            vars,
        )?);
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
        let run = self.map_run(
            st,
            m,
            d,
            eff,
            vars,
            &identity,
            limits,
            &threshold,
            concurrency,
        );
        if let Value::Object(c) = &mut *self.ctx {
            c.remove("Map");
            if let Some(s) = saved_state {
                c.insert("State".into(), s);
            }
        }
        self.depth -= 1;
        if let Err(BodyError::Fatal(Fault::Aborted)) = run {
            let k = self.names.get("MapRunAborted").clone();
            self.push(&k, Details::default())?;
            return Err(BodyError::Fatal(Fault::Aborted));
        }
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

    /// Evaluates `Parameters`/`BatchInput` (JSONPath: a failure is `States.Runtime`) or
    /// `Arguments`/`BatchInput` (JSONata: a catchable `States.QueryEvaluationError`).
    fn arguments(
        &self,
        st: &State,
        entered: u64,
        a: &Arguments,
        eff: &Arc<Value>,
        vars: &Vars,
    ) -> Result<Value, BodyError> {
        match a {
            Arguments::Path(t) => t
                .evaluate(&self.scope(eff, vars))
                .map_err(|e| BodyError::Fatal(self.template_error(st, entered, e, eff))),
            Arguments::Query(t) => self
                .query(st, entered, t, StatesData::input(eff), vars, None)
                .map_err(BodyError::Catchable),
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
            Some(a) => match self.arguments(st, entered, a, eff, vars)? {
                Value::Object(m) => Some(m),
                other => {
                    return Err(BodyError::Fatal(Fault::Error(self.runtime(
                        st,
                        entered,
                        format!("BatchInput must produce a JSON object but produced {other}"),
                    ))));
                }
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
            state_machine_name: format!("{sm_name}/{label}"),
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
        concurrency: usize,
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
                let p = self.arguments(st, 0, &r.parameters, eff, vars)?;
                let source = match Source::from_parameters(r, &p) {
                    Ok(s) => s,
                    Err(e) => return Ok(Err(reader_failed(e))),
                };
                let Some(store) = store else {
                    return Ok(Err(reader_failed(no_store("ItemReader"))));
                };
                let max = self.resolve_count(st, 0, "MaxItems", &r.max_items, eff, vars)?;
                if let Some(n) = max
                    && n > MAX_ITEMS
                {
                    return Ok(Err(reader_failed(format!(
                        "MaxItems is {n}, over {MAX_ITEMS}, the most items AWS lets a Distributed Map read"
                    ))));
                }
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
                Ok(v) => {
                    let source: Arc<str> = STATE_DATA.into();
                    Box::new(v.into_iter().map(move |value| {
                        Ok(Item {
                            value,
                            source: source.clone(),
                        })
                    }))
                }
                Err(e) => return Err(BodyError::Fatal(Fault::Error(e))),
            },
        };
        let exporting = d
            .result_writer
            .as_ref()
            .and_then(|w| w.parameters.as_ref().map(|p| (w, p)));
        let writer = match exporting {
            None => None,
            Some((w, p)) => {
                let p = self.arguments(st, 0, p, eff, vars)?;
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
        let mut sink = Sink {
            writer,
            collected: Collected {
                values: Vec::new(),
                bytes: 2,
            },
            tally: Tally::default(),
            transformation,
        };
        let mut failure: Option<StateError> = None;
        let abort = AtomicBool::new(false);
        let tasks = self.tasks;
        // children share the dispatcher across threads only when it says it may be shared
        // (TestState never gets here: it runs a Distributed Map's body as an inline Map)
        let concurrent = tasks.concurrent();
        let waiting_count = AtomicUsize::new(0);
        let waiting = Waiting::new(&waiting_count, concurrent, self.clock);
        let env = ChildEnv {
            clock: &waiting,
            names: self.names,
            processor: &m.processor,
            vars,
            deadline: self.deadline,
            depth: self.depth,
            identity,
            state_name: &st.name,
            store,
            role_arn: self
                .ctx
                .pointer("/Execution/RoleArn")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            standard: d.execution_type == crate::model::MachineType::Standard,
            abort: &abort,
            reads_context: m.processor.states.iter().any(|s| s.common.uses_context),
        };
        // A child may finish before one launched ahead of it, and results are handed on in
        // order: at most `window` children are between launch and hand-over, so a slow early
        // child cannot make finished ones pile up without bound.
        let window = (concurrency as u64).saturating_mul(2);
        let ended = std::thread::scope(|scope| -> Result<Result<(), String>, BodyError> {
            let mut children = Children::new(
                &env,
                tasks,
                waiting.tasks(),
                &waiting_count,
                scope,
                concurrency,
            );
            let mut order = Order::default();
            let mut journal = journal;
            let mut next_index: u64 = 0;
            let mut item_index: u64 = 0;
            let mut exhausted = false;
            let mut next_poll = Instant::now();
            loop {
                // A stopped parent aborts the Map Run: no child starts, the running ones end
                // ABORTED before their next state, and nothing is handed to the results.
                if !abort.load(Ordering::SeqCst) && Instant::now() >= next_poll {
                    next_poll = Instant::now() + STOP_POLL;
                    if tasks.stop_requested() {
                        abort.store(true, Ordering::SeqCst);
                    }
                }
                let aborting = abort.load(Ordering::SeqCst);
                while let Some((index, end)) = children.next_end(false) {
                    let record = end.map_err(BodyError::Fatal)?;
                    if order.finished(index, record, threshold) {
                        failure.get_or_insert_with(|| {
                            StateError::new(
                                "States.ExceedToleratedFailureThreshold",
                                THRESHOLD_CAUSE,
                            )
                        });
                    }
                }
                if aborting {
                    if children.running == 0 {
                        return Err(BodyError::Fatal(Fault::Aborted));
                    }
                    children.next_end(true);
                    continue;
                }
                if let Err(e) = order.hand_over(&mut sink, identity) {
                    return Ok(Err(e));
                }
                // once stopped, without a writer no further child is needed at all; with one,
                // the rest are read to be listed as PENDING
                let done_reading = exhausted || (order.stopped && sink.writer.is_none());
                let pulling = !done_reading
                    && children.has_room(concurrency)
                    && next_index - order.next < window;
                if !pulling {
                    if children.running == 0 {
                        break;
                    }
                    // nothing to start until a child ends
                    let Some((index, end)) = children.next_end(true) else {
                        continue;
                    };
                    let record = end.map_err(BodyError::Fatal)?;
                    if order.finished(index, record, threshold) {
                        failure.get_or_insert_with(|| {
                            StateError::new(
                                "States.ExceedToleratedFailureThreshold",
                                THRESHOLD_CAUSE,
                            )
                        });
                    }
                    continue;
                }
                let next = self.next_child(
                    st,
                    m,
                    eff,
                    vars,
                    &mut items,
                    batcher.as_mut(),
                    &mut item_index,
                    &mut failure,
                )?;
                let Some((input, n)) = next else {
                    exhausted = true;
                    continue;
                };
                let index = next_index;
                next_index += 1;
                if order.stopped {
                    order
                        .ready
                        .insert(index, pending(index, identity, &input, n));
                } else if let Some(done) = journal.remove(&index) {
                    if order.finished(index, done, threshold) {
                        failure.get_or_insert_with(|| {
                            StateError::new(
                                "States.ExceedToleratedFailureThreshold",
                                THRESHOLD_CAUSE,
                            )
                        });
                    }
                } else {
                    children.launch(Launch {
                        index,
                        input,
                        items: n,
                    });
                }
            }
            Ok(Ok(()))
        })?;
        if let Err(e) = ended {
            return Ok(Err(writer_failed(e)));
        }
        let Sink {
            writer,
            collected,
            tally,
            ..
        } = sink;
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
            (Some(t), _) => self
                .query(
                    st,
                    0,
                    t,
                    StatesData::input(eff),
                    vars,
                    Some(Expected::Array),
                )
                .map_err(BodyError::Catchable)?,
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

    /// Applies `ItemSelector` to one item (with `$$.Map.Item.Index`, `.Value` and `.Source`
    /// set).
    fn select_item(
        &mut self,
        st: &State,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &Vars,
        item: Item,
        index: u64,
    ) -> Result<Value, BodyError> {
        if m.item_selector.is_none() && m.query_item_selector.is_none() {
            return Ok(item.value);
        }
        if let Value::Object(c) = &mut *self.ctx {
            c.insert("Map".into(), map_item(index, item.value, &item.source));
        }
        match (&m.item_selector, &m.query_item_selector) {
            (_, Some(t)) => self
                .query(st, 0, t, StatesData::input(eff), vars, None)
                .map_err(BodyError::Catchable),
            (Some(t), None) => t
                .evaluate(&self.scope(eff, vars))
                .map_err(|e| BodyError::Fatal(self.template_error(st, 0, e, eff))),
            (None, None) => Ok(Value::Null),
        }
    }

    /// The next child's input and its item count: the next item, selected, or the next batch
    /// of them; `None` once the items are exhausted or the reader failed (`failure` then says
    /// how).
    #[allow(clippy::too_many_arguments)]
    fn next_child(
        &mut self,
        st: &State,
        m: &MapSpec,
        eff: &Arc<Value>,
        vars: &Vars,
        items: &mut Items<'_>,
        mut batcher: Option<&mut Batcher>,
        item_index: &mut u64,
        failure: &mut Option<StateError>,
    ) -> Result<Option<(Value, u64)>, BodyError> {
        loop {
            match items.next() {
                Some(Err(e)) => {
                    failure.get_or_insert_with(|| StateError::new("States.ItemReaderFailed", e));
                    return Ok(None);
                }
                Some(Ok(item)) => {
                    let selected = self.select_item(st, m, eff, vars, item, *item_index)?;
                    *item_index += 1;
                    match batcher.as_deref_mut() {
                        Some(b) => {
                            if let Some(batch) = b.push(selected) {
                                return Ok(Some(batch));
                            }
                        }
                        None => return Ok(Some((selected, 1))),
                    }
                }
                None => return Ok(batcher.and_then(Batcher::finish)),
            }
        }
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

/// `MaxConcurrency` as a number of children at once: 0 (or none) is AWS's limit.
fn concurrency_limit(max_concurrency: Option<u64>) -> usize {
    let n = match max_concurrency {
        None | Some(0) => MAX_CONCURRENT_CHILDREN,
        Some(n) => n.min(MAX_CONCURRENT_CHILDREN),
    };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Children between their end and their hand-over to the results, which takes them in index
/// order whatever order they end in.
#[derive(Default)]
struct Order {
    ready: BTreeMap<u64, ChildRecord>,
    /// Index of the next child to hand over.
    next: u64,
    /// Items of the failed children seen so far, in the order they ended.
    failed: u64,
    /// Whether the tolerated failures are exceeded: no child starts any more.
    stopped: bool,
}

impl Order {
    /// Takes a child's end; true when it is the one that exceeded the threshold.
    fn finished(&mut self, index: u64, record: ChildRecord, threshold: &Threshold) -> bool {
        if record.status == "FAILED" {
            self.failed += record.items;
        }
        self.ready.insert(index, record);
        if !self.stopped && threshold.exceeded_already(self.failed) {
            self.stopped = true;
            return true;
        }
        false
    }

    /// Hands every child that is next in order to the results.
    fn hand_over(&mut self, sink: &mut Sink<'_>, identity: &RunIdentity) -> Result<(), String> {
        while let Some(r) = self.ready.remove(&self.next) {
            self.next += 1;
            sink.add(&r, identity)?;
        }
        Ok(())
    }
}

/// Where the children's results go, in order: the tally, and the results files or the state's
/// raw result.
struct Sink<'s> {
    writer: Option<ResultsWriter<'s>>,
    collected: Collected,
    tally: Tally,
    transformation: Option<Transformation>,
}

impl Sink<'_> {
    fn add(&mut self, record: &ChildRecord, identity: &RunIdentity) -> Result<(), String> {
        match record.status.as_str() {
            "SUCCEEDED" => self.tally.succeeded += record.items,
            "FAILED" => self.tally.failed += record.items,
            _ => {}
        }
        match self.writer.as_mut() {
            Some(w) => w.add(record, identity),
            None => {
                collect(&mut self.collected, record, identity, self.transformation);
                Ok(())
            }
        }
    }
}

/// Adds a child's result to the state's raw result, stopping (the result is then too large)
/// once it passes the payload limit, so memory stays bounded.
fn collect(
    c: &mut Collected,
    record: &ChildRecord,
    identity: &RunIdentity,
    transformation: Option<Transformation>,
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

/// `$$.Map` while a Map's `ItemSelector` runs: the item's index, value and source (for items
/// taken from the state input `STATE_DATA`, else the object they were read from; AWS, Context
/// object).
pub(super) fn map_item(index: u64, value: Value, source: &str) -> Value {
    json!({"Item": {"Index": index, "Value": value, "Source": source}})
}
