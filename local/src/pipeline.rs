//! The pipeline's Lambda functions, wired to the embedded world: each function name of
//! `handlers/lambda-functions.json` runs the `stepscore-handlers` function over this runtime's
//! store, table, Batch, executions and clock, with the handler's fixed error names as `errorType`
//! (what the state machine's Retry/Catch match).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use stepscore_handlers::{AdmitPorts, HandlerError};

use crate::runtime::{LambdaError, LambdaFuture, LocalRuntime};

/// The definition template of the scoring pipeline (`state-machines/scoring-pipeline.asl.json`).
pub const STATE_MACHINE_TEMPLATE: &str = stepscore_handlers::STATE_MACHINE_JSON;

/// Registers admit, schedule, register, submit, check, finalize and cleanup on `rt`.
pub fn register_pipeline_functions(rt: &LocalRuntime) {
    add(rt, "stepscore-admit", |rt, event| async move {
        let event: aws_lambda_events::s3::S3Event =
            serde_json::from_value(event).map_err(|e| LambdaError {
                error_type: "stepscore.BadConfig".into(),
                error_message: format!(
                    "admit received an event that is not an S3 notification: {e}"
                ),
            })?;
        let clock = rt.clock();
        let ports = AdmitPorts {
            store: rt.store(),
            table: rt.table(),
            executions: rt.executions(),
            clock: &clock,
            // the embedded bucket notification's prefix (NotificationFilter's default)
            jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
        };
        out(stepscore_handlers::admit(ports, &event).await)
    });
    add(rt, "stepscore-schedule", |rt, event| async move {
        let clock = rt.clock();
        let ports = AdmitPorts {
            store: rt.store(),
            table: rt.table(),
            executions: rt.executions(),
            clock: &clock,
            // the embedded bucket notification's prefix (NotificationFilter's default)
            jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
        };
        out(stepscore_handlers::schedule(ports, &event).await)
    });
    add(rt, "stepscore-register", |rt, input| async move {
        out(stepscore_handlers::register(rt.table(), &rt.clock(), &input).await)
    });
    add(rt, "stepscore-submit", |rt, input| async move {
        out(stepscore_handlers::submit(rt.batch(), rt.table(), &rt.clock(), &input).await)
    });
    add(rt, "stepscore-check", |rt, input| async move {
        out(
            stepscore_handlers::check(rt.batch(), rt.store(), rt.table(), &rt.clock(), &input)
                .await,
        )
    });
    add(rt, "stepscore-finalize", |rt, input| async move {
        out(
            stepscore_handlers::finalize(rt.store(), rt.table(), rt.events(), &rt.clock(), &input)
                .await,
        )
    });
    add(
        rt,
        crate::runtime::CLEANUP_FUNCTION,
        |rt, event| async move {
            out(stepscore_handlers::cleanup(
                rt.batch(),
                rt.table(),
                rt.events(),
                &rt.clock(),
                &event,
            )
            .await)
        },
    );
}

fn add<F, Fut>(rt: &LocalRuntime, name: &str, f: F)
where
    F: Fn(LocalRuntime, Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Value, LambdaError>> + Send + 'static,
{
    let f = Arc::new(f);
    // a weak handle: the runtime owns its functions, so a strong one would never be freed
    let weak = rt.downgrade();
    rt.register_function(
        name,
        Arc::new(move |event: Value| -> LambdaFuture {
            let f = f.clone();
            let weak = weak.clone();
            Box::pin(async move {
                let rt = weak.upgrade().ok_or_else(|| LambdaError {
                    error_type: "Lambda.ServiceException".into(),
                    error_message: "the local runtime has shut down".into(),
                })?;
                f(rt, event).await
            })
        }),
    );
}

fn out<T: Serialize>(r: Result<T, HandlerError>) -> Result<Value, LambdaError> {
    match r {
        Ok(v) => serde_json::to_value(v).map_err(|e| LambdaError {
            error_type: "stepscore.Internal".into(),
            error_message: format!("handler output cannot be serialized: {e}"),
        }),
        Err(e) => Err(LambdaError {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }),
    }
}
