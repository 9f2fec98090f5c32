//! DirStore: S3 semantics on a directory tree, a versioned bucket.

use std::sync::{Arc, Mutex};

use md5::Digest;
use serde_json::Value;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, ObjectVersion, StoreError};
use stepscore_dirstore::store::{FileStamp, KEPT_NONCURRENT_VERSIONS, KEPT_VERSION_BYTES};
use stepscore_dirstore::{DirStore, NotificationFilter};
use tokio::io::AsyncReadExt;

fn uri(s: &str) -> ObjectUri {
    ObjectUri::parse(s).unwrap()
}

fn store() -> (tempfile::TempDir, DirStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path().join("buckets")).unwrap();
    (dir, store)
}

async fn read_all(store: &DirStore, u: &ObjectUri, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let mut body = store.get(u, range).await.unwrap();
    let mut out = Vec::new();
    body.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn objects_are_plain_files_at_root_bucket_key() {
    let (_d, s) = store();
    s.put_bytes(&uri("s3://data-1/in/a.csv"), b"id,x\n1,2\n".to_vec())
        .await
        .unwrap();
    let on_disk = std::fs::read(s.root().join("data-1/in/a.csv")).unwrap();
    assert_eq!(on_disk, b"id,x\n1,2\n");
    // nothing else sits in the bucket folder: metadata lives outside it
    let names: Vec<_> = std::fs::read_dir(s.root().join("data-1/in"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["a.csv"]);
}

#[tokio::test]
async fn etag_is_the_md5_of_the_content_and_each_put_is_a_new_version() {
    let (_d, s) = store();
    let u = uri("s3://data-1/k.txt");
    let m1 = s.put_bytes(&u, b"hello".to_vec()).await.unwrap();
    // md5("hello")
    assert_eq!(m1.etag.as_deref(), Some("5d41402abc4b2a76b9719d911017c592"));
    assert_eq!(m1.size, 5);
    let m2 = s.put_bytes(&u, b"hello".to_vec()).await.unwrap();
    assert_eq!(m1.etag, m2.etag);
    assert_ne!(m1.version_id, m2.version_id);
    assert!(m2.version_id.is_some());
    let h = s.head(&u).await.unwrap();
    assert_eq!((h.etag, h.version_id, h.size), (m2.etag, m2.version_id, 5));
}

#[tokio::test]
async fn a_file_written_behind_the_stores_back_gets_a_fresh_digest_and_no_version() {
    let (_d, s) = store();
    let u = uri("s3://data-1/k.txt");
    s.put_bytes(&u, b"hello".to_vec()).await.unwrap();
    std::fs::write(s.root().join("data-1/k.txt"), b"changed!").unwrap();
    let h = s.head(&u).await.unwrap();
    assert_eq!(h.size, 8);
    // md5("changed!")
    assert_eq!(h.etag.as_deref(), Some("f5bbe7d860cd99607844b9ab05be13b7"));
    assert_eq!(h.version_id, None);
}

#[tokio::test]
async fn ranges_read_the_bytes_asked_for() {
    let (_d, s) = store();
    let u = uri("s3://data-1/r.bin");
    s.put_bytes(&u, b"0123456789".to_vec()).await.unwrap();
    assert_eq!(read_all(&s, &u, Some(2..5)).await, b"234");
    assert_eq!(read_all(&s, &u, Some(8..100)).await, b"89");
    assert_eq!(read_all(&s, &u, None).await, b"0123456789");
    assert!(s.get(&u, Some(10..12)).await.is_err());
}

#[tokio::test]
async fn list_returns_keys_in_byte_order_under_a_prefix_and_nothing_else() {
    let (_d, s) = store();
    for k in [
        "b/2.csv",
        "b/10.csv",
        "b/1.csv",
        "a.csv",
        "b/sub/x.csv",
        "bz.csv",
        "B.csv",
    ] {
        s.put_bytes(&uri(&format!("s3://data-1/{k}")), k.as_bytes().to_vec())
            .await
            .unwrap();
    }
    let keys = |v: Vec<stepscore_core::ports::ObjectMeta>| {
        v.into_iter()
            .map(|m| m.uri.key().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(s.list(&uri("s3://data-1/b/")).await.unwrap()),
        ["b/1.csv", "b/10.csv", "b/2.csv", "b/sub/x.csv"]
    );
    assert_eq!(
        keys(s.list(&uri("s3://data-1/b")).await.unwrap()),
        ["b/1.csv", "b/10.csv", "b/2.csv", "b/sub/x.csv", "bz.csv"]
    );
    assert_eq!(
        keys(s.list(&uri("s3://data-1")).await.unwrap()),
        [
            "B.csv",
            "a.csv",
            "b/1.csv",
            "b/10.csv",
            "b/2.csv",
            "b/sub/x.csv",
            "bz.csv"
        ]
    );
    assert!(
        s.list(&uri("s3://data-1/nothing/"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.list(&uri("s3://no-such-bucket/")).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn missing_objects_are_not_found() {
    let (_d, s) = store();
    s.create_bucket("data-1").unwrap();
    for u in ["s3://data-1/none", "s3://data-9/none"] {
        assert!(
            matches!(s.head(&uri(u)).await, Err(StoreError::NotFound { .. })),
            "{u}"
        );
        assert!(
            matches!(s.get(&uri(u), None).await, Err(StoreError::NotFound { .. })),
            "{u}"
        );
    }
}

#[tokio::test]
async fn keys_that_could_escape_the_bucket_are_refused() {
    let (d, s) = store();
    let outside = d.path().join("outside.txt");
    for key in [
        "../outside.txt",
        "a/../../outside.txt",
        "a/./b",
        "/etc/passwd",
        "a//b",
        "a\\..\\b",
        "nul\0byte",
        ".stepscore-tmp-x",
        "folder/",
    ] {
        let u = ObjectUri::new("data-1", key).unwrap();
        let put = s.put_bytes(&u, b"x".to_vec()).await;
        assert!(
            matches!(put, Err(StoreError::InvalidKey { .. })),
            "{key:?}: {put:?}"
        );
        assert!(
            matches!(s.head(&u).await, Err(StoreError::InvalidKey { .. })),
            "{key:?}"
        );
    }
    assert!(!outside.exists());
}

#[tokio::test]
async fn symlinks_inside_a_bucket_are_never_followed() {
    let (d, s) = store();
    s.put_bytes(&uri("s3://data-1/ok.txt"), b"ok".to_vec())
        .await
        .unwrap();
    let secret_dir = d.path().join("secret");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("key.pem"), b"secret").unwrap();
    std::os::unix::fs::symlink(&secret_dir, s.root().join("data-1/link")).unwrap();
    std::os::unix::fs::symlink(
        secret_dir.join("key.pem"),
        s.root().join("data-1/file-link"),
    )
    .unwrap();
    for key in ["link/key.pem", "file-link"] {
        let u = ObjectUri::new("data-1", key).unwrap();
        assert!(
            matches!(s.get(&u, None).await, Err(StoreError::InvalidKey { .. })),
            "{key}"
        );
        assert!(
            matches!(
                s.put_bytes(&u, b"x".to_vec()).await,
                Err(StoreError::InvalidKey { .. })
            ),
            "{key}"
        );
    }
    assert!(matches!(
        s.list(&uri("s3://data-1/link/")).await,
        Err(StoreError::InvalidKey { .. })
    ));
    let listed: Vec<_> = s
        .list(&uri("s3://data-1"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uri.key().to_owned())
        .collect();
    assert_eq!(listed, ["ok.txt"]);
    assert_eq!(
        std::fs::read(secret_dir.join("key.pem")).unwrap(),
        b"secret"
    );
}

#[tokio::test]
async fn a_symlinked_bucket_is_refused() {
    let (d, s) = store();
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.root().join("data-2")).unwrap();
    let put = s.put_bytes(&uri("s3://data-2/x"), b"x".to_vec()).await;
    assert!(matches!(put, Err(StoreError::InvalidKey { .. })), "{put:?}");
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
}

#[tokio::test]
async fn concurrent_puts_to_one_key_leave_one_whole_object() {
    let (_d, s) = store();
    let u = uri("s3://data-1/same.bin");
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let (s, u) = (s.clone(), u.clone());
        tasks.push(tokio::spawn(async move {
            s.put_bytes(&u, vec![i; 300_000]).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let body = read_all(&s, &u, None).await;
    assert_eq!(body.len(), 300_000);
    assert!(
        body.iter().all(|b| *b == body[0]),
        "object mixes two writes"
    );
    // no temp files left behind
    let names: Vec<_> = std::fs::read_dir(s.root().join("data-1"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

fn recording_store(dir: &std::path::Path) -> (DirStore, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let s = DirStore::with_events(
        dir.join("buckets"),
        "eu-west-1",
        NotificationFilter::default(),
        Arc::new(move |e| {
            sink.lock().unwrap().push(e);
            Ok(())
        }),
    )
    .unwrap();
    (s, seen)
}

#[tokio::test]
async fn a_config_put_under_jobs_emits_the_s3_event_aws_sends() {
    let d = tempfile::tempdir().unwrap();
    let (s, seen) = recording_store(d.path());
    let meta = s
        .put_bytes(&uri("s3://data-1/jobs/daily run+1.json"), b"{}".to_vec())
        .await
        .unwrap();
    s.put_bytes(&uri("s3://data-1/jobs/notes.txt"), b"x".to_vec())
        .await
        .unwrap();
    s.put_bytes(&uri("s3://data-1/other/x.json"), b"x".to_vec())
        .await
        .unwrap();
    let events = seen.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let parsed: aws_lambda_events::s3::S3Event = serde_json::from_value(events[0].clone()).unwrap();
    let r = &parsed.records[0];
    assert_eq!(r.event_source.as_deref(), Some("aws:s3"));
    assert_eq!(r.event_name.as_deref(), Some("ObjectCreated:Put"));
    assert_eq!(r.aws_region.as_deref(), Some("eu-west-1"));
    assert_eq!(r.s3.bucket.name.as_deref(), Some("data-1"));
    assert_eq!(r.s3.bucket.arn.as_deref(), Some("arn:aws:s3:::data-1"));
    // S3 form-encodes keys in events: space as '+', '+' as %2B
    assert_eq!(r.s3.object.key.as_deref(), Some("jobs/daily+run%2B1.json"));
    assert_eq!(r.s3.object.size, Some(2));
    assert_eq!(r.s3.object.e_tag, meta.etag);
    assert_eq!(r.s3.object.version_id, meta.version_id);
    assert!(r.s3.object.sequencer.is_some());
}

#[tokio::test]
async fn a_put_whose_event_the_sink_cannot_keep_fails_naming_the_object_and_why() {
    let d = tempfile::tempdir().unwrap();
    let s = DirStore::with_events(
        d.path().join("buckets"),
        "eu-west-1",
        NotificationFilter::default(),
        Arc::new(|_| Err("the outbox is full".to_string())),
    )
    .unwrap();
    let config = uri("s3://data-1/jobs/a.json");
    let err = s.put_bytes(&config, b"{}".to_vec()).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, StoreError::Other { uri, .. } if uri == "s3://data-1/jobs/a.json")
            && message.contains("S3 event could not be kept")
            && message.contains("the outbox is full"),
        "{message}"
    );
    // a put the notification does not cover needs no event
    s.put_bytes(&uri("s3://data-1/in/a.csv"), b"x".to_vec())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_put_emits_nothing_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (s, seen) = recording_store(d.path());
    let bad = ObjectUri::new("data-1", "jobs/../x.json").unwrap();
    assert!(s.put_bytes(&bad, b"{}".to_vec()).await.is_err());
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn each_put_of_a_key_carries_a_greater_sequencer_even_with_identical_bytes() {
    use stepscore_core::Sequencer;
    let d = tempfile::tempdir().unwrap();
    let (s, seen) = recording_store(d.path());
    let key = uri("s3://data-1/jobs/again.json");
    for _ in 0..20 {
        s.put_bytes(&key, b"{}".to_vec()).await.unwrap();
    }
    let events = seen.lock().unwrap().clone();
    let objects: Vec<&Value> = events
        .iter()
        .map(|e| &e["Records"][0]["s3"]["object"])
        .collect();
    // the same bytes: the same ETag every time, so only the sequencer (and here the version id)
    // tells the PUTs apart
    assert!(objects.iter().all(|o| o["eTag"] == objects[0]["eTag"]));
    let sequencers: Vec<Sequencer> = objects
        .iter()
        .map(|o| Sequencer::new(o["sequencer"].as_str().unwrap()))
        .collect();
    for pair in sequencers.windows(2) {
        assert!(pair[0] < pair[1], "{sequencers:?}");
    }
}

#[tokio::test]
async fn dir_store_meets_the_object_store_contract() {
    let (_d, s) = store();
    stepscore_core::store_contract::check_object_store(&s, "data-1").await;
}

/// Reads version `id` of `u` with a 64 KiB limit.
async fn read_version(s: &DirStore, u: &ObjectUri, id: &str) -> Result<Vec<u8>, StoreError> {
    s.get_bytes_at(u, &ObjectVersion::Id(id.to_owned()), 1 << 16)
        .await
}

fn assert_gone(read: Result<Vec<u8>, StoreError>, id: &str) {
    match read {
        Err(StoreError::Changed {
            expected: ObjectVersion::Id(v),
            ..
        }) if v == id => {}
        other => panic!("version '{id}' should be gone, read gave {other:?}"),
    }
}

/// How many files hold kept versions (`.stepscore-meta/<bucket>/versions/<key digest>/<id>`).
fn kept_files(s: &DirStore) -> usize {
    let versions = s.root().join(".stepscore-meta/data-1/versions");
    std::fs::read_dir(versions).map_or(0, |keys| {
        keys.map(|k| std::fs::read_dir(k.unwrap().path()).unwrap().count())
            .sum()
    })
}

#[tokio::test]
async fn a_key_keeps_the_bytes_of_its_sixteen_newest_earlier_versions() {
    let (_d, s) = store();
    let u = uri("s3://data-1/jobs/daily.json");
    let mut versions = Vec::new();
    for i in 0..KEPT_NONCURRENT_VERSIONS + 3 {
        let put = s
            .put_bytes(&u, format!("{{\"run\": {i}}}").into_bytes())
            .await;
        versions.push(put.unwrap().version_id.unwrap());
    }
    // the current version and the 16 before it, each with its own bytes
    for (i, id) in versions.iter().enumerate().skip(2) {
        let bytes = read_version(&s, &u, id).await.unwrap();
        assert_eq!(
            bytes,
            format!("{{\"run\": {i}}}").into_bytes(),
            "version {i}"
        );
    }
    // older ones are gone as if a lifecycle rule expired them, and their bytes with them
    assert_gone(read_version(&s, &u, &versions[0]).await, &versions[0]);
    assert_gone(read_version(&s, &u, &versions[1]).await, &versions[1]);
    assert_eq!(kept_files(&s), KEPT_NONCURRENT_VERSIONS + 1);
}

#[tokio::test]
async fn an_object_over_a_mebibyte_keeps_only_its_current_version() {
    let (_d, s) = store();
    let u = uri("s3://data-1/out/part-0.csv");
    let big = |b: u8| vec![b; KEPT_VERSION_BYTES as usize + 1];
    let first = s.put_bytes(&u, big(b'a')).await.unwrap();
    let second = s.put_bytes(&u, big(b'b')).await.unwrap();
    let limit = KEPT_VERSION_BYTES + 1;
    let v1 = ObjectVersion::Id(first.version_id.clone().unwrap());
    let v2 = ObjectVersion::Id(second.version_id.unwrap());
    assert_eq!(s.get_bytes_at(&u, &v2, limit).await.unwrap(), big(b'b'));
    assert_gone(
        s.get_bytes_at(&u, &v1, limit).await,
        first.version_id.as_deref().unwrap(),
    );
    assert_eq!(kept_files(&s), 0, "nothing of a large object is kept");
}

#[tokio::test]
async fn a_config_rewritten_in_place_by_hand_no_longer_holds_its_version() {
    let (_d, s) = store();
    let u = uri("s3://data-1/jobs/daily.json");
    let put = s.put_bytes(&u, b"{\"run\": 1}".to_vec()).await.unwrap();
    let v1 = put.version_id.unwrap();
    // `cat > daily.json` writes into the same inode the kept version links to
    std::fs::write(s.path_of(&u).unwrap(), b"{\"run\": 2}").unwrap();
    assert_gone(read_version(&s, &u, &v1).await, &v1);
    let by_etag = s
        .get_bytes_at(&u, &ObjectVersion::etag(put.etag.as_deref().unwrap()), 1024)
        .await;
    assert!(
        matches!(&by_etag, Err(StoreError::Changed { current: Some(now), .. }) if *now == format!("{:x}", md5::Md5::digest(b"{\"run\": 2}"))),
        "{by_etag:?}"
    );
}

#[tokio::test]
async fn a_config_replaced_by_hand_keeps_its_version_readable() {
    let (_d, s) = store();
    let u = uri("s3://data-1/jobs/daily.json");
    let v1 = s
        .put_bytes(&u, b"{\"run\": 1}".to_vec())
        .await
        .unwrap()
        .version_id
        .unwrap();
    // an editor's save: a new file renamed over the old one
    let path = s.path_of(&u).unwrap();
    let tmp = path.with_file_name(".daily.json.swp");
    std::fs::write(&tmp, b"{\"run\": 2}").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert_eq!(read_version(&s, &u, &v1).await.unwrap(), b"{\"run\": 1}");
}

#[tokio::test]
async fn a_version_registered_from_a_hand_copied_file_stays_readable_after_an_editor_save() {
    let (_d, s) = store();
    let u = uri("s3://data-1/jobs/daily.json");
    s.create_bucket("data-1").unwrap();
    let path = s.path_of(&u).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{\"run\": 1}").unwrap();
    let stamp = FileStamp::of(&path).unwrap();
    let registered = s.register_version(&u, "hand-1", stamp).unwrap();
    assert!(registered.is_some(), "registered as version hand-1");
    let tmp = path.with_file_name(".daily.json.swp");
    std::fs::write(&tmp, b"{\"run\": 2}").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert_eq!(
        read_version(&s, &u, "hand-1").await.unwrap(),
        b"{\"run\": 1}"
    );
    assert_eq!(s.get_bytes(&u, 1024).await.unwrap(), b"{\"run\": 2}");
}

#[tokio::test]
async fn version_ids_the_store_never_issued_are_gone_wherever_they_point() {
    let (_d, s) = store();
    let u = uri("s3://data-1/jobs/daily.json");
    s.put_bytes(&u, b"{}".to_vec()).await.unwrap();
    for id in ["../../data-1/jobs/daily.json", "", ".", "no-such-version"] {
        assert_gone(read_version(&s, &u, id).await, id);
    }
    assert!(matches!(
        read_version(&s, &uri("s3://data-1/jobs/none.json"), "no-such-version").await,
        Err(StoreError::Changed { .. })
    ));
}

/// The bytes of `range` of `u` read at `version`, or the store error the read failed with.
async fn read_at(
    s: &DirStore,
    u: &ObjectUri,
    version: &ObjectVersion,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, StoreError> {
    let mut body = s.get_at(u, version, range).await?;
    let mut out = Vec::new();
    body.read_to_end(&mut out).await.unwrap();
    Ok(out)
}

#[tokio::test]
async fn a_pinned_read_streams_its_version_to_the_end_while_a_put_replaces_the_file() {
    let (_d, s) = store();
    let u = uri("s3://data-1/in/big.csv");
    let first: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    let put = s.put_bytes(&u, first.clone()).await.unwrap();
    let e1 = ObjectVersion::etag(put.etag.as_deref().unwrap());
    let mut body = s.get_at(&u, &e1, Some(1000..(3 << 20))).await.unwrap();
    let mut head = vec![0u8; 4096];
    body.read_exact(&mut head).await.unwrap();
    // the put renames a new file into place; the open one keeps the version's bytes
    let second = s.put_bytes(&u, vec![b'x'; 3 << 20]).await.unwrap();
    let mut rest = Vec::new();
    body.read_to_end(&mut rest).await.unwrap();
    head.extend(rest);
    assert!(head == first[1000..], "every byte is the first version's");
    match read_at(&s, &u, &e1, Some(0..10)).await {
        Err(StoreError::Changed { current, .. }) => {
            assert_eq!(current, second.etag, "the error names the ETag it has now")
        }
        other => panic!("a read at the replaced ETag gave {other:?}"),
    }
}

#[tokio::test]
async fn a_file_rewritten_in_place_by_hand_no_longer_reads_at_its_etag() {
    let (_d, s) = store();
    let u = uri("s3://data-1/in/edited.csv");
    let put = s.put_bytes(&u, b"id,x\n1,2\n".to_vec()).await.unwrap();
    let e1 = ObjectVersion::etag(put.etag.as_deref().unwrap());
    // same size, same inode: only the bytes (and the modification time) differ
    std::fs::write(s.root().join("data-1/in/edited.csv"), b"id,x\n1,9\n").unwrap();
    match read_at(&s, &u, &e1, Some(5..9)).await {
        Err(StoreError::Changed { current, .. }) => assert_eq!(
            current.as_deref(),
            Some(hex::encode(md5::Md5::digest(b"id,x\n1,9\n")).as_str()),
            "the error names the digest of the bytes there now"
        ),
        other => panic!("a read at the ETag of the bytes before the edit gave {other:?}"),
    }
}

#[tokio::test]
async fn a_file_copied_in_by_hand_reads_at_the_etag_its_listing_gave() {
    let (_d, s) = store();
    let path = s.root().join("data-1/in/copied.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"id,x\n1,2\n3,4\n").unwrap();
    let listed = s.list(&uri("s3://data-1/in/")).await.unwrap();
    let etag = ObjectVersion::etag(listed[0].etag.as_deref().unwrap());
    let read = read_at(&s, &listed[0].uri, &etag, Some(5..9)).await;
    assert_eq!(read.unwrap(), b"1,2\n");
}
