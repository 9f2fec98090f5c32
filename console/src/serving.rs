//! Serving the pipeline on demand. Only one process serves a state directory (`runtime.lock`):
//! when the console starts or stops a run and no other process (`stepscore watch`) serves, the
//! console serves until the pipeline is idle again and then lets go, as `stepscore run` does,
//! so a `watch` started later can take over.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use stepscore_local::runtime::RuntimeError;
use stepscore_local::{LocalRuntime, Server};
use tokio::sync::Mutex;

use crate::error::ApiError;

/// Who runs the pipeline in this state directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Serving {
    /// This console, until the work it started is done.
    Console,
    /// Another process (`stepscore watch`, `run`, `schedule`).
    Elsewhere,
    /// Nobody: executions and Batch jobs wait for the next serving process.
    Nobody,
}

/// The console's hold on the serving lock, taken on demand.
#[derive(Debug, Clone)]
pub struct OnDemand {
    rt: LocalRuntime,
    server: Arc<Mutex<Option<Server>>>,
}

impl OnDemand {
    /// Serving on demand for `rt`.
    pub fn new(rt: LocalRuntime) -> Self {
        OnDemand {
            rt,
            server: Arc::new(Mutex::new(None)),
        }
    }

    /// Who serves the state directory now.
    pub async fn state(&self) -> Result<Serving, ApiError> {
        if self.server.lock().await.is_some() {
            return Ok(Serving::Console);
        }
        Ok(if self.rt.served_elsewhere()? {
            Serving::Elsewhere
        } else {
            Serving::Nobody
        })
    }

    /// Makes sure someone serves: takes the lock when nobody holds it, and lets it go once
    /// the pipeline has been idle for two checks in a row.
    pub async fn ensure(&self) -> Result<Serving, ApiError> {
        let mut held = self.server.lock().await;
        if held.is_some() {
            return Ok(Serving::Console);
        }
        match self.rt.serve() {
            Ok(server) => {
                *held = Some(server);
                tracing::info!("console serves the pipeline until it is idle");
                tokio::spawn(release_when_idle(self.server.clone()));
                Ok(Serving::Console)
            }
            Err(RuntimeError::Busy(_)) => Ok(Serving::Elsewhere),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops serving now (console shutdown): running attempts are retried by the next server.
    pub async fn shutdown(&self) {
        if let Some(server) = self.server.lock().await.take() {
            server.shutdown();
        }
    }
}

async fn release_when_idle(slot: Arc<Mutex<Option<Server>>>) {
    let mut calm = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut held = slot.lock().await;
        let Some(server) = held.as_ref() else {
            return;
        };
        match server.is_idle() {
            Ok(true) => calm += 1,
            Ok(false) => calm = 0,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether the pipeline is idle; serving on");
                calm = 0;
            }
        }
        if calm >= 2 {
            if let Some(server) = held.take() {
                server.shutdown();
                tracing::info!("pipeline idle: console stopped serving");
            }
            return;
        }
    }
}
