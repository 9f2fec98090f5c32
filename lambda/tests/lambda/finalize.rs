//! Finalize over S3 (moto) for the largest array job Batch runs: 10,000 shard manifests are read
//! concurrently (at most `MANIFEST_READS_IN_FLIGHT` at once) and summed.
//!
//! The time is printed, not asserted: moto answers a few hundred GETs a second on this machine,
//! S3 several thousand, so moto's figure says nothing about the Lambda timeout. What holds
//! everywhere is asserted: the sum is exact and the reads overlap up to the bound.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::StreamExt;
use serde_json::json;
use stepscore_aws::fixtures::store_with_bucket;
use stepscore_aws::{DynamoTable, S3Store};
use stepscore_core::ObjectUri;
use stepscore_core::config::MAX_SHARDS;
use stepscore_core::manifest::manifest_name;
use stepscore_core::ports::{
    ByteStream, ObjectMeta, ObjectStore, ObjectVersion, StoreError, SystemClock,
};
use stepscore_core::status::JobStatus;
use stepscore_handlers::tasks::{MANIFEST_READS_IN_FLIGHT, finalize, register};

use super::{moto, unique};

/// An object store that counts the reads in flight, to see that finalize overlaps them.
#[derive(Debug)]
struct CountingStore<'a> {
    inner: &'a S3Store,
    now: AtomicUsize,
    peak: AtomicUsize,
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl ObjectStore for CountingStore<'_> {
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        self.inner.head(uri).await
    }
    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        self.inner.get(uri, range).await
    }
    async fn put(&self, uri: &ObjectUri, body: ByteStream) -> Result<ObjectMeta, StoreError> {
        self.inner.put(uri, body).await
    }
    async fn get_bytes_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError> {
        self.inner.get_bytes_at(uri, version, limit).await
    }
    async fn get_bytes(&self, uri: &ObjectUri, limit: u64) -> Result<Vec<u8>, StoreError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
        let out = self.inner.get_bytes(uri, limit).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finalize_reads_ten_thousand_shard_manifests_concurrently_and_sums_them() {
    let config = moto().await;
    let (store, b) = store_with_bucket().await;
    let table = DynamoTable::new(&config, unique("jobs"));
    table.create_table().await.unwrap();
    let clock = SystemClock;
    let job_id = "wide-0123456789abcdef";
    let output = ObjectUri::parse(&format!("s3://{b}/out/wide/")).unwrap();
    let job = register(
        &table,
        &clock,
        &json!({
            "input": {"job_id": job_id, "source": format!("s3://{b}/jobs/wide.json"), "config": {
                "name": "wide", "model": format!("s3://{b}/models/m.json"), "input": format!("s3://{b}/in/"),
                "output": output.to_string(), "capacity": "on-demand", "shards": MAX_SHARDS}},
            "execution_name": job_id,
        }),
    )
    .await
    .unwrap();

    // what 10,000 array children leave behind, uploaded 64 at a time
    futures::stream::iter(0..MAX_SHARDS)
        .map(|i| {
            let store = &store;
            let output = &output;
            async move {
                let m = json!({
                    "version": 1, "job_id": job_id, "shard_index": i, "shard_count": MAX_SHARDS,
                    "rows_read": 100, "rows_scored": 99, "rows_rejected": 1, "duration_seconds": f64::from(i % 7),
                    "model": {"uri": "s3://b/models/m.json", "algorithm": "logistic-regression", "format_version": 1},
                    "inputs": [], "output": output.join(&format!("part-{i}.csv")).to_string(), "rejects": null
                });
                store
                    .put_bytes(&output.join(&manifest_name(i)), serde_json::to_vec(&m).unwrap())
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;

    let counting = CountingStore {
        inner: &store,
        now: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
    };
    let started = Instant::now();
    let events = stepscore_aws::EventBridgeNotifier::new(&moto().await, "default");
    let out = finalize(
        &counting,
        &table,
        &events,
        &clock,
        &json!({"outcome": "SUCCEEDED", "state": {"job": job}}),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    eprintln!("finalize read {MAX_SHARDS} manifests from moto in {took:?}");
    assert_eq!(out.status, JobStatus::Succeeded, "{out:?}");
    let metrics = out.metrics.unwrap();
    assert_eq!(
        (
            metrics.parts,
            metrics.rows_read,
            metrics.rows_scored,
            metrics.rows_rejected
        ),
        (MAX_SHARDS, 1_000_000, 990_000, 10_000)
    );
    assert_eq!(metrics.duration_seconds, 6.0);
    assert_eq!(counting.reads.load(Ordering::SeqCst), MAX_SHARDS as usize);
    assert_eq!(
        counting.peak.load(Ordering::SeqCst),
        MANIFEST_READS_IN_FLIGHT,
        "reads overlap up to the bound, never beyond"
    );
}
