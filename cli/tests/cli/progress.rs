//! A running job's progress and its end as a user sees them: `run`, `watch` and `status` on a
//! real state directory while a stand-in scorer (`STEPSCORE_LOCAL_SCORER`) reports progress
//! the way `stepscore-batch` does, and `watch --on-complete` handing each job's status change
//! event to a command exactly once, also across a restart.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::text;

/// Writes `progress-<i>.json` as the scorer does (rows read 100, 200, 300 over a file of 3,000
/// bytes, as many seconds apart as the file `step` beside it says, else 1), then the part and
/// the manifest finalize reads. (The local Batch passes the scorer no environment of the test.)
const REPORTING_SCORER: &str = r#"#!/bin/sh
step=$(cat "$(dirname "$0")/step" 2>/dev/null || echo 1)
i=${AWS_BATCH_JOB_ARRAY_INDEX:-0}
out="$STEPSCORE_LOCAL_S3_ROOT/${STEPSCORE_OUTPUT#s3://}"
mkdir -p "$out"
for rows in 100 200 300; do
  done=false
  [ "$rows" = 300 ] && done=true
  cat > "$out/progress-$i.json.tmp" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": $i, "shard_count": 1, "rows_read": $rows, "rows_scored": $((rows - rows / 10)), "rows_rejected": $((rows / 10)), "bytes_read": $((rows * 10)), "bytes_total": 3000, "seconds": $((rows / 100)).0, "done": $done, "batch_job_id": "$AWS_BATCH_JOB_ID"}
JSON
  mv "$out/progress-$i.json.tmp" "$out/progress-$i.json"
  sleep "$step"
done
printf 'id,score\n1,0.5\n' > "$out/part-$i.csv"
cat > "$out/manifest-$i.json" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": $i, "shard_count": 1, "rows_read": 300, "rows_scored": 270, "rows_rejected": 30, "duration_seconds": 3.0,
 "model": {"uri": "$STEPSCORE_MODEL", "algorithm": "test", "format_version": 1}, "inputs": [], "output": "${STEPSCORE_OUTPUT}part-$i.csv", "rejects": null}
JSON
"#;

/// A state directory with the model and input a config names, the stand-in scorer, and a
/// config `name.json` that polls every second.
struct Setup {
    _dir: tempfile::TempDir,
    state: PathBuf,
    scorer: PathBuf,
    root: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let state = root.join("state");
        let scorer = root.join("scorer.sh");
        std::fs::write(&scorer, REPORTING_SCORER).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&scorer, std::fs::Permissions::from_mode(0o755)).unwrap();
        let setup = Setup {
            _dir: dir,
            state,
            scorer,
            root,
        };
        let data = setup.root.join("x.csv");
        std::fs::write(&data, "id,x\n1,2\n").unwrap();
        for target in ["s3://stepscore/models/m.json", "s3://stepscore/data/x.csv"] {
            let out = setup
                .stepscore(&["put", data.to_str().unwrap(), target])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
        setup
    }

    fn config(&self, name: &str) -> PathBuf {
        let path = self.root.join(format!("{name}.json"));
        std::fs::write(&path, format!(r#"{{"name": "{name}", "model": "s3://stepscore/models/m.json", "input": "s3://stepscore/data/x.csv", "output": "s3://stepscore/out/{name}/", "capacity": "on-demand", "poll_interval_seconds": 1}}"#)).unwrap();
        path
    }

    fn stepscore(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepscore"));
        c.arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("STEPSCORE_LOCAL_SCORER", &self.scorer);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.stepscore(args).output().unwrap()
    }
}

/// The progress lines of a `run`'s stderr (`job <id> RUNNING attempt 1: <n> rows scored, <m>
/// rejected, …`): (rows scored, rows rejected) in order.
fn plain_progress(stderr: &str) -> Vec<(u64, u64)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("job ") && l.contains(" attempt 1: "))
        .map(|l| {
            let figures = l.split_once(" attempt 1: ").unwrap().1;
            let mut words = figures.split([' ', ',']).filter(|w| !w.is_empty());
            let scored = words.next().unwrap().parse().unwrap();
            assert_eq!(
                (words.next(), words.next()),
                (Some("rows"), Some("scored")),
                "{l}"
            );
            let rejected = words.next().unwrap().parse().unwrap();
            (scored, rejected)
        })
        .collect()
}

#[test]
fn run_prints_a_plain_line_each_time_the_figures_grow_when_not_on_a_terminal() {
    let s = Setup::new();
    let config = s.config("plain");
    let out = s.run(&["--time-scale", "20", "run", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seen = plain_progress(&stderr);
    // every figure the stand-in wrote is (rows scored, rows rejected) of 100, 200 or 300 read
    assert!(
        !seen.is_empty(),
        "no progress line while the job ran:\n{stderr}"
    );
    for f in &seen {
        assert!(
            [(90, 10), (180, 20), (270, 30)].contains(f),
            "{f:?} is none of the figures written:\n{stderr}"
        );
    }
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "each line says more than the last: {seen:?}"
    );
    assert!(
        seen.len() >= 2,
        "the figures were shown as they grew, not once: {seen:?}\n{stderr}"
    );
    let line = stderr.lines().find(|l| l.contains(" rows scored")).unwrap();
    assert!(
        line.contains(" RUNNING attempt 1: ")
            && line.contains("% of 2.93 KiB read")
            && line.contains("rows/s")
            && line.contains("(1 of 1 shards reporting"),
        "{line}"
    );
    // no bar drawing on a pipe
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes on a pipe:\n{stderr}"
    );

    // --quiet: only the result
    let config = s.config("quiet");
    let out = s.run(&[
        "--quiet",
        "--time-scale",
        "20",
        "run",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("rows scored"),
        "progress with --quiet:\n{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" SUCCEEDED"));
}

#[test]
fn run_json_prints_the_figures_as_json_lines() {
    let s = Setup::new();
    let config = s.config("json");
    let out = s.run(&[
        "--json",
        "--time-scale",
        "20",
        "run",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(!lines.is_empty(), "no JSON progress line:\n{stderr}");
    for l in &lines {
        assert_eq!(l["status"], "RUNNING", "{l}");
        let p = &l["progress"];
        let read = p["rows_read"].as_u64().unwrap();
        assert!([100, 200, 300].contains(&read), "{l}");
        assert_eq!(p["bytes_read"].as_u64(), Some(read * 10), "{l}");
        assert_eq!(
            (p["bytes_total"].as_u64(), p["shard_count"].as_u64()),
            (Some(3000), Some(1)),
            "{l}"
        );
        assert_eq!(l["fraction"].as_f64(), Some(read as f64 / 300.0), "{l}");
        assert!(l["rows_per_second"].as_f64().unwrap() > 0.0, "{l}");
        assert_eq!(p["shards"][0]["index"], 0, "{l}");
    }
    // stdout is the final record, with the last figures kept
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["status"], "SUCCEEDED");
    assert_eq!(record["notification"], "sent");
    assert!(
        record["live"]["rows_read"].as_u64().unwrap() >= 100,
        "{record}"
    );
}

/// A running `stepscore watch` (killed when dropped), its stdout and stderr collected.
struct Watch {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Watch {
    fn start(s: &Setup, args: &[&str], step: &str) -> Watch {
        std::fs::write(s.root.join("step"), step).unwrap();
        let mut child = s
            .stepscore(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        Watch { child, out }
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ok(&self.out.lock().unwrap()) {
            assert!(
                Instant::now() < deadline,
                "watch never showed {what}:\n{}",
                self.out.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_config(s: &Setup, name: &str) {
    let jobs = s.state.join("buckets/stepscore/jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let tmp = jobs.join(format!(".{name}.tmp"));
    std::fs::copy(s.config(name), &tmp).unwrap();
    std::fs::rename(&tmp, jobs.join(format!("{name}.json"))).unwrap();
}

fn events_written(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn watch_and_status_show_a_running_job_and_on_complete_gets_each_end_once_across_a_restart() {
    let s = Setup::new();
    let got = s.root.join("got.jsonl");
    let hook = format!("cat >> '{}'", got.display());
    let watch = Watch::start(
        &s,
        &["--time-scale", "20", "watch", "--on-complete", &hook],
        "3",
    );
    watch.wait_for("that it watches", |o| o.contains("watching"));
    copy_config(&s, "slow");
    watch.wait_for("a progress line", |o| o.contains(" rows scored"));

    // status, while the job runs, from another process: the record's figures
    let listed = s.run(&["--json", "list"]);
    let record: Value = serde_json::from_str(
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let id = record["id"].as_str().unwrap().to_owned();
    let status = s.run(&["--json", "status", &id]);
    assert!(status.status.success(), "{}", text(&status));
    let record: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(record["status"], "RUNNING", "{record}");
    assert_eq!(record["live"]["attempt"], 1, "{record}");
    assert!(
        [100, 200, 300].contains(&record["live"]["rows_read"].as_u64().unwrap()),
        "{record}"
    );
    let plain = s.run(&["status", &id]);
    let plain = String::from_utf8_lossy(&plain.stdout);
    let line = plain
        .lines()
        .find(|l| l.starts_with("progress:"))
        .unwrap_or_else(|| panic!("no progress line:\n{plain}"));
    assert!(
        line.contains("rows scored") && line.contains("rows/s") && line.contains("as of "),
        "{line}"
    );
    let counts = s.run(&["--json", "status"]);
    let counts: Value = serde_json::from_slice(&counts.stdout).unwrap();
    assert_eq!(counts["RUNNING"], 1, "{counts}");
    assert_eq!(counts["progress"][0]["job_id"], id.as_str(), "{counts}");

    watch.wait_for("the job's end", |o| {
        o.contains(&format!("job {id} SUCCEEDED"))
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while events_written(&got).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the --on-complete command got nothing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(watch);

    // a restarted watch hands over only what is new: a failing job's end
    let watch = Watch::start(
        &s,
        &["--time-scale", "20", "watch", "--on-complete", &hook],
        "0",
    );
    watch.wait_for("that it watches", |o| o.contains("watching"));
    let jobs = s.state.join("buckets/stepscore/jobs");
    std::fs::write(jobs.join(".bad.tmp"), r#"{"name": "bad", "model": "s3://stepscore/models/gone.json", "input": "s3://stepscore/data/x.csv", "output": "s3://stepscore/out/bad/"}"#).unwrap();
    std::fs::rename(jobs.join(".bad.tmp"), jobs.join("bad.json")).unwrap();
    // a config refused at admission is FAILED at once and publishes nothing: wait for a real end
    copy_config(&s, "second");
    watch.wait_for("the second job's end", |o| {
        o.lines().filter(|l| l.contains(" SUCCEEDED")).count() == 1
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while events_written(&got).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the second event did not reach the command"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    drop(watch);

    let got = events_written(&got);
    let ids: Vec<&str> = got
        .iter()
        .map(|e| e["detail"]["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "each end handed over once: {ids:?}");
    assert_eq!(ids[0], format!("{id}/SUCCEEDED"));
    assert_ne!(ids[0], ids[1]);
    let first = &got[0];
    assert_eq!(first["detail-type"], "stepscore Job Status Change");
    assert_eq!(first["source"], "stepscore");
    let d = &first["detail"];
    assert_eq!(
        (d["name"].as_str(), d["status"].as_str()),
        (Some("slow"), Some("SUCCEEDED"))
    );
    assert_eq!(
        (d["rows_scored"].as_u64(), d["rows_rejected"].as_u64()),
        (Some(270), Some(30))
    );
    assert_eq!(d["output"], "s3://stepscore/out/slow/");
    assert!(d["total_seconds"].as_f64().unwrap() >= d["running_seconds"].as_f64().unwrap());
    // the events log holds the same events, one per job that ran to its end
    let log = events_written(&s.state.join("events.jsonl"));
    assert_eq!(log, got);
}

#[test]
fn status_aws_shows_a_running_jobs_figures_from_the_dynamodb_record() {
    use stepscore_core::ports::JobTable;
    use stepscore_core::record::{JobRecord, JobUpdate};
    let moto = stepscore_aws::moto::shared();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let table = format!("cli-live-{}", std::process::id());
    let id = stepscore_core::JobId::parse("daily-live").unwrap();
    rt.block_on(async {
        let jobs = stepscore_aws::DynamoTable::new(&moto.sdk_config().await, &table);
        jobs.create_table().await.unwrap();
        let now = chrono::Utc::now();
        jobs.create(&JobRecord::pending(id.clone(), "console", serde_json::json!({"name": "daily"}), now))
            .await
            .unwrap();
        jobs.update(&id, &JobUpdate::to(stepscore_core::JobStatus::Running, 1, now))
            .await
            .unwrap();
        let report = serde_json::from_value(serde_json::json!({"version": 1, "job_id": "daily-live",
            "shard_index": 0, "shard_count": 1, "rows_read": 4000, "rows_scored": 3990, "rows_rejected": 10,
            "bytes_read": 250_000, "bytes_total": 1_000_000, "seconds": 8.0, "done": false}))
        .unwrap();
        let live = stepscore_core::live::LiveProgress::sum(1, 1, &[report], now);
        jobs.record_live(&id, &live).await.unwrap();
    });
    let status = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepscore"));
        if json {
            c.arg("--json");
        }
        let out = c
            .args(["--aws", "--table", &table, "status", id.as_str()])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = status(false);
    let line = plain
        .lines()
        .find(|l| l.starts_with("progress:"))
        .unwrap_or_else(|| panic!("no progress line:\n{plain}"));
    assert!(
        line.contains(
            "3990 rows scored, 10 rejected, 25% of 976.56 KiB read, 500 rows/s, ETA 24 seconds"
        ),
        "{line}"
    );
    let record: Value = serde_json::from_str(&status(true)).unwrap();
    assert_eq!(record["live"]["rows_scored"], 3990, "{record}");
    assert_eq!(
        record["live"]["shards"][0]["bytes_read"], 250_000,
        "{record}"
    );
}
