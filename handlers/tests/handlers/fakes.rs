//! In-memory fakes of the ports, recording every call as the port method it is.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use stepscore_aws::iam::PortCall;
use stepscore_core::JobId;
use stepscore_core::ObjectUri;
use stepscore_core::batch::{BatchJobView, SubmitJobRequest};
use stepscore_core::event::JobStatusChange;
use stepscore_core::live::LiveProgress;
use stepscore_core::ports::*;
use stepscore_core::record::{JobRecord, JobUpdate};

/// Every port call made, in order.
#[derive(Debug, Clone, Default)]
pub struct Calls(pub Arc<Mutex<Vec<PortCall>>>);

impl Calls {
    pub fn push(&self, c: PortCall) {
        self.0.lock().unwrap().push(c);
    }
    pub fn take(&self) -> Vec<PortCall> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A versioned S3 bucket in memory: every put is a new version and every version is kept.
#[derive(Debug, Default)]
pub struct MemStore {
    /// Every version of every object by URI, oldest first.
    pub objects: Mutex<BTreeMap<String, Vec<MemVersion>>>,
    pub transient: Mutex<bool>,
    pub calls: Calls,
}

/// One version of an object.
#[derive(Debug, Clone)]
pub struct MemVersion {
    pub version_id: String,
    /// Unquoted, as events send it.
    pub etag: String,
    pub bytes: Vec<u8>,
}

/// An opaque ETag, the same for the same bytes (as S3's is for a single-part upload).
pub fn etag_of(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016x}", h.finish())
}

impl MemStore {
    /// Puts `bytes` as a new version of `uri` and returns its version id.
    pub fn put(&self, uri: &str, bytes: impl Into<Vec<u8>>) -> String {
        let bytes = bytes.into();
        self.put_as(uri, None, &etag_of(&bytes), bytes)
    }

    /// Puts `bytes` as the upload an event fixture announces: its `versionId` (`None` in an
    /// unversioned bucket's events: one is made up) and its `eTag`. Returns the version id.
    pub fn put_as(
        &self,
        uri: &str,
        version_id: Option<&str>,
        etag: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> String {
        let mut objects = self.objects.lock().unwrap();
        let versions = objects.entry(uri.to_owned()).or_default();
        let version_id = version_id
            .map(str::to_owned)
            .unwrap_or_else(|| format!("mem-{}", versions.len() + 1));
        versions.push(MemVersion {
            version_id: version_id.clone(),
            etag: etag.to_owned(),
            bytes: bytes.into(),
        });
        version_id
    }

    fn current(&self, uri: &ObjectUri) -> Result<MemVersion, StoreError> {
        self.objects
            .lock()
            .unwrap()
            .get(&uri.to_string())
            .and_then(|v| v.last().cloned())
            .ok_or_else(|| StoreError::NotFound {
                uri: uri.to_string(),
            })
    }

    fn fail(&self, uri: &ObjectUri) -> Result<(), StoreError> {
        if *self.transient.lock().unwrap() {
            return Err(StoreError::Transient {
                uri: uri.to_string(),
                message: "SlowDown: please reduce your request rate".into(),
            });
        }
        Ok(())
    }
}

fn meta(uri: ObjectUri, v: &MemVersion) -> ObjectMeta {
    ObjectMeta {
        uri,
        size: v.bytes.len() as u64,
        etag: Some(v.etag.clone()),
        version_id: Some(v.version_id.clone()),
        last_modified: None,
    }
}

#[async_trait]
impl ObjectStore for MemStore {
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        self.calls.push(PortCall::StoreHead);
        self.fail(uri)?;
        Ok(meta(uri.clone(), &self.current(uri)?))
    }
    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError> {
        self.calls.push(PortCall::StoreList);
        self.fail(prefix)?;
        let p = prefix.to_string();
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&p))
            .filter_map(|(k, v)| Some(meta(ObjectUri::parse(k).unwrap(), v.last()?)))
            .collect())
    }
    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        self.calls.push(PortCall::StoreGet);
        self.fail(uri)?;
        let mut bytes = self.current(uri)?.bytes;
        if let Some(r) = range {
            // half-open; a range reaching past the end stops at the end, as S3's does
            let end = usize::try_from(r.end)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let start = usize::try_from(r.start).unwrap_or(usize::MAX).min(end);
            bytes = bytes[start..end].to_vec();
        }
        Ok(Box::pin(std::io::Cursor::new(bytes)))
    }
    async fn get_bytes_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError> {
        self.calls.push(match version {
            ObjectVersion::Id(_) => PortCall::StoreGetVersion,
            ObjectVersion::ETag(_) => PortCall::StoreGet,
        });
        self.fail(uri)?;
        let changed = |current: Option<String>| StoreError::Changed {
            uri: uri.to_string(),
            expected: version.clone(),
            current,
        };
        let found = match version {
            ObjectVersion::Id(id) => self
                .objects
                .lock()
                .unwrap()
                .get(&uri.to_string())
                .and_then(|v| v.iter().find(|v| v.version_id == *id).cloned())
                .ok_or_else(|| changed(None))?,
            ObjectVersion::ETag(etag) => {
                let current = self.current(uri)?;
                if current.etag != *etag {
                    return Err(changed(Some(current.etag)));
                }
                current
            }
        };
        if found.bytes.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                uri: uri.to_string(),
                size: found.bytes.len() as u64,
                limit,
            });
        }
        Ok(found.bytes)
    }
    async fn put(&self, uri: &ObjectUri, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        use tokio::io::AsyncReadExt;
        self.calls.push(PortCall::StorePut);
        let mut buf = Vec::new();
        body.read_to_end(&mut buf).await.unwrap();
        let etag = etag_of(&buf);
        self.put_as(&uri.to_string(), None, &etag, buf);
        Ok(meta(uri.clone(), &self.current(uri)?))
    }
}

#[derive(Debug, Default)]
pub struct MemTable {
    pub records: Mutex<HashMap<JobId, JobRecord>>,
    pub transient: Mutex<bool>,
    pub calls: Calls,
}

impl MemTable {
    pub fn all(&self) -> Vec<JobRecord> {
        let mut v: Vec<_> = self.records.lock().unwrap().values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
    pub fn record(&self, id: &JobId) -> JobRecord {
        self.records
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("no record {id}"))
    }
    fn fail(&self) -> Result<(), TableError> {
        if *self.transient.lock().unwrap() {
            return Err(TableError::Transient {
                message: "ProvisionedThroughputExceededException".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl JobTable for MemTable {
    async fn create(&self, record: &JobRecord) -> Result<Created, TableError> {
        self.calls.push(PortCall::TableCreate);
        self.fail()?;
        let mut m = self.records.lock().unwrap();
        if let Some(existing) = m.get(&record.id) {
            return Ok(Created::Exists(existing.clone()));
        }
        m.insert(record.id.clone(), record.clone());
        Ok(Created::Created)
    }
    async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, TableError> {
        self.calls.push(PortCall::TableGet);
        self.fail()?;
        Ok(self.records.lock().unwrap().get(id).cloned())
    }
    async fn update(&self, id: &JobId, update: &JobUpdate) -> Result<Updated, TableError> {
        self.calls.push(PortCall::TableUpdate);
        self.fail()?;
        let mut m = self.records.lock().unwrap();
        let r = m
            .get_mut(id)
            .ok_or_else(|| TableError::NotFound { id: id.to_string() })?;
        Ok(if r.apply(update) {
            Updated::Applied(r.clone())
        } else {
            Updated::Ignored(r.clone())
        })
    }
    async fn record_live(&self, id: &JobId, live: &LiveProgress) -> Result<Updated, TableError> {
        self.calls.push(PortCall::TableRecordLive);
        self.fail()?;
        let mut m = self.records.lock().unwrap();
        let r = m
            .get_mut(id)
            .ok_or_else(|| TableError::NotFound { id: id.to_string() })?;
        Ok(if r.apply_live(live) {
            Updated::Applied(r.clone())
        } else {
            Updated::Ignored(r.clone())
        })
    }
    async fn mark_notified(&self, id: &JobId) -> Result<Updated, TableError> {
        self.calls.push(PortCall::TableMarkNotified);
        self.fail()?;
        let mut m = self.records.lock().unwrap();
        let r = m
            .get_mut(id)
            .ok_or_else(|| TableError::NotFound { id: id.to_string() })?;
        Ok(if r.mark_notified() {
            Updated::Applied(r.clone())
        } else {
            Updated::Ignored(r.clone())
        })
    }
    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, TableError> {
        self.calls.push(PortCall::TableList);
        self.fail()?;
        let mut listed: Vec<JobRecord> = self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        // most recently updated first, as the status/time index serves them
        listed.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        listed.truncate(filter.limit);
        Ok(listed)
    }
}

#[derive(Debug, Default)]
pub struct RecExecutions {
    pub started: Mutex<Vec<(String, Value)>>,
    /// Executions stopped: name, error, cause.
    pub stopped: Mutex<Vec<(String, String, String)>>,
    pub transient: Mutex<bool>,
    pub calls: Calls,
}

#[async_trait]
impl Executions for RecExecutions {
    fn execution_arn(&self, name: &str) -> String {
        format!("arn:aws:states:eu-west-1:123456789012:execution:stepscore-scoring:{name}")
    }
    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        self.calls.push(PortCall::ExecutionStart);
        if *self.transient.lock().unwrap() {
            return Err(ExecutionError::Transient {
                name: name.into(),
                message: "ThrottlingException: Rate exceeded".into(),
            });
        }
        let mut s = self.started.lock().unwrap();
        let execution_arn = self.execution_arn(name);
        if let Some((_, existing)) = s.iter().find(|(n, _)| n == name) {
            // Step Functions keeps a name for good: the same input is this execution, another
            // input a conflict
            return if existing == input {
                Ok(Started::AlreadyExists { execution_arn })
            } else {
                Err(ExecutionError::NameConflict {
                    name: name.into(),
                    message: "ExecutionAlreadyExists: Execution Already Exists".into(),
                })
            };
        }
        s.push((name.to_owned(), input.clone()));
        Ok(Started::Started { execution_arn })
    }
    async fn stop(&self, name: &str, error: &str, cause: &str) -> Result<Stopped, ExecutionError> {
        self.calls.push(PortCall::ExecutionStop);
        let execution_arn = self.execution_arn(name);
        if !self.started.lock().unwrap().iter().any(|(n, _)| n == name) {
            return Ok(Stopped::NotFound);
        }
        let mut stopped = self.stopped.lock().unwrap();
        if stopped.iter().any(|(n, _, _)| n == name) {
            return Ok(Stopped::AlreadyEnded {
                execution_arn,
                status: "ABORTED".into(),
            });
        }
        stopped.push((name.to_owned(), error.to_owned(), cause.to_owned()));
        Ok(Stopped::Stopped { execution_arn })
    }
}

/// A Batch whose jobs walk through scripted views, one per describe; a job submitted without a
/// script stays SUBMITTED until it is terminated.
#[derive(Debug, Default)]
pub struct FakeBatch {
    pub submitted: Mutex<Vec<SubmitJobRequest>>,
    /// TerminateJob calls: job id and reason.
    pub terminated: Mutex<Vec<(String, String)>>,
    /// Views each new submission goes through, consumed by describe (the last one repeats).
    pub scripts: Mutex<VecDeque<Vec<BatchJobView>>>,
    pub running: Mutex<HashMap<String, VecDeque<BatchJobView>>>,
    pub calls: Calls,
}

#[async_trait]
impl BatchService for FakeBatch {
    async fn submit(&self, request: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        self.calls.push(if request.tags.is_empty() {
            PortCall::BatchSubmit
        } else {
            PortCall::BatchSubmitTagged
        });
        let mut s = self.submitted.lock().unwrap();
        s.push(request.clone());
        let job_id = format!("batch-{}", s.len());
        let script = self.scripts.lock().unwrap().pop_front();
        let script = script.unwrap_or_else(|| vec![submitted_view(request.array_size)]);
        let script = script.into_iter().map(|mut v| {
            v.job_id = job_id.clone();
            v.job_queue = request.job_queue.clone();
            v
        });
        self.running
            .lock()
            .unwrap()
            .insert(job_id.clone(), script.collect());
        Ok(SubmittedJob {
            job_id,
            job_name: request.job_name.clone(),
        })
    }
    async fn find_by_name(
        &self,
        job_queue: &str,
        job_name: &str,
    ) -> Result<Option<SubmittedJob>, BatchError> {
        self.calls.push(PortCall::BatchFind);
        let submitted = self.submitted.lock().unwrap();
        Ok(submitted
            .iter()
            .position(|r| r.job_queue == job_queue && r.job_name == job_name)
            .map(|i| SubmittedJob {
                job_id: format!("batch-{}", i + 1),
                job_name: job_name.to_owned(),
            }))
    }

    async fn terminate(&self, job_id: &str, reason: &str) -> Result<(), BatchError> {
        self.calls.push(PortCall::BatchTerminate);
        self.terminated
            .lock()
            .unwrap()
            .push((job_id.to_owned(), reason.to_owned()));
        // as Batch does: a job that has not ended fails with the reason (an array job's children
        // with it), one that has ended stays as it is
        let mut running = self.running.lock().unwrap();
        if let Some(views) = running.get_mut(job_id)
            && let Some(now) = views.front().filter(|v| !v.status.is_terminal())
        {
            let mut failed = now.clone();
            failed.status = stepscore_core::batch::BatchStatus::Failed;
            failed.status_reason = Some(reason.to_owned());
            failed.array_status_summary = failed
                .array_size
                .map(|n| BTreeMap::from([("FAILED".to_owned(), n)]));
            *views = VecDeque::from([failed]);
        }
        Ok(())
    }

    async fn describe(&self, job_id: &str) -> Result<Option<BatchJobView>, BatchError> {
        self.calls.push(PortCall::BatchDescribe);
        let mut r = self.running.lock().unwrap();
        let Some(q) = r.get_mut(job_id) else {
            return Ok(None);
        };
        Ok(if q.len() > 1 {
            q.pop_front()
        } else {
            q.front().cloned()
        })
    }
}

#[derive(Debug)]
pub struct FixedClock(pub Mutex<DateTime<Utc>>);

impl Default for FixedClock {
    fn default() -> Self {
        FixedClock(Mutex::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 20, 15, 42).unwrap(),
        ))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The daily config's upload `s3-object-created.json` announces (a versioned bucket).
pub const DAILY_URI: &str = "s3://acme-scoring/jobs/daily churn:2026.json";
pub const DAILY_VERSION_ID: &str = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY";
pub const DAILY_ETAG: &str = "0123456789abcdef0123456789abcdef";
/// The weekly config's upload `s3-object-created.json` and `s3-put-unversioned-*.json` announce
/// (an unversioned bucket: no version id, only the ETag).
pub const WEEKLY_URI: &str = "s3://acme-scoring/jobs/weekly.json";
pub const WEEKLY_ETAG: &str = "fedcba9876543210fedcba9876543210";

/// One world of fakes.
#[derive(Debug, Default)]
pub struct World {
    pub store: MemStore,
    pub table: MemTable,
    pub executions: RecExecutions,
    pub batch: FakeBatch,
    pub clock: FixedClock,
    pub events: RecNotifier,
    /// The job queue `POST /jobs` sends to.
    pub queue: RecQueue,
    /// The job queue's dead-letter queue intake sends to.
    pub dead_letters: RecQueue,
}

/// A message as a [`RecQueue`] keeps it: body and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

/// A queue that keeps every message sent; `failing` makes sending fail, transiently or not.
#[derive(Debug, Default)]
pub struct RecQueue {
    pub sent: Mutex<Vec<SentMessage>>,
    pub failing: Mutex<Option<bool>>,
    pub calls: Calls,
}

impl RecQueue {
    pub fn sent(&self) -> Vec<SentMessage> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl MessageQueue for RecQueue {
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        self.calls.push(PortCall::QueueSend);
        let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/stepscore-jobs".to_owned();
        match *self.failing.lock().unwrap() {
            Some(true) => Err(QueueError::Transient {
                queue,
                message: "SendMessage: ServiceUnavailable: the service is unavailable".into(),
            }),
            Some(false) => Err(QueueError::Other {
                queue,
                message: "SendMessage: AccessDenied: not authorized to perform sqs:SendMessage"
                    .into(),
            }),
            None => {
                let mut sent = self.sent.lock().unwrap();
                sent.push(SentMessage {
                    body: body.to_owned(),
                    attributes: attributes
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                });
                Ok(format!("message-{}", sent.len()))
            }
        }
    }
}

/// A notifier that keeps every event published; `failing` makes publishing fail, transiently
/// or not.
#[derive(Debug, Default)]
pub struct RecNotifier {
    pub published: Mutex<Vec<JobStatusChange>>,
    pub failing: Mutex<Option<bool>>,
    pub calls: Calls,
}

impl RecNotifier {
    pub fn published(&self) -> Vec<JobStatusChange> {
        self.published.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for RecNotifier {
    async fn publish(&self, event: &JobStatusChange) -> Result<(), NotifyError> {
        self.calls.push(PortCall::Notify);
        match *self.failing.lock().unwrap() {
            Some(true) => Err(NotifyError::Transient {
                event_id: event.event_id.clone(),
                message: "ThrottlingException: Rate exceeded".into(),
            }),
            Some(false) => Err(NotifyError::Other {
                event_id: event.event_id.clone(),
                message: "AccessDeniedException: not authorized to perform events:PutEvents".into(),
            }),
            None => {
                self.published.lock().unwrap().push(event.clone());
                Ok(())
            }
        }
    }
}

impl World {
    /// Runs the check handler over `input` with this world's ports.
    pub fn check(
        &self,
        input: &Value,
    ) -> Result<stepscore_handlers::tasks::CheckOutput, stepscore_handlers::HandlerError> {
        block_on(stepscore_handlers::check(
            &self.batch,
            &self.store,
            &self.table,
            &self.clock,
            input,
        ))
    }

    pub fn admit_ports(&self) -> stepscore_handlers::AdmitPorts<'_> {
        stepscore_handlers::AdmitPorts {
            store: &self.store,
            table: &self.table,
            executions: &self.executions,
            clock: &self.clock,
            jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
        }
    }
    pub fn front_door_ports(&self) -> stepscore_handlers::FrontDoorPorts<'_> {
        stepscore_handlers::FrontDoorPorts {
            store: &self.store,
            table: &self.table,
            queue: &self.queue,
            jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
        }
    }

    pub fn intake_ports(&self, max_receives: u32) -> stepscore_handlers::IntakePorts<'_> {
        stepscore_handlers::IntakePorts {
            admit: self.admit_ports(),
            dead_letters: &self.dead_letters,
            max_receives,
        }
    }

    /// The model and inputs the fixture configs name.
    pub fn with_data() -> Self {
        let w = World::default();
        w.store
            .put("s3://acme-scoring/models/churn.model", b"model".to_vec());
        w.store.put(
            "s3://acme-scoring/input/2026-11-23/a.csv",
            b"customer_id,x\n1,2\n".to_vec(),
        );
        w.store.put(
            "s3://acme-scoring/input/weekly.csv",
            b"id,x\n1,2\n".to_vec(),
        );
        w
    }
    /// Uploads `bytes` as the daily config the S3 event fixture announces.
    pub fn put_announced_daily(&self, bytes: impl Into<Vec<u8>>) {
        self.store
            .put_as(DAILY_URI, Some(DAILY_VERSION_ID), DAILY_ETAG, bytes);
    }
    /// Uploads `bytes` as the weekly config the S3 event fixtures announce.
    pub fn put_announced_weekly(&self, bytes: impl Into<Vec<u8>>) {
        self.store.put_as(WEEKLY_URI, None, WEEKLY_ETAG, bytes);
    }
    pub fn calls(&self) -> Vec<PortCall> {
        let mut all = Vec::new();
        for c in [
            &self.store.calls,
            &self.table.calls,
            &self.executions.calls,
            &self.batch.calls,
            &self.queue.calls,
            &self.dead_letters.calls,
        ] {
            all.extend(c.take());
        }
        all
    }
}

pub fn view(status: &str) -> BatchJobView {
    BatchJobView {
        job_id: String::new(),
        job_queue: String::new(),
        status: stepscore_core::batch::BatchStatus::parse(status).unwrap(),
        status_reason: None,
        exit_code: None,
        container_reason: None,
        attempts: 1,
        array_status_summary: None,
        array_size: None,
        failed_children: Vec::new(),
    }
}

/// What describe shows of a job submitted without a script: waiting in its queue.
fn submitted_view(array_size: Option<u32>) -> BatchJobView {
    BatchJobView {
        attempts: 0,
        array_size,
        array_status_summary: array_size.map(|n| BTreeMap::from([("SUBMITTED".to_owned(), n)])),
        ..view("SUBMITTED")
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
