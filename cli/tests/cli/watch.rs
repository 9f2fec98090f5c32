//! `stepscore watch` as a user runs it: a real process watching a real folder while real files
//! arrive by every route (`cp`, `mv`, an editor's save, `stepscore put`, already there at
//! start-up), and killed with SIGKILL in the middle. The job table is the oracle: every config
//! version must have exactly one job record.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{stepscore, text};

/// A running `stepscore watch`, killed (SIGKILL) when dropped.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    fn start(state: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepscore"))
            .arg("--state-dir")
            .arg(state)
            .arg("watch")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stepscore watch starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let w = Watch { child, stderr };
        w.wait_for_output("watching", Duration::from_secs(60));
        w
    }

    fn output(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for_output(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "watch did not print '{needle}' within {timeout:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Still running (it did not exit on something it found in the folder).
    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("watch exited ({status}):\n{}", self.output());
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn jobs_dir(state: &Path) -> PathBuf {
    state.join("buckets").join("stepscore").join("jobs")
}

/// A config that admission rejects quickly (its model was never uploaded): it still gets its
/// one job record, which is what these tests count, without running a Batch job.
fn config(name: &str) -> String {
    format!(
        r#"{{"name": "{name}", "model": "s3://stepscore/models/absent.model", "input": "s3://stepscore/input/{name}.csv", "output": "s3://stepscore/output/{name}/"}}"#
    )
}

/// Every job record, grouped by the config it came from.
fn jobs_by_source(state: &Path) -> BTreeMap<String, Vec<Value>> {
    let out = stepscore(state, &["--json", "list", "--limit", "1000000"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut by = BTreeMap::<String, Vec<Value>>::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        by.entry(record["source"].as_str().unwrap().to_owned())
            .or_default()
            .push(record);
    }
    by
}

fn source(name: &str) -> String {
    format!("s3://stepscore/jobs/{name}.json")
}

/// Waits until every expected config has a record, then long enough for a late twin to show
/// up (several scans past the settle time), and returns the records.
fn settled_jobs(state: &Path, expected: &[String]) -> BTreeMap<String, Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = jobs_by_source(state);
        if expected.iter().all(|s| jobs.contains_key(s)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} configs without a job after 120s, e.g. {:?}",
            expected.iter().filter(|s| !jobs.contains_key(*s)).count(),
            expected
                .iter()
                .filter(|s| !jobs.contains_key(*s))
                .take(5)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(4));
    jobs_by_source(state)
}

/// Each expected config has exactly one job, and no other job exists.
fn assert_exactly_once(jobs: &BTreeMap<String, Vec<Value>>, expected: &[String]) {
    let twice: Vec<_> = jobs
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(s, v)| format!("{s} x{}", v.len()))
        .collect();
    let missing: Vec<_> = expected.iter().filter(|s| !jobs.contains_key(*s)).collect();
    let extra: Vec<_> = jobs.keys().filter(|s| !expected.contains(s)).collect();
    assert!(
        twice.is_empty() && missing.is_empty() && extra.is_empty(),
        "{} of {} configs delivered exactly once; twice: {twice:?}; missing: {missing:?}; unexpected: {extra:?}",
        expected
            .iter()
            .filter(|s| jobs.get(*s).is_some_and(|v| v.len() == 1))
            .count(),
        expected.len()
    );
}

fn copy_in(dir: &Path, state: &Path, names: &[String]) {
    // real `cp` of many files at once, as a person would type it
    let srcs: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(format!("{n}.json")))
        .collect();
    for (n, p) in names.iter().zip(&srcs) {
        std::fs::write(p, config(n)).unwrap();
    }
    let status = Command::new("cp")
        .args(&srcs)
        .arg(jobs_dir(state))
        .status()
        .unwrap();
    assert!(status.success());
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

fn check_cp(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut watch = Watch::start(&state);
    let names = names("cp", n);
    copy_in(dir.path(), &state, &names);
    let expected: Vec<_> = names.iter().map(|n| source(n)).collect();
    let jobs = settled_jobs(&state, &expected);
    watch.assert_alive();
    assert_exactly_once(&jobs, &expected);
    for n in &names {
        let job = &jobs[&source(n)][0];
        assert_eq!(job["config"]["name"], n.as_str(), "{job}");
        // the watcher registered the file; it did not rewrite it
        let on_disk = std::fs::read_to_string(jobs_dir(&state).join(format!("{n}.json"))).unwrap();
        assert_eq!(on_disk, config(n));
    }
}

#[test]
fn one_config_copied_in_runs_once() {
    check_cp(1);
}

#[test]
fn two_configs_copied_at_once_each_run_once() {
    check_cp(2);
}

#[test]
fn two_hundred_configs_copied_at_once_each_run_once() {
    check_cp(200);
}

#[test]
fn configs_already_in_jobs_at_start_up_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(jobs_dir(&state)).unwrap();
    let names = names("early", 5);
    copy_in(dir.path(), &state, &names);
    let watch = Watch::start(&state);
    let expected: Vec<_> = names.iter().map(|n| source(n)).collect();
    assert_exactly_once(&settled_jobs(&state, &expected), &expected);
    // and a restart does not run them again
    watch.kill();
    let _again = Watch::start(&state);
    std::thread::sleep(Duration::from_secs(3));
    assert_exactly_once(&settled_jobs(&state, &expected), &expected);
}

#[test]
fn a_config_put_beside_a_running_watch_runs_once_and_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut watch = Watch::start(&state);
    let file = dir.path().join("put.json");
    std::fs::write(&file, config("put")).unwrap();
    let out = stepscore(
        &state,
        &[
            "put",
            file.to_str().unwrap(),
            "s3://stepscore/jobs/put.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let target = jobs_dir(&state).join("put.json");
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&target).unwrap());
    let expected = vec![source("put")];
    assert_exactly_once(&settled_jobs(&state, &expected), &expected);
    watch.assert_alive();
    let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&target).unwrap());
    assert_eq!(inode, after, "the watcher replaced the file it was given");
}

#[test]
fn a_slowly_written_config_runs_once_with_its_full_content() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut watch = Watch::start(&state);
    let body = config("slow");
    let (first, rest) = body.split_at(body.len() / 2);
    let path = jobs_dir(&state).join("slow.json");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(first.as_bytes()).unwrap();
    f.flush().unwrap();
    // longer than a scan and than the settle time: only the content says it is incomplete
    std::thread::sleep(Duration::from_millis(2500));
    f.write_all(rest.as_bytes()).unwrap();
    drop(f);
    let expected = vec![source("slow")];
    let jobs = settled_jobs(&state, &expected);
    watch.assert_alive();
    assert_exactly_once(&jobs, &expected);
    assert_eq!(jobs[&source("slow")][0]["config"]["name"], "slow");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        body,
        "the file was truncated"
    );
}

#[test]
fn an_editor_save_runs_each_saved_version_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut watch = Watch::start(&state);
    let save = |content: &str| {
        // what editors with atomic save do: write a temp file beside it, fsync, rename over
        let tmp = jobs_dir(&state).join("edit.json.tmp~");
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&tmp, jobs_dir(&state).join("edit.json")).unwrap();
    };
    std::fs::create_dir_all(jobs_dir(&state)).unwrap();
    save(&config("edit"));
    let expected = vec![source("edit")];
    assert_exactly_once(&settled_jobs(&state, &expected), &expected);
    // a second save with new content is a new version: one more job, not two
    save(&config("edit").replace("edit/", "edit-v2/"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while jobs_by_source(&state)
        .get(&source("edit"))
        .map_or(0, Vec::len)
        < 2
    {
        assert!(Instant::now() < deadline, "the second save never ran");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(4));
    let jobs = jobs_by_source(&state);
    let outputs: Vec<_> = jobs[&source("edit")]
        .iter()
        .map(|j| j["config"]["output"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert!(
        outputs.contains(&"s3://stepscore/output/edit-v2/".to_owned()),
        "{outputs:?}"
    );
    assert_eq!(jobs.len(), 1, "{:?}", jobs.keys());
    watch.assert_alive();
}

#[test]
fn unusable_entries_are_reported_once_and_watch_keeps_serving() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut watch = Watch::start(&state);
    let jobs = jobs_dir(&state);
    let outside = dir.path().join("outside.json");
    std::fs::write(&outside, config("outside")).unwrap();
    std::os::unix::fs::symlink(&outside, jobs.join("link.json")).unwrap();
    std::fs::write(
        jobs.join(std::ffi::OsStr::from_bytes(b"bad-\xff-name.json")),
        config("badname"),
    )
    .unwrap();
    // a key over S3's 1,024 bytes (each folder name stays under the file system's 255)
    let mut deep = jobs.clone();
    for i in 0..5 {
        deep.push(format!("{i}{}", "d".repeat(220)));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("long.json"), config("long")).unwrap();
    let fifo = jobs.join("fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // scans come and go; the reports must not repeat
    std::thread::sleep(Duration::from_secs(3));
    watch.assert_alive();
    // later configs still run
    let names = names("after", 3);
    copy_in(dir.path(), &state, &names);
    let expected: Vec<_> = names.iter().map(|n| source(n)).collect();
    let jobs = settled_jobs(&state, &expected);
    watch.assert_alive();
    assert_exactly_once(&jobs, &expected);
    let out = watch.output();
    for needle in [
        "link.json",
        "bad-\u{fffd}-name.json",
        "long.json",
        "fifo.json",
    ] {
        assert_eq!(
            out.lines().filter(|l| l.contains(needle)).count(),
            1,
            "'{needle}' should be reported exactly once:\n{out}"
        );
    }
}

#[test]
fn sigkill_in_the_middle_loses_no_config_and_runs_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut expected = Vec::new();
    // round 1: killed while the copied configs settle
    let watch = Watch::start(&state);
    let first = names("k1-", 100);
    copy_in(dir.path(), &state, &first);
    std::thread::sleep(Duration::from_millis(1200));
    watch.kill();
    expected.extend(first.iter().map(|n| source(n)));
    // round 2: killed as soon as the first of a new batch is admitted
    let watch = Watch::start(&state);
    let second = names("k2-", 100);
    copy_in(dir.path(), &state, &second);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !jobs_by_source(&state).keys().any(|s| s.contains("/k2-")) {
        assert!(Instant::now() < deadline, "nothing of round 2 was admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    watch.kill();
    expected.extend(second.iter().map(|n| source(n)));
    // rounds 3-6: killed at other points of settling, registering and admitting
    for (round, delay_ms) in [(3, 300), (4, 1000), (5, 1500), (6, 2000)] {
        let watch = Watch::start(&state);
        let batch = names(&format!("k{round}-"), 30);
        copy_in(dir.path(), &state, &batch);
        std::thread::sleep(Duration::from_millis(delay_ms));
        watch.kill();
        expected.extend(batch.iter().map(|n| source(n)));
    }
    // a restart finishes the work
    let mut watch = Watch::start(&state);
    let jobs = settled_jobs(&state, &expected);
    watch.assert_alive();
    assert_exactly_once(&jobs, &expected);
}

#[test]
fn start_beside_a_running_watch_follows_what_watch_runs_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut watch = Watch::start(&state);
    let cfg = dir.path().join("s.json");
    std::fs::write(&cfg, config("s")).unwrap();
    let mut start = Command::new(env!("CARGO_BIN_EXE_stepscore"))
        .arg("--state-dir")
        .arg(&state)
        .args(["start", "--name", "s1", cfg.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // long enough to have failed on the serving lock after saying "started"
    std::thread::sleep(Duration::from_secs(4));
    match start.try_wait().unwrap() {
        Some(status) => {
            let out = start.wait_with_output().unwrap();
            let t = text(&out);
            assert_ne!(status.code(), Some(4), "{t}");
            assert!(!t.contains("another stepscore process"), "{t}");
        }
        None => {
            let _ = start.kill();
            let _ = start.wait();
        }
    }
    watch.assert_alive();
    let history = stepscore(&state, &["history", "s1"]);
    assert!(history.status.success(), "{}", text(&history));
}

#[test]
fn start_without_following_says_when_nothing_will_run_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = dir.path().join("s.json");
    std::fs::write(&cfg, config("s")).unwrap();
    let out = stepscore(&state, &["start", "--no-follow", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no stepscore process serves"),
        "{}",
        text(&out)
    );
    // with watch serving, nothing to warn about
    let _watch = Watch::start(&state);
    let out = stepscore(&state, &["start", "--no-follow", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("no stepscore process serves"),
        "{}",
        text(&out)
    );
}
