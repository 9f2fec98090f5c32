//! S3Store: streaming gets with ranges, multipart puts with bounded memory, listing, reads at a
//! version, errors.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use stepscore_aws::S3Store;
use stepscore_aws::fixtures::{store_with_bucket, store_with_versioned_bucket};
use stepscore_aws::s3::PART_SIZE;
use stepscore_aws_s3::TransferSettings;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, ObjectVersion, StoreError};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri::new(bucket, key).unwrap()
}

/// A body of `len` deterministic bytes generated on the fly, so a large upload needs no large
/// source buffer; it remembers the largest single read asked of it.
struct Generated {
    pos: u64,
    len: u64,
}

fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64)
            .min(self.len - self.pos)
            .min(64 * 1024);
        for _ in 0..n {
            let b = byte_at(self.pos);
            buf.put_slice(&[b]);
            self.pos += 1;
        }
        Poll::Ready(Ok(()))
    }
}

/// A body that fails after `ok` bytes, like a source stream cut mid-upload.
struct FailsAfter {
    inner: Generated,
}

impl AsyncRead for FailsAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.inner.pos >= self.inner.len {
            return Poll::Ready(Err(std::io::Error::other("source connection reset")));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[tokio::test]
async fn small_objects_round_trip_with_their_identity() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "data/a.csv");
    let put = store.put_bytes(&u, b"id,x\n1,2\n".to_vec()).await.unwrap();
    assert_eq!(put.size, 9);
    let head = store.head(&u).await.unwrap();
    assert_eq!((head.size, head.etag.clone()), (9, put.etag.clone()));
    assert!(head.last_modified.is_some());
    assert_eq!(store.get_bytes(&u, 100).await.unwrap(), b"id,x\n1,2\n");
}

#[tokio::test]
async fn ranges_read_exactly_the_half_open_interval() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "r.txt");
    store.put_bytes(&u, b"0123456789".to_vec()).await.unwrap();
    let read = |r: std::ops::Range<u64>| {
        let (store, u) = (store.clone(), u.clone());
        async move {
            let mut s = String::new();
            store
                .get(&u, Some(r))
                .await
                .unwrap()
                .read_to_string(&mut s)
                .await
                .unwrap();
            s
        }
    };
    assert_eq!(read(2..5).await, "234");
    assert_eq!(read(0..1).await, "0");
    assert_eq!(read(7..10).await, "789");
    assert_eq!(read(4..4).await, "", "an empty range reads nothing");
}

#[tokio::test]
async fn objects_over_16_mib_go_up_in_parts_and_stream_back_intact() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "big/predictions.csv");
    let len = 2 * PART_SIZE as u64 + 1234 * 1024 + 7;
    let meta = store
        .put(&u, Box::pin(Generated { pos: 0, len }))
        .await
        .unwrap();
    assert_eq!(meta.size, len);
    // S3 marks a multipart object's ETag with its part count: 8 MiB + 8 MiB + the rest
    assert!(
        meta.etag
            .as_deref()
            .unwrap()
            .trim_matches('"')
            .ends_with("-3"),
        "{:?}",
        meta.etag
    );
    assert_eq!(store.head(&u).await.unwrap().size, len);

    // stream it back in small reads, comparing against the generator, never holding it whole
    let mut body = store.get(&u, None).await.unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = 0u64;
    loop {
        let n = body.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            assert_eq!(
                *b,
                byte_at(pos + i as u64),
                "byte {} differs",
                pos + i as u64
            );
        }
        pos += n as u64;
    }
    assert_eq!(pos, len);

    // a range spanning the part boundary
    let start = PART_SIZE as u64 - 3;
    let mut s = Vec::new();
    store
        .get(&u, Some(start..start + 6))
        .await
        .unwrap()
        .read_to_end(&mut s)
        .await
        .unwrap();
    assert_eq!(s, (start..start + 6).map(byte_at).collect::<Vec<_>>());
}

/// A failed put left nothing: no object at `u`, and no multipart upload still open (billed).
async fn assert_no_object_and_no_open_upload(store: &S3Store, bucket: &str, u: &ObjectUri) {
    assert!(matches!(
        store.head(u).await,
        Err(StoreError::NotFound { .. })
    ));
    let open = store
        .client()
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(
        open.uploads().is_empty(),
        "the upload was aborted: {:?}",
        open.uploads()
    );
}

#[tokio::test]
async fn a_body_that_fails_mid_upload_leaves_no_object_and_no_open_upload() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "cut.csv");
    let body = FailsAfter {
        inner: Generated {
            pos: 0,
            len: PART_SIZE as u64 + 10,
        },
    };
    let err = store.put(&u, Box::pin(body)).await.unwrap_err();
    assert!(err.to_string().contains("source connection reset"), "{err}");
    assert_no_object_and_no_open_upload(&store, &bucket, &u).await;
}

#[tokio::test]
async fn list_returns_every_object_under_a_prefix_in_key_order_across_pages() {
    let (store, bucket) = store_with_bucket().await;
    // more than one ListObjectsV2 page (1,000 keys)
    let keys: Vec<String> = (0..1005).map(|i| format!("in/part-{i:05}.csv")).collect();
    let uris: Vec<ObjectUri> = keys.iter().map(|k| uri(&bucket, k)).collect();
    let puts = uris.iter().map(|u| store.put_bytes(u, b"x".to_vec()));
    let results: Vec<_> = futures::stream::iter(puts)
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));
    store
        .put_bytes(&uri(&bucket, "other/z.csv"), b"z".to_vec())
        .await
        .unwrap();
    let listed = store.list(&uri(&bucket, "in/")).await.unwrap();
    let got: Vec<&str> = listed.iter().map(|m| m.uri.key()).collect();
    assert_eq!(got, keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(listed.iter().all(|m| m.size == 1));
    assert!(
        store
            .list(&uri(&bucket, "nothing/"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn missing_objects_and_buckets_are_not_found_naming_them() {
    let (store, bucket) = store_with_bucket().await;
    let missing = uri(&bucket, "models/none.json");
    for err in [
        store.head(&missing).await.unwrap_err(),
        store.get(&missing, None).await.err().unwrap(),
    ] {
        assert!(
            matches!(&err, StoreError::NotFound { uri } if uri == &missing.to_string()),
            "{err}"
        );
        assert!(!err.is_transient());
    }
    let no_bucket = uri("no-such-bucket-stepscore", "x/");
    assert!(matches!(
        store.list(&no_bucket).await,
        Err(StoreError::NotFound { .. })
    ));
    let too_big = store
        .put_bytes(&uri(&bucket, "c.json"), vec![b'x'; 100])
        .await
        .map(|_| ());
    assert!(too_big.is_ok());
    assert!(matches!(
        store.get_bytes(&uri(&bucket, "c.json"), 10).await,
        Err(StoreError::TooLarge {
            size: 100,
            limit: 10,
            ..
        })
    ));
}

#[tokio::test]
async fn s3_store_meets_the_object_store_contract() {
    let (store, bucket) = store_with_versioned_bucket().await;
    stepscore_core::store_contract::check_object_store(&store, &bucket).await;
}

#[tokio::test]
async fn a_version_deleted_for_good_is_changed_naming_it() {
    let (store, bucket) = store_with_versioned_bucket().await;
    let u = uri(&bucket, "jobs/daily.json");
    let first = store.put_bytes(&u, b"{\"run\": 1}".to_vec()).await.unwrap();
    store.put_bytes(&u, b"{\"run\": 2}".to_vec()).await.unwrap();
    let v1 = first.version_id.unwrap();
    // what a lifecycle rule's noncurrent expiration does after its days
    store
        .client()
        .delete_object()
        .bucket(&bucket)
        .key(u.key())
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    let err = store
        .get_bytes_at(&u, &ObjectVersion::Id(v1.clone()), 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Changed { expected: ObjectVersion::Id(id), current: None, .. } if *id == v1),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let message = err.to_string();
    assert!(
        message.contains(&u.to_string())
            && message.contains(&format!("version '{v1}'"))
            && message.contains("deleted"),
        "{message}"
    );
}

#[tokio::test]
async fn in_an_unversioned_bucket_an_overwritten_etag_is_changed_naming_both() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "jobs/daily.json");
    let first = store.put_bytes(&u, b"{\"run\": 1}".to_vec()).await.unwrap();
    let second = store.put_bytes(&u, b"{\"run\": 2}".to_vec()).await.unwrap();
    assert_eq!(first.version_id, None, "an unversioned bucket");
    let (e1, e2) = (first.etag.unwrap(), second.etag.unwrap());
    let err = store
        .get_bytes_at(&u, &ObjectVersion::etag(&e1), 1024)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("ETag {e1}")) && message.contains(&format!("now {e2}")),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient() {
    let config = stepscore_aws::AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        region: Some("us-east-1".into()),
        component: None,
    }
    .loader()
    .credentials_provider(aws_sdk_s3::config::Credentials::new(
        "a", "b", None, None, "t",
    ))
    .retry_config(aws_config::retry::RetryConfig::disabled())
    .load()
    .await;
    let err = S3Store::new(&config)
        .head(&uri("bucket", "k"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

/// `store`'s client with reads and uploads split into `part_size` parts, `concurrency` in flight.
fn in_parts(store: &S3Store, part_size: u64, concurrency: usize) -> S3Store {
    S3Store::from_client(store.client().clone()).with_transfer(TransferSettings {
        part_size,
        concurrency,
        ..TransferSettings::default()
    })
}

#[tokio::test]
async fn large_reads_are_ranged_parts_read_back_in_order_across_part_boundaries() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "parts.csv");
    let data: Vec<u8> = (0..10_500).map(byte_at).collect();
    store.put_bytes(&u, data.clone()).await.unwrap();
    let parts = in_parts(&store, 1000, 3);
    for range in [
        None,
        Some(0..10_500),
        Some(999..3001),
        Some(1000..2000),
        Some(9_990..20_000),
        Some(10..20),
    ] {
        let mut got = Vec::new();
        let mut body = parts.get(&u, range.clone()).await.unwrap();
        body.read_to_end(&mut got).await.unwrap();
        let r = range.unwrap_or(0..10_500);
        let expected = &data[r.start as usize..(r.end as usize).min(data.len())];
        assert!(got == expected, "range {r:?}: {} bytes", got.len());
    }
    // a range starting past the end gets S3's answer, as one GET would
    assert!(parts.get(&u, Some(20_000..30_000)).await.is_err());
}

#[tokio::test]
async fn an_object_replaced_mid_read_fails_as_changed_naming_both_etags() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "replaced-mid-read.csv");
    let first = store
        .put_bytes(&u, (0..50_000).map(byte_at).collect())
        .await
        .unwrap();
    let parts = in_parts(&store, 1000, 2);
    let mut body = parts.get(&u, None).await.unwrap();
    let mut start = vec![0u8; 1500];
    body.read_exact(&mut start).await.unwrap();
    let second = store.put_bytes(&u, b"id\n1\n".to_vec()).await.unwrap();
    let mut rest = Vec::new();
    let err = body.read_to_end(&mut rest).await.unwrap_err();
    let inner = err
        .into_inner()
        .expect("the read error carries the store's");
    let changed = inner.downcast::<StoreError>().expect("a StoreError");
    let unq = |e: &Option<String>| e.as_deref().unwrap().trim_matches('"').to_owned();
    match *changed {
        StoreError::Changed {
            uri: ref at,
            expected: ObjectVersion::ETag(ref was),
            current: Some(ref now),
        } => {
            assert_eq!(
                (at.as_str(), was, now),
                (
                    u.to_string().as_str(),
                    &unq(&first.etag),
                    &unq(&second.etag)
                )
            );
        }
        ref other => panic!("expected Changed, got {other:?}"),
    }
    assert!(
        rest.len() < 50_000 - 1500,
        "no bytes of the new object were mixed in"
    );
}

#[tokio::test]
async fn parts_go_up_concurrently_and_complete_only_when_every_part_is_whole() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "up/concurrent.csv");
    let part = 5 * 1024 * 1024;
    let len = 4 * part + 7;
    let meta = in_parts(&store, part, 3)
        .put(&u, Box::pin(Generated { pos: 0, len }))
        .await
        .unwrap();
    assert_eq!(meta.size, len);
    assert!(
        meta.etag
            .as_deref()
            .unwrap()
            .trim_matches('"')
            .ends_with("-5"),
        "five parts: {:?}",
        meta.etag
    );
    let mut got = Vec::new();
    store
        .get(&u, None)
        .await
        .unwrap()
        .read_to_end(&mut got)
        .await
        .unwrap();
    assert!(
        got.len() as u64 == len && got.iter().enumerate().all(|(i, b)| *b == byte_at(i as u64)),
        "the parts are put together in order"
    );
}

#[tokio::test]
async fn a_body_failing_while_parts_are_in_flight_leaves_no_object_and_no_open_upload() {
    let (store, bucket) = store_with_bucket().await;
    let u = uri(&bucket, "up/cut-concurrent.csv");
    let part = 5 * 1024 * 1024;
    let body = FailsAfter {
        inner: Generated {
            pos: 0,
            len: 3 * part + 10,
        },
    };
    let err = in_parts(&store, part, 3)
        .put(&u, Box::pin(body))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("source connection reset")
            && err.to_string().contains(&u.to_string()),
        "{err}"
    );
    assert_no_object_and_no_open_upload(&store, &bucket, &u).await;
}
