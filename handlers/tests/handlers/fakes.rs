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

#[derive(Debug, Default)]
pub struct MemStore {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    pub transient: Mutex<bool>,
    pub calls: Calls,
}

impl MemStore {
    pub fn put(&self, uri: &str, bytes: impl Into<Vec<u8>>) {
        self.objects
            .lock()
            .unwrap()
            .insert(uri.to_owned(), bytes.into());
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

#[async_trait]
impl ObjectStore for MemStore {
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        self.calls.push(PortCall::StoreHead);
        self.fail(uri)?;
        let objects = self.objects.lock().unwrap();
        let bytes = objects
            .get(&uri.to_string())
            .ok_or_else(|| StoreError::NotFound {
                uri: uri.to_string(),
            })?;
        Ok(ObjectMeta {
            uri: uri.clone(),
            size: bytes.len() as u64,
            etag: None,
            version_id: None,
            last_modified: None,
        })
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
            .map(|(k, v)| ObjectMeta {
                uri: ObjectUri::parse(k).unwrap(),
                size: v.len() as u64,
                etag: None,
                version_id: None,
                last_modified: None,
            })
            .collect())
    }
    async fn get(
        &self,
        uri: &ObjectUri,
        _range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        self.calls.push(PortCall::StoreGet);
        self.fail(uri)?;
        let bytes = self
            .objects
            .lock()
            .unwrap()
            .get(&uri.to_string())
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                uri: uri.to_string(),
            })?;
        Ok(Box::pin(std::io::Cursor::new(bytes)))
    }
    async fn put(&self, uri: &ObjectUri, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        use tokio::io::AsyncReadExt;
        self.calls.push(PortCall::StorePut);
        let mut buf = Vec::new();
        body.read_to_end(&mut buf).await.unwrap();
        let size = buf.len() as u64;
        self.objects.lock().unwrap().insert(uri.to_string(), buf);
        Ok(ObjectMeta {
            uri: uri.clone(),
            size,
            etag: None,
            version_id: None,
            last_modified: None,
        })
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
    async fn list(&self, _filter: &ListFilter) -> Result<Vec<JobRecord>, TableError> {
        self.calls.push(PortCall::TableList);
        Ok(self.all())
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
        if s.iter().any(|(n, _)| n == name) {
            return Ok(Started::AlreadyExists { execution_arn });
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

/// A Batch whose jobs walk through scripted views, one per describe.
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
        let script = self.scripts.lock().unwrap().pop_front().unwrap_or_default();
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

/// One world of fakes.
#[derive(Debug, Default)]
pub struct World {
    pub store: MemStore,
    pub table: MemTable,
    pub executions: RecExecutions,
    pub batch: FakeBatch,
    pub clock: FixedClock,
}

impl World {
    pub fn admit_ports(&self) -> stepscore_handlers::AdmitPorts<'_> {
        stepscore_handlers::AdmitPorts {
            store: &self.store,
            table: &self.table,
            executions: &self.executions,
            clock: &self.clock,
            jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
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
    pub fn calls(&self) -> Vec<PortCall> {
        let mut all = Vec::new();
        for c in [
            &self.store.calls,
            &self.table.calls,
            &self.executions.calls,
            &self.batch.calls,
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
