//! The child executions of a Map Run. Each runs on a runner of its own (its own history, context
//! object and task-token counter), so several can run at once: on worker threads, up to
//! `MaxConcurrency`, when the embedder's dispatcher may be called from several threads
//! ([`TaskDispatcher::concurrent`]); one at a time on the execution's thread otherwise.
//!
//! Workers are started as children wait for one, but only while fewer workers than the machine
//! has cores are computing: a worker in a Task call or a Wait (counted by [`Waiting`]) does not
//! count. So children that wait on the outside world run up to `MaxConcurrency` at once, while
//! children that only compute run on about one thread per core, and at most one child waits
//! for a worker: memory stays bounded by the children in flight.
//!
//! A child is journaled by the thread that ran it, before its end is reported, so whatever the
//! Map Run has seen finish is in the journal when the process dies.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::Scope;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::results::RunIdentity;
use super::*;
use crate::env::{Clock, TaskDispatcher};
use crate::history::{Details, History, history_limit_cause};
use crate::model::{StateMachine, Transition};
use crate::store::{ChildRecord, ItemStore};

/// What every child of one Map Run shares; read by every worker thread.
pub(super) struct ChildEnv<'e> {
    pub(super) clock: &'e dyn Clock,
    pub(super) names: &'e Names,
    pub(super) processor: &'e StateMachine,
    pub(super) vars: &'e Vars<'e>,
    pub(super) deadline: Option<DateTime<Utc>>,
    pub(super) depth: usize,
    pub(super) identity: &'e RunIdentity,
    pub(super) state_name: &'e str,
    pub(super) store: Option<&'e dyn ItemStore>,
    /// `$$.Execution.RoleArn` of every child: the parent's role, which runs them.
    pub(super) role_arn: String,
    /// STANDARD children (EXPRESS ones have no `RedriveCount`).
    pub(super) standard: bool,
    /// Set when the parent is stopped: every child ends ABORTED before its next state.
    pub(super) abort: &'e AtomicBool,
    /// Whether a state of the processor reads the context object: only then is a child's
    /// input copied into its `$$.Execution.Input` (a copy per child costs as much as the rest
    /// of a Pass child).
    pub(super) reads_context: bool,
}

/// How long the Map Run waits for a child to end before it looks whether it was stopped.
pub(super) const STOP_POLL: Duration = Duration::from_millis(100);

/// How long the Map Run waits for a child to end, while a child waits for a worker, before it
/// looks whether a running child now waits on the outside world (and another worker may start).
const GROW_POLL: Duration = Duration::from_millis(5);

/// Counts the children that wait on the outside world (in a Task call or a Wait) rather than
/// compute: the dispatcher and clock they are given count them.
pub(super) struct Waiting<'a> {
    count: &'a AtomicUsize,
    tasks: Option<&'a (dyn TaskDispatcher + Sync)>,
    clock: &'a dyn Clock,
}

impl<'a> Waiting<'a> {
    pub(super) fn new(
        count: &'a AtomicUsize,
        tasks: Option<&'a (dyn TaskDispatcher + Sync)>,
        clock: &'a dyn Clock,
    ) -> Self {
        Waiting {
            count,
            tasks,
            clock,
        }
    }

    /// The dispatcher children use on worker threads, when they may use any.
    pub(super) fn tasks(&self) -> Option<&(dyn TaskDispatcher + Sync)> {
        self.tasks.map(|_| self as &(dyn TaskDispatcher + Sync))
    }

    fn waiting<T>(&self, f: impl FnOnce() -> T) -> T {
        self.count.fetch_add(1, Ordering::SeqCst);
        let out = f();
        self.count.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

impl TaskDispatcher for Waiting<'_> {
    fn dispatch(
        &self,
        request: &crate::env::TaskRequest<'_>,
        clock: &dyn Clock,
    ) -> crate::env::TaskOutcome {
        match self.tasks {
            Some(t) => self.waiting(|| t.dispatch(request, clock)),
            None => crate::env::NoTasks.dispatch(request, clock),
        }
    }

    fn item_store(&self) -> Option<&dyn ItemStore> {
        self.tasks.and_then(|t| t.item_store())
    }

    fn concurrent(&self) -> Option<&(dyn TaskDispatcher + Sync)> {
        self.tasks()
    }

    fn stop_requested(&self) -> bool {
        self.tasks.is_some_and(|t| t.stop_requested())
    }
}

impl Clock for Waiting<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) {
        self.waiting(|| self.clock.sleep_until(deadline));
    }
}

/// A child to run: its position, input and the items in it.
pub(super) struct Launch {
    pub(super) index: u64,
    pub(super) input: Value,
    pub(super) items: u64,
}

/// How a child ended (journaled, ABORTED when the parent was stopped), or the fault that ends
/// the parent (its deadline, a journal that refused the record).
pub(super) type Finished = Result<ChildRecord, Fault>;

impl ChildEnv<'_> {
    /// Runs one child execution with a history of its own and journals it.
    pub(super) fn run(&self, tasks: &dyn TaskDispatcher, job: Launch) -> Finished {
        let Launch {
            index,
            input,
            items,
        } = job;
        let name = child_name(&self.identity.map_run_arn, index);
        let start = self.clock.now();
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
                    self.state_name,
                    input_text.len()
                ),
            ))
        } else {
            let mut ctx = self.context(&name, &input, start);
            // Concurrent children must never hand out the same task token: child i numbers
            // its tokens from (i + 1) * 2^32.
            let mut tokens = (index + 1) << 32;
            let mut runner = Runner {
                clock: self.clock,
                tasks,
                history: &mut history,
                ctx: &mut ctx,
                deadline: self.deadline,
                names: self.names,
                token_counter: &mut tokens,
                depth: self.depth,
                test: None,
            };
            match self.run_states(&mut runner, input) {
                Ok(out) => Ok(Some(out)),
                Err(Fault::Aborted) => Ok(None),
                Err(Fault::TimedOut) => return Err(Fault::TimedOut),
                Err(Fault::HistoryLimit) => {
                    Err(StateError::new("States.Runtime", history_limit_cause()))
                }
                Err(Fault::Error(e) | Fault::Retriable(e)) => Err(e),
            }
        };
        let stop = self.clock.now();
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
            Ok(None) => {
                history.push(&Arc::from("ExecutionAborted"), stop, Details::default());
                record.status = "ABORTED".into();
            }
            Ok(Some(out)) => {
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
        if let Some(s) = self.store {
            let arn = &self.identity.map_run_arn;
            let kept = s
                .record_child(arn, &record)
                .and_then(|()| s.keep_child_history(arn, &record, &history));
            if let Err(e) = kept {
                return Err(Fault::Error(StateError::new(
                    "States.Runtime",
                    format!("child {index} of Map Run {arn} could not be recorded: {e}"),
                )));
            }
        }
        Ok(record)
    }
}

impl ChildEnv<'_> {
    /// Runs the processor's states from `StartAt` to the end, looking before each whether the
    /// parent was stopped.
    fn run_states(&self, runner: &mut Runner<'_>, input: Arc<Value>) -> Result<Arc<Value>, Fault> {
        let mut vars = Vars {
            local: HashMap::new(),
            parent: Some(self.vars),
        };
        let mut cur = self.processor.start_at;
        let mut doc = input;
        loop {
            if self.abort.load(Ordering::SeqCst) {
                return Err(Fault::Aborted);
            }
            match runner.run_state(self.processor, cur, doc, &mut vars)? {
                (Transition::Next(n), out) => {
                    cur = n;
                    doc = out;
                }
                (Transition::End, out) => return Ok(out),
            }
        }
    }

    /// A child's context object: a child is an execution of its own, so `$$.Execution` is the
    /// child's (its ARN under the Map Run's labelled state machine, its name, input and start),
    /// not the parent's; `$$.StateMachine` is the labelled state machine
    /// (`arn:…:stateMachine:<name>/<label>`, the ARN AWS documents for a Distributed Map).
    fn context(&self, name: &str, input: &Value, start: DateTime<Utc>) -> Value {
        let id = self.identity;
        let mut execution = json!({
            "Id": format!("{}{name}", id.execution_arn_prefix),
            "Input": if self.reads_context { input.clone() } else { Value::Null },
            "Name": name,
            "RoleArn": self.role_arn,
            "StartTime": format_time(start),
        });
        if self.standard {
            execution["RedriveCount"] = json!(0);
        }
        json!({
            "Execution": execution,
            "StateMachine": {"Id": id.state_machine_arn, "Name": id.state_machine_name},
            "State": {"EnteredTime": "", "Name": ""},
        })
    }
}

/// Runs children: on worker threads started as they are needed (at most `max_workers`), or on
/// the calling thread when there are none.
pub(super) struct Children<'scope, 'env> {
    env: &'env ChildEnv<'env>,
    tasks: &'env dyn TaskDispatcher,
    threads: Option<Threads<'scope, 'env>>,
    /// Children waiting on the outside world rather than computing.
    waiting: &'env AtomicUsize,
    /// Workers that may compute at once: the machine's cores.
    cores: usize,
    /// Ends of children run on the calling thread, not yet taken.
    done_here: VecDeque<(u64, Finished)>,
    /// Children launched whose end has not been taken yet.
    pub(super) running: usize,
}

struct Threads<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    tasks: &'env (dyn TaskDispatcher + Sync),
    jobs: Option<Sender<Launch>>,
    queue: Arc<Mutex<Receiver<Launch>>>,
    done_tx: Sender<(u64, Finished)>,
    done: Receiver<(u64, Finished)>,
    workers: usize,
    max_workers: usize,
}

impl<'scope, 'env> Children<'scope, 'env> {
    /// Children run on threads of `scope` when `concurrent` is given and `max_workers` > 1;
    /// `waiting` counts those of them in a Task call or a Wait.
    pub(super) fn new(
        env: &'env ChildEnv<'env>,
        tasks: &'env dyn TaskDispatcher,
        concurrent: Option<&'env (dyn TaskDispatcher + Sync)>,
        waiting: &'env AtomicUsize,
        scope: &'scope Scope<'scope, 'env>,
        max_workers: usize,
    ) -> Self {
        let threads = concurrent.filter(|_| max_workers > 1).map(|tasks| {
            let (jobs, queue) = channel();
            let (done_tx, done) = channel();
            Threads {
                scope,
                tasks,
                jobs: Some(jobs),
                queue: Arc::new(Mutex::new(queue)),
                done_tx,
                done,
                workers: 0,
                max_workers,
            }
        });
        Children {
            env,
            tasks,
            threads,
            waiting,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            done_here: VecDeque::new(),
            running: 0,
        }
    }

    /// Whether another child may start now: fewer than `limit` running, and on worker threads
    /// none already waiting for a worker.
    pub(super) fn has_room(&self, limit: usize) -> bool {
        self.running < limit
            && self
                .threads
                .as_ref()
                .is_none_or(|t| self.running <= t.workers)
    }

    /// Starts a worker for a child waiting for one, while fewer workers than cores compute.
    fn grow(&mut self) {
        let waiting = self.waiting.load(Ordering::SeqCst);
        let env = self.env;
        if let Some(t) = self.threads.as_mut()
            && t.workers < t.max_workers
            && self.running > t.workers
            && t.workers.saturating_sub(waiting) < self.cores
        {
            t.spawn(env);
        }
    }

    /// Starts a child (on the calling thread it runs to its end here).
    pub(super) fn launch(&mut self, job: Launch) {
        self.running += 1;
        let env = self.env;
        self.grow();
        let mut job = job;
        if let Some(t) = self.threads.as_ref()
            && t.workers > 0
            && let Some(jobs) = &t.jobs
        {
            match jobs.send(job) {
                Ok(()) => return,
                // every worker is gone (they only leave when the queue closes): run it here
                Err(std::sync::mpsc::SendError(back)) => job = back,
            }
        }
        let index = job.index;
        self.done_here
            .push_back((index, guarded(|| env.run(self.tasks, job))));
    }

    /// The end of a child that has ended, if one has; when `wait` and some child is running,
    /// waits for one up to [`STOP_POLL`].
    pub(super) fn next_end(&mut self, wait: bool) -> Option<(u64, Finished)> {
        if let Some(d) = self.done_here.pop_front() {
            self.running -= 1;
            return Some(d);
        }
        self.grow();
        let t = self.threads.as_ref()?;
        let got = if wait && self.running > 0 {
            let queued = self.running > t.workers;
            let poll = if queued { GROW_POLL } else { STOP_POLL };
            t.done.recv_timeout(poll).ok()
        } else {
            t.done.try_recv().ok()
        };
        if got.is_some() {
            self.running -= 1;
        }
        got
    }
}

impl<'scope, 'env> Threads<'scope, 'env> {
    /// Starts one more worker; when the system refuses a thread, the workers there are take
    /// the queue (with none, children run on the calling thread).
    fn spawn(&mut self, env: &'env ChildEnv<'env>) {
        let queue = self.queue.clone();
        let done = self.done_tx.clone();
        let tasks = self.tasks;
        let started = std::thread::Builder::new()
            .name("map-run-child".into())
            .spawn_scoped(self.scope, move || {
                loop {
                    let job = {
                        let q = queue.lock().unwrap_or_else(|e| e.into_inner());
                        q.recv()
                    };
                    let Ok(job) = job else { break };
                    let index = job.index;
                    let end = guarded(|| env.run(tasks, job));
                    if done.send((index, end)).is_err() {
                        break;
                    }
                }
            });
        match started {
            Ok(_) => self.workers += 1,
            Err(e) => {
                tracing::warn!(error = %e, workers = self.workers, "no thread for another child execution; the running ones take the queue");
                self.max_workers = self.workers;
            }
        }
    }
}

impl Drop for Children<'_, '_> {
    fn drop(&mut self) {
        // Closing the queue lets every worker leave once its child has ended; the scope joins them.
        if let Some(t) = self.threads.as_mut() {
            t.jobs = None;
        }
    }
}

/// Runs a child, turning a panic into that child's failure rather than a lost child the Map
/// Run would wait for forever.
fn guarded(f: impl FnOnce() -> Finished) -> Finished {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Fault::Error(StateError::new(
            "States.Runtime",
            format!("a child execution of the Map Run panicked: {what}"),
        )))
    })
}

/// A child execution's name: UUID-shaped, derived from the Map Run and the child's index.
pub(super) fn child_name(map_run_arn: &str, index: u64) -> String {
    let mut h = sha1::Sha1::new();
    sha1::Digest::update(&mut h, map_run_arn.as_bytes());
    sha1::Digest::update(&mut h, index.to_be_bytes());
    digest_uuid(&sha1::Digest::finalize(h)).to_string()
}

pub(super) fn digest_uuid(d: &[u8]) -> uuid::Uuid {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_sha1_bytes(b).into_uuid()
}
