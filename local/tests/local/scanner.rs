//! The watch scanner: files that reach `jobs/` without the store (`cp`, editors, files there
//! before) become one S3 event per content version, and the files are never rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use stepscore_core::ObjectUri;
use stepscore_core::ports::ObjectStore;
use stepscore_local::{Found, LocalRuntime, RuntimeConfig, ScanConfig, Scanner, pipeline};

fn runtime(dir: &Path) -> LocalRuntime {
    let config = RuntimeConfig::new(
        dir,
        pipeline::STATE_MACHINE_TEMPLATE,
        dir.join("no-scorer-needed"),
    );
    LocalRuntime::open(config).unwrap()
}

/// A scanner that registers a file on the scan after the one that first saw it unchanged.
fn scanner(rt: &LocalRuntime) -> Scanner {
    let mut config = ScanConfig::new("data-1");
    config.settle = Duration::ZERO;
    Scanner::open(rt, config).unwrap()
}

fn jobs(rt: &LocalRuntime) -> PathBuf {
    let dir = rt.store().root().join("data-1").join("jobs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The queued S3 events, oldest first.
fn events(dir: &Path) -> Vec<Value> {
    let c = rusqlite::Connection::open(dir.join("state.db")).unwrap();
    let mut st = c
        .prepare("SELECT event FROM s3_events ORDER BY seq")
        .unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|e| serde_json::from_str(&e.unwrap()).unwrap())
        .collect()
}

fn object(event: &Value) -> &Value {
    &event["Records"][0]["s3"]["object"]
}

const CONFIG: &str = r#"{"name": "a", "model": "s3://data-1/m.model", "input": "s3://data-1/in.csv", "output": "s3://data-1/out/"}"#;

#[tokio::test]
async fn a_copied_file_is_announced_once_as_a_version_without_touching_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let s = scanner(&rt);
    let src = dir.path().join("a.json");
    std::fs::write(&src, CONFIG).unwrap();
    let target = jobs(&rt).join("a.json");
    std::fs::copy(&src, &target).unwrap();
    let before = std::fs::metadata(&target).unwrap();

    assert_eq!(s.scan().unwrap(), vec![], "first seen: settling");
    let found = s.scan().unwrap();
    let uri = ObjectUri::parse("s3://data-1/jobs/a.json").unwrap();
    let [Found::Registered { uri: u, version_id }] = found.as_slice() else {
        panic!("{found:?}")
    };
    assert_eq!(u, &uri);
    for _ in 0..3 {
        assert_eq!(s.scan().unwrap(), vec![]);
    }
    let events = events(dir.path());
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(object(&events[0])["versionId"], version_id.as_str());
    assert_eq!(object(&events[0])["key"], "jobs/a.json");
    // the store now reports that version, with the MD5 of the bytes as ETag
    let meta = rt.store().head(&uri).await.unwrap();
    assert_eq!(meta.version_id.as_deref(), Some(version_id.as_str()));
    assert_eq!(object(&events[0])["eTag"], meta.etag.unwrap().as_str());
    // and the file is the one that was copied, unchanged
    let after = std::fs::metadata(&target).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (before.ino(), before.mtime_nsec(), before.len()),
        (after.ino(), after.mtime_nsec(), after.len())
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), CONFIG);
}

#[tokio::test]
async fn a_config_put_through_the_store_is_not_announced_again() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let s = scanner(&rt);
    let uri = ObjectUri::parse("s3://data-1/jobs/put.json").unwrap();
    rt.drop_config(&uri, CONFIG.as_bytes().to_vec())
        .await
        .unwrap();
    for _ in 0..4 {
        assert_eq!(s.scan().unwrap(), vec![]);
    }
    assert_eq!(events(dir.path()).len(), 1, "the put's own event only");
}

#[tokio::test]
async fn rewriting_the_same_bytes_is_no_new_version_but_new_bytes_are() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let s = scanner(&rt);
    let target = jobs(&rt).join("a.json");
    std::fs::write(&target, CONFIG).unwrap();
    s.scan().unwrap();
    s.scan().unwrap();
    assert_eq!(events(dir.path()).len(), 1);
    // the same bytes written again (a later mtime): the same content version
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&target, CONFIG).unwrap();
    s.scan().unwrap();
    s.scan().unwrap();
    assert_eq!(events(dir.path()).len(), 1);
    // new bytes: a new version, one more event
    std::fs::write(&target, CONFIG.replace("out/", "out2/")).unwrap();
    s.scan().unwrap();
    s.scan().unwrap();
    s.scan().unwrap();
    let events = events(dir.path());
    assert_eq!(events.len(), 2);
    assert_ne!(
        object(&events[0])["versionId"],
        object(&events[1])["versionId"]
    );
}

#[tokio::test]
async fn a_file_that_is_not_json_yet_waits_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let s = scanner(&rt);
    let target = jobs(&rt).join("slow.json");
    let mut f = std::fs::File::create(&target).unwrap();
    f.write_all(&CONFIG.as_bytes()[..20]).unwrap();
    f.flush().unwrap();
    for _ in 0..4 {
        assert_eq!(s.scan().unwrap(), vec![], "half a config must wait");
    }
    f.write_all(&CONFIG.as_bytes()[20..]).unwrap();
    drop(f);
    s.scan().unwrap();
    assert_eq!(s.scan().unwrap().len(), 1);
    let events = events(dir.path());
    assert_eq!(events.len(), 1);
    assert_eq!(object(&events[0])["size"], CONFIG.len());
}

#[tokio::test]
async fn an_unusable_entry_is_reported_once_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let s = scanner(&rt);
    let outside = dir.path().join("outside.json");
    std::fs::write(&outside, CONFIG).unwrap();
    std::os::unix::fs::symlink(&outside, jobs(&rt).join("link.json")).unwrap();
    let found = s.scan().unwrap();
    assert!(
        matches!(found.as_slice(), [Found::Unusable { path, reason }] if path == "jobs/link.json" && reason.contains("symbolic link")),
        "{found:?}"
    );
    for _ in 0..3 {
        assert_eq!(s.scan().unwrap(), vec![]);
    }
    // gone and back: reported again
    std::fs::remove_file(jobs(&rt).join("link.json")).unwrap();
    s.scan().unwrap();
    std::os::unix::fs::symlink(&outside, jobs(&rt).join("link.json")).unwrap();
    assert_eq!(s.scan().unwrap().len(), 1);
    assert!(events(dir.path()).is_empty());
}
