//! A state database that refuses chosen writes, as a full disk or a file gone read-only would:
//! a trigger that aborts the statement, added and dropped over a connection of the test's own,
//! so the code under test sees the failure on its own connections.

use std::path::Path;

/// The error every refused write reports.
pub const REFUSED: &str = "disk I/O error (refused by the test)";

/// Makes `write` (a trigger event such as `UPDATE OF snapshot ON executions` or
/// `INSERT ON s3_events`) fail for each row where `when` holds (SQL over `NEW`/`OLD`; `1` for
/// every row), until [`allow`] drops the trigger `name`.
pub fn refuse(db: &Path, name: &str, write: &str, when: &str) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER {name} BEFORE {write} FOR EACH ROW WHEN {when}
             BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END;"
        ))
        .unwrap();
}

/// Lets the writes that [`refuse`] refused under `name` through again.
pub fn allow(db: &Path, name: &str) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch(&format!("DROP TRIGGER {name};"))
        .unwrap();
}
