//! The state directory's SQLite file, shared by the job table, the local Batch, the executions
//! and the event outbox (separate tables, one file, so one backup is one copy).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a writer waits for another process's transaction before giving up as transient.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the database at `path` in WAL mode with a busy timeout, so several
/// processes can read and write it at once.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent() {
        // a missing folder would surface as SQLITE_CANTOPEN, which names no folder
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers run beside the one writer; NORMAL sync is durable against a killed
    // process (what the local world must survive), though not against power loss
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// True when the error is contention that a retry may get past.
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Adds `column` (SQL declaration `decl`) to `table` when a database from an older stepscore
/// lacks it; returns true when it was added.
pub fn add_column(
    conn: &Connection,
    table: &str,
    column: &str,
    decl: &str,
) -> rusqlite::Result<bool> {
    let exists: bool = conn.query_row(
        &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
        [column],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(false);
    }
    match conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}")) {
        Ok(()) => Ok(true),
        // another process added it between the check and here
        Err(e) if e.to_string().contains("duplicate column name") => Ok(false),
        Err(e) => Err(e),
    }
}
