//! The Map Run journal in `state.db`: every finished child execution of a Distributed Map (its
//! record and its history), written before the Map Run goes on, so a runtime killed mid-run
//! resumes the Map Run without running a finished child again.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use stepscore_asl::History;
use stepscore_asl::store::ChildRecord;

use crate::db;

/// Finished children of Map Runs, by Map Run ARN and child index.
#[derive(Clone)]
pub struct MapRunJournal {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for MapRunJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapRunJournal").finish_non_exhaustive()
    }
}

impl MapRunJournal {
    /// Opens (creating if needed) the journal's table in the database at `db_path`.
    pub fn open(db_path: &Path) -> rusqlite::Result<Self> {
        let conn = db::open(db_path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS map_run_children (
                map_run_arn TEXT NOT NULL,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                record TEXT NOT NULL,
                history TEXT,
                PRIMARY KEY (map_run_arn, idx)
             );
             CREATE INDEX IF NOT EXISTS map_run_children_name ON map_run_children(name);",
        )?;
        Ok(MapRunJournal {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The finished children of a Map Run. A stored record that is not readable is an error
    /// naming it: running that child again could do its work twice.
    pub fn children(&self, map_run_arn: &str) -> Result<Vec<ChildRecord>, String> {
        let c = self.lock();
        let mut stmt = c
            .prepare("SELECT idx, record FROM map_run_children WHERE map_run_arn = ?1 ORDER BY idx")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![map_run_arn], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, text) = row.map_err(|e| e.to_string())?;
            out.push(serde_json::from_str(&text).map_err(|e| {
                format!("the journal's record of child {idx} of {map_run_arn} is not readable: {e}")
            })?);
        }
        Ok(out)
    }

    /// Records a finished child (a second record of the same child changes nothing).
    pub fn record(&self, map_run_arn: &str, child: &ChildRecord) -> Result<(), String> {
        let text = serde_json::to_string(child).map_err(|e| e.to_string())?;
        self.lock()
            .execute(
                "INSERT OR IGNORE INTO map_run_children (map_run_arn, idx, name, record) VALUES (?1, ?2, ?3, ?4)",
                params![map_run_arn, child.index as i64, child.name, text],
            )
            .map(|_| ())
            .map_err(|e| format!("state.db refused the record of child {}: {e}", child.index))
    }

    /// Keeps a child's history beside its record.
    pub fn keep_history(
        &self,
        map_run_arn: &str,
        child: &ChildRecord,
        history: &History,
    ) -> Result<(), String> {
        let text = serde_json::to_string(history).map_err(|e| e.to_string())?;
        self.lock()
            .execute(
                "UPDATE map_run_children SET history = ?1 WHERE map_run_arn = ?2 AND idx = ?3",
                params![text, map_run_arn, child.index as i64],
            )
            .map(|_| ())
            .map_err(|e| format!("state.db refused the history of child {}: {e}", child.index))
    }

    /// The history of the child execution named `name` (its execution name), when there is one.
    pub fn history(&self, name: &str) -> rusqlite::Result<Option<History>> {
        let text: Option<Option<String>> = self
            .lock()
            .query_row(
                "SELECT history FROM map_run_children WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text
            .flatten()
            .and_then(|t| serde_json::from_str::<History>(&t).ok()))
    }

    /// The child executions of a Map Run, as (index, name, status), in order.
    pub fn list(&self, map_run_arn: &str) -> Result<Vec<(u64, String, String)>, String> {
        Ok(self
            .children(map_run_arn)?
            .into_iter()
            .map(|c| (c.index, c.name, c.status))
            .collect())
    }
}
