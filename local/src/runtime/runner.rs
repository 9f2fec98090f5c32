//! Running executions: every RUNNING execution gets a thread that resumes it from its snapshot
//! (or starts it) in the interpreter and saves a snapshot after every top-level state. A state
//! runs only after the snapshot before it is saved; while state.db refuses that, the execution
//! waits at its last saved state.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use stepscore_asl::{Execution, ExecutionConfig, ExecutionSnapshot, ExecutionStatus, StateMachine};

use crate::db;
use crate::executions::{ExecutionInfo, ExecutionState};

use super::LocalRuntime;
use super::dispatcher::Dispatcher;
use super::local_runtime::Inner;
use super::{ScaledClock, refused};
use crate::names::{LOCAL_ACCOUNT, LOCAL_REGION, STATE_MACHINE_NAME};

/// Gives every RUNNING execution a runner (one at a time each), looking again when one starts
/// and every 250 ms.
pub(super) async fn execution_scheduler(
    runtime: LocalRuntime,
    stop: Arc<AtomicBool>,
    active: Arc<Mutex<HashSet<String>>>,
    handle: tokio::runtime::Handle,
) {
    while !stop.load(Ordering::SeqCst) {
        match runtime.list_executions(Some(ExecutionState::Running), usize::MAX) {
            Ok(running) => {
                for e in running {
                    let mut set = active.lock().unwrap_or_else(|x| x.into_inner());
                    if set.insert(e.name.clone()) {
                        drop(set);
                        spawn_runner(
                            runtime.clone(),
                            e,
                            stop.clone(),
                            active.clone(),
                            handle.clone(),
                        );
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list running executions"),
        }
        tokio::select! {
            _ = runtime.inner.executions.started() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

fn spawn_runner(
    runtime: LocalRuntime,
    info: ExecutionInfo,
    stop: Arc<AtomicBool>,
    active: Arc<Mutex<HashSet<String>>>,
    handle: tokio::runtime::Handle,
) {
    let name = info.name.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("exec-{name}"))
        .spawn({
            let active = active.clone();
            let name = name.clone();
            move || {
                if let Err(e) = run_execution(&runtime, info, &stop, handle) {
                    tracing::error!(execution = %name, error = %e, "execution held at its last saved state; trying again shortly");
                    // still active meanwhile: the scheduler takes it up again after the pause
                    refused::pause_thread(&stop);
                }
                active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&name);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(execution = %name, error = %e, "cannot start a thread for an execution; will retry");
        active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name);
    }
}

/// Runs execution `info` from its last saved state until it ends, is stopped, or the server
/// stops. A state runs only once the snapshot before it is in state.db; an error means the
/// database could not be read or written, and the execution stays RUNNING at its last saved
/// state, to be taken up again.
fn run_execution(
    runtime: &LocalRuntime,
    info: ExecutionInfo,
    stop: &Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
) -> Result<(), String> {
    let inner = &runtime.inner;
    let clock = inner.clock.with_stop(stop.clone());
    let machine = inner.machine.clone();
    let Some(mut exec) = resume_or_start(inner, &machine, &info, &clock)? else {
        return Ok(());
    };
    let items = super::map_run::DirItemStore::new(
        inner.store.clone(),
        Some(inner.map_runs.clone()),
        handle.clone(),
        inner.config.state_dir.join("tmp"),
    );
    let dispatcher = Dispatcher {
        runtime: runtime.clone(),
        handle,
        items,
        execution: info.name.clone(),
    };
    save(inner, &info.name, &exec)?;
    loop {
        if stopped_by_request(inner, &info.name)? {
            return Ok(());
        }
        let done = exec.step(&clock, &dispatcher);
        if stop.load(Ordering::SeqCst) {
            // the step may have been cut short by shutdown: keep the last whole snapshot
            return Ok(());
        }
        if exec.status() == ExecutionStatus::Aborted {
            // stopped during the step (a Map Run it aborted): keep the history up to
            // MapRunAborted; the row is ABORTED already, with the stop's error and cause
            return inner
                .executions
                .save_stopped_snapshot(
                    &info.name,
                    &serde_json::to_value(exec.snapshot())
                        .map_err(|e| format!("cannot serialize its snapshot: {e}"))?,
                )
                .map_err(|e| format!("cannot save its snapshot in state.db: {e}"));
        }
        save(inner, &info.name, &exec)?;
        if let Some(outcome) = done {
            tracing::info!(execution = %info.name, status = ?outcome.status, error = ?outcome.error, "execution ended");
            return Ok(());
        }
    }
}

/// The execution as its saved snapshot left it, or started afresh when it has none; `None`
/// when it cannot run at all (then it is recorded FAILED). An error when state.db cannot say
/// which: an execution whose snapshot cannot be read is never restarted from its first state.
fn resume_or_start<'m>(
    inner: &Inner,
    machine: &'m StateMachine,
    info: &ExecutionInfo,
    clock: &ScaledClock,
) -> Result<Option<Execution<'m>>, String> {
    let saved = match inner.executions.snapshot(&info.name) {
        Ok(saved) => saved,
        // the text is there but is not JSON: no later read will do better
        Err(rusqlite::Error::FromSqlConversionFailure(_, _, e)) => {
            return fail(
                inner,
                &info.name,
                format!("stored snapshot is unreadable: {e}"),
            );
        }
        Err(e) => return Err(format!("cannot read its snapshot from state.db: {e}")),
    };
    let Some(saved) = saved else {
        let config = ExecutionConfig {
            state_machine_name: STATE_MACHINE_NAME.into(),
            execution_name: info.name.clone(),
            region: LOCAL_REGION.into(),
            account: LOCAL_ACCOUNT.into(),
            role_arn: format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/stepscore-state-machine"),
            ..ExecutionConfig::default()
        };
        return match Execution::start(machine, info.input.clone(), config, clock) {
            Ok(e) => Ok(Some(e)),
            Err(e) => fail(inner, &info.name, e.to_string()),
        };
    };
    let snap = match serde_json::from_value::<ExecutionSnapshot>(saved) {
        Ok(snap) => snap,
        Err(e) => {
            return fail(
                inner,
                &info.name,
                format!("stored snapshot is unreadable: {e}"),
            );
        }
    };
    tracing::info!(execution = %info.name, next_state = ?snap.next_state, "resuming execution from its snapshot");
    match Execution::resume(machine, snap) {
        Ok(e) => Ok(Some(e)),
        Err(e) => fail(inner, &info.name, e.to_string()),
    }
}

/// Records that execution `name` cannot run (`States.Runtime`, with `message` as its cause).
fn fail<T>(inner: &Inner, name: &str, message: String) -> Result<Option<T>, String> {
    tracing::error!(execution = %name, error = %message, "execution cannot run");
    inner
        .executions
        .save(
            name,
            &Value::Null,
            ExecutionState::Failed,
            None,
            Some("States.Runtime"),
            Some(&message),
        )
        .map_err(|e| format!("cannot record that it failed ({message}) in state.db: {e}"))?;
    Ok(None)
}

/// True when execution `name` was stopped (StopExecution) while this runner ran it: its row is
/// ABORTED, so it must not run another state.
pub(super) fn stopped_by_request(inner: &Inner, name: &str) -> Result<bool, String> {
    match inner.executions.describe(name) {
        Ok(e) => Ok(e.is_some_and(|e| e.status == ExecutionState::Aborted)),
        Err(e) => Err(format!(
            "cannot read its status from state.db (was it stopped?): {e}"
        )),
    }
}

/// Writes the execution's snapshot (and its outcome once it has ended). Contention is waited
/// out for a while; any other failure is returned, and the next state must not run.
fn save(inner: &Inner, name: &str, exec: &Execution<'_>) -> Result<(), String> {
    let snap = serde_json::to_value(exec.snapshot())
        .map_err(|e| format!("cannot serialize its snapshot: {e}"))?;
    let o = exec.outcome();
    let status = match o.status {
        ExecutionStatus::Running => ExecutionState::Running,
        ExecutionStatus::Succeeded => ExecutionState::Succeeded,
        ExecutionStatus::Failed => ExecutionState::Failed,
        ExecutionStatus::TimedOut => ExecutionState::TimedOut,
        ExecutionStatus::Aborted => ExecutionState::Aborted,
    };
    let mut tries = 1;
    loop {
        let saved = inner.executions.save(
            name,
            &snap,
            status,
            o.output.as_ref(),
            o.error.as_deref(),
            o.cause.as_deref(),
        );
        match saved {
            Ok(()) => return Ok(()),
            Err(e) if db::is_busy(&e) && tries < 20 => {
                tracing::warn!(execution = name, attempt = tries, error = %e, "state.db is busy; saving the snapshot again");
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(format!("cannot save its snapshot in state.db: {e}")),
        }
    }
}
