//! A running job's progress in its record and its end in the events log, on the local runtime
//! with the real pipeline and a shell script as the scorer: the figures the scorer reports
//! reach the record while it runs, and each job's end is published once, whatever finalize or
//! cleanup runs after it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use stepscore_core::ports::ListFilter;
use stepscore_core::record::JobRecord;
use stepscore_core::record::Notification;
use stepscore_core::{JobStatus, ObjectUri};
use stepscore_local::events::LogLine;
use stepscore_local::{LocalRuntime, RuntimeConfig, pipeline};

/// Reports rows read 100, then 200 a second later (done), then writes the manifest.
const REPORTING_SCORER: &str = r#"#!/bin/sh
out="$STEPSCORE_LOCAL_S3_ROOT/${STEPSCORE_OUTPUT#s3://}"
mkdir -p "$out"
report() {
  printf '{"version": 1, "job_id": "%s", "shard_index": 0, "shard_count": 1, "rows_read": %s, "rows_scored": %s, "rows_rejected": 0, "bytes_read": %s, "bytes_total": 2000, "seconds": 1.0, "done": %s, "batch_job_id": "%s"}' \
    "$STEPSCORE_JOB_ID" "$1" "$1" "$(($1 * 10))" "$2" "$AWS_BATCH_JOB_ID" > "$out/progress-0.tmp"
  mv "$out/progress-0.tmp" "$out/progress-0.json"
}
report 100 false
sleep 2
report 200 true
printf 'id,score\n1,0.5\n' > "$out/part-0.csv"
cat > "$out/manifest-0.json" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": 0, "shard_count": 1, "rows_read": 200, "rows_scored": 200, "rows_rejected": 0, "duration_seconds": 2.0,
 "model": {"uri": "$STEPSCORE_MODEL", "algorithm": "test", "format_version": 1}, "inputs": [], "output": "${STEPSCORE_OUTPUT}part-0.csv", "rejects": null}
JSON
"#;

/// Exits 65 as the real scorer does on bad data, after a garbled progress report.
const GARBLING_SCORER: &str = r#"#!/bin/sh
out="$STEPSCORE_LOCAL_S3_ROOT/${STEPSCORE_OUTPUT#s3://}"
mkdir -p "$out"
printf '{"rows_read": ' > "$out/progress-0.json"
sleep 1
echo "s3://data-1/in/a.csv line 3: column 'x' value 'abc' is not a number" >&2
exit 65
"#;

fn open(dir: &Path, scorer: &str) -> LocalRuntime {
    use std::os::unix::fs::PermissionsExt;
    let path: PathBuf = dir.join("scorer.sh");
    std::fs::write(&path, scorer).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = RuntimeConfig::new(dir, pipeline::STATE_MACHINE_TEMPLATE, path);
    // polling once a second of job time, every 50 ms here: the 2 s run is checked many times
    config.time_scale = 20.0;
    let rt = LocalRuntime::open(config).unwrap();
    pipeline::register_pipeline_functions(&rt);
    rt
}

fn uri(s: &str) -> ObjectUri {
    ObjectUri::parse(s).unwrap()
}

async fn drop_job(rt: &LocalRuntime, name: &str) {
    rt.drop_config(&uri("s3://data-1/models/m.json"), b"{}".to_vec())
        .await
        .unwrap();
    rt.drop_config(&uri("s3://data-1/in/a.csv"), b"id,x\n1,2\n".to_vec())
        .await
        .unwrap();
    let config = json!({"name": name, "model": "s3://data-1/models/m.json", "input": "s3://data-1/in/a.csv",
        "output": format!("s3://data-1/out/{name}/"), "capacity": "on-demand", "poll_interval_seconds": 1});
    rt.drop_config(
        &uri(&format!("s3://data-1/jobs/{name}.json")),
        serde_json::to_vec(&config).unwrap(),
    )
    .await
    .unwrap();
}

async fn the_job(rt: &LocalRuntime) -> Option<JobRecord> {
    rt.jobs(&ListFilter {
        status: None,
        limit: 1,
    })
    .await
    .unwrap()
    .pop()
}

fn events(rt: &LocalRuntime) -> Vec<stepscore_core::event::PublishedEvent> {
    rt.events()
        .read_all()
        .unwrap()
        .into_iter()
        .map(|l| match l {
            LogLine::Event(e) => *e,
            LogLine::Unreadable { line, reason } => panic!("events log line {line}: {reason}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scorers_figures_reach_the_record_while_it_runs_and_its_end_is_published_once() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), REPORTING_SCORER);
    let server = rt.serve().unwrap();
    drop_job(&rt, "live").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let job = the_job(&rt).await;
        if let Some(j) = job.filter(|j| j.status == JobStatus::Running && j.live.is_some()) {
            break j;
        }
        assert!(
            Instant::now() < deadline,
            "no progress figures while the job ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let live = running.live.clone().unwrap();
    assert_eq!((live.attempt, live.shard_count), (1, 1));
    assert_eq!(
        live.rows_read, 100,
        "the first report, read while the scorer sleeps"
    );
    assert_eq!((live.bytes_read, live.bytes_total), (1_000, 2_000));
    assert_eq!(live.fraction(), Some(0.5));
    assert_eq!(running.notification, None);
    server.wait_idle(Duration::from_secs(60)).await.unwrap();

    let done = the_job(&rt).await.unwrap();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.notification, Some(Notification::Sent));
    let published = events(&rt);
    assert_eq!(published.len(), 1, "{published:?}");
    let e = &published[0];
    assert_eq!(
        (e.source.as_str(), e.detail_type.as_str()),
        ("stepscore", "stepscore Job Status Change")
    );
    assert_eq!(e.detail.event_id, format!("{}/SUCCEEDED", done.id));
    assert_eq!(
        (e.detail.rows_scored, e.detail.name.as_deref()),
        (200, Some("live"))
    );

    // a duplicate finalize and a late cleanup publish nothing more
    let config = stepscore_core::config::JobConfig::from_value(&done.config, "the record").unwrap();
    let mut job = stepscore_handlers::Job::registered(done.id.clone(), config);
    job.attempt = 1;
    let again = stepscore_handlers::finalize(
        rt.store(),
        rt.table(),
        rt.events(),
        &rt.clock(),
        &json!({"outcome": "FAILED", "state": {"job": job, "error": {"Error": "States.Timeout"}}}),
    )
    .await
    .unwrap();
    assert_eq!(
        again.status,
        JobStatus::Succeeded,
        "a final record stays as it is"
    );
    let ended = json!({"detail-type": "Step Functions Execution Status Change",
        "detail": {"executionArn": done.execution_arn, "name": done.id, "status": "ABORTED"}});
    let cleaned =
        stepscore_handlers::cleanup(rt.batch(), rt.table(), rt.events(), &rt.clock(), &ended)
            .await
            .unwrap();
    assert_eq!(cleaned.status, Some(JobStatus::Succeeded));
    assert_eq!(
        events(&rt).len(),
        1,
        "a duplicate finalize or cleanup published again"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_garbled_progress_report_is_ignored_and_a_failed_job_is_published_with_its_reason() {
    let d = tempfile::tempdir().unwrap();
    let rt = open(d.path(), GARBLING_SCORER);
    let server = rt.serve().unwrap();
    drop_job(&rt, "garbled").await;
    server.wait_idle(Duration::from_secs(60)).await.unwrap();
    let done = the_job(&rt).await.unwrap();
    assert_eq!(done.status, JobStatus::Failed, "{done:?}");
    assert_eq!(done.live, None, "nothing usable was reported");
    let published = events(&rt);
    assert_eq!(published.len(), 1, "{published:?}");
    let detail = &published[0].detail;
    assert_eq!(detail.status, JobStatus::Failed);
    assert!(
        detail
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("exit code 65"),
        "{detail:?}"
    );
    server.shutdown();
}
