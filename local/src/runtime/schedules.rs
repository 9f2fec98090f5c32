//! Running EventBridge Scheduler's schedules into the runtime's `stepscore-schedule` function,
//! and recording them in the state directory (`schedules` in state.db: each loaded schedule's
//! definition, next and last fire) for viewers such as the console.
//!
//! One process at a time serves a state directory, so one set of schedules is loaded at a
//! time: loading a set marks the schedules of an earlier set that are not in it as unloaded,
//! and the set is marked unloaded when its run ends (or its future is dropped, as on Ctrl-C).
//! A process killed outright leaves its set marked loaded; nobody then serves the state
//! directory, which a viewer can tell (`runtime.lock` is free).

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::LocalRuntime;
use crate::names::{LOCAL_ACCOUNT, LOCAL_REGION};
use crate::schedule::{Schedule, Scheduler};

impl LocalRuntime {
    /// Fires `scheduler`'s schedules from `from` until `until` (or forever) into the
    /// `stepscore-schedule` function, as EventBridge Scheduler does (context attributes filled,
    /// failed invocations retried three times, then dropped with an error log as to a DLQ);
    /// returns the number of fires. The schedules are recorded as loaded, with their next and
    /// last fires, while it runs.
    pub async fn run_schedules(
        &self,
        scheduler: &Scheduler,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> usize {
        const RETRIES: u32 = 3;
        let scale = self.inner.config.time_scale;
        let record = LoadedSchedules::load(self, scheduler.schedules(), from);
        scheduler
            .run(from, until, scale, |fire| {
                let rt = self.clone();
                if let Some(r) = &record {
                    r.fired(scheduler.schedules(), &fire.schedule, fire.scheduled_time);
                }
                async move {
                    let arn = format!("arn:aws:scheduler:{LOCAL_REGION}:{LOCAL_ACCOUNT}:schedule/default/{}", fire.schedule);
                    for attempt in 1..=RETRIES + 1 {
                        let input = crate::schedule::fill_context_attributes(&fire.input, &fire, &arn, attempt);
                        match rt.invoke("stepscore-schedule", input).await {
                            Ok(_) => return,
                            Err(e) => tracing::warn!(schedule = %fire.schedule, attempt, error = %e, "schedule target failed"),
                        }
                    }
                    tracing::error!(schedule = %fire.schedule, scheduled_time = %fire.scheduled_time, "schedule fire dropped after retries (dead letter)");
                }
            })
            .await
    }
}

/// Creates the table of loaded schedules.
pub(crate) fn create_schema(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schedules (
            name TEXT PRIMARY KEY NOT NULL,
            expression TEXT NOT NULL,
            timezone TEXT NOT NULL,
            description TEXT NOT NULL,
            input TEXT NOT NULL,
            start_us INTEGER NOT NULL,
            next_fire_us INTEGER,
            last_fire_us INTEGER,
            fires INTEGER NOT NULL DEFAULT 0,
            loaded_us INTEGER NOT NULL,
            unloaded_us INTEGER
         );",
    )
}

/// The record of a loaded set of schedules; marks them unloaded when dropped. Recording is
/// for viewers: a write state.db refuses is logged and never holds a fire back.
struct LoadedSchedules {
    conn: Mutex<Connection>,
    names: Vec<String>,
}

impl LoadedSchedules {
    /// Records `schedules` as loaded at `from` (their next fire after it), every other
    /// recorded schedule as unloaded; `None` (logged) when state.db refuses.
    fn load(rt: &LocalRuntime, schedules: &[Schedule], from: DateTime<Utc>) -> Option<Self> {
        let db_path = super::database_path(&rt.inner.config.state_dir);
        let write = || -> rusqlite::Result<Connection> {
            let mut conn = crate::db::open(&db_path)?;
            create_schema(&conn)?;
            let now = Utc::now().timestamp_micros();
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE schedules SET unloaded_us = ?1 WHERE unloaded_us IS NULL",
                params![now],
            )?;
            for s in schedules {
                // a schedule loaded again under its name keeps its last fire and count
                tx.execute(
                    "INSERT INTO schedules (name, expression, timezone, description, input, start_us,
                                            next_fire_us, loaded_us, unloaded_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)
                     ON CONFLICT(name) DO UPDATE SET expression = ?2, timezone = ?3,
                        description = ?4, input = ?5, start_us = ?6, next_fire_us = ?7,
                        loaded_us = ?8, unloaded_us = NULL",
                    params![
                        s.name,
                        s.expression.to_string(),
                        s.time_zone.name(),
                        s.description,
                        s.input.to_string(),
                        s.start.timestamp_micros(),
                        s.next_after(from).map(|t| t.timestamp_micros()),
                        now,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(conn)
        };
        match write() {
            Ok(conn) => Some(LoadedSchedules {
                conn: Mutex::new(conn),
                names: schedules.iter().map(|s| s.name.clone()).collect(),
            }),
            Err(e) => {
                tracing::warn!(db = %db_path.display(), error = %e, "cannot record the loaded schedules; they fire all the same");
                None
            }
        }
    }

    /// Records that schedule `name` fired for `at`, and its next fire.
    fn fired(&self, schedules: &[Schedule], name: &str, at: DateTime<Utc>) {
        let next = schedules
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.next_after(at));
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = conn.execute(
            "UPDATE schedules SET last_fire_us = ?1, next_fire_us = ?2, fires = fires + 1
             WHERE name = ?3",
            params![
                at.timestamp_micros(),
                next.map(|t| t.timestamp_micros()),
                name
            ],
        ) {
            tracing::warn!(schedule = %name, error = %e, "cannot record a schedule's fire; it fires all the same");
        }
    }
}

impl Drop for LoadedSchedules {
    fn drop(&mut self) {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let now = Utc::now().timestamp_micros();
        for name in &self.names {
            if let Err(e) = conn.execute(
                "UPDATE schedules SET unloaded_us = ?1 WHERE name = ?2 AND unloaded_us IS NULL",
                params![now, name],
            ) {
                tracing::warn!(schedule = %name, error = %e, "cannot record that a schedule was unloaded");
            }
        }
    }
}
