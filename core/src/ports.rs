//! Ports: the traits through which handlers and the batch job reach the outside world.
//!
//! Each world implements them: `stepscore-aws-s3` and `stepscore-aws` with the AWS SDK;
//! `stepscore-dirstore` (a directory tree) and `stepscore-local` (SQLite, a local Batch, the
//! embedded ASL interpreter) on one machine. Code written against these traits runs unchanged
//! in both.
//!
//! Every error type here says whether retrying may help ([`is_transient`](StoreError::is_transient)),
//! because the Lambda error names the state machine retries on are derived from it.

use std::fmt::{self, Debug};
use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::batch::{BatchJobView, SubmitJobRequest};
use crate::event::JobStatusChange;
use crate::id::JobId;
use crate::live::LiveProgress;
use crate::record::{JobRecord, JobUpdate};
use crate::status::JobStatus;
use crate::uri::ObjectUri;

/// A stream of bytes read from, or written to, an object store.
pub type ByteStream = Pin<Box<dyn AsyncRead + Send>>;

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object.
    pub uri: ObjectUri,
    /// Size in bytes.
    pub size: u64,
    /// ETag (S3's, or a content digest in the local store).
    pub etag: Option<String>,
    /// Version id in a versioned bucket.
    pub version_id: Option<String>,
    /// Last modification time.
    pub last_modified: Option<DateTime<Utc>>,
}

/// One version of an object, as an S3 event names it: what [`ObjectStore::get_bytes_at`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectVersion {
    /// The version with this id, in a versioned bucket (GetObject with `VersionId`): it stays
    /// readable after the key is overwritten, until it is deleted or a lifecycle rule expires it.
    Id(String),
    /// The current object while its ETag is this one (GetObject with `If-Match`): in an
    /// unversioned bucket an overwrite replaces the bytes, so a read by ETag fails rather than
    /// return the newer ones. Held without the quotes HTTP puts around an entity tag.
    ETag(String),
}

impl ObjectVersion {
    /// The version an S3 event record announces: its `versionId` in a versioned bucket, else its
    /// `eTag`; `None` when it names neither. S3 sends no version id, or `"null"` (objects written
    /// while versioning was off or suspended), when the bucket does not keep versions, and a
    /// `"null"` version is overwritten in place, so only its ETag identifies its bytes.
    pub fn announced(version_id: Option<&str>, etag: Option<&str>) -> Option<Self> {
        match (crate::id::kept_version_id(version_id), etag) {
            (Some(id), _) => Some(ObjectVersion::Id(id.to_owned())),
            (None, Some(etag)) if !unquoted(etag).is_empty() => Some(Self::etag(etag)),
            (None, _) => None,
        }
    }

    /// A read by ETag, given with or without its quotes (events send none, S3 responses do).
    pub fn etag(etag: &str) -> Self {
        ObjectVersion::ETag(unquoted(etag).to_owned())
    }
}

impl fmt::Display for ObjectVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectVersion::Id(id) => write!(f, "version '{id}'"),
            ObjectVersion::ETag(etag) => write!(f, "ETag \"{etag}\""),
        }
    }
}

/// An entity tag without the quotes HTTP puts around it.
pub fn unquoted(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// Why an object store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object or bucket does not exist.
    #[error("{uri} does not exist")]
    NotFound { uri: String },
    /// The object no longer holds the version a read named ([`ObjectStore::get_bytes_at`]): that
    /// version id was deleted or has expired, or the object read by ETag was overwritten.
    #[error("{uri} no longer holds {expected}: {}", changed_because(.expected, .current.as_deref()))]
    Changed {
        uri: String,
        /// The version the read asked for.
        expected: ObjectVersion,
        /// The object's current ETag (unquoted), when the store learned it.
        current: Option<String>,
    },
    /// The caller may not read or write it.
    #[error("access to {uri} was denied: {message}")]
    AccessDenied { uri: String, message: String },
    /// The key cannot be stored (escapes the store, bad characters).
    #[error("key '{key}' is not allowed: {reason}")]
    InvalidKey { key: String, reason: String },
    /// The object is larger than the caller allows in memory.
    #[error("{uri} is {size} bytes, over the {limit}-byte limit for this read")]
    TooLarge { uri: String, size: u64, limit: u64 },
    /// A failure that may go away on retry (throttling, 5xx, network).
    #[error("transient failure on {uri}: {message}")]
    Transient { uri: String, message: String },
    /// Any other failure.
    #[error("{uri}: {message}")]
    Other { uri: String, message: String },
}

impl StoreError {
    /// True when retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient { .. })
    }
}

fn changed_because(expected: &ObjectVersion, current: Option<&str>) -> String {
    match (expected, current) {
        (ObjectVersion::Id(_), _) => {
            "no such version: it was deleted, or a lifecycle rule expired it".into()
        }
        (ObjectVersion::ETag(_), Some(now)) => {
            format!("it was overwritten since (its ETag is now \"{now}\")")
        }
        (ObjectVersion::ETag(_), None) => "it was overwritten or deleted since".into(),
    }
}

/// An S3-like object store.
#[async_trait]
pub trait ObjectStore: Send + Sync + Debug {
    /// Size and identity of one object.
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError>;

    /// Every object under `prefix`, in key order.
    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError>;

    /// Streams an object, or the byte range `[start, end)` of it.
    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError>;

    /// Streams an object, or the byte range `[start, end)` of it, exactly as it was at
    /// `version`: every byte comes from that version or the read fails. A reader that opens one
    /// object several times (a header, then a range) pins the version its first look saw, so a
    /// replacement between the reads fails the reader instead of mixing two uploads' bytes.
    ///
    /// The rules of [`get_bytes_at`](Self::get_bytes_at) hold: a version that is gone, or an
    /// ETag the object no longer has, is [`StoreError::Changed`] (when the read is opened, or
    /// from the stream, as an `io::Error` carrying it, if the object changes mid-read); an
    /// object that does not exist (read by ETag) is [`StoreError::NotFound`].
    ///
    /// The default reads the version whole into memory through `get_bytes_at`: right for
    /// in-memory stores; a store of large objects streams instead.
    async fn get_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        let mut bytes = self.get_bytes_at(uri, version, u64::MAX).await?;
        if let Some(r) = range {
            let len = bytes.len() as u64;
            let (start, end) = (r.start.min(len), r.end.clamp(r.start.min(len), len));
            bytes.truncate(end as usize);
            bytes.drain(..start as usize);
        }
        Ok(Box::pin(std::io::Cursor::new(bytes)))
    }

    /// Streams `body` into an object, replacing it atomically (large bodies go up in parts).
    async fn put(&self, uri: &ObjectUri, body: ByteStream) -> Result<ObjectMeta, StoreError>;

    /// Reads a whole small object into memory, refusing objects over `limit` bytes.
    async fn get_bytes(&self, uri: &ObjectUri, limit: u64) -> Result<Vec<u8>, StoreError> {
        let meta = self.head(uri).await?;
        if meta.size > limit {
            return Err(StoreError::TooLarge {
                uri: uri.to_string(),
                size: meta.size,
                limit,
            });
        }
        let mut body = self.get(uri, None).await?;
        let mut buf = Vec::with_capacity(meta.size as usize);
        // take() guards against an object that grew between head and get
        (&mut body)
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .await
            .map_err(|e| StoreError::Other {
                uri: uri.to_string(),
                message: e.to_string(),
            })?;
        if buf.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                uri: uri.to_string(),
                size: buf.len() as u64,
                limit,
            });
        }
        Ok(buf)
    }

    /// Reads the byte range `[start, end)` of an object into memory (a file's header, a Parquet
    /// footer); `end` must not lie past the object's end.
    async fn get_range(&self, uri: &ObjectUri, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let len = range.end.saturating_sub(range.start);
        let mut body = self.get(uri, Some(range)).await?;
        let mut buf = Vec::with_capacity(len.min(1 << 20) as usize);
        (&mut body)
            .take(len)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| StoreError::Other {
                uri: uri.to_string(),
                message: e.to_string(),
            })?;
        Ok(buf)
    }

    /// Reads a whole small object exactly as it was at `version`, refusing objects over `limit`
    /// bytes: the bytes returned are that version's or the read fails.
    ///
    /// A read by [`ObjectVersion::Id`] returns that version even after the key was overwritten
    /// (a versioned bucket keeps it); a read by [`ObjectVersion::ETag`] returns the current
    /// object only while it has that ETag. A version that is gone, or an ETag that no longer
    /// matches, is [`StoreError::Changed`]; an object that does not exist (read by ETag) is
    /// [`StoreError::NotFound`].
    async fn get_bytes_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError>;

    /// Writes a small object from memory.
    async fn put_bytes(&self, uri: &ObjectUri, bytes: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        self.put(uri, Box::pin(std::io::Cursor::new(bytes))).await
    }
}

/// What [`JobTable::create`] found.
// A record is a few hundred bytes and a `Created` is returned once per create, never stored in
// bulk: boxing it would cost every caller a pattern change for nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The record was written.
    Created,
    /// A record with this id already existed; it is returned unchanged.
    Exists(JobRecord),
}

/// What [`JobTable::update`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// The update moved the record forward; the record after it.
    Applied(JobRecord),
    /// The update was a duplicate or out of order (or the record is terminal): nothing changed.
    /// The current record.
    Ignored(JobRecord),
}

/// Why a job table call failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// No record has this id.
    #[error("no job record with id '{id}'")]
    NotFound { id: String },
    /// A stored record could not be read back (a newer format, corruption).
    #[error("job record '{id}' is unreadable: {message}")]
    Corrupt { id: String, message: String },
    /// A failure that may go away on retry (throttling, contention, network).
    #[error("transient job table failure: {message}")]
    Transient { message: String },
    /// Any other failure.
    #[error("job table failure: {message}")]
    Other { message: String },
}

impl TableError {
    /// True when retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, TableError::Transient { .. })
    }
}

/// Which records [`JobTable::list`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// Only records in this status (served by the status/time index).
    pub status: Option<JobStatus>,
    /// At most this many.
    pub limit: usize,
}

/// The job table: one record per job, changed only by conditional writes that enforce
/// [`JobRecord::apply`]'s rule (status never moves backwards; terminal records never change).
#[async_trait]
pub trait JobTable: Send + Sync + Debug {
    /// Writes `record` if no record with its id exists.
    async fn create(&self, record: &JobRecord) -> Result<Created, TableError>;

    /// The record with this id, if any.
    async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, TableError>;

    /// Applies `update` if it moves the record forward, atomically with respect to other writers.
    async fn update(&self, id: &JobId, update: &JobUpdate) -> Result<Updated, TableError>;

    /// Keeps a running attempt's progress figures if they are newer than the record's, by
    /// [`JobRecord::apply_live`]'s rule, atomically with respect to other writers: figures only
    /// grow within an attempt, a new attempt starts again, an ended record keeps what it has.
    /// Status and `updated_at` do not change.
    async fn record_live(&self, id: &JobId, live: &LiveProgress) -> Result<Updated, TableError>;

    /// Marks an ended record's status change published (`pending` to `sent`,
    /// [`JobRecord::mark_notified`]), atomically: of two callers one applies.
    async fn mark_notified(&self, id: &JobId) -> Result<Updated, TableError>;

    /// Records, most recently updated first.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, TableError>;
}

/// What [`Executions::start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new execution was started.
    Started { execution_arn: String },
    /// An execution with this name already existed (same input): nothing was started.
    AlreadyExists { execution_arn: String },
}

impl Started {
    /// The execution's ARN, new or existing.
    pub fn execution_arn(&self) -> &str {
        match self {
            Started::Started { execution_arn } | Started::AlreadyExists { execution_arn } => {
                execution_arn
            }
        }
    }
}

/// Why starting an execution failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// An execution with this name exists with a different input.
    #[error("execution '{name}' already exists with a different input: {message}")]
    NameConflict { name: String, message: String },
    /// A failure that may go away on retry (throttling, network).
    #[error("transient failure starting execution '{name}': {message}")]
    Transient { name: String, message: String },
    /// Any other failure (no such state machine, bad input).
    #[error("cannot start execution '{name}': {message}")]
    Other { name: String, message: String },
}

impl ExecutionError {
    /// True when retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ExecutionError::Transient { .. })
    }
}

/// The state machine's executions (Step Functions, or the embedded interpreter).
#[async_trait]
pub trait Executions: Send + Sync + Debug {
    /// The ARN an execution named `name` has (or would have).
    fn execution_arn(&self, name: &str) -> String;

    /// Starts the execution `name` with `input`, idempotently: an execution of the same name and
    /// input that already exists counts as success.
    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError>;

    /// Stops the execution `name` if it is running (StopExecution with `error` and `cause`); it
    /// then ends `ABORTED`. Stopping an execution that has ended changes nothing.
    async fn stop(&self, name: &str, error: &str, cause: &str) -> Result<Stopped, ExecutionError>;
}

/// What [`Executions::stop`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// The execution was running and is now aborted.
    Stopped { execution_arn: String },
    /// The execution had already ended, with this status (`SUCCEEDED`, `FAILED`, …).
    AlreadyEnded {
        execution_arn: String,
        status: String,
    },
    /// No execution has that name.
    NotFound,
}

/// A job accepted by Batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedJob {
    /// Batch's job id.
    pub job_id: String,
    /// The job name submitted.
    pub job_name: String,
}

/// Why a Batch call failed.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The request was refused as invalid (no such queue or definition, bad overrides).
    #[error("Batch refused the request: {message}")]
    Client { message: String },
    /// A failure that may go away on retry (throttling, 5xx, network).
    #[error("transient Batch failure: {message}")]
    Transient { message: String },
}

impl BatchError {
    /// True when retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, BatchError::Transient { .. })
    }
}

/// AWS Batch (or the local Batch).
#[async_trait]
pub trait BatchService: Send + Sync + Debug {
    /// Submits a job.
    async fn submit(&self, request: &SubmitJobRequest) -> Result<SubmittedJob, BatchError>;

    /// The job's current state; `None` when Batch does not know the id.
    async fn describe(&self, job_id: &str) -> Result<Option<BatchJobView>, BatchError>;

    /// A job named `job_name` already on `job_queue`, in any status. Batch has no idempotency
    /// token, so the submit handler looks its attempt up by name before submitting: a retried
    /// or resumed Submit then finds the job its first try submitted instead of running it twice.
    async fn find_by_name(
        &self,
        job_queue: &str,
        job_name: &str,
    ) -> Result<Option<SubmittedJob>, BatchError>;

    /// Ends a job with `reason` as its statusReason (TerminateJob): one not yet started is
    /// cancelled, a running one is stopped, an array job's children go with it. A job that has
    /// already ended is left as it is, so terminating twice is harmless.
    async fn terminate(&self, job_id: &str, reason: &str) -> Result<(), BatchError>;
}

/// Why publishing an event failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A failure that may go away on retry (throttling, 5xx, network).
    #[error("transient failure publishing event {event_id}: {message}")]
    Transient { event_id: String, message: String },
    /// Any other failure (no such bus, access denied, a log that cannot be written).
    #[error("cannot publish event {event_id}: {message}")]
    Other { event_id: String, message: String },
}

impl NotifyError {
    /// True when retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, NotifyError::Transient { .. })
    }
}

/// Where a job's end is announced: EventBridge on AWS, the state directory's events log in
/// the embedded world.
#[async_trait]
pub trait Notifier: Send + Sync + Debug {
    /// Publishes one "stepscore Job Status Change" event.
    async fn publish(&self, event: &JobStatusChange) -> Result<(), NotifyError>;
}

/// Why a message could not be sent to a queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// A failure that may go away on retry (throttling, 5xx, network).
    #[error("transient failure sending to queue {queue}: {message}")]
    Transient { queue: String, message: String },
    /// Any other failure (no such queue, access denied, a message over the size limit).
    #[error("cannot send to queue {queue}: {message}")]
    Other { queue: String, message: String },
}

impl QueueError {
    /// True when retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, QueueError::Transient { .. })
    }
}

/// A queue messages are sent to: job submissions on their way from the HTTP front door to
/// admission, and the submissions admission gave up on, on their way to the dead-letter queue
/// (SQS on AWS).
#[async_trait]
pub trait MessageQueue: Send + Sync + Debug {
    /// Sends `body` with string `attributes` (name, value); answers the queue's message id.
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError>;
}

/// The time, from the system or from a test.
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_announces_its_version_id_else_its_etag() {
        let check = |version_id, etag, expected: Option<ObjectVersion>| {
            assert_eq!(
                ObjectVersion::announced(version_id, etag),
                expected,
                "versionId {version_id:?}, eTag {etag:?}"
            );
        };
        let id = |v: &str| Some(ObjectVersion::Id(v.into()));
        let etag = |e: &str| Some(ObjectVersion::ETag(e.into()));
        check(
            Some("3HL4kqtJlcpXroDT"),
            Some("0a1b"),
            id("3HL4kqtJlcpXroDT"),
        );
        // written while versioning was off or suspended: overwritten in place, so the ETag decides
        check(Some("null"), Some("0a1b"), etag("0a1b"));
        check(Some(""), Some("\"0a1b\""), etag("0a1b"));
        check(None, Some("0a1b-3"), etag("0a1b-3"));
        check(None, Some("\"\""), None);
        check(None, None, None);
    }

    #[test]
    fn a_changed_object_names_itself_the_version_asked_for_and_why() {
        let changed = |expected, current: Option<&str>| {
            StoreError::Changed {
                uri: "s3://b/jobs/x.json".into(),
                expected,
                current: current.map(str::to_owned),
            }
            .to_string()
        };
        assert_eq!(
            changed(ObjectVersion::etag("\"e1\""), Some("e2")),
            "s3://b/jobs/x.json no longer holds ETag \"e1\": it was overwritten since (its ETag is now \"e2\")"
        );
        assert_eq!(
            changed(ObjectVersion::Id("v1".into()), None),
            "s3://b/jobs/x.json no longer holds version 'v1': no such version: it was deleted, or a lifecycle rule expired it"
        );
        assert!(
            !StoreError::Changed {
                uri: String::new(),
                expected: ObjectVersion::Id("v1".into()),
                current: None
            }
            .is_transient()
        );
    }
}
