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

use super::{LocalRuntime, RuntimeError};

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
        if let Err(e) = c.execute(
            "INSERT INTO s3_events (event) VALUES (?1)",
            params![event.to_string()],
        ) {
            tracing::error!(db = %sink_db.display(), error = %e, "cannot record an S3 event; the object was stored but admit will not see it");
        }
        bell.notify_one();
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

pub(super) async fn event_pump(runtime: LocalRuntime, stop: Arc<AtomicBool>) {
    const MAX_ATTEMPTS: u32 = 3;
    while !stop.load(Ordering::SeqCst) {
        let batch: Vec<(i64, String, u32)> = {
            let c = runtime
                .inner
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            c.prepare_cached("SELECT seq, event, attempts FROM s3_events WHERE state = 'PENDING' ORDER BY seq LIMIT 64")
                .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the S3 event outbox");
                    Vec::new()
                })
        };
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
                let value: Value = serde_json::from_str(&event).unwrap_or(Value::Null);
                let result = rt.invoke("stepscore-admit", value).await;
                (seq, attempts, result)
            }));
        }
        for d in deliveries {
            let Ok((seq, attempts, result)) = d.await else {
                continue;
            };
            let c = runtime
                .inner
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let r = match result {
                Ok(_) => c.execute(
                    "UPDATE s3_events SET state = 'DELIVERED', attempts = ?1 WHERE seq = ?2",
                    params![attempts + 1, seq],
                ),
                Err(e) => {
                    // Lambda retries a failed async invocation twice, then sends it to the DLQ
                    let state = if attempts + 1 >= MAX_ATTEMPTS {
                        "DEAD_LETTER"
                    } else {
                        "PENDING"
                    };
                    tracing::warn!(seq, attempt = attempts + 1, error = %e, state, "admit failed on an S3 event");
                    c.execute("UPDATE s3_events SET state = ?1, attempts = ?2, last_error = ?3 WHERE seq = ?4", params![state, attempts + 1, e.to_string(), seq])
                }
            };
            if let Err(e) = r {
                tracing::warn!(seq, error = %e, "cannot record an S3 event's delivery; it will be delivered again");
            }
        }
    }
}
