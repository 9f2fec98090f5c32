//! The object store contract for reads at a version: the cases every [`ObjectStore`] adapter's
//! [`get_bytes_at`](ObjectStore::get_bytes_at) must pass.
//!
//! An adapter's tests call [`check_reads_at`] with a store and a bucket that keeps versions (an
//! S3 bucket with versioning enabled; the embedded store always keeps them). The cases write
//! under `store-contract/` in that bucket. A failing case panics naming itself and what it saw.
//! What only some stores can arrange (a version deleted for good) is tested beside each adapter.

use crate::ports::{ObjectStore, ObjectVersion, StoreError, unquoted};
use crate::uri::ObjectUri;

/// Runs every case against `store`, writing under `store-contract/` in `bucket`.
pub async fn check_reads_at(store: &dyn ObjectStore, bucket: &str) {
    a_version_id_reads_that_version_after_the_key_is_overwritten(store, bucket).await;
    an_etag_reads_the_current_object_only_while_it_has_that_etag(store, bucket).await;
    reads_at_a_version_refuse_objects_over_the_limit(store, bucket).await;
    a_read_by_etag_of_a_missing_object_is_not_found(store, bucket).await;
}

fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri::new(bucket, format!("store-contract/{key}"))
        .unwrap_or_else(|e| panic!("contract key under bucket '{bucket}': {e}"))
}

async fn a_version_id_reads_that_version_after_the_key_is_overwritten(
    store: &dyn ObjectStore,
    bucket: &str,
) {
    let case = "a version id reads that version after the key is overwritten";
    let u = uri(bucket, "overwritten.json");
    let first = store.put_bytes(&u, b"{\"run\": 1}".to_vec()).await;
    let first = first.unwrap_or_else(|e| panic!("{case}: first put: {e}"));
    let second = store
        .put_bytes(&u, b"{\"run\": 2, \"x\": 0}".to_vec())
        .await;
    let second = second.unwrap_or_else(|e| panic!("{case}: second put: {e}"));
    let (Some(v1), Some(v2)) = (first.version_id, second.version_id) else {
        panic!("{case}: the bucket must keep versions, but a put returned no version id")
    };
    assert_ne!(v1, v2, "{case}: each put is a new version");
    for (id, expected) in [
        (&v1, &b"{\"run\": 1}"[..]),
        (&v2, b"{\"run\": 2, \"x\": 0}"),
    ] {
        let read = store
            .get_bytes_at(&u, &ObjectVersion::Id(id.clone()), 1024)
            .await;
        match read {
            Ok(bytes) => assert_eq!(bytes, expected, "{case}: version '{id}'"),
            Err(e) => panic!("{case}: version '{id}': {e}"),
        }
    }
    let current = store.get_bytes(&u, 1024).await;
    assert_eq!(
        current.unwrap_or_else(|e| panic!("{case}: current: {e}")),
        b"{\"run\": 2, \"x\": 0}",
        "{case}: an unversioned read is the newest version"
    );
}

async fn an_etag_reads_the_current_object_only_while_it_has_that_etag(
    store: &dyn ObjectStore,
    bucket: &str,
) {
    let case = "an ETag reads the current object only while it has that ETag";
    let u = uri(bucket, "etag.json");
    let first = store.put_bytes(&u, b"{\"run\": 1}".to_vec()).await;
    let first = first.unwrap_or_else(|e| panic!("{case}: first put: {e}"));
    let e1 = first
        .etag
        .unwrap_or_else(|| panic!("{case}: a put returned no ETag"));
    // as an event sends it (no quotes) and as S3 answers it (quoted): the same entity tag
    for given in [unquoted(&e1).to_owned(), format!("\"{}\"", unquoted(&e1))] {
        let read = store
            .get_bytes_at(&u, &ObjectVersion::etag(&given), 1024)
            .await;
        assert_eq!(
            read.unwrap_or_else(|e| panic!("{case}: ETag {given}: {e}")),
            b"{\"run\": 1}",
            "{case}: ETag {given}"
        );
    }
    let second = store.put_bytes(&u, b"{\"run\": 2}".to_vec()).await;
    let second = second.unwrap_or_else(|e| panic!("{case}: second put: {e}"));
    let e2 = second
        .etag
        .unwrap_or_else(|| panic!("{case}: a put returned no ETag"));
    match store
        .get_bytes_at(&u, &ObjectVersion::etag(&e1), 1024)
        .await
    {
        Err(StoreError::Changed {
            uri: at,
            expected,
            current,
        }) => {
            assert_eq!(at, u.to_string(), "{case}: the error names the object");
            assert_eq!(expected, ObjectVersion::etag(&e1), "{case}");
            assert_eq!(
                current.as_deref(),
                Some(unquoted(&e2)),
                "{case}: the error names the ETag the object has now"
            );
        }
        other => panic!("{case}: reading the overwritten ETag {e1} gave {other:?}"),
    }
    let read = store
        .get_bytes_at(&u, &ObjectVersion::etag(&e2), 1024)
        .await;
    assert_eq!(
        read.unwrap_or_else(|e| panic!("{case}: current ETag: {e}")),
        b"{\"run\": 2}",
        "{case}"
    );
}

async fn reads_at_a_version_refuse_objects_over_the_limit(store: &dyn ObjectStore, bucket: &str) {
    let case = "reads at a version refuse objects over the limit";
    let u = uri(bucket, "sized.json");
    let put = store.put_bytes(&u, vec![b' '; 100]).await;
    let put = put.unwrap_or_else(|e| panic!("{case}: put: {e}"));
    let id = ObjectVersion::Id(put.version_id.unwrap_or_default());
    let etag = ObjectVersion::etag(&put.etag.unwrap_or_default());
    for at in [&id, &etag] {
        match store.get_bytes_at(&u, at, 99).await {
            Err(StoreError::TooLarge { size, limit, .. }) => {
                assert_eq!((size, limit), (100, 99), "{case}: {at}")
            }
            other => panic!("{case}: {at} with a 99-byte limit gave {other:?}"),
        }
        let whole = store.get_bytes_at(&u, at, 100).await;
        let whole = whole.unwrap_or_else(|e| panic!("{case}: {at} at the limit: {e}"));
        assert_eq!(whole.len(), 100, "{case}: {at} at exactly the limit");
    }
}

async fn a_read_by_etag_of_a_missing_object_is_not_found(store: &dyn ObjectStore, bucket: &str) {
    let case = "a read by ETag of a missing object is not found";
    let u = uri(bucket, "never-written.json");
    match store
        .get_bytes_at(&u, &ObjectVersion::etag("0123456789abcdef"), 1024)
        .await
    {
        Err(StoreError::NotFound { uri: at }) => assert_eq!(at, u.to_string(), "{case}"),
        other => panic!("{case}: gave {other:?}"),
    }
}
