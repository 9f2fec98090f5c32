//! schedule: an EventBridge Scheduler run -> a config rendered from a template -> admit.
//!
//! The schedule's input is a job-config template, verbatim, or an envelope
//! `{"template": {...}, "scheduled_time": "<aws.scheduler.scheduled-time>",
//! "execution_id": "<aws.scheduler.execution-id>"}` whose placeholders Scheduler fills in.
//! In every string of the template these placeholders are replaced:
//!
//! | placeholder | value (of the scheduled time, UTC) | example |
//! |---|---|---|
//! | `{{date}}` | date | `2026-11-23` |
//! | `{{time}}` | time | `061500` |
//! | `{{scheduled_time}}` | RFC 3339 | `2026-11-23T06:15:00Z` |
//! | `{{run_id}}` | the Scheduler execution id, or `<date>T<time>` | `2026-11-23T061500` |
//!
//! Any other `{{…}}` is an error naming it. Without an envelope the scheduled time is the
//! invocation time truncated to the minute, so a retry in the same minute admits nothing twice.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use stepscore_core::JobId;

use crate::admit::{AdmitPorts, Admission, admit_document};
use crate::error::HandlerError;

/// Renders the template of one scheduled run and admits it.
#[tracing::instrument(skip_all)]
pub async fn schedule(ports: AdmitPorts<'_>, event: Value) -> Result<Admission, HandlerError> {
    let (template, scheduled, run_id) = match event.get("template") {
        Some(t) => {
            let at = match event.get("scheduled_time").and_then(Value::as_str) {
                Some(s) => DateTime::parse_from_rfc3339(s).map_err(|e| HandlerError::BadConfig(format!("scheduled_time '{s}' is not RFC 3339: {e}")))?.with_timezone(&Utc),
                None => minute(ports.clock.now()),
            };
            let run = event.get("execution_id").and_then(Value::as_str).map(str::to_owned);
            (t.clone(), at, run)
        }
        None => (event, minute(ports.clock.now()), None),
    };
    let run_id = run_id.unwrap_or_else(|| scheduled.format("%Y-%m-%dT%H%M%S").to_string());
    let rendered = render(&template, scheduled, &run_id)?;
    let name = rendered.get("name").and_then(Value::as_str).unwrap_or("scheduled");
    let id = JobId::for_name(name, &run_id);
    let source = format!("schedule:{name}:{run_id}");
    let bytes = serde_json::to_vec(&rendered).map_err(|e| HandlerError::BadConfig(format!("rendered template cannot be serialized: {e}")))?;
    admit_document(ports, id, &source, &bytes).await
}

/// The template with every placeholder in its strings filled in.
pub fn render(template: &Value, scheduled: DateTime<Utc>, run_id: &str) -> Result<Value, HandlerError> {
    let values = [
        ("date", scheduled.format("%Y-%m-%d").to_string()),
        ("time", scheduled.format("%H%M%S").to_string()),
        ("scheduled_time", scheduled.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ("run_id", run_id.to_owned()),
    ];
    fn walk(v: &Value, values: &[(&str, String)], path: &str) -> Result<Value, HandlerError> {
        Ok(match v {
            Value::String(s) => Value::String(fill(s, values, path)?),
            Value::Array(items) => Value::Array(items.iter().enumerate().map(|(i, x)| walk(x, values, &format!("{path}[{i}]"))).collect::<Result<_, _>>()?),
            Value::Object(m) => Value::Object(m.iter().map(|(k, x)| Ok((k.clone(), walk(x, values, &format!("{path}.{k}").trim_start_matches('.').to_owned())?))).collect::<Result<_, HandlerError>>()?),
            other => other.clone(),
        })
    }
    walk(template, &values, "")
}

fn fill(s: &str, values: &[(&str, String)], path: &str) -> Result<String, HandlerError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| HandlerError::BadConfig(format!("template field {path}: '{{{{' without '}}}}' in '{s}'")))?;
        let name = after[..end].trim();
        let value = values.iter().find(|(n, _)| *n == name).map(|(_, v)| v).ok_or_else(|| {
            HandlerError::BadConfig(format!("template field {path}: unknown placeholder '{{{{{name}}}}}': use date, time, scheduled_time or run_id"))
        })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}
