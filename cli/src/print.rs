//! How jobs and executions look on the terminal: a record, a count by status, a list of
//! records, one execution history event, and progress lines. Every printer takes `--json`
//! from the global options; results go to stdout, progress to stderr.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use serde_json::Value;
use stepscore_core::JobStatus;
use stepscore_core::record::JobRecord;

use crate::Global;
use crate::exit::{Failure, env_fail};

/// Prints a progress line to stderr, unless `--quiet` or `--json`.
pub fn say(g: &Global, line: String) {
    if !g.quiet && !g.json {
        eprintln!("{line}");
    }
}

/// Prints one record, human or JSON.
pub fn print_record(g: &Global, record: &JobRecord) -> Result<(), Failure> {
    if g.json {
        println!("{}", serde_json::to_string(record).map_err(env_fail)?);
        return Ok(());
    }
    println!("id:         {}", record.id);
    println!("status:     {}", record.status);
    println!("source:     {}", record.source);
    println!("created:    {}", record.created_at.to_rfc3339());
    println!("updated:    {}", record.updated_at.to_rfc3339());
    if let Some(arn) = &record.execution_arn {
        println!("execution:  {arn}");
    }
    for a in &record.attempts {
        println!(
            "attempt {}:  {} on {} at {}",
            a.number,
            a.batch_job_id,
            a.queue,
            a.submitted_at.to_rfc3339()
        );
    }
    if let Some(m) = &record.metrics {
        println!(
            "metrics:    {} read, {} scored, {} rejected, {} parts, {:.2}s",
            m.rows_read, m.rows_scored, m.rows_rejected, m.parts, m.duration_seconds
        );
    }
    if let Some(r) = &record.failure_reason {
        println!("reason:     {r}");
    }
    if let Some(live) = crate::progress::live_of(record) {
        let line = crate::progress::plain_line(record, live);
        // the line after the job's id and status
        let figures = line.split_once(": ").map_or(line.as_str(), |(_, f)| f);
        println!(
            "progress:   {figures} (as of {})",
            live.updated_at.to_rfc3339()
        );
        if !record.status.is_terminal() && std::io::stdout().is_terminal() && !g.quiet {
            crate::progress::draw_once(record);
        }
    }
    Ok(())
}

/// Prints a count of jobs per status.
pub fn print_counts(g: &Global, jobs: &[JobRecord]) -> Result<(), Failure> {
    let mut counts: BTreeMap<&str, usize> =
        JobStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for j in jobs {
        *counts.entry(j.status.as_str()).or_default() += 1;
    }
    let running: Vec<&JobRecord> = jobs
        .iter()
        .filter(|j| !j.status.is_terminal() && crate::progress::live_of(j).is_some())
        .collect();
    if g.json {
        let mut out = serde_json::to_value(&counts).map_err(env_fail)?;
        // the figures of every running job that has reported some
        out["progress"] = running
            .iter()
            .filter_map(|j| crate::progress::live_of(j).map(|l| crate::progress::json_line(j, l)))
            .collect();
        println!("{out}");
    } else {
        for s in JobStatus::ALL {
            println!("{:<10} {}", s.as_str(), counts[s.as_str()]);
        }
        for j in running {
            if std::io::stdout().is_terminal() && !g.quiet {
                crate::progress::draw_once(j);
            } else if let Some(live) = crate::progress::live_of(j) {
                println!("{}", crate::progress::plain_line(j, live));
            }
        }
    }
    Ok(())
}

/// Prints records as a table or JSON lines.
pub fn print_list(g: &Global, jobs: &[JobRecord]) -> Result<(), Failure> {
    if g.json {
        for j in jobs {
            println!("{}", serde_json::to_string(j).map_err(env_fail)?);
        }
        return Ok(());
    }
    println!(
        "{:<42} {:<10} {:>7}  {:<25} REASON",
        "ID", "STATUS", "ATTEMPT", "UPDATED"
    );
    for j in jobs {
        let reason: String = j
            .failure_reason
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        println!(
            "{:<42} {:<10} {:>7}  {:<25} {reason}",
            j.id.as_str(),
            j.status.as_str(),
            j.attempt,
            j.updated_at.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
    }
    Ok(())
}

/// One execution history event as a line of the console's event table: id, time, type, state.
pub fn event_line(ev: &Value) -> String {
    let kind = ev["type"].as_str().unwrap_or("?");
    let state = ev
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .find_map(|v| v.get("name").and_then(Value::as_str))
        .unwrap_or("");
    let ts = ev["timestamp"].as_str().unwrap_or("");
    format!("{:>4}  {ts:<24}  {kind:<28} {state}", ev["id"])
}
