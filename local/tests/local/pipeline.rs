//! The real pipeline (state machine and handlers) on the local runtime, with a shell script as
//! the scoring container.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use stepscore_core::JobStatus;
use stepscore_core::ObjectUri;
use stepscore_core::ports::ListFilter;
use stepscore_local::{LocalRuntime, RuntimeConfig, pipeline};

/// A scorer that fails like the real one on bad data: a message on stderr, exit 65.
const BAD_DATA_SCORER: &str = "#!/bin/sh\necho \"s3://data-1/in/a.csv line 3: column 'x' value 'abc' is not a number\" >&2\nexit 65\n";

/// A runtime configuration with `scorer` as the scoring container, time compressed 100×.
fn runtime_config(dir: &Path, scorer: &str) -> RuntimeConfig {
    use std::os::unix::fs::PermissionsExt;
    let path: PathBuf = dir.join("scorer.sh");
    std::fs::write(&path, scorer).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = RuntimeConfig::new(dir, pipeline::STATE_MACHINE_TEMPLATE, path);
    config.time_scale = 100.0;
    config
}

/// The runtime of `config` with the pipeline's functions registered.
fn open(config: RuntimeConfig) -> LocalRuntime {
    let rt = LocalRuntime::open(config).unwrap();
    pipeline::register_pipeline_functions(&rt);
    rt
}

fn runtime(dir: &Path, scorer: &str) -> LocalRuntime {
    open(runtime_config(dir, scorer))
}

/// Every job record (the tests make fewer than ten).
async fn all_jobs(rt: &LocalRuntime) -> Vec<stepscore_core::record::JobRecord> {
    rt.jobs(&ListFilter {
        status: None,
        limit: 10,
    })
    .await
    .unwrap()
}

fn uri(s: &str) -> ObjectUri {
    ObjectUri::parse(s).unwrap()
}

async fn seed(rt: &LocalRuntime) {
    rt.drop_config(
        &uri("s3://data-1/models/m.json"),
        b"{\"model\": true}".to_vec(),
    )
    .await
    .unwrap();
    rt.drop_config(&uri("s3://data-1/in/a.csv"), b"id,x\n1,2\n2,abc\n".to_vec())
        .await
        .unwrap();
}

fn config(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": 1,
        "name": name,
        "model": "s3://data-1/models/m.json",
        "input": "s3://data-1/in/a.csv",
        "output": format!("s3://data-1/out/{name}/"),
        "capacity": "on-demand",
        "timeout_seconds": 60,
        "poll_interval_seconds": 1
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_config_gets_a_failed_record_naming_the_problem() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path(), BAD_DATA_SCORER);
    let server = rt.serve().unwrap();
    rt.drop_config(
        &uri("s3://data-1/jobs/typo.json"),
        br#"{"version": 1, "name": "typo", "modle": "s3://data-1/m"}"#.to_vec(),
    )
    .await
    .unwrap();
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    let jobs = all_jobs(&rt).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].status, JobStatus::Failed);
    let reason = jobs[0].failure_reason.clone().unwrap();
    assert!(
        reason.contains("modle") && reason.contains("model"),
        "{reason}"
    );
    assert!(rt.list_executions(None, 10).unwrap().is_empty());
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_config_notification_delivered_twice_admits_one_job_and_one_execution() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path(), BAD_DATA_SCORER);
    seed(&rt).await;
    rt.drop_config(&uri("s3://data-1/jobs/daily.json"), config("daily"))
        .await
        .unwrap();
    let db = rusqlite::Connection::open(d.path().join("state.db")).unwrap();
    db.execute("INSERT INTO s3_events (event) SELECT event FROM s3_events WHERE event LIKE '%jobs/daily.json%'", []).unwrap();
    let server = rt.serve().unwrap();
    server.wait_idle(Duration::from_secs(120)).await.unwrap();
    assert_eq!(rt.event_counts().unwrap().get("DELIVERED"), Some(&2));
    let jobs = all_jobs(&rt).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let execs = rt.list_executions(None, 10).unwrap();
    assert_eq!(execs.len(), 1);
    assert_eq!(
        jobs[0].execution_arn.as_deref(),
        Some(execs[0].execution_arn.as_str())
    );
    // a new upload of the same key is a new object version, so a new job
    rt.drop_config(&uri("s3://data-1/jobs/daily.json"), config("daily"))
        .await
        .unwrap();
    server.wait_idle(Duration::from_secs(120)).await.unwrap();
    assert_eq!(all_jobs(&rt).await.len(), 2);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_config_overwritten_before_admit_reads_it_runs_each_upload_under_its_own_id() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path(), BAD_DATA_SCORER);
    seed(&rt).await;
    // two uploads of one key, both events queued before admit reads either
    let key = uri("s3://data-1/jobs/daily.json");
    let first = rt.drop_config(&key, config("daily")).await.unwrap();
    let second = rt.drop_config(&key, config("daily-fixed")).await.unwrap();
    let server = rt.serve().unwrap();
    server.wait_idle(Duration::from_secs(120)).await.unwrap();
    for (put, name) in [(&first, "daily"), (&second, "daily-fixed")] {
        let id = stepscore_core::JobId::for_object(
            "data-1",
            "jobs/daily.json",
            put.version_id.as_deref().unwrap(),
        );
        let job = rt.job(&id).await.unwrap().expect("one job per upload");
        assert_eq!(
            job.config["name"],
            json!(name),
            "job {id} runs the bytes of the version its id is a digest of"
        );
        let reason = job.failure_reason.unwrap_or_default();
        assert!(
            reason.contains("exit code 65"),
            "admitted and run: {reason}"
        );
    }
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_scoring_job_fails_the_record_with_the_scorers_reason_once() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path(), BAD_DATA_SCORER);
    seed(&rt).await;
    let server = rt.serve().unwrap();
    rt.drop_config(&uri("s3://data-1/jobs/daily.json"), config("daily"))
        .await
        .unwrap();
    // the same notification delivered twice
    let db = rusqlite::Connection::open(d.path().join("state.db")).unwrap();
    db.execute("INSERT INTO s3_events (event) SELECT event FROM s3_events WHERE event LIKE '%jobs/daily.json%'", []).unwrap();
    server.wait_idle(Duration::from_secs(120)).await.unwrap();
    let jobs = all_jobs(&rt).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts.len(), 1);
    let reason = job.failure_reason.clone().unwrap();
    assert!(reason.contains("65"), "{reason}");
    let execs = rt.list_executions(None, 10).unwrap();
    assert_eq!(execs.len(), 1);
    let logs = rt.batch_logs(&job.attempts[0].batch_job_id).unwrap();
    assert_eq!(logs.len(), 1, "bad data is not retried");
    assert!(
        std::fs::read_to_string(&logs[0].3)
            .unwrap()
            .contains("is not a number")
    );
    server.shutdown();
}

/// A scorer that writes what the real one writes for its shard (a part and the manifest finalize
/// reads) into the bucket folder, after a second; with `FAIL_SHARD` set, that shard fails at once
/// like the real scorer on bad data instead.
const WRITING_SCORER: &str = r#"#!/bin/sh
i=${AWS_BATCH_JOB_ARRAY_INDEX:-0}
echo "scoring shard $i of $STEPSCORE_INPUT on $AWS_BATCH_JQ_NAME, attempt $AWS_BATCH_JOB_ATTEMPT" >&2
if [ "$i" = "${FAIL_SHARD:-}" ]; then
  echo "s3://data-1/in/a.csv line 3: column 'x' value 'abc' is not a number" >&2
  exit 65
fi
sleep 1
out="$STEPSCORE_LOCAL_S3_ROOT/${STEPSCORE_OUTPUT#s3://}"
mkdir -p "$out"
printf 'id,score\n%s1,0.25\n%s2,0.75\n' "$i" "$i" > "$out/part-$i.csv"
cat > "$out/manifest-$i.json" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": $i, "shard_count": $STEPSCORE_SHARDS, "rows_read": 2, "rows_scored": 2, "rows_rejected": 0, "duration_seconds": 1.0,
 "model": {"uri": "$STEPSCORE_MODEL", "algorithm": "test", "format_version": 1}, "inputs": [], "output": "${STEPSCORE_OUTPUT}part-$i.csv", "rejects": null}
JSON
"#;

/// A `spot-then-on-demand` job of `shards` shards through the pipeline while every spot attempt
/// is reclaimed mid-run, as when spot capacity keeps going away; `environment` goes to the
/// scorer. Returns the finished record, the runtime and its state directory.
async fn run_on_reclaimed_spot(
    name: &str,
    shards: u32,
    environment: &[(&str, &str)],
) -> (
    stepscore_core::record::JobRecord,
    LocalRuntime,
    tempfile::TempDir,
) {
    let d = tempfile::tempdir().unwrap();
    let mut cfg = runtime_config(d.path(), WRITING_SCORER);
    cfg.batch.spot_reclaim = Some(stepscore_local::batch::SpotReclaim {
        after_seconds: 0.3,
        times: 1000,
        when_output_contains: None,
    });
    cfg.batch.environment.extend(
        environment
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let rt = open(cfg);
    seed(&rt).await;
    let server = rt.serve().unwrap();
    let mut c: serde_json::Value = serde_json::from_slice(&config(name)).unwrap();
    c["capacity"] = json!("spot-then-on-demand");
    c["shards"] = json!(shards);
    rt.drop_config(
        &uri(&format!("s3://data-1/jobs/{name}.json")),
        serde_json::to_vec(&c).unwrap(),
    )
    .await
    .unwrap();
    server.wait_idle(Duration::from_secs(120)).await.unwrap();
    server.shutdown();
    let jobs = all_jobs(&rt).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    (jobs[0].clone(), rt, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spot_reclaim_mid_job_finishes_on_demand_with_complete_output() {
    let (job, rt, d) = run_on_reclaimed_spot("spotty", 1, &[]).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let queues: Vec<&str> = job.attempts.iter().map(|a| a.queue.as_str()).collect();
    assert_eq!(queues, ["stepscore-spot", "stepscore-on-demand"]);
    assert_eq!(job.metrics.as_ref().map(|m| m.rows_scored), Some(2));
    // the spot attempts were killed before writing: the output holds each row once
    let part =
        std::fs::read_to_string(d.path().join("buckets/data-1/out/spotty/part-0.csv")).unwrap();
    assert_eq!(part, "id,score\n01,0.25\n02,0.75\n");
    let spot = rt
        .batch()
        .job(&job.attempts[0].batch_job_id)
        .unwrap()
        .unwrap();
    assert_eq!(spot.attempts, 3);
    assert!(
        spot.status_reason
            .unwrap()
            .starts_with("Host EC2 (instance i-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sharded_job_whose_spot_children_are_reclaimed_finishes_on_demand() {
    let (job, rt, d) = run_on_reclaimed_spot("spotty-array", 3, &[]).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let queues: Vec<&str> = job.attempts.iter().map(|a| a.queue.as_str()).collect();
    assert_eq!(queues, ["stepscore-spot", "stepscore-on-demand"]);
    assert_eq!(job.metrics.as_ref().map(|m| m.rows_scored), Some(6));
    for i in 0..3 {
        let part = std::fs::read_to_string(
            d.path()
                .join(format!("buckets/data-1/out/spotty-array/part-{i}.csv")),
        )
        .unwrap();
        assert_eq!(part, format!("id,score\n{i}1,0.25\n{i}2,0.75\n"));
    }
    // the spot parent says only that a child failed; its children say why
    let spot = rt
        .batch()
        .job(&job.attempts[0].batch_job_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        spot.status_reason.as_deref(),
        Some("Array Child Job failed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sharded_job_with_a_shard_failing_on_its_input_is_not_rerun_on_demand() {
    let (job, _rt, _d) = run_on_reclaimed_spot("bad-shard", 3, &[("FAIL_SHARD", "1")]).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert_eq!(
        job.attempts.len(),
        1,
        "bad input is not retried on demand: {job:?}"
    );
    let reason = job.failure_reason.unwrap();
    assert!(
        reason.contains("Array Child Job failed: 3 of 3 array children failed; child 1: ")
            && reason.contains("exit code 65"),
        "{reason}"
    );
}

/// A scorer that runs until it is killed, and says when it started.
const ENDLESS_SCORER: &str = "#!/bin/sh\necho started\nexec sleep 600\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_a_running_job_aborts_its_execution_kills_its_container_and_fails_it() {
    use stepscore_core::batch::BatchStatus;
    use stepscore_core::ports::BatchService;
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path(), ENDLESS_SCORER);
    seed(&rt).await;
    let server = rt.serve().unwrap();
    rt.drop_config(&uri("s3://data-1/jobs/long.json"), config("long"))
        .await
        .unwrap();
    // wait for the container to run
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (job, batch_job_id) = loop {
        let jobs = all_jobs(&rt).await;
        if let Some(j) = jobs.first()
            && j.status == JobStatus::Running
        {
            break (j.clone(), j.attempts[0].batch_job_id.clone());
        }
        assert!(std::time::Instant::now() < deadline, "{jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let report = stepscore_handlers::stop_job(rt.executions(), rt.table(), &job.id, "test stop")
        .await
        .unwrap();
    assert_eq!(report.stopped, [job.id.to_string()]);
    server.wait_idle(Duration::from_secs(60)).await.unwrap();

    let execution = rt.execution(job.id.as_str()).unwrap().unwrap();
    assert_eq!(execution.status.as_str(), "ABORTED");
    let history = rt.history(job.id.as_str()).unwrap().unwrap();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "ExecutionAborted");
    assert_eq!(
        last["executionAbortedEventDetails"]["error"],
        "stepscore.Stopped"
    );
    let view = rt.batch().describe(&batch_job_id).await.unwrap().unwrap();
    assert_eq!(view.status, BatchStatus::Failed);
    assert_eq!(
        view.status_reason.as_deref(),
        Some(format!("stepscore: execution {} ended ABORTED", job.id).as_str())
    );
    let record = rt.job(&job.id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(
        record.failure_reason.as_deref(),
        Some(
            format!(
                "stopped: execution {} was aborted: stepscore.Stopped: test stop",
                job.id
            )
            .as_str()
        )
    );
    // the container is gone: no process of this state directory's scorer is left
    let script = d.path().join("scorer.sh");
    let left = std::process::Command::new("pgrep")
        .args(["-f", &script.display().to_string()])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&left.stdout)
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_execution_that_ends_failed_is_delivered_to_cleanup_once_even_across_restarts() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path(), BAD_DATA_SCORER);
    seed(&rt).await;
    let server = rt.serve().unwrap();
    rt.drop_config(&uri("s3://data-1/jobs/bad.json"), config("bad"))
        .await
        .unwrap();
    server.wait_idle(Duration::from_secs(120)).await.unwrap();
    server.shutdown();
    let execs = rt.list_executions(None, 10).unwrap();
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].status.as_str(), "FAILED");
    let delivered = |d: &Path| -> i64 {
        let db = rusqlite::Connection::open(d.join("state.db")).unwrap();
        db.query_row("SELECT end_delivered FROM executions", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(delivered(d.path()), 1);
    // a restart delivers nothing again
    let rt = runtime(d.path(), BAD_DATA_SCORER);
    let server = rt.serve().unwrap();
    server.wait_idle(Duration::from_secs(30)).await.unwrap();
    server.shutdown();
    assert_eq!(delivered(d.path()), 1);
}
