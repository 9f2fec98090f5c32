//! `watch --on-complete COMMAND`: the user's command run once for each "stepscore Job Status
//! Change" event in the state directory's events log, the event JSON on its stdin.
//!
//! Which events were handed over is kept in `on-complete.delivered` beside the log (one event id
//! a line, written after the command ends), so a watch that restarts hands over only what it had
//! not: exactly once, unless watch dies while a command runs (then that one runs again).

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, anyhow};
use stepscore_local::events::{Delivered, EventsLog, LogLine};
use tokio::io::AsyncWriteExt;

/// The file of delivered event ids in the state directory.
pub const DELIVERED_FILE: &str = "on-complete.delivered";

/// The command and what it has been handed.
pub struct OnComplete<'a> {
    log: &'a EventsLog,
    delivered: Delivered,
    command: String,
    /// Log lines already reported unreadable (reported once).
    warned: HashSet<usize>,
}

impl<'a> OnComplete<'a> {
    /// Runs `command` for the events of `log` not yet delivered in `state_dir`.
    pub fn open(log: &'a EventsLog, state_dir: &Path, command: &str) -> anyhow::Result<Self> {
        let path = state_dir.join(DELIVERED_FILE);
        let delivered = Delivered::open(&path)
            .with_context(|| format!("cannot read the --on-complete record {}", path.display()))?;
        Ok(OnComplete {
            log,
            delivered,
            command: command.to_owned(),
            warned: HashSet::new(),
        })
    }

    /// Runs the command for each event not delivered yet, oldest first.
    pub async fn deliver_new(&mut self) -> anyhow::Result<()> {
        let lines = self
            .log
            .read_all()
            .with_context(|| format!("cannot read the events log {}", self.log.path().display()))?;
        for line in lines {
            let event = match line {
                LogLine::Event(e) => e,
                LogLine::Unreadable { line, reason } => {
                    if self.warned.insert(line) {
                        eprintln!(
                            "stepscore: --on-complete: skipping line {line} of {}: not a job status change event: {reason}",
                            self.log.path().display()
                        );
                    }
                    continue;
                }
            };
            let id = &event.detail.event_id;
            if self.delivered.contains(id) {
                continue;
            }
            let json = serde_json::to_vec(&*event)?;
            match self.run(&json).await {
                Ok(status) if status.success() => {}
                Ok(status) => eprintln!(
                    "stepscore: --on-complete command for event {id} exited with {status}"
                ),
                Err(e) => eprintln!("stepscore: --on-complete command for event {id}: {e:#}"),
            }
            self.delivered.insert(id).with_context(|| {
                format!("cannot record event {id} as delivered in {DELIVERED_FILE}")
            })?;
        }
        Ok(())
    }

    async fn run(&self, event: &[u8]) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start `sh -c {}`", self.command))?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("the command's stdin was not opened"))?;
        // a command that does not read its stdin closes the pipe: that is its choice
        let _ = stdin.write_all(event).await;
        let _ = stdin.write_all(b"\n").await;
        drop(stdin);
        Ok(child.wait().await?)
    }
}
