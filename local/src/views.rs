//! Read-only views of a state directory's database for viewers that run beside the serving
//! process (the console): a read-only connection, keyset pages of executions, counts by
//! status, which job an execution belongs to, the state machines recorded by `asl run`, and
//! the schedules the runtime loaded.
//!
//! The SQL lives here, beside the schemas it reads (`executions`, `job_records`,
//! `state_machines`, `schedules`). Every query is
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

/// Which state machine's executions a page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineFilter {
    /// The pipeline's.
    Pipeline,
    /// Those of the state machine recorded under this name.
    Recorded(String),
}

/// Which executions a page shows.
#[derive(Debug, Clone, Default)]
pub struct ExecutionQuery {
    /// Only executions of this state machine.
    pub state_machine: Option<MachineFilter>,
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
    /// The recorded state machine it ran (`None`: the pipeline's).
    pub state_machine: Option<String>,
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
    let machine = match &q.state_machine {
        Some(MachineFilter::Recorded(name)) => Some(name.as_str()),
        _ => None,
    };
    // one statement per filter, so each walks its index backwards: (status, start_us, name),
    // (start_us, name) or (state_machine, start_us, name); `+name` keeps the planner off the
    // name index (a prefix is checked on the index entries, not sorted afterwards), the row
    // value is the keyset bound; with both a machine and a status, the machine's index and the
    // status checked on its entries' rows
    let mut st = c.prepare_cached(match (&q.state_machine, status.is_some()) {
        (None, true) => {
            "SELECT name, status, start_us, stop_us, error, state_machine FROM executions
             WHERE status = ?1 AND +name >= ?2 AND +name < ?3 AND (start_us, name) < (?4, ?5)
               AND ?7 IS NULL
             ORDER BY status DESC, start_us DESC, name DESC
             LIMIT ?6"
        }
        (None, false) => {
            "SELECT name, status, start_us, stop_us, error, state_machine FROM executions
             WHERE ?1 IS NULL AND +name >= ?2 AND +name < ?3 AND (start_us, name) < (?4, ?5)
               AND ?7 IS NULL
             ORDER BY start_us DESC, name DESC
             LIMIT ?6"
        }
        (Some(_), _) => {
            "SELECT name, status, start_us, stop_us, error, state_machine FROM executions
             WHERE state_machine IS ?7 AND (?1 IS NULL OR +status = ?1)
               AND +name >= ?2 AND +name < ?3 AND (start_us, name) < (?4, ?5)
             ORDER BY state_machine DESC, start_us DESC, name DESC
             LIMIT ?6"
        }
    })?;
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut rows: Vec<ExecutionRow> = st
        .query_map(
            params![status, prefix, upper, after_us, after_name, fetch, machine],
            |r| {
                let status: String = r.get(1)?;
                let start_us: i64 = r.get(2)?;
                Ok(ExecutionRow {
                    name: r.get(0)?,
                    status: ExecutionState::parse(&status),
                    start_date: time(start_us),
                    stop_date: r.get::<_, Option<i64>>(3)?.map(time),
                    error: r.get(4)?,
                    state_machine: r.get(5)?,
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

/// A state machine recorded by `stepscore asl run`, as a list shows it: its latest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedMachine {
    /// Its name.
    pub name: String,
    /// Its latest version.
    pub version: u32,
    /// The file the latest version was read from.
    pub file: String,
    /// When the latest version was recorded.
    pub updated_at: DateTime<Utc>,
    /// Its executions (of every version).
    pub executions: u64,
    /// When the newest of them started.
    pub last_start: Option<DateTime<Utc>>,
}

/// The recorded state machines, by name.
pub fn recorded_machines(c: &Connection) -> rusqlite::Result<Vec<RecordedMachine>> {
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    let mut st = c.prepare_cached(
        "SELECT m.name, m.version, m.file, m.created_us,
                (SELECT COUNT(*) FROM executions e WHERE e.state_machine = m.name),
                (SELECT MAX(start_us) FROM executions e WHERE e.state_machine = m.name)
         FROM state_machines m
         WHERE m.version = (SELECT MAX(version) FROM state_machines v WHERE v.name = m.name)
         ORDER BY m.name",
    )?;
    st.query_map([], |r| {
        Ok(RecordedMachine {
            name: r.get(0)?,
            version: r.get(1)?,
            file: r.get(2)?,
            updated_at: time(r.get(3)?),
            executions: r.get::<_, i64>(4)?.max(0) as u64,
            last_start: r.get::<_, Option<i64>>(5)?.map(time),
        })
    })?
    .collect()
}

/// One version of a recorded state machine, with its definition's text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineDefinition {
    /// Its name.
    pub name: String,
    /// This version.
    pub version: u32,
    /// The newest version of the name.
    pub latest_version: u32,
    /// The file it was read from.
    pub file: String,
    /// The definition, as the file held it.
    pub definition: String,
    /// When this version was recorded.
    pub created_at: DateTime<Utc>,
}

/// Version `version` (the latest when `None`) of the state machine recorded as `name`.
pub fn machine_definition(
    c: &Connection,
    name: &str,
    version: Option<u32>,
) -> rusqlite::Result<Option<MachineDefinition>> {
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    c.prepare_cached(
        "SELECT name, version, file, definition, created_us,
                (SELECT MAX(version) FROM state_machines v WHERE v.name = m.name)
         FROM state_machines m
         WHERE name = ?1 AND (?2 IS NULL OR version = ?2)
         ORDER BY version DESC LIMIT 1",
    )?
    .query_row(params![name, version], |r| {
        Ok(MachineDefinition {
            name: r.get(0)?,
            version: r.get(1)?,
            file: r.get(2)?,
            definition: r.get(3)?,
            created_at: time(r.get(4)?),
            latest_version: r.get(5)?,
        })
    })
    .optional()
}

/// How many executions the pipeline's state machine has, and when the newest started.
pub fn pipeline_executions(c: &Connection) -> rusqlite::Result<(u64, Option<DateTime<Utc>>)> {
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    c.prepare_cached("SELECT COUNT(*), MAX(start_us) FROM executions WHERE state_machine IS NULL")?
        .query_row([], |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, Option<i64>>(1)?.map(time),
            ))
        })
}

/// A schedule the runtime loaded (`stepscore schedule`), as recorded in state.db.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedSchedule {
    /// Its name.
    pub name: String,
    /// `cron(…)`, `rate(…)` or `at(…)`.
    pub expression: String,
    /// The IANA zone the expression is read in.
    pub timezone: String,
    /// What it is for.
    pub description: String,
    /// The target input each fire carries (the job-config template inside).
    pub input: serde_json::Value,
    /// The first possible fire (a rate's anchor).
    pub start: DateTime<Utc>,
    /// Its next fire, as the loading process computed it (`None`: never again).
    pub next_fire: Option<DateTime<Utc>>,
    /// The scheduled time of its last fire.
    pub last_fire: Option<DateTime<Utc>>,
    /// Its fires since it was first loaded.
    pub fires: u64,
    /// When it was (last) loaded.
    pub loaded_at: DateTime<Utc>,
    /// When the process that loaded it stopped running it (`None`: loaded).
    pub unloaded_at: Option<DateTime<Utc>>,
}

/// The schedules the runtime loaded, loaded ones first, by name.
pub fn loaded_schedules(c: &Connection) -> rusqlite::Result<Vec<LoadedSchedule>> {
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    let mut st = c.prepare_cached(
        "SELECT name, expression, timezone, description, input, start_us, next_fire_us,
                last_fire_us, fires, loaded_us, unloaded_us
         FROM schedules ORDER BY unloaded_us IS NOT NULL, name",
    )?;
    st.query_map([], |r| {
        let input: String = r.get(4)?;
        Ok(LoadedSchedule {
            name: r.get(0)?,
            expression: r.get(1)?,
            timezone: r.get(2)?,
            description: r.get(3)?,
            input: serde_json::from_str(&input).unwrap_or(serde_json::Value::String(input)),
            start: time(r.get(5)?),
            next_fire: r.get::<_, Option<i64>>(6)?.map(time),
            last_fire: r.get::<_, Option<i64>>(7)?.map(time),
            fires: r.get::<_, i64>(8)?.max(0) as u64,
            loaded_at: time(r.get(9)?),
            unloaded_at: r.get::<_, Option<i64>>(10)?.map(time),
        })
    })?
    .collect()
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
