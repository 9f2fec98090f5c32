//! The console's API with 10,000 executions in the state directory: the executions list (first
//! page, a deep page, a status filter, a job id search) and an execution's detail, over real
//! HTTP, p50 and p99 of each. Run by `bench/console/run.sh`.
//!
//! One job runs through the real pipeline first (a shell script as the scorer); its snapshot
//! (the whole history) is then given to 10,000 executions, so each detail reads a real
//! execution's history.

use std::time::{Duration, Instant};

use serde_json::json;
use stepscore_console::{ConsoleConfig, Schedules};
use stepscore_core::ports::Executions;
use stepscore_local::{ExecutionState, LocalRuntime, RuntimeConfig, pipeline};

const EXECUTIONS: usize = 10_000;
const REQUESTS: usize = 400;

const SCORER: &str = r#"#!/bin/sh
out="$STEPSCORE_LOCAL_S3_ROOT/${STEPSCORE_OUTPUT#s3://}"
mkdir -p "$out"
printf 'id,score\n1,0.5\n' > "$out/part-0.csv"
cat > "$out/manifest-0.json" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": 0, "shard_count": 1, "rows_read": 1, "rows_scored": 1, "rows_rejected": 0, "duration_seconds": 0.1,
 "model": {"uri": "$STEPSCORE_MODEL", "algorithm": "test", "format_version": 1}, "inputs": [], "output": "${STEPSCORE_OUTPUT}part-0.csv", "rejects": null}
JSON
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rt = open(dir.path());
    let snapshot = one_real_run(&rt).await;
    let events = snapshot["history"]["events"].as_array().map_or(0, Vec::len);
    eprintln!(
        "seeding {EXECUTIONS} executions, each with the real run's history ({events} events)"
    );
    let seeding = Instant::now();
    for i in 0..EXECUTIONS {
        let name = format!("bench-{i:05}");
        rt.executions()
            .start(&name, &json!({"i": i}))
            .await
            .expect("start");
        let status = match i % 10 {
            0 => ExecutionState::Running,
            1 | 2 => ExecutionState::Failed,
            _ => ExecutionState::Succeeded,
        };
        if status != ExecutionState::Running {
            let error = (status == ExecutionState::Failed).then_some("States.TaskFailed");
            rt.executions()
                .save(&name, &snapshot, status, Some(&json!({})), error, error)
                .expect("save");
        }
    }
    eprintln!("seeded in {:.1}s", seeding.elapsed().as_secs_f64());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let config = ConsoleConfig {
        runtime: rt.clone(),
        bucket: "stepscore".into(),
        schedules: Schedules::default(),
    };
    tokio::spawn(stepscore_console::serve(
        listener,
        config,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    // a cursor 9,000 executions deep, for the deep page
    let mut deep = String::new();
    for _ in 0..18 {
        let page: serde_json::Value = http
            .get(format!("{base}/api/executions?limit=500&after={deep}"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("JSON");
        deep = page["next"].as_str().unwrap_or_default().to_owned();
    }
    println!(
        "console API, {EXECUTIONS} executions, {REQUESTS} requests each (sequential, keep-alive)"
    );
    let cases: Vec<(&str, PathOf)> = vec![
        (
            "list: first page (50)",
            Box::new(|_| "executions?limit=50".to_owned()),
        ),
        (
            "list: page 9,000 deep (50)",
            Box::new(move |_| format!("executions?limit=50&after={deep}")),
        ),
        (
            "list: status FAILED (50)",
            Box::new(|_| "executions?status=FAILED&limit=50".to_owned()),
        ),
        (
            "list: search job id prefix",
            Box::new(|i| format!("executions?search=bench-0{}", i % 10)),
        ),
        (
            "detail: one execution",
            Box::new(|i| format!("executions/bench-{:05}", (i * 7919) % EXECUTIONS)),
        ),
    ];
    for (label, path) in cases {
        let mut times = Vec::with_capacity(REQUESTS);
        for i in 0..REQUESTS {
            let t = Instant::now();
            let res = http
                .get(format!("{base}/api/{}", path(i)))
                .send()
                .await
                .expect("request");
            assert!(res.status().is_success(), "{label}: {}", res.status());
            res.bytes().await.expect("body");
            times.push(t.elapsed());
        }
        times.sort();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "  {label:<30} p50 {:>7.2} ms   p99 {:>7.2} ms",
            ms(p(0.50)),
            ms(p(0.99))
        );
    }
}

/// The request path of the `i`-th request of a case.
type PathOf = Box<dyn Fn(usize) -> String>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn open(dir: &std::path::Path) -> LocalRuntime {
    use std::os::unix::fs::PermissionsExt;
    let scorer = dir.join("scorer.sh");
    std::fs::write(&scorer, SCORER).expect("scorer");
    std::fs::set_permissions(&scorer, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut config = RuntimeConfig::new(dir, pipeline::STATE_MACHINE_TEMPLATE, scorer);
    config.time_scale = 100.0;
    let rt = LocalRuntime::open(config).expect("runtime");
    pipeline::register_pipeline_functions(&rt);
    rt
}

/// Runs one job through the pipeline and returns its execution's snapshot.
async fn one_real_run(rt: &LocalRuntime) -> serde_json::Value {
    let uri = |k: &str| stepscore_core::ObjectUri::new("stepscore", k).expect("uri");
    rt.drop_config(&uri("models/m.json"), b"{}".to_vec())
        .await
        .expect("model");
    rt.drop_config(&uri("data/in.csv"), b"id,x\n1,2\n".to_vec())
        .await
        .expect("input");
    let server = rt.serve().expect("serve");
    let config = json!({"name": "real", "model": "s3://stepscore/models/m.json", "input": "s3://stepscore/data/in.csv",
        "output": "s3://stepscore/outputs/real/", "capacity": "on-demand", "poll_interval_seconds": 1});
    rt.drop_config(&uri("jobs/real.json"), config.to_string().into_bytes())
        .await
        .expect("config");
    server
        .wait_idle(Duration::from_secs(120))
        .await
        .expect("the real run ends");
    server.shutdown();
    let done = rt
        .list_executions(Some(ExecutionState::Succeeded), 1)
        .expect("list");
    let name = &done.first().expect("the real run succeeded").name;
    rt.executions()
        .snapshot(name)
        .expect("snapshot")
        .expect("a snapshot")
}
