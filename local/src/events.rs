//! The embedded world's `Notifier`: the events log, `events.jsonl` in the state directory, one
//! "stepscore Job Status Change" event per line, as EventBridge hands it to a rule's target
//! (source, detail-type, time and the same detail as on AWS),
//! and the record of which events a consumer (`stepscore watch --on-complete`) has handled.
//!
//! Only the serving process writes the log (`runtime.lock`), one whole line per `write` on a
//! file opened for appending, synced before `publish` returns; a reader takes complete lines
//! only, so a line being written is read on the next pass.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use stepscore_core::event::{JobStatusChange, PublishedEvent};
use stepscore_core::ports::{Notifier, NotifyError};

/// The events log's file name in the state directory.
pub const EVENTS_LOG: &str = "events.jsonl";

/// The events log of one state directory.
#[derive(Debug)]
pub struct EventsLog {
    path: PathBuf,
    /// Serializes this process's appends.
    append: Mutex<()>,
}

/// One line of the log as a reader found it.
#[derive(Debug)]
pub enum LogLine {
    /// An event.
    Event(Box<PublishedEvent>),
    /// A line that is not an event, with why (and its line number, from 1).
    Unreadable { line: usize, reason: String },
}

impl EventsLog {
    /// The log of the state directory `state_dir` (created on the first publish).
    pub fn new(state_dir: &Path) -> Self {
        EventsLog {
            path: state_dir.join(EVENTS_LOG),
            append: Mutex::new(()),
        }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every complete line of the log from its start; nothing when the log does not exist yet.
    pub fn read_all(&self) -> Result<Vec<LogLine>, std::io::Error> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut lines = Vec::new();
        let mut reader = BufReader::new(file);
        let mut buf = String::new();
        let mut n = 0;
        loop {
            buf.clear();
            if reader.read_line(&mut buf)? == 0 || !buf.ends_with('\n') {
                // the end, or a line still being written
                break;
            }
            n += 1;
            lines.push(
                match serde_json::from_str::<PublishedEvent>(buf.trim_end()) {
                    Ok(e) => LogLine::Event(Box::new(e)),
                    Err(e) => LogLine::Unreadable {
                        line: n,
                        reason: e.to_string(),
                    },
                },
            );
        }
        Ok(lines)
    }

    fn append(&self, line: &[u8]) -> Result<(), std::io::Error> {
        let _one_at_a_time = self.append.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // a line left half-written by a killed process must not swallow this one
        let len = file.seek(SeekFrom::End(0))?;
        if len > 0 && !ends_with_newline(&self.path, len)? {
            file.write_all(b"\n")?;
        }
        file.write_all(line)?;
        file.sync_data()
    }
}

fn ends_with_newline(path: &Path, len: u64) -> Result<bool, std::io::Error> {
    use std::io::Read;
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[async_trait]
impl Notifier for EventsLog {
    async fn publish(&self, event: &JobStatusChange) -> Result<(), NotifyError> {
        let mut line =
            serde_json::to_vec(&PublishedEvent::of(event)).map_err(|e| NotifyError::Other {
                event_id: event.event_id.clone(),
                message: format!("the event cannot be serialized: {e}"),
            })?;
        line.push(b'\n');
        // a small synced append: no worker thread needed
        self.append(&line).map_err(|e| NotifyError::Other {
            event_id: event.event_id.clone(),
            message: format!(
                "cannot append to the events log {}: {e}; check the state directory's permissions and free space",
                self.path.display()
            ),
        })
    }
}

/// The events a consumer has handled, by `event_id`: a file of one id per line, appended after
/// each delivery and synced, so a restarted consumer skips what it delivered before.
#[derive(Debug)]
pub struct Delivered {
    path: PathBuf,
    ids: HashSet<String>,
}

impl Delivered {
    /// The delivery record at `path` (empty when the file does not exist).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, std::io::Error> {
        let path = path.into();
        let ids = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(e),
        };
        Ok(Delivered { path, ids })
    }

    /// True when `event_id` was delivered.
    pub fn contains(&self, event_id: &str) -> bool {
        self.ids.contains(event_id)
    }

    /// Records `event_id` as delivered.
    pub fn insert(&mut self, event_id: &str) -> Result<(), std::io::Error> {
        if self.ids.contains(event_id) {
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(format!("{event_id}\n").as_bytes())?;
        file.sync_data()?;
        self.ids.insert(event_id.to_owned());
        Ok(())
    }
}
