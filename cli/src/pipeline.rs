//! Assembles the embedded pipeline: the local runtime on the state directory, with the real
//! handler functions registered as its in-process Lambda functions.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;
use stepscore_handlers::{AdmitPorts, HandlerError};
use stepscore_local::batch::{SCORING_JOB_DEFINITION, SpotReclaim, default_scorer_path};
use stepscore_local::runtime::{LambdaFuture, LambdaError};
use stepscore_local::{LocalRuntime, RuntimeConfig};

use crate::Global;
use crate::exit::Failure;

/// The hidden subcommand under which `stepscore` runs the scoring container itself, when no
/// `stepscore-batch` binary sits next to it (e.g. after `cargo run -p stepscore`). It runs the
/// same library entry point as `stepscore-batch`.
pub const BATCH_CONTAINER_SUBCOMMAND: &str = "batch-container";

/// Choices that change how the local world behaves.
#[derive(Debug, Default, Clone)]
pub struct PipelineOptions {
    /// Reclaim the first spot attempt this many (scaled) seconds after it starts running.
    pub reclaim_spot_after: Option<f64>,
}

/// Opens the local runtime on `g.state_dir` with every handler registered.
pub fn open(g: &Global, options: &PipelineOptions) -> Result<LocalRuntime, Failure> {
    let mut config = RuntimeConfig::new(&g.state_dir, stepscore_handlers::STATE_MACHINE_JSON, scorer_path());
    config.time_scale = g.time_scale;
    if let Some(after) = options.reclaim_spot_after {
        config.batch.spot_reclaim = Some(SpotReclaim { after_seconds: after, times: 1, when_output_contains: None });
    }
    if let Some(command) = self_as_scorer() {
        if let Some(def) = config.batch.job_definitions.get_mut(SCORING_JOB_DEFINITION) {
            def.command = command;
        }
    }
    let rt = LocalRuntime::open(config).map_err(|e| Failure::Environment(anyhow!("cannot open the local pipeline in {}: {e}", g.state_dir.display())))?;
    register_functions(&rt);
    Ok(rt)
}

fn scorer_path() -> PathBuf {
    default_scorer_path()
}

/// `[stepscore, batch-container]` when no `stepscore-batch` binary can be found.
fn self_as_scorer() -> Option<Vec<String>> {
    if default_scorer_path().is_file() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    Some(vec![exe.display().to_string(), BATCH_CONTAINER_SUBCOMMAND.to_owned()])
}

fn to_lambda_error(e: HandlerError) -> LambdaError {
    LambdaError { error_type: e.error_type().to_owned(), error_message: e.to_string() }
}

fn respond<T: Serialize>(r: Result<T, HandlerError>) -> Result<Value, LambdaError> {
    let value = r.map_err(to_lambda_error)?;
    serde_json::to_value(value).map_err(|e| LambdaError { error_type: "stepscore.Internal".into(), error_message: format!("response is not JSON: {e}") })
}

/// Wraps an async handler over the runtime as an in-process Lambda function.
fn function<F, Fut>(rt: &LocalRuntime, f: F) -> stepscore_local::LambdaFn
where
    F: Fn(LocalRuntime, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, LambdaError>> + Send + 'static,
{
    // The functions hold a clone of the runtime they are registered in: a cycle, on purpose, for
    // the life of the process (a Lambda function lives as long as its account does).
    let rt = rt.clone();
    let f = Arc::new(f);
    Arc::new(move |event: Value| -> LambdaFuture {
        let rt = rt.clone();
        let f = f.clone();
        Box::pin(async move { f(rt, event).await })
    })
}

/// Registers admit, schedule, register, submit, check and finalize as the runtime's functions.
pub fn register_functions(rt: &LocalRuntime) {
    rt.register_function(
        "stepscore-admit",
        function(rt, |rt, event| async move {
            let event: aws_lambda_events::s3::S3Event = serde_json::from_value(event)
                .map_err(|e| LambdaError { error_type: "stepscore.BadInput".into(), error_message: format!("not an S3 event: {e}") })?;
            let clock = rt.clock();
            let ports = AdmitPorts { store: rt.store(), table: rt.table(), executions: rt.executions(), clock: &clock };
            respond(stepscore_handlers::admit(ports, &event).await)
        }),
    );
    rt.register_function(
        "stepscore-schedule",
        function(rt, |rt, event| async move {
            let clock = rt.clock();
            let ports = AdmitPorts { store: rt.store(), table: rt.table(), executions: rt.executions(), clock: &clock };
            respond(stepscore_handlers::schedule(ports, &event).await)
        }),
    );
    rt.register_function(
        "stepscore-register",
        function(rt, |rt, event| async move { respond(stepscore_handlers::register(rt.table(), &rt.clock(), &event).await) }),
    );
    rt.register_function(
        "stepscore-submit",
        function(rt, |rt, event| async move { respond(stepscore_handlers::submit(rt.batch(), rt.table(), &rt.clock(), &event).await) }),
    );
    rt.register_function(
        "stepscore-check",
        function(rt, |rt, event| async move { respond(stepscore_handlers::check(rt.batch(), rt.table(), &rt.clock(), &event).await) }),
    );
    rt.register_function(
        "stepscore-finalize",
        function(rt, |rt, event| async move { respond(stepscore_handlers::finalize(rt.store(), rt.table(), &rt.clock(), &event).await) }),
    );
}
