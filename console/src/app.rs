//! The console's shared state: the runtime, the database connections and what the pages show.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use serde_json::Value;
use stepscore_local::{LocalRuntime, Schedule};

use crate::error::{ApiError, ApiResult};
use crate::graph::Graph;
use crate::serving::OnDemand;

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) rt: LocalRuntime,
    pub(crate) db_path: PathBuf,
    pub(crate) bucket: String,
    pub(crate) schedules: Schedules,
    pub(crate) serving: OnDemand,
    pub(crate) graph: Graph,
    pub(crate) definition: Value,
    /// Read-only connections for the list queries, reused between requests.
    pool: Mutex<Vec<Connection>>,
}

/// The schedules the console shows: parsed, with the document they came from.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    /// Where they were read from (a file name), if anywhere.
    pub source: Option<String>,
    /// The schedules document (for each schedule's expression and zone as written).
    pub document: Value,
    /// The enabled schedules.
    pub parsed: Vec<Schedule>,
}

/// Shared state handle.
pub(crate) type Shared = Arc<AppState>;

impl AppState {
    pub(crate) fn new(
        rt: LocalRuntime,
        bucket: String,
        schedules: Schedules,
        definition: Value,
    ) -> Self {
        let db_path = stepscore_local::runtime::database_path(&rt.config().state_dir);
        AppState {
            serving: OnDemand::new(rt.clone()),
            graph: crate::graph::build(&definition),
            definition,
            rt,
            db_path,
            bucket,
            schedules,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read-only connection off the async threads.
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> ApiResult<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => stepscore_local::views::open_read_only(&this.db_path)?,
            };
            let out = f(&conn);
            let mut pool = this.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < 4 {
                pool.push(conn);
            }
            Ok(out?)
        })
        .await
        .map_err(|e| ApiError::internal(format!("a database read did not finish: {e}")))?
    }
}
