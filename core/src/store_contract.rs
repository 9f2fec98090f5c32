//! The object store contract: the cases every [`ObjectStore`] implementation passes, the S3 and
//! directory adapters and the handlers' in-memory fake alike.
//!
//! An implementation's tests call [`check_object_store`] with a store and a bucket that exists
//! and keeps versions (an S3 bucket with versioning enabled; the embedded store always keeps
//! them). The cases write under `store-contract/` in that bucket. A failing case panics naming
//! itself and what it saw. What only some stores can arrange (a version deleted for good, a
//! multipart upload, a missing bucket) is tested beside each adapter.

use tokio::io::AsyncReadExt;

use crate::ports::{ObjectStore, ObjectVersion, StoreError, unquoted};
use crate::uri::ObjectUri;

/// Runs every case against `store`, writing under `store-contract/` in `bucket`.
pub async fn check_object_store(store: &dyn ObjectStore, bucket: &str) {
    a_put_object_reads_back_whole_and_by_range(store, bucket).await;
    a_put_replaces_the_object(store, bucket).await;
    list_returns_the_objects_under_a_prefix_in_key_order(store, bucket).await;
    a_missing_object_is_not_found_naming_it(store, bucket).await;
    whole_reads_refuse_objects_over_the_limit(store, bucket).await;
    a_version_id_reads_that_version_after_the_key_is_overwritten(store, bucket).await;
    an_etag_reads_the_current_object_only_while_it_has_that_etag(store, bucket).await;
    reads_at_a_version_refuse_objects_over_the_limit(store, bucket).await;
    a_read_by_etag_of_a_missing_object_is_not_found(store, bucket).await;
    a_range_read_at_a_version_streams_only_that_version(store, bucket).await;
}

fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri::new(bucket, format!("store-contract/{key}"))
        .unwrap_or_else(|e| panic!("contract key under bucket '{bucket}': {e}"))
}

/// The bytes of `uri` (or of `range` of it), read through [`ObjectStore::get`].
async fn read(
    store: &dyn ObjectStore,
    u: &ObjectUri,
    range: Option<std::ops::Range<u64>>,
    case: &str,
) -> Vec<u8> {
    let what = format!("{case}: get {u} {range:?}");
    let mut body = store
        .get(u, range)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut bytes = Vec::new();
    body.read_to_end(&mut bytes)
        .await
        .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
    bytes
}

async fn a_put_object_reads_back_whole_and_by_range(store: &dyn ObjectStore, bucket: &str) {
    let case = "a put object reads back whole and by range";
    let u = uri(bucket, "digits.txt");
    let put = store.put_bytes(&u, b"0123456789".to_vec()).await;
    let put = put.unwrap_or_else(|e| panic!("{case}: put: {e}"));
    assert_eq!(
        (&put.uri, put.size),
        (&u, 10),
        "{case}: put names the object and its size"
    );
    let head = store.head(&u).await;
    let head = head.unwrap_or_else(|e| panic!("{case}: head: {e}"));
    assert_eq!(head.size, 10, "{case}: head gives the size");
    let (Some(put_etag), Some(head_etag)) = (&put.etag, &head.etag) else {
        panic!("{case}: put and head both give an ETag, got {put:?} and {head:?}")
    };
    assert_eq!(
        unquoted(put_etag),
        unquoted(head_etag),
        "{case}: head gives the ETag put returned"
    );
    assert_eq!(
        head.version_id, put.version_id,
        "{case}: head gives the version put returned"
    );
    assert_eq!(read(store, &u, None, case).await, b"0123456789", "{case}");
    // ranges are half-open, [start, end); one reaching past the end stops at the end
    for (range, expected) in [
        (2..5, &b"234"[..]),
        (0..1, b"0"),
        (7..10, b"789"),
        (8..20, b"89"),
        (4..4, b""),
    ] {
        assert_eq!(
            read(store, &u, Some(range.clone()), case).await,
            expected,
            "{case}: range {range:?}"
        );
    }
}

async fn a_put_replaces_the_object(store: &dyn ObjectStore, bucket: &str) {
    let case = "a put replaces the object";
    let u = uri(bucket, "replaced.csv");
    for body in [&b"id,x\n1,2\n3,4\n"[..], b"id\n"] {
        let put = store.put_bytes(&u, body.to_vec()).await;
        put.unwrap_or_else(|e| panic!("{case}: put: {e}"));
    }
    assert_eq!(
        read(store, &u, None, case).await,
        b"id\n",
        "{case}: the newest bytes, and only them"
    );
    let head = store.head(&u).await;
    assert_eq!(
        head.unwrap_or_else(|e| panic!("{case}: head: {e}")).size,
        3,
        "{case}: head gives the new size"
    );
}

async fn list_returns_the_objects_under_a_prefix_in_key_order(
    store: &dyn ObjectStore,
    bucket: &str,
) {
    let case = "list returns the objects under a prefix in key order";
    // '.' sorts before '/', so a.csv comes before a/ in byte order
    for key in ["list/b.csv", "list/a/c.csv", "list/a.csv", "listing.csv"] {
        let put = store
            .put_bytes(&uri(bucket, key), key.as_bytes().to_vec())
            .await;
        put.unwrap_or_else(|e| panic!("{case}: put {key}: {e}"));
    }
    let listed = |prefix: &'static str| async move {
        let metas = store.list(&uri(bucket, prefix)).await;
        let metas = metas.unwrap_or_else(|e| panic!("{case}: list {prefix}: {e}"));
        metas
            .into_iter()
            .map(|m| {
                (
                    m.uri.key().trim_start_matches("store-contract/").to_owned(),
                    m.size,
                )
            })
            .collect::<Vec<_>>()
    };
    let sized = |keys: &[&str]| {
        keys.iter()
            .map(|k| ((*k).to_owned(), k.len() as u64))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed("list/").await,
        sized(&["list/a.csv", "list/a/c.csv", "list/b.csv"]),
        "{case}: every object under the folder, with its size, nothing beside it"
    );
    assert_eq!(
        listed("list/a").await,
        sized(&["list/a.csv", "list/a/c.csv"]),
        "{case}: a prefix is any start of a key, not only a folder"
    );
    assert_eq!(
        listed("nothing/").await,
        [],
        "{case}: an empty prefix lists nothing"
    );
}

async fn a_missing_object_is_not_found_naming_it(store: &dyn ObjectStore, bucket: &str) {
    let case = "a missing object is not found, naming it";
    let u = uri(bucket, "never-put.json");
    let named = |e: &StoreError| matches!(e, StoreError::NotFound { uri } if *uri == u.to_string());
    match store.head(&u).await {
        Err(e) if named(&e) => {}
        other => panic!("{case}: head gave {other:?}"),
    }
    match store.get(&u, None).await {
        Err(e) if named(&e) => {}
        Err(e) => panic!("{case}: get gave {e:?}"),
        Ok(_) => panic!("{case}: get gave a body"),
    }
    match store.get_bytes(&u, 1024).await {
        Err(e) if named(&e) => {}
        other => panic!("{case}: get_bytes gave {other:?}"),
    }
}

async fn whole_reads_refuse_objects_over_the_limit(store: &dyn ObjectStore, bucket: &str) {
    let case = "whole reads refuse objects over the limit";
    let u = uri(bucket, "hundred.json");
    let put = store.put_bytes(&u, vec![b' '; 100]).await;
    put.unwrap_or_else(|e| panic!("{case}: put: {e}"));
    match store.get_bytes(&u, 99).await {
        Err(StoreError::TooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), (100, 99), "{case}")
        }
        other => panic!("{case}: a 99-byte limit gave {other:?}"),
    }
    let whole = store.get_bytes(&u, 100).await;
    let whole = whole.unwrap_or_else(|e| panic!("{case}: at the limit: {e}"));
    assert_eq!(
        whole.len(),
        100,
        "{case}: an object of exactly the limit is read"
    );
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
        // no limit at all (what `get_at`'s default asks for): the whole object, not an
        // overflow (the directory store added 1 to the limit: a panic, or in release an empty
        // read)
        let unbounded = store.get_bytes_at(&u, at, u64::MAX).await;
        let unbounded = unbounded.unwrap_or_else(|e| panic!("{case}: {at} without a limit: {e}"));
        assert_eq!(unbounded.len(), 100, "{case}: {at} without a limit");
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

/// The bytes of `range` of `u` at `version`, read through [`ObjectStore::get_at`]; a failure
/// when opening or from the stream (an `io::Error` carrying the store's error) alike.
async fn read_at(
    store: &dyn ObjectStore,
    u: &ObjectUri,
    version: &ObjectVersion,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, StoreError> {
    let mut body = store.get_at(u, version, range).await?;
    let mut bytes = Vec::new();
    match body.read_to_end(&mut bytes).await {
        Ok(_) => Ok(bytes),
        Err(e) => match e.into_inner().map(|inner| inner.downcast::<StoreError>()) {
            Some(Ok(store)) => Err(*store),
            other => Err(StoreError::Other {
                uri: u.to_string(),
                message: format!("the stream broke without a store error: {other:?}"),
            }),
        },
    }
}

async fn a_range_read_at_a_version_streams_only_that_version(
    store: &dyn ObjectStore,
    bucket: &str,
) {
    let case = "a range read at a version streams only that version";
    let u = uri(bucket, "pinned.csv");
    let first = store.put_bytes(&u, b"0123456789".to_vec()).await;
    let first = first.unwrap_or_else(|e| panic!("{case}: first put: {e}"));
    let e1 = ObjectVersion::etag(first.etag.as_deref().unwrap_or_default());
    let v1 = ObjectVersion::Id(first.version_id.clone().unwrap_or_default());
    for at in [&e1, &v1] {
        for (range, expected) in [
            (None, &b"0123456789"[..]),
            (Some(2..5), b"234"),
            (Some(8..20), b"89"),
        ] {
            let read = read_at(store, &u, at, range.clone()).await;
            assert_eq!(
                read.unwrap_or_else(|e| panic!("{case}: {at}, range {range:?}: {e}")),
                expected,
                "{case}: {at}, range {range:?}"
            );
        }
    }
    let second = store.put_bytes(&u, b"abcdefghij".to_vec()).await;
    let second = second.unwrap_or_else(|e| panic!("{case}: second put: {e}"));
    let e2 = second
        .etag
        .unwrap_or_else(|| panic!("{case}: a put returned no ETag"));
    match read_at(store, &u, &e1, Some(2..5)).await {
        Err(StoreError::Changed {
            uri: at,
            expected,
            current,
        }) => {
            assert_eq!(at, u.to_string(), "{case}: the error names the object");
            assert_eq!(expected, e1, "{case}");
            assert_eq!(
                current.as_deref(),
                Some(unquoted(&e2)),
                "{case}: the error names the ETag the object has now"
            );
        }
        other => panic!("{case}: a range at the overwritten {e1} gave {other:?}"),
    }
    let old = read_at(store, &u, &v1, Some(2..5)).await;
    assert_eq!(
        old.unwrap_or_else(|e| panic!("{case}: {v1} after the overwrite: {e}")),
        b"234",
        "{case}: a version id still reads its own bytes after the overwrite"
    );
    let now = read_at(store, &u, &ObjectVersion::etag(&e2), Some(2..5)).await;
    assert_eq!(
        now.unwrap_or_else(|e| panic!("{case}: the current ETag: {e}")),
        b"cde",
        "{case}: the current ETag reads the new bytes"
    );
    let missing = uri(bucket, "never-written.csv");
    match read_at(store, &missing, &e1, Some(0..4)).await {
        Err(StoreError::NotFound { uri: at }) => {
            assert_eq!(at, missing.to_string(), "{case}: a missing object")
        }
        other => panic!("{case}: a range at an ETag of a missing object gave {other:?}"),
    }
}
