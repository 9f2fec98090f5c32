//! The contract suites tested on toys: a small in-memory implementation of each port passes its
//! suite, and the same toy with one deliberate defect fails it in the case that owns the
//! behaviour. A suite that let a broken implementation through would prove nothing about the
//! adapters and fakes that pass it.
//!
//! The defects are the mistakes the suites exist for; several are ones the handlers' fakes made
//! before the suites ran on them (a list that ignores its filter, a read that ignores its byte
//! range, a start that ignores its input, a terminate that changes nothing).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::batch::{BatchJobView, BatchStatus, SubmitJobRequest};
use crate::batch_contract::{BatchSetup, check_batch_service};
use crate::executions_contract::check_executions;
use crate::id::JobId;
use crate::live::LiveProgress;
use crate::ports::*;
use crate::record::{JobRecord, JobUpdate};
use crate::store_contract::check_object_store;
use crate::table_contract::check_job_table;
use crate::uri::ObjectUri;

/// The first contract failure `check` panics with, or `None` when it passes.
async fn failure_of(check: impl Future<Output = ()> + Send + 'static) -> Option<String> {
    let panic = tokio::spawn(check).await.err()?.try_into_panic().ok()?;
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()));
    Some(message.unwrap_or_else(|| "a panic without a message".into()))
}

/// Asserts that `check` fails, in a message containing `expected`.
async fn assert_caught(
    defect: impl std::fmt::Debug,
    check: impl Future<Output = ()> + Send + 'static,
    expected: &str,
) {
    match failure_of(check).await {
        Some(message) => assert!(
            message.contains(expected),
            "{defect:?} was caught, but not where expected ('{expected}'): {message}"
        ),
        None => panic!("the suite passed a toy with the defect {defect:?}"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[tokio::test]
async fn every_suite_passes_its_correct_toy() {
    check_object_store(&ToyStore::default(), "toy-bucket").await;
    check_job_table(|| async { ToyTable::default() }).await;
    check_batch_service(&ToyBatch::default(), &batch_setup()).await;
    check_executions(&ToyExecutions::default()).await;
}

#[tokio::test]
async fn the_object_store_suite_catches_a_broken_store() {
    for (defect, expected) in [
        (
            StoreDefect::IgnoresRange,
            "a put object reads back whole and by range: range 2..5",
        ),
        (
            StoreDefect::ListsTheWholeBucket,
            "list returns the objects under a prefix in key order: every object under the folder",
        ),
        (
            StoreDefect::ReadsAnyEtag,
            "an ETag reads the current object only while it has that ETag",
        ),
    ] {
        let store = ToyStore {
            defect: Some(defect),
            ..ToyStore::default()
        };
        let check = async move { check_object_store(&store, "toy-bucket").await };
        assert_caught(defect, check, expected).await;
    }
}

#[tokio::test]
async fn the_job_table_suite_catches_a_broken_table() {
    for (defect, expected) in [
        (
            TableDefect::ListIgnoresFilter,
            "list: by status, most recently updated first",
        ),
        (
            TableDefect::CreateOverwrites,
            "create: a second create of one id must report Exists",
        ),
        (
            TableDefect::LiveGoesBackwards,
            "record_live: figures behind the kept ones must be ignored",
        ),
        (
            TableDefect::MarksNotifiedTwice,
            "mark_notified: a sent notification is not marked again",
        ),
    ] {
        let check = check_job_table(move || async move {
            ToyTable {
                defect: Some(defect),
                ..ToyTable::default()
            }
        });
        assert_caught(defect, check, expected).await;
    }
}

#[tokio::test]
async fn the_batch_suite_catches_a_broken_batch() {
    for (defect, expected) in [
        (
            BatchDefect::FindsOnAnyQueue,
            "in any status: a job is not found on another queue",
        ),
        (
            BatchDefect::TerminateChangesNothing,
            "the terminated job batch-3 ends: not within",
        ),
        (
            BatchDefect::TerminateDropsTheReason,
            "a job terminated before it ended ends FAILED with the reason as statusReason",
        ),
    ] {
        let batch = ToyBatch {
            defect: Some(defect),
            ..ToyBatch::default()
        };
        let check = async move { check_batch_service(&batch, &batch_setup()).await };
        assert_caught(defect, check, expected).await;
    }
}

#[tokio::test]
async fn the_executions_suite_catches_broken_executions() {
    for (defect, expected) in [
        (
            ExecutionsDefect::IgnoresInput,
            "another input under a taken name gave Ok(AlreadyExists",
        ),
        (
            ExecutionsDefect::ForgetsEndedExecutions,
            "starting an ended execution's name and input again starts nothing",
        ),
    ] {
        let executions = ToyExecutions {
            defect: Some(defect),
            ..ToyExecutions::default()
        };
        let check = async move { check_executions(&executions).await };
        assert_caught(defect, check, expected).await;
    }
}

#[derive(Debug, Clone, Copy)]
enum StoreDefect {
    /// `get` returns the whole object whatever range it is asked for.
    IgnoresRange,
    /// `list` returns every object in the bucket, whatever the prefix.
    ListsTheWholeBucket,
    /// A read by ETag returns the current object even when its ETag is another.
    ReadsAnyEtag,
}

/// One version of an object: its id and bytes.
type ToyVersion = (String, Vec<u8>);

/// A versioned bucket in memory.
#[derive(Debug, Default)]
struct ToyStore {
    /// Every version of every object, oldest first.
    objects: Mutex<BTreeMap<ObjectUri, Vec<ToyVersion>>>,
    defect: Option<StoreDefect>,
}

impl ToyStore {
    fn current(&self, uri: &ObjectUri) -> Result<ToyVersion, StoreError> {
        lock(&self.objects)
            .get(uri)
            .and_then(|versions| versions.last().cloned())
            .ok_or_else(|| StoreError::NotFound {
                uri: uri.to_string(),
            })
    }
}

fn toy_etag(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

fn toy_meta(uri: &ObjectUri, version_id: &str, bytes: &[u8]) -> ObjectMeta {
    ObjectMeta {
        uri: uri.clone(),
        size: bytes.len() as u64,
        etag: Some(toy_etag(bytes)),
        version_id: Some(version_id.to_owned()),
        last_modified: None,
    }
}

#[async_trait]
impl ObjectStore for ToyStore {
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        let (version_id, bytes) = self.current(uri)?;
        Ok(toy_meta(uri, &version_id, &bytes))
    }

    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError> {
        let whole_bucket = matches!(self.defect, Some(StoreDefect::ListsTheWholeBucket));
        Ok(lock(&self.objects)
            .iter()
            .filter(|(uri, _)| whole_bucket || prefix.contains(uri))
            .filter_map(|(uri, versions)| {
                let (version_id, bytes) = versions.last()?;
                Some(toy_meta(uri, version_id, bytes))
            })
            .collect())
    }

    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        let (_, mut bytes) = self.current(uri)?;
        if let Some(r) = range.filter(|_| !matches!(self.defect, Some(StoreDefect::IgnoresRange))) {
            let len = bytes.len();
            let end = (r.end as usize).min(len);
            bytes = bytes[(r.start as usize).min(end)..end].to_vec();
        }
        Ok(Box::pin(std::io::Cursor::new(bytes)))
    }

    async fn put(&self, uri: &ObjectUri, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)
            .await
            .map_err(|e| StoreError::Other {
                uri: uri.to_string(),
                message: e.to_string(),
            })?;
        let mut objects = lock(&self.objects);
        let versions = objects.entry(uri.clone()).or_default();
        let version_id = format!("v{}", versions.len() + 1);
        let meta = toy_meta(uri, &version_id, &bytes);
        versions.push((version_id, bytes));
        Ok(meta)
    }

    async fn get_bytes_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let changed = |current| StoreError::Changed {
            uri: uri.to_string(),
            expected: version.clone(),
            current,
        };
        let bytes = match version {
            ObjectVersion::Id(id) => lock(&self.objects)
                .get(uri)
                .and_then(|versions| versions.iter().find(|(v, _)| v == id).cloned())
                .map(|(_, bytes)| bytes)
                .ok_or_else(|| changed(None))?,
            ObjectVersion::ETag(etag) => {
                let (_, bytes) = self.current(uri)?;
                let now = toy_etag(&bytes);
                if now != *etag && !matches!(self.defect, Some(StoreDefect::ReadsAnyEtag)) {
                    return Err(changed(Some(now)));
                }
                bytes
            }
        };
        if bytes.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                uri: uri.to_string(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    }
}

#[derive(Debug, Clone, Copy)]
enum TableDefect {
    /// `list` returns every record, whatever the filter (the handlers' fake table once did).
    ListIgnoresFilter,
    /// `create` replaces an existing record.
    CreateOverwrites,
    /// `record_live` keeps any figures of the attempt, older ones too.
    LiveGoesBackwards,
    /// `mark_notified` applies whenever the record has ended, sent or not.
    MarksNotifiedTwice,
}

/// A job table in memory; one lock around each call makes every write atomic.
#[derive(Debug, Default)]
struct ToyTable {
    records: Mutex<HashMap<JobId, JobRecord>>,
    defect: Option<TableDefect>,
}

#[async_trait]
impl JobTable for ToyTable {
    async fn create(&self, record: &JobRecord) -> Result<Created, TableError> {
        let mut records = lock(&self.records);
        if let Some(existing) = records.get(&record.id)
            && !matches!(self.defect, Some(TableDefect::CreateOverwrites))
        {
            return Ok(Created::Exists(existing.clone()));
        }
        records.insert(record.id.clone(), record.clone());
        Ok(Created::Created)
    }

    async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, TableError> {
        Ok(lock(&self.records).get(id).cloned())
    }

    async fn update(&self, id: &JobId, update: &JobUpdate) -> Result<Updated, TableError> {
        let mut records = lock(&self.records);
        let record = records
            .get_mut(id)
            .ok_or_else(|| TableError::NotFound { id: id.to_string() })?;
        Ok(if record.apply(update) {
            Updated::Applied(record.clone())
        } else {
            Updated::Ignored(record.clone())
        })
    }

    async fn record_live(&self, id: &JobId, live: &LiveProgress) -> Result<Updated, TableError> {
        let mut records = lock(&self.records);
        let record = records
            .get_mut(id)
            .ok_or_else(|| TableError::NotFound { id: id.to_string() })?;
        let applied = if matches!(self.defect, Some(TableDefect::LiveGoesBackwards)) {
            let ok = !record.status.is_terminal() && live.attempt == record.attempt;
            if ok {
                record.live = Some(live.clone());
            }
            ok
        } else {
            record.apply_live(live)
        };
        Ok(if applied {
            Updated::Applied(record.clone())
        } else {
            Updated::Ignored(record.clone())
        })
    }

    async fn mark_notified(&self, id: &JobId) -> Result<Updated, TableError> {
        let mut records = lock(&self.records);
        let record = records
            .get_mut(id)
            .ok_or_else(|| TableError::NotFound { id: id.to_string() })?;
        let applied = if matches!(self.defect, Some(TableDefect::MarksNotifiedTwice)) {
            let ok = record.notification.is_some();
            if ok {
                record.notification = Some(crate::record::Notification::Sent);
            }
            ok
        } else {
            record.mark_notified()
        };
        Ok(if applied {
            Updated::Applied(record.clone())
        } else {
            Updated::Ignored(record.clone())
        })
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, TableError> {
        let ignore_filter = matches!(self.defect, Some(TableDefect::ListIgnoresFilter));
        let mut records: Vec<JobRecord> = lock(&self.records)
            .values()
            .filter(|r| ignore_filter || filter.status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        records.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        records.truncate(filter.limit);
        Ok(records)
    }
}

#[derive(Debug, Clone, Copy)]
enum BatchDefect {
    /// `find_by_name` ignores the queue.
    FindsOnAnyQueue,
    /// `terminate` accepts the call and does nothing (the handlers' fake Batch once did).
    TerminateChangesNothing,
    /// A terminated job fails without the reason it was given.
    TerminateDropsTheReason,
}

fn batch_setup() -> BatchSetup {
    BatchSetup {
        queue: "toy-spot".into(),
        other_queue: "toy-on-demand".into(),
        job_definition: "toy-scoring".into(),
        patience: Duration::from_millis(200),
    }
}

/// A Batch whose jobs wait to be placed until they are terminated.
#[derive(Debug, Default)]
struct ToyBatch {
    jobs: Mutex<Vec<BatchJobView>>,
    /// Each job's name, by index in `jobs`.
    names: Mutex<Vec<String>>,
    defect: Option<BatchDefect>,
}

#[async_trait]
impl BatchService for ToyBatch {
    async fn submit(&self, request: &SubmitJobRequest) -> Result<SubmittedJob, BatchError> {
        let mut jobs = lock(&self.jobs);
        let job_id = format!("batch-{}", jobs.len() + 1);
        jobs.push(BatchJobView {
            job_id: job_id.clone(),
            job_queue: request.job_queue.clone(),
            status: BatchStatus::Runnable,
            status_reason: None,
            exit_code: None,
            container_reason: None,
            attempts: 0,
            array_status_summary: request
                .array_size
                .map(|n| BTreeMap::from([("RUNNABLE".to_owned(), n)])),
            array_size: request.array_size,
            failed_children: Vec::new(),
        });
        lock(&self.names).push(request.job_name.clone());
        Ok(SubmittedJob {
            job_id,
            job_name: request.job_name.clone(),
        })
    }

    async fn describe(&self, job_id: &str) -> Result<Option<BatchJobView>, BatchError> {
        Ok(lock(&self.jobs)
            .iter()
            .find(|j| j.job_id == job_id)
            .cloned())
    }

    async fn find_by_name(
        &self,
        job_queue: &str,
        job_name: &str,
    ) -> Result<Option<SubmittedJob>, BatchError> {
        let any_queue = matches!(self.defect, Some(BatchDefect::FindsOnAnyQueue));
        let names = lock(&self.names);
        Ok(lock(&self.jobs)
            .iter()
            .zip(names.iter())
            .find(|(job, name)| *name == job_name && (any_queue || job.job_queue == job_queue))
            .map(|(job, name)| SubmittedJob {
                job_id: job.job_id.clone(),
                job_name: name.clone(),
            }))
    }

    async fn terminate(&self, job_id: &str, reason: &str) -> Result<(), BatchError> {
        if matches!(self.defect, Some(BatchDefect::TerminateChangesNothing)) {
            return Ok(());
        }
        let mut jobs = lock(&self.jobs);
        if let Some(job) = jobs.iter_mut().find(|j| j.job_id == job_id)
            && !job.status.is_terminal()
        {
            job.status = BatchStatus::Failed;
            if !matches!(self.defect, Some(BatchDefect::TerminateDropsTheReason)) {
                job.status_reason = Some(reason.to_owned());
            }
            if let Some(n) = job.array_size {
                job.array_status_summary = Some(BTreeMap::from([("FAILED".to_owned(), n)]));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum ExecutionsDefect {
    /// A taken name is reported as existing whatever the input (the handlers' fake once did).
    IgnoresInput,
    /// An ended execution's name is free again: starting it runs the job a second time.
    ForgetsEndedExecutions,
}

/// Executions in memory: name → (input, status).
#[derive(Debug, Default)]
struct ToyExecutions {
    runs: Mutex<HashMap<String, (Value, &'static str)>>,
    defect: Option<ExecutionsDefect>,
}

#[async_trait]
impl Executions for ToyExecutions {
    fn execution_arn(&self, name: &str) -> String {
        format!("arn:aws:states:eu-west-1:123456789012:execution:toy:{name}")
    }

    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        let execution_arn = self.execution_arn(name);
        let mut runs = lock(&self.runs);
        let forget = matches!(self.defect, Some(ExecutionsDefect::ForgetsEndedExecutions));
        match runs.get(name) {
            Some((_, status)) if forget && *status != "RUNNING" => {}
            Some((existing, _))
                if existing == input
                    || matches!(self.defect, Some(ExecutionsDefect::IgnoresInput)) =>
            {
                return Ok(Started::AlreadyExists { execution_arn });
            }
            Some(_) => {
                return Err(ExecutionError::NameConflict {
                    name: name.into(),
                    message: "ExecutionAlreadyExists".into(),
                });
            }
            None => {}
        }
        runs.insert(name.to_owned(), (input.clone(), "RUNNING"));
        Ok(Started::Started { execution_arn })
    }

    async fn stop(
        &self,
        name: &str,
        _error: &str,
        _cause: &str,
    ) -> Result<Stopped, ExecutionError> {
        let execution_arn = self.execution_arn(name);
        Ok(match lock(&self.runs).get_mut(name) {
            None => Stopped::NotFound,
            Some((_, status)) if *status == "RUNNING" => {
                *status = "ABORTED";
                Stopped::Stopped { execution_arn }
            }
            Some((_, status)) => Stopped::AlreadyEnded {
                execution_arn,
                status: (*status).to_owned(),
            },
        })
    }
}
