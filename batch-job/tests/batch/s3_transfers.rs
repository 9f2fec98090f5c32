//! Inputs read from S3 as concurrent ranged parts (tiny parts here, so boundaries fall
//! everywhere): the same rows as from local disk, and an input replaced mid-read fails the
//! attempt with exit 75.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use stepscore_aws_s3::{S3Store, TransferSettings};
use stepscore_batch::error::EXIT_TRANSIENT;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ByteStream, ObjectMeta, ObjectStore, ObjectVersion, StoreError};
use tokio::io::AsyncReadExt;

use super::*;

/// The bench rows with a quoted `note` holding commas, doubled quotes and line breaks (LF and
/// CRLF), so part boundaries fall inside quoted fields.
fn quoted_csv(rows: u64) -> String {
    let bench = bench_csv(rows, 5);
    let mut lines = bench.lines();
    let mut out = format!("{},note\n", lines.next().unwrap_or_default());
    for (i, line) in lines.enumerate() {
        out.push_str(line);
        out.push_str(&format!(
            ",\"row {i}, with \"\"quotes\"\"\nand a second line\r\nand a third, {}\"\n",
            "x".repeat(i % 37)
        ));
    }
    out
}

/// A store over the shared moto server reading in `part_size` parts, 4 in flight, and `body`
/// uploaded at `key` in a new bucket.
fn store_with(
    rt: &tokio::runtime::Runtime,
    key: &str,
    body: &str,
    part_size: u64,
) -> (S3Store, ObjectUri) {
    let moto = stepscore_aws::moto::shared();
    let bucket = stepscore_aws::fixtures::unique("parts");
    rt.block_on(async {
        // uploaded in the default parts: S3 refuses parts under 5 MiB
        let setup = S3Store::new(&moto.sdk_config().await);
        setup
            .client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let u = ObjectUri::new(&bucket, key).unwrap();
        setup.put_bytes(&u, body.as_bytes().to_vec()).await.unwrap();
        let store = S3Store::from_client(setup.client().clone()).with_transfer(TransferSettings {
            part_size,
            concurrency: 4,
            ..TransferSettings::default()
        });
        (store, u)
    })
}

fn score_job(model: &Path, input: Location, output: PathBuf, shard: Shard) -> ScoreJob {
    ScoreJob {
        job_id: "job-1".into(),
        model: Location::Local(model.to_owned()),
        input,
        output: Location::Local(output),
        id_columns: vec!["id".into()],
        on_bad_row: BadRowPolicy::Fail,
        shard,
        progress_interval: std::time::Duration::from_secs(5),
        input_format: InputFormat::Auto,
        features: FeatureMap::new(),
        batch_job_id: None,
        output_format: OutputSpec::default(),
    }
}

#[test]
fn quoted_fields_across_part_boundaries_score_as_from_local_disk() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = logistic_model(dir.path());
    let csv = quoted_csv(150);
    let local = write(dir.path(), "in.csv", &csv);
    let (store, object) = store_with(&rt, "in/quoted.csv", &csv, 211);
    assert!(csv.len() > 40 * 211, "the input spans many parts");
    let s3 = Storage::with_store(Arc::new(store), rt.handle().clone());
    for count in [1, 3] {
        for index in 0..count {
            let shard = Shard { index, count };
            let from_disk = dir.path().join(format!("disk-{count}"));
            let from_s3 = dir.path().join(format!("s3-{count}"));
            let expected = stepscore_batch::score(
                &score_job(
                    &model,
                    Location::Local(local.clone()),
                    from_disk.clone(),
                    shard,
                ),
                &Storage::local_only(),
            )
            .unwrap();
            let got = stepscore_batch::score(
                &score_job(
                    &model,
                    Location::Object(object.clone()),
                    from_s3.clone(),
                    shard,
                ),
                &s3,
            )
            .unwrap_or_else(|e| panic!("shard {index} of {count} from S3: {e}"));
            assert_eq!(
                (got.rows_read, got.rows_scored, got.rows_rejected),
                (
                    expected.rows_read,
                    expected.rows_scored,
                    expected.rows_rejected
                ),
                "shard {index} of {count}"
            );
            let part = format!("part-{index}.csv");
            assert_eq!(
                std::fs::read(from_s3.join(&part)).unwrap(),
                std::fs::read(from_disk.join(&part)).unwrap(),
                "shard {index} of {count}: the scores of the same rows"
            );
        }
    }
}

/// A store over which an upload replaces the object being read, at a chosen moment of the
/// scorer's reads; every other call goes straight to the store underneath.
#[derive(Debug)]
struct Replacing<S> {
    inner: S,
    /// Writes the replacement (a store reading in tiny parts would upload in parts S3 refuses).
    writer: Arc<dyn ObjectStore>,
    replacement: Vec<u8>,
    when: When,
    /// Reads of an object so far (format sniffs included).
    reads: AtomicUsize,
    replaced: AtomicBool,
}

/// When the replacing upload lands.
#[derive(Debug, Clone, Copy)]
enum When {
    /// Right after the first bytes of the first large read arrive (not the format sniff, the
    /// first few bytes).
    MidFirstRead,
    /// Just before the second read: a shard past the first reads its input more than once (the
    /// header, then what precedes its range, then its range).
    BeforeSecondRead,
}

impl<S: ObjectStore> Replacing<S> {
    fn new(inner: S, writer: Arc<dyn ObjectStore>, replacement: &str, when: When) -> Self {
        Replacing {
            inner,
            writer,
            replacement: replacement.as_bytes().to_vec(),
            when,
            reads: AtomicUsize::new(0),
            replaced: AtomicBool::new(false),
        }
    }

    async fn replace(&self, uri: &ObjectUri) {
        self.writer
            .put_bytes(uri, self.replacement.clone())
            .await
            .unwrap();
    }

    /// `read` (not yet started) with the replacement landing around it as `when` says.
    async fn read(
        &self,
        uri: &ObjectUri,
        range: &Option<Range<u64>>,
        read: impl Future<Output = Result<ByteStream, StoreError>>,
    ) -> Result<ByteStream, StoreError> {
        // the scorer's format sniff (its first few bytes) is not a large read
        let sniff = range.as_ref().is_some_and(|r| r.end - r.start < 64);
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        match self.when {
            When::BeforeSecondRead if n == 1 => {
                self.replace(uri).await;
                read.await
            }
            When::MidFirstRead if !sniff && !self.replaced.swap(true, Ordering::SeqCst) => {
                let mut body = read.await?;
                let mut first = vec![0u8; 64];
                body.read_exact(&mut first).await.unwrap();
                self.replace(uri).await;
                Ok(Box::pin(std::io::Cursor::new(first).chain(body)))
            }
            _ => read.await,
        }
    }
}

#[async_trait::async_trait]
impl<S: ObjectStore> ObjectStore for Replacing<S> {
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
        self.read(uri, &range, self.inner.get(uri, range.clone()))
            .await
    }

    async fn get_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        self.read(uri, &range, self.inner.get_at(uri, version, range.clone()))
            .await
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
}

#[test]
fn an_input_replaced_mid_read_fails_the_attempt_with_exit_75_naming_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = logistic_model(dir.path());
    let csv = quoted_csv(150);
    let (inner, object) = store_with(&rt, "in/replaced.csv", &csv, 211);
    let writer = Arc::new(inner.clone());
    let store = Replacing::new(inner, writer, "id,f0\n1,2\n", When::MidFirstRead);
    let s3 = Storage::with_store(Arc::new(store), rt.handle().clone());
    let err = stepscore_batch::score(
        &score_job(
            &model,
            Location::Object(object.clone()),
            dir.path().join("out"),
            Shard { index: 0, count: 1 },
        ),
        &s3,
    )
    .expect_err("a replaced input fails the attempt");
    assert_eq!(err.exit_code(), EXIT_TRANSIENT, "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{object} no longer holds ETag"))
            && message.contains("it was overwritten since (its ETag is now"),
        "{message}"
    );
    assert!(
        !dir.path().join("out/part-0.csv").exists(),
        "nothing is published"
    );
}

/// A same-sized upload of `csv` with other values (every `3` a `4`).
fn other_values(csv: &str) -> String {
    csv.replace('3', "4")
}

/// Scores shard 1 of 3 of `object` from `store`, which replaces it between two reads, and checks
/// the attempt fails with exit 75 naming the object, publishing nothing.
fn check_replaced_between_reads<S: ObjectStore + 'static>(
    rt: &tokio::runtime::Runtime,
    store: Replacing<S>,
    object: &ObjectUri,
) {
    let dir = tempfile::tempdir().unwrap();
    let model = logistic_model(dir.path());
    let store = Arc::new(store);
    let s3 = Storage::with_store(store.clone(), rt.handle().clone());
    let result = stepscore_batch::score(
        &score_job(
            &model,
            Location::Object(object.clone()),
            dir.path().join("out"),
            Shard { index: 1, count: 3 },
        ),
        &s3,
    );
    assert!(
        store.reads.load(Ordering::SeqCst) >= 2,
        "the shard read its input at least twice"
    );
    let err = result.expect_err("an input replaced between two reads fails the attempt");
    assert_eq!(err.exit_code(), EXIT_TRANSIENT, "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{object} no longer holds ETag"))
            && message.contains("it was overwritten since (its ETag is now"),
        "{message}"
    );
    assert!(
        !dir.path().join("out/part-1.csv").exists(),
        "nothing is published"
    );
}

#[test]
fn an_s3_input_replaced_between_two_reads_of_one_attempt_exits_75() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let csv = quoted_csv(150);
    let (inner, object) = store_with(&rt, "in/between.csv", &csv, 211);
    let writer = Arc::new(S3Store::from_client(inner.client().clone()));
    let store = Replacing::new(inner, writer, &other_values(&csv), When::BeforeSecondRead);
    check_replaced_between_reads(&rt, store, &object);
}

#[test]
fn a_directory_store_input_replaced_between_two_reads_of_one_attempt_exits_75() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = stepscore_dirstore::DirStore::open(root.path()).unwrap();
    let csv = quoted_csv(150);
    let object = ObjectUri::new("data-bkt", "in/between.csv").unwrap();
    rt.block_on(store.put_bytes(&object, csv.clone().into_bytes()))
        .unwrap();
    let writer = Arc::new(store.clone());
    let store = Replacing::new(store, writer, &other_values(&csv), When::BeforeSecondRead);
    check_replaced_between_reads(&rt, store, &object);
}
