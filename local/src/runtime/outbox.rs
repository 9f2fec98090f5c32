//! The S3 event outbox (table `s3_events`): every event of a put under the notification filter
//! is in it before the put returns, and the pump delivers it to admit as S3 invokes a function
//! asynchronously (at least once, two retries, then the dead-letter state).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::params;
use serde_json::Value;

use crate::db;
use crate::store::EventSink;

use super::{LocalRuntime, RuntimeError, refused};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS s3_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'PENDING',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS s3_events_state ON s3_events(state, seq);
";

/// The outbox as a runtime holds it.
pub(super) struct Outbox {
    /// The connection the pump and the counts use.
    pub(super) conn: rusqlite::Connection,
    /// Where the store sends the event of each put under the notification filter.
    pub(super) sink: EventSink,
    /// Rung when the sink adds an event, so delivery does not wait for its poll.
    pub(super) wake: Arc<tokio::sync::Notify>,
}

/// Opens (creating if needed) the outbox in the database at `db_path`.
pub(super) fn open(db_path: &Path) -> rusqlite::Result<Outbox> {
    let conn = db::open(db_path)?;
    conn.execute_batch(SCHEMA)?;
    let sink_db = db_path.to_path_buf();
    let sink_conn = Mutex::new(db::open(db_path)?);
    let wake = Arc::new(tokio::sync::Notify::new());
    let bell = wake.clone();
    // S3 notifications are durable: the event is in the outbox before put returns
    let sink: EventSink = Arc::new(move |event: Value| {
        let c = sink_conn.lock().unwrap_or_else(|e| e.into_inner());
        c.execute(
            "INSERT INTO s3_events (event) VALUES (?1)",
            params![event.to_string()],
        )
        .map_err(|e| {
            format!(
                "cannot add it to the event outbox in {}: {e}",
                sink_db.display()
            )
        })?;
        bell.notify_one();
        Ok(())
    });
    Ok(Outbox { conn, sink, wake })
}

impl LocalRuntime {
    /// Undelivered S3 events and events that failed delivery (the dead-letter queue).
    pub fn event_counts(&self) -> Result<BTreeMap<String, u64>, RuntimeError> {
        let c = self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = c
            .prepare("SELECT state, COUNT(*) FROM s3_events GROUP BY state")
            .map_err(|e| self.dberr(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|r| r.collect::<Result<BTreeMap<_, _>, _>>())
            .map_err(|e| self.dberr(e))?;
        Ok(rows)
    }
}

/// How many times admit gets an event before it goes to the dead-letter state: Lambda retries a
/// failed asynchronous invocation twice.
const MAX_ATTEMPTS: u32 = 3;

/// Delivers the outbox's pending events to admit until the server stops. An event leaves the
/// outbox only once its delivery is recorded; while state.db refuses that, the pump pauses
/// before it delivers again.
pub(super) async fn event_pump(runtime: LocalRuntime, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let batch = pending_events(&runtime);
        if batch.is_empty() {
            // another process (`stepscore put` beside `watch`) only shows up by polling
            let _ = tokio::time::timeout(
                Duration::from_millis(50),
                runtime.inner.outbox_wake.notified(),
            )
            .await;
            continue;
        }
        // S3 invokes admit asynchronously, many at once
        let mut deliveries = Vec::new();
        for (seq, event, attempts) in batch {
            let rt = runtime.clone();
            deliveries.push(tokio::spawn(async move {
                let result = match serde_json::from_str::<Value>(&event) {
                    Ok(value) => rt
                        .invoke("stepscore-admit", value)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!(
                        "outbox event {seq} is not JSON, so admit never got it: {e}"
                    )),
                };
                (seq, attempts, result)
            }));
        }
        let mut refused = false;
        for d in deliveries {
            let Ok((seq, attempts, result)) = d.await else {
                continue;
            };
            if let Err(e) = record_delivery(&runtime, seq, attempts, &result) {
                tracing::error!(seq, db = %runtime.inner.config.state_dir.join("state.db").display(), error = %e, "cannot record an S3 event's delivery; it is delivered again after a pause");
                refused = true;
            }
        }
        if refused {
            tokio::time::sleep(refused::PAUSE).await;
        }
    }
}

/// Up to 64 pending events, oldest first, as (seq, event, attempts so far).
fn pending_events(runtime: &LocalRuntime) -> Vec<(i64, String, u32)> {
    let c = runtime
        .inner
        .outbox
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    c.prepare_cached(
        "SELECT seq, event, attempts FROM s3_events WHERE state = 'PENDING' ORDER BY seq LIMIT 64",
    )
    .and_then(|mut st| {
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
    })
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the S3 event outbox; reading it again");
        Vec::new()
    })
}

/// Records how delivery `attempts + 1` of event `seq` went: delivered, pending another try, or
/// in the dead-letter state with its last error.
fn record_delivery(
    runtime: &LocalRuntime,
    seq: i64,
    attempts: u32,
    result: &Result<Value, String>,
) -> rusqlite::Result<()> {
    let c = runtime
        .inner
        .outbox
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let attempt = attempts + 1;
    match result {
        Ok(_) => c.execute(
            "UPDATE s3_events SET state = 'DELIVERED', attempts = ?1 WHERE seq = ?2",
            params![attempt, seq],
        )?,
        Err(e) => {
            let state = if attempt >= MAX_ATTEMPTS {
                "DEAD_LETTER"
            } else {
                "PENDING"
            };
            tracing::warn!(seq, attempt, error = %e, state, "admit failed on an S3 event");
            c.execute(
                "UPDATE s3_events SET state = ?1, attempts = ?2, last_error = ?3 WHERE seq = ?4",
                params![state, attempt, e, seq],
            )?
        }
    };
    Ok(())
}
