//! LocalBatch: the core Batch contract, then queues, capacity, retries, timeouts, arrays, logs,
//! spot reclaims and restarts, with a shell script as the container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::failing_db::{self, REFUSED};
use stepscore_core::batch::{BatchJobView, BatchStatus, RetryStrategy, SubmitJobRequest};
use stepscore_core::batch_contract::{BatchSetup, check_batch_service};
use stepscore_core::ports::{BatchError, BatchService};
use stepscore_local::batch::{
    BatchConfig, JobDefinition, JobQueue, LocalBatch, ON_DEMAND_QUEUE, SCORING_JOB_DEFINITION,
    SPOT_QUEUE, SpotReclaim, TIMEOUT_REASON,
};

/// The "container": logs its Batch environment, records each run, sleeps `SLEEP` seconds and
/// exits with the `EXIT_CODES` entry of its attempt (1-based; missing means 0).
const CONTAINER: &str = r#"#!/bin/sh
echo "job=$AWS_BATCH_JOB_ID attempt=$AWS_BATCH_JOB_ATTEMPT queue=$AWS_BATCH_JQ_NAME ce=$AWS_BATCH_CE_NAME index=${AWS_BATCH_JOB_ARRAY_INDEX:-none} model=$STEPSCORE_MODEL"
echo "stderr of attempt $AWS_BATCH_JOB_ATTEMPT" >&2
echo "start $AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT $(date +%s%N)" >> "$RUNS"
sleep "${SLEEP:-0}"
echo "end $AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT $(date +%s%N)" >> "$RUNS"
code=$(echo "${EXIT_CODES:-0}" | cut -d' ' -f"$AWS_BATCH_JOB_ATTEMPT")
exit "${code:-0}"
"#;

struct World {
    dir: tempfile::TempDir,
    config: BatchConfig,
}

impl World {
    fn new(vcpus: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("container.sh");
        std::fs::write(&script, CONTAINER).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut config =
            BatchConfig::pipeline(dir.path().join("logs"), script, vcpus, vcpus * 1024);
        config
            .environment
            .insert("RUNS".into(), dir.path().join("runs").display().to_string());
        World { dir, config }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    fn start(&self) -> LocalBatch {
        LocalBatch::start(&self.db(), self.config.clone()).unwrap()
    }

    /// (event, job, attempt, nanos) lines the container wrote.
    fn runs(&self) -> Vec<(String, String, u32, u128)> {
        std::fs::read_to_string(self.dir.path().join("runs"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let p: Vec<&str> = l.split(' ').collect();
                (
                    p[0].to_owned(),
                    p[1].to_owned(),
                    p[2].parse().unwrap(),
                    p[3].parse().unwrap(),
                )
            })
            .collect()
    }
}

fn request(queue: &str, env: &[(&str, &str)]) -> SubmitJobRequest {
    SubmitJobRequest {
        job_name: "j-1-attempt-1".into(),
        job_queue: queue.into(),
        job_definition: SCORING_JOB_DEFINITION.into(),
        array_size: None,
        environment: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        vcpus: 1,
        memory_mib: 512,
        timeout_seconds: 60,
        retry_strategy: RetryStrategy::scoring(),
        tags: BTreeMap::new(),
    }
}

async fn wait_end(b: &LocalBatch, id: &str) -> BatchJobView {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = b.describe(id).await.unwrap().expect("job is known");
        if v.status.is_terminal() {
            return v;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {v:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_status(b: &LocalBatch, id: &str, want: BatchStatus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.describe(id).await.unwrap().unwrap().status != want {
        assert!(Instant::now() < deadline, "job {id} never reached {want:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test]
async fn a_job_runs_with_the_batch_environment_and_keeps_its_logs() {
    let w = World::new(2);
    let b = w.start();
    let job = b
        .submit(&request(
            SPOT_QUEUE,
            &[("STEPSCORE_MODEL", "s3://m-1/model.json")],
        ))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = b.describe(&job.job_id).await.unwrap().unwrap();
        if seen.last() != Some(&v.status) {
            seen.push(v.status);
        }
        if v.status.is_terminal() {
            assert_eq!(
                (v.exit_code, v.attempts, v.status_reason.as_deref()),
                (Some(0), 1, Some("Essential container in task exited"))
            );
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // the job is accepted before it runs (the first states may pass between two looks)
    assert!(!seen[0].is_terminal(), "{seen:?}");
    assert_eq!(seen.last(), Some(&BatchStatus::Succeeded));
    // statuses only move forward through AWS's order
    let order = |s: &BatchStatus| {
        [
            BatchStatus::Submitted,
            BatchStatus::Pending,
            BatchStatus::Runnable,
            BatchStatus::Starting,
            BatchStatus::Running,
            BatchStatus::Succeeded,
        ]
        .iter()
        .position(|x| x == s)
        .unwrap()
    };
    assert!(
        seen.windows(2).all(|p| order(&p[0]) < order(&p[1])),
        "{seen:?}"
    );
    let logs = b.log_files(&job.job_id);
    assert_eq!(logs.len(), 1);
    assert_eq!(
        read(&logs[0].1).trim(),
        format!(
            "job={} attempt=1 queue=stepscore-spot ce=stepscore-spot-ce index=none model=s3://m-1/model.json",
            job.job_id
        )
    );
    assert_eq!(read(&logs[0].2).trim(), "stderr of attempt 1");
    b.shutdown();
}

#[tokio::test]
async fn a_transient_exit_is_retried_and_bad_data_is_not() {
    let w = World::new(4);
    let b = w.start();
    let flaky = b
        .submit(&request(ON_DEMAND_QUEUE, &[("EXIT_CODES", "75 75 0")]))
        .await
        .unwrap();
    let bad = b
        .submit(&request(ON_DEMAND_QUEUE, &[("EXIT_CODES", "65 0")]))
        .await
        .unwrap();
    let f = wait_end(&b, &flaky.job_id).await;
    assert_eq!(
        (f.status, f.attempts, f.exit_code),
        (BatchStatus::Succeeded, 3, Some(0))
    );
    assert_eq!(b.log_files(&flaky.job_id).len(), 3);
    let x = wait_end(&b, &bad.job_id).await;
    assert_eq!(
        (x.status, x.attempts, x.exit_code),
        (BatchStatus::Failed, 1, Some(65))
    );
    assert_eq!(
        x.status_reason.as_deref(),
        Some("Essential container in task exited")
    );
    b.shutdown();
}

#[tokio::test]
async fn retries_stop_when_attempts_run_out() {
    let w = World::new(2);
    let b = w.start();
    let j = b
        .submit(&request(ON_DEMAND_QUEUE, &[("EXIT_CODES", "75 75 75 0")]))
        .await
        .unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(
        (v.status, v.attempts, v.exit_code),
        (BatchStatus::Failed, 3, Some(75))
    );
    b.shutdown();
}

#[tokio::test]
async fn an_attempt_past_its_timeout_is_killed_and_not_retried() {
    let w = World::new(2);
    let b = w.start();
    let mut r = request(ON_DEMAND_QUEUE, &[("SLEEP", "30")]);
    r.timeout_seconds = 1;
    let started = Instant::now();
    let j = b.submit(&r).await.unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        (v.status, v.attempts, v.status_reason.as_deref()),
        (BatchStatus::Failed, 1, Some(TIMEOUT_REASON))
    );
    b.shutdown();
}

#[tokio::test]
async fn array_children_run_in_parallel_within_capacity_and_the_parent_summarises_them() {
    let w = World::new(2);
    let b = w.start();
    let mut r = request(ON_DEMAND_QUEUE, &[("SLEEP", "0.4")]);
    r.array_size = Some(5);
    let j = b.submit(&r).await.unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(v.status, BatchStatus::Succeeded);
    assert_eq!(v.array_size, Some(5));
    assert_eq!(v.array_status_summary.as_ref().unwrap()["SUCCEEDED"], 5);
    for i in 0..5 {
        let child = format!("{}:{i}", j.job_id);
        let logs = b.log_files(&child);
        assert!(
            read(&logs[0].1).contains(&format!("index={i} ")),
            "child {i}"
        );
    }
    // never more than 2 one-vCPU children at once on a 2-vCPU environment, and 2 did overlap
    let runs = w.runs();
    let mut events: Vec<(u128, i32)> = runs
        .iter()
        .map(|(e, _, _, t)| (*t, if e == "start" { 1 } else { -1 }))
        .collect();
    events.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    assert_eq!(peak, 2, "{runs:?}");
    b.shutdown();
}

#[tokio::test]
async fn a_failed_child_fails_the_array_parent() {
    let w = World::new(4);
    let b = w.start();
    let mut r = request(ON_DEMAND_QUEUE, &[("EXIT_CODES", "65")]);
    r.array_size = Some(2);
    let j = b.submit(&r).await.unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(
        (v.status, v.status_reason.as_deref()),
        (BatchStatus::Failed, Some("Array Child Job failed"))
    );
    assert_eq!(v.array_status_summary.unwrap()["FAILED"], 2);
    b.shutdown();
}

/// The setup the Batch contract runs in: the pipeline's two queues and its scoring definition.
fn contract_setup(patience: Duration) -> BatchSetup {
    BatchSetup {
        queue: SPOT_QUEUE.into(),
        other_queue: ON_DEMAND_QUEUE.into(),
        job_definition: SCORING_JOB_DEFINITION.into(),
        patience,
    }
}

#[tokio::test]
async fn a_local_batch_running_its_jobs_meets_the_batch_contract() {
    let mut w = World::new(4);
    // a container that runs until it is killed: `exec`, so that killing the attempt's process
    // kills the sleep itself
    let script = w.dir.path().join("long.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 300\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    w.config.job_definitions.insert(
        SCORING_JOB_DEFINITION.into(),
        JobDefinition {
            command: vec![script.display().to_string()],
        },
    );
    let b = w.start();
    check_batch_service(&b, &contract_setup(Duration::from_secs(30))).await;
    b.shutdown();
}

#[tokio::test]
async fn a_local_batch_without_an_executor_meets_the_batch_contract() {
    // jobs wait for an executor that never comes: every terminate cancels a job not started
    let w = World::new(4);
    let b = LocalBatch::open(&w.db(), w.config.clone()).unwrap();
    check_batch_service(&b, &contract_setup(Duration::from_secs(5))).await;
}

#[tokio::test]
async fn a_spot_reclaim_kills_the_attempt_like_aws_and_the_strategy_retries_it() {
    let mut w = World::new(2);
    w.config.spot_reclaim = Some(SpotReclaim {
        after_seconds: 0.3,
        times: 1,
        when_output_contains: None,
    });
    let b = w.start();
    let j = b
        .submit(&request(SPOT_QUEUE, &[("SLEEP", "1")]))
        .await
        .unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!((v.status, v.attempts), (BatchStatus::Succeeded, 2));
    // the first attempt started but never ended: it was SIGKILLed mid-run
    let runs = w.runs();
    let ends: Vec<u32> = runs.iter().filter(|r| r.0 == "end").map(|r| r.2).collect();
    let starts: Vec<u32> = runs
        .iter()
        .filter(|r| r.0 == "start")
        .map(|r| r.2)
        .collect();
    assert_eq!((starts, ends), (vec![1, 2], vec![2]));
    b.shutdown();
}

#[tokio::test]
async fn a_reclaim_that_exhausts_the_attempts_fails_with_the_host_reason() {
    let mut w = World::new(2);
    w.config.spot_reclaim = Some(SpotReclaim {
        after_seconds: 0.1,
        times: 10,
        when_output_contains: None,
    });
    let b = w.start();
    let j = b
        .submit(&request(SPOT_QUEUE, &[("SLEEP", "5")]))
        .await
        .unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(
        (v.status, v.attempts, v.exit_code),
        (BatchStatus::Failed, 3, None)
    );
    assert!(v.was_reclaimed(), "{v:?}");
    let reason = v.status_reason.unwrap();
    assert!(
        reason.starts_with("Host EC2 (instance i-") && reason.ends_with(") terminated."),
        "{reason}"
    );
    // on-demand capacity is never reclaimed
    let od = b
        .submit(&request(ON_DEMAND_QUEUE, &[("SLEEP", "0.5")]))
        .await
        .unwrap();
    assert_eq!(wait_end(&b, &od.job_id).await.attempts, 1);
    b.shutdown();
}

#[tokio::test]
async fn a_job_bigger_than_its_environment_fails_and_unknown_names_are_refused() {
    let w = World::new(2);
    let b = w.start();
    let mut r = request(ON_DEMAND_QUEUE, &[]);
    r.vcpus = 3;
    let j = b.submit(&r).await.unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(v.status, BatchStatus::Failed);
    assert!(
        v.status_reason
            .unwrap()
            .starts_with("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    );
    let err = b.submit(&request("no-such-queue", &[])).await.unwrap_err();
    assert!(
        matches!(&err, BatchError::Client { message } if message.contains("no-such-queue")),
        "{err}"
    );
    let mut r = request(SPOT_QUEUE, &[]);
    r.job_definition = "other".into();
    assert!(matches!(b.submit(&r).await, Err(BatchError::Client { .. })));
    assert_eq!(b.describe("no-such-job").await.unwrap(), None);
    b.shutdown();
}

#[tokio::test]
async fn a_higher_priority_queue_is_served_first() {
    let mut w = World::new(1);
    w.config.queues.push(JobQueue {
        name: "urgent".into(),
        priority: 100,
        compute_environment: "stepscore-on-demand-ce".into(),
    });
    let b = w.start();
    let blocker = b
        .submit(&request(ON_DEMAND_QUEUE, &[("SLEEP", "0.5")]))
        .await
        .unwrap();
    wait_status(&b, &blocker.job_id, BatchStatus::Running).await;
    let low = b.submit(&request(ON_DEMAND_QUEUE, &[])).await.unwrap();
    let high = b.submit(&request("urgent", &[])).await.unwrap();
    wait_end(&b, &low.job_id).await;
    wait_end(&b, &high.job_id).await;
    let starts: Vec<String> = w
        .runs()
        .into_iter()
        .filter(|r| r.0 == "start")
        .map(|r| r.1)
        .collect();
    assert_eq!(starts, [blocker.job_id, high.job_id, low.job_id]);
    b.shutdown();
}

#[tokio::test]
async fn a_job_running_when_batch_stopped_is_rerun_after_a_restart() {
    let w = World::new(2);
    let b = w.start();
    let j = b
        .submit(&request(SPOT_QUEUE, &[("SLEEP", "0.5")]))
        .await
        .unwrap();
    wait_status(&b, &j.job_id, BatchStatus::Running).await;
    b.shutdown();
    drop(b);
    let b = w.start();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!((v.status, v.attempts), (BatchStatus::Succeeded, 2));
    b.shutdown();
}

#[tokio::test]
async fn a_reclaim_can_wait_for_a_point_in_the_work() {
    let mut w = World::new(2);
    w.config.spot_reclaim = Some(SpotReclaim {
        after_seconds: 0.0,
        times: 1,
        when_output_contains: Some("stderr of attempt".into()),
    });
    let b = w.start();
    let j = b
        .submit(&request(SPOT_QUEUE, &[("SLEEP", "1")]))
        .await
        .unwrap();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!((v.status, v.attempts), (BatchStatus::Succeeded, 2));
    // the killed attempt had written its progress line before the kill
    assert!(read(&b.log_files(&j.job_id)[0].2).contains("stderr of attempt 1"));
    b.shutdown();
}

#[tokio::test]
async fn a_job_whose_start_cannot_be_recorded_is_not_launched_until_it_can_be() {
    let w = World::new(2);
    let b = w.start();
    failing_db::refuse(
        &w.db(),
        "no_start",
        "UPDATE ON batch_jobs",
        "NEW.status = 'STARTING'",
    );
    let j = b.submit(&request(ON_DEMAND_QUEUE, &[])).await.unwrap();
    // the executor tries to place it on many ticks meanwhile
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        w.runs().is_empty(),
        "a process ran for a job state.db does not show as started: {:?}",
        w.runs()
    );
    let v = b.describe(&j.job_id).await.unwrap().unwrap();
    assert_eq!((v.status, v.attempts), (BatchStatus::Runnable, 0));
    failing_db::allow(&w.db(), "no_start");
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!((v.status, v.attempts), (BatchStatus::Succeeded, 1));
    b.shutdown();
}

#[tokio::test]
async fn an_attempt_whose_running_state_cannot_be_recorded_is_stopped_and_fails_to_start() {
    let w = World::new(2);
    let b = w.start();
    failing_db::refuse(
        &w.db(),
        "no_running",
        "UPDATE ON batch_jobs",
        "NEW.status = 'RUNNING'",
    );
    let j = b
        .submit(&request(ON_DEMAND_QUEUE, &[("SLEEP", "2")]))
        .await
        .unwrap();
    let v = wait_end(&b, &j.job_id).await;
    // without its pid in state.db, a restart could not find the process: it must not run on
    assert_eq!(
        (v.status, v.attempts, v.status_reason.as_deref()),
        (BatchStatus::Failed, 3, Some("Task failed to start"))
    );
    let reason = v.container_reason.unwrap();
    assert!(
        reason.starts_with("CannotStartContainerError: ")
            && reason.contains(&j.job_id)
            && reason.contains(REFUSED),
        "{reason}"
    );
    assert!(
        w.runs().iter().all(|r| r.0 == "start"),
        "an unrecorded attempt ran to its end: {:?}",
        w.runs()
    );
    b.shutdown();
}

#[tokio::test]
async fn an_attempt_whose_end_cannot_be_recorded_is_recorded_once_the_database_takes_it() {
    let w = World::new(2);
    let b = w.start();
    failing_db::refuse(
        &w.db(),
        "no_end",
        "UPDATE ON batch_jobs",
        "NEW.status = 'SUCCEEDED'",
    );
    let j = b.submit(&request(ON_DEMAND_QUEUE, &[])).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !w.runs().iter().any(|r| r.0 == "end") {
        assert!(Instant::now() < deadline, "the container never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = b.describe(&j.job_id).await.unwrap().unwrap();
    assert_eq!(v.status, BatchStatus::Running, "{v:?}");
    failing_db::allow(&w.db(), "no_end");
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(
        (v.status, v.attempts, v.exit_code),
        (BatchStatus::Succeeded, 1, Some(0)),
        "the attempt's real end, not a rerun"
    );
    assert_eq!(w.runs().len(), 2, "one start, one end: {:?}", w.runs());
    b.shutdown();
}

#[tokio::test]
async fn a_job_whose_stored_request_is_unreadable_fails_naming_the_job_and_the_problem() {
    let w = World::new(2);
    let submitter = LocalBatch::open(&w.db(), w.config.clone()).unwrap();
    let j = submitter
        .submit(&request(ON_DEMAND_QUEUE, &[]))
        .await
        .unwrap();
    // written by hand, or by a stepscore whose request format this one cannot read
    rusqlite::Connection::open(w.db())
        .unwrap()
        .execute(
            "UPDATE batch_jobs SET request = '{\"job_name\": 7}' WHERE id = ?1",
            [&j.job_id],
        )
        .unwrap();
    let b = w.start();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!(v.status, BatchStatus::Failed);
    let reason = v.status_reason.unwrap();
    assert!(
        reason.contains(&j.job_id)
            && reason.contains("batch_jobs.request")
            && reason.contains("missing field `jobName`"),
        "{reason}"
    );
    assert!(w.runs().is_empty(), "{:?}", w.runs());
    b.shutdown();
}

#[tokio::test]
async fn batch_does_not_start_while_it_cannot_record_that_a_job_lost_its_host() {
    let w = World::new(2);
    let b = w.start();
    let j = b
        .submit(&request(ON_DEMAND_QUEUE, &[("SLEEP", "2")]))
        .await
        .unwrap();
    wait_status(&b, &j.job_id, BatchStatus::Running).await;
    b.shutdown();
    drop(b);
    failing_db::refuse(&w.db(), "frozen", "UPDATE ON batch_jobs", "1");
    let err = LocalBatch::start(&w.db(), w.config.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&w.db().display().to_string())
            && err.contains(&j.job_id)
            && err.contains(REFUSED),
        "{err}"
    );
    failing_db::allow(&w.db(), "frozen");
    let b = w.start();
    let v = wait_end(&b, &j.job_id).await;
    assert_eq!((v.status, v.attempts), (BatchStatus::Succeeded, 2));
    b.shutdown();
}
