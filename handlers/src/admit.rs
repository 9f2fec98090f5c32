//! Admission: the S3 `jobs/` notification (admit) and EventBridge Scheduler runs (schedule)
//! share one path from a config document to a job record and a started execution.

use aws_lambda_events::s3::S3Event;
use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stepscore_core::config::{ConfigProblem, JobConfig, MAX_CONFIG_BYTES};
use stepscore_core::ports::{
    Clock, Created, ExecutionError, Executions, JobTable, ObjectStore, ObjectVersion, StoreError,
};
use stepscore_core::record::JobRecord;
use stepscore_core::{JobId, ObjectUri};

use crate::error::HandlerError;

/// The ports admission touches.
#[derive(Debug, Clone, Copy)]
pub struct AdmitPorts<'a> {
    /// Where configs, models and inputs live.
    pub store: &'a dyn ObjectStore,
    /// The job table.
    pub table: &'a dyn JobTable,
    /// The state machine's executions.
    pub executions: &'a dyn Executions,
    /// Now.
    pub clock: &'a dyn Clock,
    /// The key prefix job configs are admitted under (Terraform's `jobs_prefix`, given to the
    /// admit function as `STEPSCORE_JOBS_PREFIX`).
    pub jobs_prefix: &'a str,
}

/// What admission did with one config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Admitted {
    /// A PENDING record was written and the execution started.
    Started {
        job_id: String,
        execution_arn: String,
    },
    /// The job was admitted before (a duplicated event): nothing new was started.
    Duplicate {
        job_id: String,
        execution_arn: String,
    },
    /// The config was rejected: a FAILED record says why.
    Rejected { job_id: String, reason: String },
    /// The object is not a job config (outside `jobs/` or not `.json`).
    Skipped { key: String },
}

/// The prefix job configs are admitted under unless configured otherwise (Terraform's default).
pub const DEFAULT_JOBS_PREFIX: &str = "jobs/";

/// Handles an S3 ObjectCreated notification: admits every `<jobs prefix>*.json` object in it.
///
/// Each config is read exactly as the event announced it, because the job id is a digest of that
/// upload: by its version id in a versioned bucket (the version stays readable after the key is
/// overwritten), else by its ETag (`If-Match`). When that upload is gone (its version deleted or
/// expired, or, unversioned, the key overwritten before admit read it) the job is a FAILED record
/// saying so: the newer bytes never run under this job's id, and the upload that replaced them
/// has its own event and job.
///
/// A config that cannot be admitted (unreadable, invalid, model or input missing) gets a FAILED
/// record and counts as handled; only a transient failure returns an error, so Lambda's async
/// retries and the dead-letter queue keep the event.
pub async fn admit(ports: AdmitPorts<'_>, event: &S3Event) -> Result<Vec<Admitted>, HandlerError> {
    let mut out = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let bucket = record.s3.bucket.name.clone().unwrap_or_default();
        let raw_key = record.s3.object.key.clone().unwrap_or_default();
        let key = decode_key(&raw_key);
        if !key.starts_with(ports.jobs_prefix) || !key.ends_with(".json") {
            tracing::warn!(bucket = %bucket, key = %key, jobs_prefix = ports.jobs_prefix, "skipping an object that is not a .json config under the jobs prefix; check the bucket notification's filter and STEPSCORE_JOBS_PREFIX");
            out.push(Admitted::Skipped { key });
            continue;
        }
        // a redelivered event is the same job; a new PUT of the same bytes is a new one
        let object = &record.s3.object;
        let id = JobId::for_put(
            &bucket,
            &key,
            object.version_id.as_deref(),
            object.e_tag.as_deref(),
            object.sequencer.as_deref(),
        );
        let source = format!("s3://{bucket}/{key}");
        let announced =
            ObjectVersion::announced(object.version_id.as_deref(), object.e_tag.as_deref());
        let document = match (ObjectUri::new(bucket.clone(), key.clone()), announced) {
            (Ok(uri), Some(version)) => read_config(ports.store, &uri, &version).await?,
            (Err(e), _) => Document::Unreadable(format!("the event names an invalid object: {e}")),
            (Ok(_), None) => Document::Unreadable(format!(
                "the S3 event for {source} names neither a versionId nor an eTag, so which upload it announced is unknown: deliver the event as S3 sends it"
            )),
        };
        out.push(admit_document(ports, id, &source, document).await?);
    }
    Ok(out)
}

/// S3 event keys are form-encoded: `+` is a space, `%xx` a byte.
fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// A config document as admission received it.
#[derive(Debug)]
pub(crate) enum Document {
    /// The document's bytes.
    Bytes(Vec<u8>),
    /// It could not be read; why.
    Unreadable(String),
}

async fn read_config(
    store: &dyn ObjectStore,
    uri: &ObjectUri,
    version: &ObjectVersion,
) -> Result<Document, HandlerError> {
    match store
        .get_bytes_at(uri, version, MAX_CONFIG_BYTES as u64)
        .await
    {
        Ok(bytes) => Ok(Document::Bytes(bytes)),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(StoreError::TooLarge { size, .. }) => Ok(Document::Unreadable(format!(
            "(document): is {size} bytes; the limit is {MAX_CONFIG_BYTES} bytes (64 KiB): pass data by URI, not inline"
        ))),
        Err(e @ StoreError::Changed { .. }) => Ok(Document::Unreadable(match version {
            ObjectVersion::ETag(_) => format!(
                "the config this event announced is gone: {e}; the upload that replaced it is admitted by its own event as its own job"
            ),
            ObjectVersion::Id(_) => {
                format!("the config this event announced is gone: {e}; upload it again to run it")
            }
        })),
        Err(e) => Ok(Document::Unreadable(format!(
            "the config cannot be read: {e}"
        ))),
    }
}

/// Validates a document, checks the model and input exist, writes the record and starts the
/// execution named by the job id.
pub(crate) async fn admit_document(
    ports: AdmitPorts<'_>,
    id: JobId,
    source: &str,
    document: Document,
) -> Result<Admitted, HandlerError> {
    let now = ports.clock.now();
    let (raw, verdict) = match document {
        Document::Unreadable(reason) => (Value::Null, Err(reason)),
        Document::Bytes(bytes) => match JobConfig::parse_document(&bytes, source) {
            Ok(document) => {
                let verdict =
                    check_config(ports.store, ports.jobs_prefix, &document, source).await?;
                (document, verdict.map_err(|refused| refused.reason))
            }
            Err(e) => {
                // the record keeps what the user wrote, even when it is not a valid config
                let raw = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
                (raw, Err(e.to_string()))
            }
        },
    };
    let config = match verdict {
        Ok(config) => config,
        Err(reason) => {
            tracing::warn!(job_id = %id, source, reason = %reason, "rejecting job config");
            let record = JobRecord::rejected(id.clone(), source, raw, reason.clone(), now);
            return match ports.table.create(&record).await? {
                Created::Created => Ok(Admitted::Rejected {
                    job_id: id.to_string(),
                    reason,
                }),
                Created::Exists(existing) => Ok(Admitted::Rejected {
                    job_id: id.to_string(),
                    reason: existing.failure_reason.unwrap_or(reason),
                }),
            };
        }
    };

    let execution_arn = ports.executions.execution_arn(id.as_str());
    let mut record = JobRecord::pending(id.clone(), source, config.to_json(), now);
    record.execution_arn = Some(execution_arn.clone());
    let created = ports.table.create(&record).await?;
    if let Created::Exists(existing) = &created
        && existing.failure_reason.is_some()
        && existing.attempts.is_empty()
    {
        // rejected before: a redelivery must not start what was refused
        return Ok(Admitted::Rejected {
            job_id: id.to_string(),
            reason: existing.failure_reason.clone().unwrap_or_default(),
        });
    }
    // Started even when the record existed: a previous delivery may have died between the two.
    let input = json!({"job_id": id, "config": config.to_json(), "source": source});
    let started = match ports.executions.start(id.as_str(), &input).await {
        Ok(s) => Some(s),
        Err(ExecutionError::NameConflict { message, .. }) => {
            tracing::warn!(job_id = %id, message = %message, "an execution of this job exists with another input; leaving it");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let duplicate = matches!(created, Created::Exists(_))
        || matches!(
            started,
            None | Some(stepscore_core::ports::Started::AlreadyExists { .. })
        );
    let arn = started
        .map(|s| s.execution_arn().to_owned())
        .unwrap_or(execution_arn);
    tracing::info!(job_id = %id, execution_arn = %arn, duplicate, "job admitted");
    Ok(if duplicate {
        Admitted::Duplicate {
            job_id: id.to_string(),
            execution_arn: arn,
        }
    } else {
        Admitted::Started {
            job_id: id.to_string(),
            execution_arn: arn,
        }
    })
}

/// Why admission refuses a config: every problem at its field, and the one-line reason a
/// FAILED record keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Each problem: the field at fault and what would fix it.
    pub problems: Vec<ConfigProblem>,
    /// All of them in one sentence, naming the config's source.
    pub reason: String,
}

/// Admission's whole check of a config document from `source` (read by
/// [`JobConfig::parse_document`]): its fields, that its output is not under `jobs_prefix`, that
/// the model and input it names exist, and (with a feature map) that the columns it reads are
/// there. `Err` only for a transient failure reading the store.
pub async fn check_config(
    store: &dyn ObjectStore,
    jobs_prefix: &str,
    document: &Value,
    source: &str,
) -> Result<Result<JobConfig, Refused>, HandlerError> {
    let config = match JobConfig::from_value(document, source)
        .and_then(|config| check_admission(config, jobs_prefix, source))
    {
        Ok(config) => config,
        Err(e) => {
            return Ok(Err(Refused {
                reason: e.to_string(),
                problems: e.problems,
            }));
        }
    };
    let mut missing = missing_objects(store, &config).await?;
    if missing.is_empty() {
        missing = crate::columns::column_problems(store, &config).await?;
    }
    if missing.is_empty() {
        return Ok(Ok(config));
    }
    let listed: Vec<String> = missing.iter().map(ToString::to_string).collect();
    Ok(Err(Refused {
        reason: format!("job config {source}: {}", listed.join("; ")),
        problems: missing,
    }))
}

/// The output may not lie under the jobs prefix of its bucket: the scorer's manifests would be
/// admitted as new configs. The bucket that notifies is not known here (a schedule has none), so
/// the rule holds in the output's own bucket, the one the scorer writes to.
fn check_admission(
    config: JobConfig,
    jobs_prefix: &str,
    source: &str,
) -> Result<JobConfig, stepscore_core::config::ConfigError> {
    match ObjectUri::new(config.output.bucket(), jobs_prefix) {
        Ok(jobs) => config.check_admission(&jobs, source).map(|()| config),
        // the output's bucket was validated already; a prefix under it is always a valid URI
        Err(_) => Ok(config),
    }
}

/// The problems with the objects a config names (model missing, input empty, ...); admit
/// rejects a config that has any (and so does the console's check).
pub async fn missing_objects(
    store: &dyn ObjectStore,
    config: &JobConfig,
) -> Result<Vec<ConfigProblem>, HandlerError> {
    let mut problems = Vec::new();
    match store.head(&config.model).await {
        Ok(_) => {}
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => problems.push(ConfigProblem::new(
            "model",
            format!(
                "'{}' cannot be read ({e}): upload the model artifact first",
                config.model
            ),
        )),
    }
    if config.input.is_prefix() {
        match store.list(&config.input).await {
            Ok(objects) if objects.is_empty() => problems.push(ConfigProblem::new(
                "input",
                format!(
                    "no objects under '{}': upload the input CSV files first",
                    config.input
                ),
            )),
            Ok(_) => {}
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => problems.push(ConfigProblem::new(
                "input",
                format!("'{}' cannot be listed ({e})", config.input),
            )),
        }
    } else {
        match store.head(&config.input).await {
            Ok(_) => {}
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => problems.push(ConfigProblem::new(
                "input",
                format!(
                    "'{}' cannot be read ({e}): upload the input CSV first",
                    config.input
                ),
            )),
        }
    }
    Ok(problems)
}

/// An EventBridge Scheduler invocation.
///
/// Accepted shapes:
/// - `{"schedule": "<name>", "template": {…config…}, "scheduled_time"?: "<RFC 3339>",
///   "time_zone"?: "<IANA name>"}` (what `terraform/scheduler.tf` sends): `scheduled_time` set to
///   `<aws.scheduler.scheduled-time>` makes a retried invocation idempotent, and `{{date}}` /
///   `{{time}}` are written in `time_zone` (the schedule's, default UTC);
/// - a bare config template: the schedule name is the template's `name` and the scheduled time
///   is now, truncated to the minute (schedules fire at minute granularity, so a retry within the
///   same minute is still idempotent).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRun {
    /// The schedule's name.
    pub schedule: String,
    /// The config template.
    pub template: Value,
    /// When the run was scheduled.
    pub scheduled_time: DateTime<Utc>,
    /// The schedule's time zone (IANA name), in which `{{date}}` and `{{time}}` are written.
    pub time_zone: Tz,
}

impl ScheduledRun {
    /// Reads an invocation payload in either accepted shape.
    pub fn from_event(event: &Value, now: DateTime<Utc>) -> Result<Self, HandlerError> {
        let minute = now
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        if let Some(template) = event.get("template") {
            let schedule = event
                .get("schedule")
                .and_then(Value::as_str)
                .or_else(|| template.get("name").and_then(Value::as_str))
                .ok_or_else(|| HandlerError::BadConfig("the scheduled event has a template but no 'schedule' name: add \"schedule\": \"<name>\" to the schedule's input".into()))?;
            let scheduled_time = match event.get("scheduled_time") {
                None => minute,
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map_err(|e| HandlerError::BadConfig(format!("scheduled_time '{s}' is not an RFC 3339 time ({e}): use <aws.scheduler.scheduled-time>")))?
                    .with_timezone(&Utc),
                Some(other) => {
                    return Err(HandlerError::BadConfig(format!("scheduled_time must be an RFC 3339 string, found {other}")));
                }
            };
            let time_zone = match event.get("time_zone") {
                None => Tz::UTC,
                Some(Value::String(name)) => name.parse::<Tz>().map_err(|_| {
                    HandlerError::BadConfig(format!("time_zone '{name}' is not an IANA time zone name (e.g. Europe/Berlin): use the schedule's schedule_expression_timezone"))
                })?,
                Some(other) => {
                    return Err(HandlerError::BadConfig(format!(
                        "time_zone must be an IANA time zone name, found {other}"
                    )));
                }
            };
            return Ok(ScheduledRun {
                schedule: schedule.to_owned(),
                template: template.clone(),
                scheduled_time,
                time_zone,
            });
        }
        let schedule = event.get("name").and_then(Value::as_str).ok_or_else(|| {
            HandlerError::BadConfig("the scheduled event is neither {\"schedule\", \"template\"} nor a config template with a 'name'".into())
        })?;
        Ok(ScheduledRun {
            schedule: schedule.to_owned(),
            template: event.clone(),
            scheduled_time: minute,
            time_zone: Tz::UTC,
        })
    }

    /// The run's job id: the same for every invocation of one scheduled time.
    pub fn job_id(&self) -> JobId {
        JobId::for_name(
            &self.schedule,
            &self
                .scheduled_time
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        )
    }

    /// The template with `{{date}}`, `{{time}}`, `{{run_id}}` and `{{scheduled_time}}` filled in
    /// every string value.
    pub fn render(&self) -> Value {
        let t = self.scheduled_time;
        // the date a user means is the schedule's local date: cron(0 1 * * ? *) in Europe/Berlin
        // fires at 00:00 UTC, which is already "tomorrow" there
        let local = t.with_timezone(&self.time_zone);
        let values = [
            ("{{date}}", local.format("%Y-%m-%d").to_string()),
            ("{{time}}", local.format("%H%M%S").to_string()),
            ("{{run_id}}", self.job_id().to_string()),
            (
                "{{scheduled_time}}",
                t.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
        ];
        render_value(&self.template, &values)
    }
}

fn render_value(v: &Value, values: &[(&str, String)]) -> Value {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            for (k, val) in values {
                if s.contains(k) {
                    s = s.replace(k, val);
                }
            }
            Value::String(s)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| render_value(i, values)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, i)| (k.clone(), render_value(i, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Handles an EventBridge Scheduler invocation: renders the template and admits it like a
/// config dropped into `jobs/`, with source `schedule:<name>`.
pub async fn schedule(ports: AdmitPorts<'_>, event: &Value) -> Result<Admitted, HandlerError> {
    let run = ScheduledRun::from_event(event, ports.clock.now())?;
    let id = run.job_id();
    let source = format!("schedule:{}", run.schedule);
    let bytes = serde_json::to_vec(&run.render()).map_err(|e| {
        HandlerError::Internal(format!(
            "rendered template of schedule '{}' cannot be written: {e}",
            run.schedule
        ))
    })?;
    tracing::info!(schedule = %run.schedule, job_id = %id, scheduled_time = %run.scheduled_time, "scheduled run");
    admit_document(ports, id, &source, Document::Bytes(bytes)).await
}
