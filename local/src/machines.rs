//! State machines run with `stepscore asl run`, recorded in the state directory beside the
//! pipeline's, so that the console, `history` and `status` show them and their executions.
//!
//! A definition is recorded under a name (by default its file's name) as a numbered version,
//! as Step Functions publishes state machine versions: running the same text again reuses the
//! latest version, running changed text adds one. Each execution keeps the version it ran, so
//! its graph is the one it ran even after the file changed. Executions live in the same
//! `executions` table as the pipeline's ([`LocalExecutions::open_recorded`]), with a snapshot
//! saved as they go (at most every [`SAVE_EVERY`], and at the end): a viewer on another
//! connection reads a consistent row at any moment (WAL).
//!
//! A recorded execution runs only in the process that started it; one whose process was
//! killed stays RUNNING at its last saved state (the serving process never takes it up: it
//! runs the pipeline's definition only).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use stepscore_asl::{
    Clock, Execution, ExecutionConfig, ExecutionOutcome, History, StateMachine, TaskDispatcher,
};
use stepscore_core::ports::{ExecutionError, Started};

use crate::db;
use crate::executions::{ExecutionState, LocalExecutions};
use crate::names::{LOCAL_ACCOUNT, LOCAL_REGION, STATE_MACHINE_NAME, database_path};

/// How often a running recorded execution's snapshot is saved, at most (a snapshot holds the
/// whole history, so saving after every state of a long run would write its history again and
/// again); it is always saved when the execution ends.
pub const SAVE_EVERY: Duration = Duration::from_millis(250);

/// Why a run could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The state database refused a read or write.
    #[error("state database {path}: {source}")]
    Database {
        /// The database file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The state machine name cannot be used.
    #[error(
        "state machine name '{0}': use 1-80 letters, digits, '-' and '_', other than the pipeline's ({STATE_MACHINE_NAME})"
    )]
    MachineName(String),
    /// The execution name cannot be used.
    #[error("execution name '{name}': {message}")]
    ExecutionName {
        /// The name asked for.
        name: String,
        /// Why not, and what to do.
        message: String,
    },
    /// The execution's snapshot could not be serialized.
    #[error("execution '{name}': cannot serialize its snapshot: {message}")]
    Snapshot {
        /// The execution.
        name: String,
        /// serde's message.
        message: String,
    },
}

/// One recorded version of a state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineVersion {
    /// The state machine's name.
    pub name: String,
    /// Its version, from 1.
    pub version: u32,
    /// True when this run added the version (the definition was new or changed).
    pub created: bool,
}

/// The name a definition file is recorded under when none is given: its file name without
/// `.asl.json` / `.json`, with every character a state machine name cannot hold as `-`.
pub fn machine_name_for_file(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file
        .strip_suffix(".asl.json")
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(&file);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    if name.is_empty() {
        "state-machine".into()
    } else {
        name
    }
}

/// True for a name a recorded state machine (or an execution) may have: the project's rule for
/// execution names (`stepscore_core::id::is_execution_name`).
pub fn is_valid_name(name: &str) -> bool {
    stepscore_core::id::is_execution_name(name)
}

/// Records definitions and their executions in one state directory.
#[derive(Debug)]
pub struct Recorder {
    db_path: PathBuf,
    version: MachineVersion,
    executions: LocalExecutions,
}

impl Recorder {
    /// Records `definition` (its text, read from `file`) as state machine `name` in the state
    /// directory `state_dir` (created if needed), as a new version when its text differs from
    /// the latest recorded one.
    pub fn open(
        state_dir: &Path,
        name: &str,
        file: &Path,
        definition: &str,
    ) -> Result<Self, RecordError> {
        if !is_valid_name(name) || name == STATE_MACHINE_NAME {
            return Err(RecordError::MachineName(name.to_owned()));
        }
        let db_path = database_path(state_dir);
        let dberr = |source| RecordError::Database {
            path: db_path.display().to_string(),
            source,
        };
        let mut conn = db::open(&db_path).map_err(dberr)?;
        create_schema(&conn).map_err(dberr)?;
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let version = record_version(&mut conn, name, &file, definition).map_err(dberr)?;
        let executions = LocalExecutions::open_recorded(
            &db_path,
            LOCAL_REGION,
            LOCAL_ACCOUNT,
            name,
            version.version,
        )
        .map_err(dberr)?;
        Ok(Recorder {
            db_path,
            version,
            executions,
        })
    }

    /// The version recorded.
    pub fn version(&self) -> &MachineVersion {
        &self.version
    }

    /// The state machine's ARN.
    pub fn state_machine_arn(&self) -> &str {
        self.executions.state_machine_arn()
    }

    /// Runs `machine` as execution `name` (a new UUID when `None`, as StartExecution names
    /// one) with `input`, recording it as it goes; returns the execution's name, outcome and
    /// history. `config`'s names and ARN parts are replaced by the recorded ones.
    pub fn run(
        &self,
        machine: &StateMachine,
        name: Option<&str>,
        input: Value,
        mut config: ExecutionConfig,
        clock: &dyn Clock,
        tasks: &dyn TaskDispatcher,
    ) -> Result<RecordedRun, RunFailure> {
        let name = name
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if !is_valid_name(&name) {
            return Err(RunFailure::Record(RecordError::ExecutionName {
                name,
                message: "use 1-80 letters, digits, '-' and '_'".into(),
            }));
        }
        config.state_machine_name = self.version.name.clone();
        config.execution_name = name.clone();
        config.region = LOCAL_REGION.into();
        config.account = LOCAL_ACCOUNT.into();
        config.role_arn = format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/stepscore-asl-run");
        // the history is what the console and `history` show
        config.record_history = true;
        let mut exec =
            Execution::start(machine, input.clone(), config, clock).map_err(RunFailure::Engine)?;
        match self.executions.start_blocking(&name, &input) {
            Ok(Started::Started { .. }) => {}
            Ok(Started::AlreadyExists { .. }) | Err(ExecutionError::NameConflict { .. }) => {
                return Err(RunFailure::Record(RecordError::ExecutionName {
                    name,
                    message: format!(
                        "an execution of that name is already recorded in {}: choose another --name",
                        self.db_path.display()
                    ),
                }));
            }
            Err(e) => {
                return Err(RunFailure::Record(RecordError::ExecutionName {
                    name,
                    message: e.to_string(),
                }));
            }
        }
        self.save(&name, &exec)?;
        let mut saved = Instant::now();
        let outcome = loop {
            if let Some(outcome) = exec.step(clock, tasks) {
                break outcome;
            }
            if saved.elapsed() >= SAVE_EVERY {
                self.save(&name, &exec)?;
                saved = Instant::now();
            }
        };
        self.save(&name, &exec)?;
        Ok(RecordedRun {
            name,
            outcome,
            history: exec.into_history(),
        })
    }

    /// Saves `exec`'s snapshot (and its outcome once it has ended) in execution `name`'s row.
    fn save(&self, name: &str, exec: &Execution<'_>) -> Result<(), RecordError> {
        let snap = serde_json::to_value(exec.snapshot()).map_err(|e| RecordError::Snapshot {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
        let o = exec.outcome();
        self.executions
            .save(
                name,
                &snap,
                ExecutionState::from(o.status),
                o.output.as_ref(),
                o.error.as_deref(),
                o.cause.as_deref(),
            )
            .map_err(|source| RecordError::Database {
                path: self.db_path.display().to_string(),
                source,
            })
    }
}

/// A recorded execution that ran to its end.
#[derive(Debug)]
pub struct RecordedRun {
    /// The execution's name.
    pub name: String,
    /// How it ended.
    pub outcome: ExecutionOutcome,
    /// Its history.
    pub history: History,
}

/// Why a recorded run did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    /// The engine refused to start it (its input is too large).
    #[error(transparent)]
    Engine(stepscore_asl::engine::EngineError),
    /// It could not be recorded.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Creates the table of recorded state machine versions.
pub(crate) fn create_schema(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS state_machines (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            file TEXT NOT NULL,
            definition TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            PRIMARY KEY (name, version)
         );",
    )
}

/// Adds a version of `name` with `definition` unless the latest version has that text; in one
/// transaction, so two `asl run`s of a new text add one version.
fn record_version(
    c: &mut rusqlite::Connection,
    name: &str,
    file: &Path,
    definition: &str,
) -> rusqlite::Result<MachineVersion> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let latest: Option<(u32, String)> = tx
        .query_row(
            "SELECT version, definition FROM state_machines WHERE name = ?1
             ORDER BY version DESC LIMIT 1",
            params![name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let version = match latest {
        Some((v, text)) if text == definition => {
            return Ok(MachineVersion {
                name: name.to_owned(),
                version: v,
                created: false,
            });
        }
        Some((v, _)) => v + 1,
        None => 1,
    };
    tx.execute(
        "INSERT INTO state_machines (name, version, file, definition, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            name,
            version,
            file.display().to_string(),
            definition,
            Utc::now().timestamp_micros()
        ],
    )?;
    tx.commit()?;
    Ok(MachineVersion {
        name: name.to_owned(),
        version,
        created: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views;
    use serde_json::json;
    use stepscore_asl::{NoTasks, ValidationOptions, VirtualClock, parse_definition};

    fn machine(definition: &Value) -> StateMachine {
        parse_definition(definition, ValidationOptions::default()).unwrap()
    }

    #[test]
    fn the_pipelines_executions_never_include_a_recorded_one() {
        let dir = tempfile::tempdir().unwrap();
        let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        let recorder = Recorder::open(
            dir.path(),
            "other",
            Path::new("other.asl.json"),
            &definition.to_string(),
        )
        .unwrap();
        let db = database_path(dir.path());
        let pipeline =
            LocalExecutions::open(&db, LOCAL_REGION, LOCAL_ACCOUNT, STATE_MACHINE_NAME).unwrap();
        // a recorded execution left RUNNING (its `asl run` was killed) and one that failed
        recorder
            .executions
            .start_blocking("left-running", &json!({}))
            .unwrap();
        recorder
            .executions
            .start_blocking("failed", &json!({}))
            .unwrap();
        recorder
            .executions
            .save(
                "failed",
                &json!({}),
                ExecutionState::Failed,
                None,
                Some("E"),
                None,
            )
            .unwrap();
        pipeline.start_blocking("job-1", &json!({})).unwrap();
        // what the serving process runs, and what it hands to cleanup
        let running: Vec<String> = pipeline
            .list(Some(ExecutionState::Running), 100)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(running, ["job-1"]);
        assert!(
            pipeline
                .undelivered_ends(&["FAILED", "ABORTED", "TIMED_OUT"], 100)
                .unwrap()
                .is_empty()
        );
        let mine: Vec<String> = recorder
            .executions
            .list(None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(mine.len(), 2);
        assert!(mine.contains(&"left-running".to_owned()) && mine.contains(&"failed".to_owned()));
        // the same name under another machine is refused, whatever the input
        assert!(matches!(
            recorder.run(
                &machine(&definition),
                Some("job-1"),
                json!({}),
                ExecutionConfig::default(),
                &VirtualClock::new(Utc::now()),
                &NoTasks
            ),
            Err(RunFailure::Record(RecordError::ExecutionName { .. }))
        ));
    }

    #[test]
    fn a_reader_beside_a_recording_run_always_reads_a_whole_row() {
        let dir = tempfile::tempdir().unwrap();
        // never ends by itself: the engine stops it at AWS's 25,000 history events
        let definition =
            json!({"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}});
        let recorder = Recorder::open(
            dir.path(),
            "spin",
            Path::new("spin.asl.json"),
            &definition.to_string(),
        )
        .unwrap();
        let db = database_path(dir.path());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = std::thread::spawn({
            let (db, done) = (db.clone(), done.clone());
            move || {
                let c = views::open_read_only(&db).unwrap();
                let (mut reads, mut running) = (0, 0);
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let q = views::ExecutionQuery {
                        state_machine: Some(views::MachineFilter::Recorded("spin".into())),
                        limit: 10,
                        ..Default::default()
                    };
                    let (rows, _) = views::execution_page(&c, &q).expect("a page");
                    if let Some(row) = rows.first() {
                        let snapshot: Option<String> = c
                            .query_row(
                                "SELECT snapshot FROM executions WHERE name = ?1",
                                [&row.name],
                                |r| r.get(0),
                            )
                            .expect("the row");
                        if let Some(text) = snapshot {
                            let snap: Value = serde_json::from_str(&text).expect("whole JSON");
                            assert!(snap["history"]["events"].is_array(), "{snap}");
                        }
                        running += usize::from(row.status == ExecutionState::Running);
                        reads += 1;
                    }
                }
                (reads, running)
            }
        });
        let run = recorder
            .run(
                &machine(&definition),
                Some("spin-1"),
                json!({}),
                ExecutionConfig::default(),
                &VirtualClock::new(Utc::now()),
                &NoTasks,
            )
            .unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (reads, running) = reader.join().unwrap();
        assert!(
            reads > 0 && running > 0,
            "{reads} reads, {running} while RUNNING"
        );
        assert_eq!(run.outcome.status, stepscore_asl::ExecutionStatus::Failed);
        let c = views::open_read_only(&db).unwrap();
        let (rows, _) = views::execution_page(
            &c,
            &views::ExecutionQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, ExecutionState::Failed);
        assert_eq!(rows[0].state_machine.as_deref(), Some("spin"));
        let machines = views::recorded_machines(&c).unwrap();
        assert_eq!(machines.len(), 1);
        assert_eq!((machines[0].version, machines[0].executions), (1, 1));
    }

    #[test]
    fn names_come_from_the_file_and_only_safe_ones_are_kept() {
        assert_eq!(
            machine_name_for_file(Path::new("a/my flow.asl.json")),
            "my-flow"
        );
        assert_eq!(machine_name_for_file(Path::new("x.json")), "x");
        assert!(matches!(
            Recorder::open(
                Path::new("/nonexistent"),
                STATE_MACHINE_NAME,
                Path::new("f"),
                "{}"
            ),
            Err(RecordError::MachineName(_))
        ));
    }
}
