//! Running executions: every RUNNING execution gets a thread that resumes it from its snapshot
//! (or starts it) in the interpreter and saves a snapshot after every top-level state.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use stepscore_asl::{Execution, ExecutionConfig, ExecutionSnapshot, ExecutionStatus};

use crate::executions::{ExecutionInfo, ExecutionState};

use super::LocalRuntime;
use super::dispatcher::Dispatcher;
use super::local_runtime::Inner;
use super::names::{LOCAL_ACCOUNT, LOCAL_REGION, STATE_MACHINE_NAME};

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
                run_execution(&runtime, info, &stop, handle);
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

fn run_execution(
    runtime: &LocalRuntime,
    info: ExecutionInfo,
    stop: &Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
) {
    let inner = &runtime.inner;
    let clock = inner.clock.with_stop(stop.clone());
    let machine = inner.machine.clone();
    let dispatcher = Dispatcher {
        runtime: runtime.clone(),
        handle,
    };
    let saved = inner.executions.snapshot(&info.name).ok().flatten();
    let fail = |message: String| {
        tracing::error!(execution = %info.name, error = %message, "execution cannot run");
        let _ = inner.executions.save(
            &info.name,
            &Value::Null,
            ExecutionState::Failed,
            None,
            Some("States.Runtime"),
            Some(&message),
        );
    };
    let mut exec = match saved.map(serde_json::from_value::<ExecutionSnapshot>) {
        Some(Ok(snap)) => {
            tracing::info!(execution = %info.name, next_state = ?snap.next_state, "resuming execution from its snapshot");
            match Execution::resume(&machine, snap) {
                Ok(e) => e,
                Err(e) => return fail(e.to_string()),
            }
        }
        Some(Err(e)) => return fail(format!("stored snapshot is unreadable: {e}")),
        None => {
            let config = ExecutionConfig {
                state_machine_name: STATE_MACHINE_NAME.into(),
                execution_name: info.name.clone(),
                region: LOCAL_REGION.into(),
                account: LOCAL_ACCOUNT.into(),
                role_arn: format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/stepscore-state-machine"),
                ..ExecutionConfig::default()
            };
            match Execution::start(&machine, info.input.clone(), config, &clock) {
                Ok(e) => e,
                Err(e) => return fail(e.to_string()),
            }
        }
    };
    save(inner, &info.name, &exec);
    loop {
        if stopped_by_request(inner, &info.name) {
            return;
        }
        let done = exec.step(&clock, &dispatcher);
        if stop.load(Ordering::SeqCst) {
            // the step may have been cut short by shutdown: keep the last whole snapshot
            return;
        }
        save(inner, &info.name, &exec);
        if let Some(outcome) = done {
            tracing::info!(execution = %info.name, status = ?outcome.status, error = ?outcome.error, "execution ended");
            return;
        }
    }
}

/// True when execution `name` was stopped (StopExecution) while this runner ran it: its row is
/// ABORTED, so it must not run another state.
fn stopped_by_request(inner: &Inner, name: &str) -> bool {
    match inner.executions.describe(name) {
        Ok(Some(e)) => e.status == ExecutionState::Aborted,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(execution = name, error = %e, "cannot read the execution's status; running on");
            false
        }
    }
}

fn save(inner: &Inner, name: &str, exec: &Execution<'_>) {
    let snap = match serde_json::to_value(exec.snapshot()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(execution = name, error = %e, "cannot serialize an execution snapshot");
            return;
        }
    };
    let o = exec.outcome();
    let status = match o.status {
        ExecutionStatus::Running => ExecutionState::Running,
        ExecutionStatus::Succeeded => ExecutionState::Succeeded,
        ExecutionStatus::Failed => ExecutionState::Failed,
        ExecutionStatus::TimedOut => ExecutionState::TimedOut,
    };
    for attempt in 0..20 {
        match inner.executions.save(
            name,
            &snap,
            status,
            o.output.as_ref(),
            o.error.as_deref(),
            o.cause.as_deref(),
        ) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(execution = name, attempt, error = %e, "cannot save an execution snapshot; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
