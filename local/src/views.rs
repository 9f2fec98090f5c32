//! Read-only views of a state directory's database for viewers that run beside the serving
//! process (the console): a read-only connection, keyset pages of executions, counts by
//! status, and which job an execution belongs to.
//!
//! The SQL lives here, beside the schemas it reads (`executions`, `job_records`). Every query is
//! one short statement on a read-only connection in WAL mode, so a viewer never holds a writer
//! back.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

use crate::executions::ExecutionState;

/// Opens the database at `path` read-only (it must exist: a viewer creates nothing).
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

/// Where a page of executions starts: after this execution in the list's order (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionCursor {
    /// The start time of the last execution of the previous page, microseconds.
    pub start_us: i64,
    /// Its name (the tie-breaker between executions started in the same microsecond).
    pub name: String,
}

impl ExecutionCursor {
    /// The cursor's text form, `<start_us>.<name>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.start_us, self.name)
    }

    /// Reads [`encode`](Self::encode)'s form; `None` when `text` is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let (us, name) = text.split_once('.')?;
        Some(ExecutionCursor {
            start_us: us.parse().ok()?,
            name: name.to_owned(),
        })
    }
}

/// Which executions a page shows.
#[derive(Debug, Clone, Default)]
pub struct ExecutionQuery {
    /// Only executions in this status.
    pub status: Option<ExecutionState>,
    /// Only executions whose name starts with this (a job id, or its beginning).
    pub name_prefix: Option<String>,
    /// Start after this execution.
    pub after: Option<ExecutionCursor>,
    /// At most this many.
    pub limit: usize,
}

/// One execution in a list, as ListExecutions shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionRow {
    /// Execution name.
    pub name: String,
    /// Status.
    pub status: ExecutionState,
    /// When it started.
    pub start_date: DateTime<Utc>,
    /// When it ended.
    pub stop_date: Option<DateTime<Utc>>,
    /// The error it failed with.
    pub error: Option<String>,
    /// Its start time in microseconds (for the cursor).
    #[serde(skip)]
    pub start_us: i64,
}

/// A page of executions, newest first, and the cursor of the next page when there is one.
/// Keyset paging: each page is one range scan of `(start_us, name)` (or `(status, start_us,
/// name)`), as fast at the ten-thousandth execution as at the first.
pub fn execution_page(
    c: &Connection,
    q: &ExecutionQuery,
) -> rusqlite::Result<(Vec<ExecutionRow>, Option<ExecutionCursor>)> {
    let limit = q.limit.clamp(1, 1000);
    let (after_us, after_name) = match &q.after {
        Some(a) => (a.start_us, a.name.clone()),
        // above every (start_us, name): no execution starts at i64::MAX
        None => (i64::MAX, String::new()),
    };
    // names are letters, digits, '-' and '_': every name with the prefix sorts below prefix+DEL
    let prefix = q.name_prefix.clone().unwrap_or_default();
    let upper = format!("{prefix}\u{7f}");
    let status = q.status.map(ExecutionState::as_str);
    // two statements, so each walks its index backwards: (status, start_us, name) or
    // (start_us, name); `+name` keeps the planner off the name index (a prefix is checked on the
    // index entries, not sorted afterwards), the row value is the keyset bound
    let mut st = c.prepare_cached(if status.is_some() {
        "SELECT name, status, start_us, stop_us, error FROM executions
         WHERE status = ?1 AND +name >= ?2 AND +name < ?3 AND (start_us, name) < (?4, ?5)
         ORDER BY status DESC, start_us DESC, name DESC
         LIMIT ?6"
    } else {
        "SELECT name, status, start_us, stop_us, error FROM executions
         WHERE ?1 IS NULL AND +name >= ?2 AND +name < ?3 AND (start_us, name) < (?4, ?5)
         ORDER BY start_us DESC, name DESC
         LIMIT ?6"
    })?;
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut rows: Vec<ExecutionRow> = st
        .query_map(
            params![status, prefix, upper, after_us, after_name, fetch],
            |r| {
                let status: String = r.get(1)?;
                let start_us: i64 = r.get(2)?;
                Ok(ExecutionRow {
                    name: r.get(0)?,
                    status: ExecutionState::parse(&status),
                    start_date: time(start_us),
                    stop_date: r.get::<_, Option<i64>>(3)?.map(time),
                    error: r.get(4)?,
                    start_us,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| ExecutionCursor {
            start_us: r.start_us,
            name: r.name.clone(),
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// How many executions there are in each status.
pub fn execution_counts(c: &Connection) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut st =
        c.prepare_cached("SELECT status, COUNT(*) FROM executions GROUP BY status ORDER BY 1")?;
    st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
        .collect()
}

/// How many job records there are in each status.
pub fn job_counts(c: &Connection) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut st =
        c.prepare_cached("SELECT status, COUNT(*) FROM job_records GROUP BY status ORDER BY 1")?;
    st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
        .collect()
}

/// The id of the job whose record names execution `arn` as its execution, if any.
pub fn job_of_execution(c: &Connection, arn: &str) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT id FROM job_records WHERE json_extract(record, '$.execution_arn') = ?1 LIMIT 1",
        params![arn],
        |r| r.get(0),
    )
    .optional()
}

/// True when a job record with this id exists.
pub fn job_exists(c: &Connection, id: &str) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT COUNT(*) > 0 FROM job_records WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executions::LocalExecutions;
    use serde_json::json;
    use stepscore_core::ports::Executions;

    fn page(c: &Connection, q: &ExecutionQuery) -> (Vec<String>, Option<ExecutionCursor>) {
        let (rows, next) = execution_page(c, q).unwrap();
        (rows.into_iter().map(|r| r.name).collect(), next)
    }

    #[tokio::test]
    async fn pages_walk_every_execution_once_newest_first_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let ex = LocalExecutions::open(&db, "r", "1", "m").unwrap();
        for i in 0..25 {
            ex.start(&format!("job-{i:02}"), &json!({})).await.unwrap();
        }
        ex.save(
            "job-03",
            &json!({}),
            ExecutionState::Failed,
            None,
            Some("E"),
            None,
        )
        .unwrap();
        let c = open_read_only(&db).unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = ExecutionQuery {
                after: after.clone(),
                limit: 10,
                ..Default::default()
            };
            let (names, next) = page(&c, &q);
            seen.extend(names);
            match next {
                Some(n) => after = Some(ExecutionCursor::decode(&n.encode()).unwrap()),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..25).map(|i| format!("job-{i:02}")).collect();
        let mut sorted = seen.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "every execution once");
        assert_eq!(
            seen.first().map(String::as_str),
            Some("job-24"),
            "newest first"
        );

        let failed = ExecutionQuery {
            status: Some(ExecutionState::Failed),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(page(&c, &failed).0, vec!["job-03"]);
        let prefix = ExecutionQuery {
            name_prefix: Some("job-1".into()),
            limit: 100,
            ..Default::default()
        };
        assert_eq!(page(&c, &prefix).0.len(), 10);
        let counts = execution_counts(&c).unwrap();
        assert_eq!(
            counts,
            vec![("FAILED".to_owned(), 1), ("RUNNING".to_owned(), 24)]
        );
        assert!(ExecutionCursor::decode("nonsense").is_none());
    }
}
