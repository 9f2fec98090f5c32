//! [`SqliteTable`]: the job table in a SQLite file, with DynamoDB's conditional-write semantics.
//!
//! Each record is one row: the record's JSON plus the columns the conditions and the index need
//! (`status`, `progress`, `updated_us`). An update is one `UPDATE … SET record = json_set(…)
//! WHERE id = ? AND progress < ?` — the same shape as DynamoDB's `UpdateItem` with a
//! `ConditionExpression` — so the forward-only rule holds between any number of writers in any
//! number of processes without a read-modify-write window.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use stepscore_core::JobId;
use stepscore_core::live::LiveProgress;
use stepscore_core::ports::{Created, JobTable, ListFilter, TableError, Updated};
use stepscore_core::record::{JobRecord, JobUpdate, RECORD_VERSION};
use stepscore_core::status::Progress;

use crate::db;

/// The job table as a SQLite file.
#[derive(Clone)]
pub struct SqliteTable {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTable")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteTable {
    /// Opens (creating if needed) the table in the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TableError> {
        let path = path.as_ref().to_path_buf();
        let conn = db::open(&path).map_err(|e| TableError::Other {
            message: format!("cannot open the job table database {}: {e}", path.display()),
        })?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS job_records (
                id TEXT PRIMARY KEY NOT NULL,
                status TEXT NOT NULL,
                progress INTEGER NOT NULL,
                updated_us INTEGER NOT NULL,
                record TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS job_records_status_time
                ON job_records(status, updated_us DESC);
             CREATE INDEX IF NOT EXISTS job_records_time ON job_records(updated_us DESC);",
        )
        .map_err(|e| sql_error(&format!("creating the job table in {}", path.display()), e))?;
        Ok(SqliteTable {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, TableError> + Send + 'static,
    ) -> Result<T, TableError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| TableError::Other {
            message: format!("job table worker thread failed: {e}"),
        })?
    }
}

#[async_trait]
impl JobTable for SqliteTable {
    async fn create(&self, record: &JobRecord) -> Result<Created, TableError> {
        let text = serde_json::to_string(record).map_err(|e| TableError::Other {
            message: format!("job record '{}' cannot be serialized: {e}", record.id),
        })?;
        let id = record.id.as_str().to_owned();
        let status = record.status.as_str();
        let progress = stored_progress(record.progress());
        let updated = micros(record.updated_at);
        self.with_conn(move |c| {
            // INSERT OR IGNORE is DynamoDB's PutItem with attribute_not_exists(id)
            let n = c
                .execute(
                    "INSERT INTO job_records (id, status, progress, updated_us, record)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING",
                    params![id, status, progress, updated, text],
                )
                .map_err(|e| sql_error(&format!("creating job record '{id}'"), e))?;
            if n == 1 {
                return Ok(Created::Created);
            }
            match read(c, &id)? {
                Some(r) => Ok(Created::Exists(r)),
                None => Err(TableError::Transient {
                    message: format!("job record '{id}' existed on insert but not on read; retry"),
                }),
            }
        })
        .await
    }

    async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, TableError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |c| read(c, &id)).await
    }

    async fn update(&self, id: &JobId, update: &JobUpdate) -> Result<Updated, TableError> {
        let id = id.as_str().to_owned();
        let update = update.clone();
        self.with_conn(move |c| {
            let (set, mut args) = update_expression(&id, &update)?;
            let new_progress = stored_progress(update.progress());
            let sql = format!(
                "UPDATE job_records SET record = {set}, status = ?, progress = ?, updated_us = ?
                 WHERE id = ? AND progress < ? RETURNING record"
            );
            args.push(update.status.as_str().to_owned().into());
            args.push(new_progress.into());
            args.push(micros(update.at).into());
            args.push(id.clone().into());
            args.push(new_progress.into());
            let applied: Option<String> = c
                .query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                .optional()
                .map_err(|e| sql_error(&format!("updating job record '{id}'"), e))?;
            applied_or_current(c, id, applied)
        })
        .await
    }

    async fn record_live(&self, id: &JobId, live: &LiveProgress) -> Result<Updated, TableError> {
        let id = id.as_str().to_owned();
        let text = serde_json::to_string(live).map_err(|e| TableError::Other {
            message: format!("progress of job record '{id}' cannot be serialized: {e}"),
        })?;
        let attempt = i64::from(live.attempt);
        let sequence = i64::try_from(live.sequence).unwrap_or(i64::MAX);
        self.with_conn(move |c| {
            // JobRecord::apply_live's rule as the UPDATE's condition: the record's attempt, not
            // ended, and the attempt's first figures or further on than the kept ones
            let applied: Option<String> = c
                .query_row(
                    "UPDATE job_records SET record = json_set(record, '$.live', json(?1))
                     WHERE id = ?2 AND progress < ?3
                       AND json_extract(record, '$.attempt') = ?4
                       AND (json_extract(record, '$.live') IS NULL
                            OR json_extract(record, '$.live.attempt') < ?4
                            OR json_extract(record, '$.live.sequence') < ?5)
                     RETURNING record",
                    params![text, id, i64::MAX, attempt, sequence],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| {
                    sql_error(&format!("recording the progress of job record '{id}'"), e)
                })?;
            applied_or_current(c, id, applied)
        })
        .await
    }

    async fn mark_notified(&self, id: &JobId) -> Result<Updated, TableError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |c| {
            let applied: Option<String> = c
                .query_row(
                    "UPDATE job_records SET record = json_set(record, '$.notification', 'sent')
                     WHERE id = ?1 AND json_extract(record, '$.notification') = 'pending'
                     RETURNING record",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| sql_error(&format!("marking job record '{id}' notified"), e))?;
            applied_or_current(c, id, applied)
        })
        .await
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, TableError> {
        let filter = filter.clone();
        self.with_conn(move |c| {
            let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
            let rows: Vec<(String, String)> = match filter.status {
                Some(s) => {
                    let mut st = c
                        .prepare_cached(
                            "SELECT id, record FROM job_records WHERE status = ?1
                             ORDER BY updated_us DESC, id LIMIT ?2",
                        )
                        .map_err(|e| sql_error("listing job records", e))?;
                    st.query_map(params![s.as_str(), limit], |r| Ok((r.get(0)?, r.get(1)?)))
                        .and_then(|rows| rows.collect())
                        .map_err(|e| sql_error("listing job records", e))?
                }
                None => {
                    let mut st = c
                        .prepare_cached(
                            "SELECT id, record FROM job_records
                             ORDER BY updated_us DESC, id LIMIT ?1",
                        )
                        .map_err(|e| sql_error("listing job records", e))?;
                    st.query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?)))
                        .and_then(|rows| rows.collect())
                        .map_err(|e| sql_error("listing job records", e))?
                }
            };
            rows.iter().map(|(id, text)| parse(id, text)).collect()
        })
        .await
    }
}

/// The `json_set(…)` expression that applies `update` to the stored JSON, and its arguments:
/// the same changes as [`JobRecord::apply`], field by field.
fn update_expression(
    id: &str,
    u: &JobUpdate,
) -> Result<(String, Vec<rusqlite::types::Value>), TableError> {
    let ser = |v: &dyn erased_ser::Ser| v.to_sql(id);
    let mut expr = String::from(
        "json_set(record, '$.status', json(?), '$.attempt', json(?), '$.updated_at', json(?)",
    );
    let mut args = vec![ser(&u.status)?, ser(&u.attempt)?, ser(&u.at)?];
    if let Some(arn) = &u.execution_arn {
        expr.push_str(", '$.execution_arn', json(?)");
        args.push(ser(arn)?);
    }
    if let Some(m) = &u.metrics {
        expr.push_str(", '$.metrics', json(?)");
        args.push(ser(m)?);
    }
    if let Some(r) = &u.failure_reason {
        expr.push_str(", '$.failure_reason', json(?)");
        args.push(ser(r)?);
    }
    if u.status.is_terminal() {
        // the outbox of the status change event, in the write that ends the record
        expr.push_str(", '$.notification', json(?)");
        args.push(ser(&stepscore_core::record::Notification::Pending)?);
    }
    expr.push(')');
    if let Some(a) = &u.new_attempt {
        // '$.attempts[#]' appends, like DynamoDB's list_append
        expr = format!("json_insert({expr}, '$.attempts[#]', json(?))");
        args.push(ser(a)?);
    }
    Ok((expr, args))
}

mod erased_ser {
    use rusqlite::types::Value as Sql;
    use stepscore_core::ports::TableError;

    /// Any serializable field as a JSON text argument (object-safe, so one closure takes all).
    pub trait Ser {
        fn to_sql(&self, id: &str) -> Result<Sql, TableError>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_sql(&self, id: &str) -> Result<Sql, TableError> {
            serde_json::to_string(self)
                .map(Sql::Text)
                .map_err(|e| TableError::Other {
                    message: format!("update of job record '{id}' cannot be serialized: {e}"),
                })
        }
    }
}

/// The record a conditional `UPDATE … RETURNING record` wrote, or, when its condition held
/// it back, the record as it is.
fn applied_or_current(
    c: &Connection,
    id: String,
    applied: Option<String>,
) -> Result<Updated, TableError> {
    match applied {
        Some(text) => Ok(Updated::Applied(parse(&id, &text)?)),
        None => match read(c, &id)? {
            Some(r) => Ok(Updated::Ignored(r)),
            None => Err(TableError::NotFound { id }),
        },
    }
}

fn read(c: &Connection, id: &str) -> Result<Option<JobRecord>, TableError> {
    let text: Option<String> = c
        .query_row(
            "SELECT record FROM job_records WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| sql_error(&format!("reading job record '{id}'"), e))?;
    text.map(|t| parse(id, &t)).transpose()
}

fn parse(id: &str, text: &str) -> Result<JobRecord, TableError> {
    let value: Value = serde_json::from_str(text).map_err(|e| TableError::Corrupt {
        id: id.into(),
        message: format!("stored JSON is invalid: {e}"),
    })?;
    if let Some(v) = value.get("version").and_then(Value::as_u64)
        && v > u64::from(RECORD_VERSION)
    {
        return Err(TableError::Corrupt {
            id: id.into(),
            message: format!(
                "record format {v} is newer than this build reads ({RECORD_VERSION}): upgrade stepscore"
            ),
        });
    }
    serde_json::from_value(value).map_err(|e| TableError::Corrupt {
        id: id.into(),
        message: e.to_string(),
    })
}

/// SQLite integers are signed 64-bit; terminal progress (`u64::MAX`) is kept as `i64::MAX`,
/// which preserves the order because live progress values are small.
fn stored_progress(p: Progress) -> i64 {
    i64::try_from(p.value()).unwrap_or(i64::MAX)
}

fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

fn sql_error(what: &str, e: rusqlite::Error) -> TableError {
    if db::is_busy(&e) {
        TableError::Transient {
            message: format!("{what}: the database stayed locked by another writer: {e}"),
        }
    } else {
        TableError::Other {
            message: format!("{what}: {e}"),
        }
    }
}
