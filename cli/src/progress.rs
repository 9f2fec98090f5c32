//! Running jobs' progress on the terminal: the figures the check task copies into each record
//! ([`LiveProgress`]) as one indicatif bar per job (rows/s, ETA) when stdout is a terminal, else
//! as a plain line, or a JSON line with `--json`, each time they change; nothing with `--quiet`
//! ("only the result"). Lines go to stderr, beside the execution events: stdout keeps the
//! results.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use stepscore_core::live::LiveProgress;
use stepscore_core::record::JobRecord;

use crate::Global;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars (stdout is a terminal, neither `--quiet` nor `--json`).
    Bars,
    /// A plain line per change.
    Lines,
    /// A JSON object per change (`--json`).
    Json,
    /// Nothing (`--quiet`).
    Off,
}

impl Mode {
    /// The mode the global options and the terminal call for.
    pub fn of(g: &Global) -> Self {
        if g.json {
            Mode::Json
        } else if g.quiet {
            Mode::Off
        } else if std::io::stdout().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// The figures of a record's running attempt, if it has any.
pub fn live_of(record: &JobRecord) -> Option<&LiveProgress> {
    record.live.as_ref().filter(|l| l.attempt == record.attempt)
}

/// Shows the progress of the jobs it is given, each time their figures change.
pub struct ProgressView {
    mode: Mode,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    /// The last figures shown per job (attempt, sequence).
    shown: HashMap<String, (u32, u64)>,
}

impl ProgressView {
    /// A view in `mode`.
    pub fn new(mode: Mode) -> Self {
        ProgressView {
            mode,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: HashMap::new(),
            shown: HashMap::new(),
        }
    }

    /// Shows `record`'s figures if they changed since last shown; a job that has ended loses
    /// its bar.
    pub fn show(&mut self, record: &JobRecord) {
        let id = record.id.to_string();
        if record.status.is_terminal() {
            if let Some(bar) = self.bars.remove(&id) {
                bar.finish_and_clear();
            }
            return;
        }
        let Some(live) = live_of(record) else {
            return;
        };
        if self.shown.insert(id.clone(), (live.attempt, live.sequence))
            == Some((live.attempt, live.sequence))
        {
            return;
        }
        match self.mode {
            Mode::Bars => {
                let bar = self
                    .bars
                    .entry(id)
                    .or_insert_with(|| self.multi.add(new_bar(record)));
                update_bar(bar, record, live);
            }
            Mode::Lines => eprintln!("{}", plain_line(record, live)),
            Mode::Json => eprintln!("{}", json_line(record, live)),
            Mode::Off => {}
        }
    }

    /// Prints a line above the bars (or plainly when there are none).
    pub fn println(&self, line: &str) {
        if self.bars.is_empty() {
            eprintln!("{line}");
        } else {
            // MultiProgress::println draws nothing when stderr is not a terminal
            let _ = self.multi.println(line);
        }
    }

    /// Removes every bar.
    pub fn clear(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(record: &JobRecord) -> ProgressBar {
    let bar = ProgressBar::no_length();
    let style = ProgressStyle::with_template(
        "{prefix:.bold} [{bar:30.cyan/blue}] {percent:>3}% {msg} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(short_id(record));
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

fn update_bar(bar: &ProgressBar, record: &JobRecord, live: &LiveProgress) {
    bar.set_length(live.bytes_total.max(1));
    bar.set_position(live.bytes_read);
    bar.set_message(format!(
        "{} {} rows ({} rejected) {:.0} rows/s",
        record.status,
        live.rows_scored,
        live.rows_rejected,
        live.rows_per_second()
    ));
}

/// A static bar of one record's figures, drawn once to stdout (for `status` on a terminal).
pub fn draw_once(record: &JobRecord) {
    let Some(live) = live_of(record) else {
        return;
    };
    let bar = new_bar(record);
    bar.disable_steady_tick();
    bar.set_draw_target(ProgressDrawTarget::stdout());
    update_bar(&bar, record, live);
    bar.abandon();
}

fn short_id(record: &JobRecord) -> String {
    record.id.as_str().chars().take(24).collect()
}

/// One record's figures as a line: `job <id> RUNNING attempt 1: 1200 rows scored, 3 rejected,
/// 40% of 1.2 MB read, 600 rows/s, ETA 2s (2 of 2 shards reporting, 0 done)`.
pub fn plain_line(record: &JobRecord, live: &LiveProgress) -> String {
    let read = match live.fraction() {
        Some(f) => format!(
            "{:.0}% of {} read",
            f * 100.0,
            indicatif::HumanBytes(live.bytes_total)
        ),
        None => format!("{} read", indicatif::HumanBytes(live.bytes_read)),
    };
    let eta = live
        .eta_seconds()
        .map(|s| {
            format!(
                ", ETA {}",
                indicatif::HumanDuration(Duration::from_secs_f64(s))
            )
        })
        .unwrap_or_default();
    format!(
        "job {} {} attempt {}: {} rows scored, {} rejected, {read}, {:.0} rows/s{eta} ({} of {} shards reporting, {} done)",
        record.id,
        record.status,
        live.attempt,
        live.rows_scored,
        live.rows_rejected,
        live.rows_per_second(),
        live.shards_reporting,
        live.shard_count,
        live.shards_done
    )
}

/// One record's figures as a JSON object: the job, its status and the figures, with the rate,
/// share read and ETA worked out.
pub fn json_line(record: &JobRecord, live: &LiveProgress) -> Value {
    json!({
        "job_id": record.id,
        "status": record.status,
        "attempt": record.attempt,
        "progress": live,
        "rows_per_second": live.rows_per_second(),
        "fraction": live.fraction(),
        "eta_seconds": live.eta_seconds(),
    })
}
