//! `stepscore console`: a web console over the embedded world's state directory, readable
//! while `stepscore watch` or `run` work in it.
//!
//! The API (`/api/…`, JSON) and a single page (vanilla JS, the graph laid out by the vendored
//! dagre) compiled into the binary. Pages: the state machine graph; executions (keyset pages,
//! filter, search) and one execution (graph coloured per state, event table, each state's
//! input/output/error/cause, live over server-sent events); jobs with progress and container
//! logs; the local Batch with spot-reclaim injection; start a run from a pasted config
//! (validated field by field) and stop one; schedules with their next fire times.
//!
//! # Layout
//! - `app`: shared state (the runtime, read-only database connections).
//! - `api/`: one module per page of the API; `routes`: which path reaches which handler.
//! - `security`: the guard every request passes (Host, Origin, JSON bodies, CSP).
//! - `serving`: serving the pipeline on demand when nobody else does.
//! - `graph`, `states`, `validate`, `progress`: what the pages show, computed from the
//!   definition, the history, the config and the scorer's progress reports.
//! - `assets`: the compiled-in page.
//!
//! # Invariants
//! - Lists are read on read-only connections, one short statement each.
//! - No request names a file: logs are found by job, Batch job and attempt among the job's
//!   own attempts; the page's files are compiled in.
//! - A state-changing request from another origin, or any request whose `Host` is not the
//!   console's address, is refused before it reaches a handler.
//! - Every error is JSON (`{"error", "message"}`) with a status; nothing panics on input.

mod api;
mod app;
mod assets;
mod error;
mod graph;
mod progress;
mod routes;
mod security;
mod serving;
mod states;
mod validate;

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use stepscore_local::LocalRuntime;

pub use app::Schedules;
pub use error::ApiError;
pub use security::{CONTENT_SECURITY_POLICY, Guard};

/// What a console serves.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The embedded world, opened with the pipeline's functions registered.
    pub runtime: LocalRuntime,
    /// The bucket configs are dropped into (`s3://<bucket>/jobs/`).
    pub bucket: String,
    /// The schedules to show.
    pub schedules: Schedules,
}

/// Why the console could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The listener failed.
    #[error("the console's listener failed: {0}")]
    Io(#[from] std::io::Error),
    /// The state machine definition could not be read.
    #[error("cannot read the state machine definition: {0}")]
    Definition(String),
}

/// Serves the console on `listener` until `shutdown` resolves; then stops serving the
/// pipeline if the console was serving it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ConsoleConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ConsoleError> {
    let addr = listener.local_addr()?;
    let rt = config.runtime;
    let text = stepscore_local::runtime::fill_placeholders(
        &rt.config().definition,
        &rt.config().placeholders,
    )
    .map_err(|e| ConsoleError::Definition(e.to_string()))?;
    let definition: Value =
        serde_json::from_str(&text).map_err(|e| ConsoleError::Definition(e.to_string()))?;
    let state = Arc::new(app::AppState::new(
        rt,
        config.bucket,
        config.schedules,
        definition,
    ));
    let router = routes::router(state.clone(), Arc::new(Guard::new(addr)));
    tracing::info!(%addr, "console listening");
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut stopped = rx.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    // live streams (server-sent events) stay open while their execution runs: after the
    // shutdown signal, open connections get a moment to finish, then are dropped
    let result = tokio::select! {
        r = server => r,
        _ = async {
            let _ = rx.wait_for(|s| *s).await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        } => Ok(()),
    };
    state.serving.shutdown().await;
    Ok(result?)
}
