//! Runs through the API: start one from a config and follow it to SUCCEEDED, a failed job's
//! reason and logs, stopping a running job, reclaiming its spot attempt.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::Console;

const LONG: Duration = Duration::from_secs(90);

fn state<'a>(detail: &'a Value, name: &str) -> &'a str {
    detail["states"][name]["status"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_started_over_http_succeeds_and_its_detail_colours_every_state() {
    let c = Console::start().await;
    // a bad config is refused with each problem at its field, and nothing starts
    let bad = json!({"name": "x y", "model": "s3://stepscore/models/", "input": "s3://stepscore/data/in.csv", "output": "s3://stepscore/out/", "shard": 2});
    let (status, body) = c.post("runs", &json!({"config": bad.to_string()})).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["field"].as_str())
        .collect();
    for f in ["name", "model", "shard"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }

    let id = c.start_run("daily", "in.csv", "on-demand").await;
    let detail = c
        .wait_for(&format!("executions/{id}"), LONG, |d| {
            d["execution"]["status"] == "SUCCEEDED"
        })
        .await;
    assert_eq!(detail["job_id"], id.as_str());
    for s in [
        "Register",
        "Submit",
        "Wait",
        "CheckStatus",
        "FinalizeSucceeded",
        "JobSucceeded",
    ] {
        assert_eq!(state(&detail, s), "succeeded", "{s}: {}", detail["states"]);
    }
    assert!(detail["states"].get("FinalizeFailed").is_none());
    let types: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    // each state's input and output are JSON documents, not the history's text
    assert!(
        detail["states"]["Register"]["input"].is_object(),
        "{}",
        detail["states"]["Register"]
    );
    assert!(detail["states"]["Register"]["output"].is_object());

    // the job table says so, with its rows and one attempt whose logs are readable by id
    let job = c
        .wait_for(&format!("jobs/{id}"), LONG, |j| j["status"] == "SUCCEEDED")
        .await;
    assert_eq!(job["metrics"]["rows_scored"], 2);
    let log = &job["logs"][0];
    assert_eq!(log["stdout"], true, "{job}");
    let (status, text) = c
        .get(&format!(
            "jobs/{id}/logs?batch_job={}&attempt={}&stream=stdout",
            log["batch_job_id"].as_str().unwrap(),
            log["attempt"]
        ))
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text["text"].as_str().unwrap().contains("scoring shard 0"),
        "{text}"
    );

    // the stream of an ended execution sends its state once, then ends
    let sse = c
        .http
        .get(format!("{}/api/executions/{id}/stream", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sse.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let body = tokio::time::timeout(Duration::from_secs(10), sse.text())
        .await
        .expect("the stream of an ended execution ends")
        .unwrap();
    assert!(body.contains("event: update"), "{body}");
    assert!(body.contains("ExecutionSucceeded"), "{body}");
    assert!(body.trim_end().ends_with("data: {}"), "{body}");

    // the overview counts it, and the console lets go of the pipeline once it is idle
    let overview = c
        .wait_for("overview", LONG, |o| o["serving"] == "nobody")
        .await;
    assert_eq!(overview["executions"]["SUCCEEDED"], 1, "{overview}");
    assert_eq!(overview["jobs"]["SUCCEEDED"], 1, "{overview}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_job_shows_the_scorers_reason_and_a_stopped_one_ends_aborted() {
    let c = Console::start().await;
    let failed = c.start_run("broken", "bad.csv", "on-demand").await;
    let job = c
        .wait_for(&format!("jobs/{failed}"), LONG, |j| j["status"] == "FAILED")
        .await;
    let reason = job["failure_reason"].as_str().unwrap();
    // the script leaves no failure report, so the reason is Batch's (the real scorer's message
    // is in the browser test's reason)
    assert!(reason.contains("exit code 65"), "{reason}");
    let detail = c
        .wait_for(&format!("executions/{failed}"), LONG, |d| {
            d["execution"]["status"] != "RUNNING"
        })
        .await;
    assert_eq!(
        state(&detail, "JobFailed"),
        "failed",
        "{}",
        detail["states"]
    );

    let slow = c.start_run("slow", "slow.csv", "on-demand").await;
    c.wait_for(&format!("jobs/{slow}"), LONG, |j| j["status"] == "RUNNING")
        .await;
    // the job's progress comes from the scorer's report while it runs
    let running = c
        .wait_for(&format!("jobs/{slow}"), LONG, |j| !j["progress"].is_null())
        .await;
    assert_eq!(running["progress"]["fraction"], 0.5, "{running}");
    let (status, stopped) = c.post(&format!("jobs/{slow}/stop"), &json!({})).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["stopped"], json!([slow.clone()]));
    let detail = c
        .wait_for(&format!("executions/{slow}"), LONG, |d| {
            d["execution"]["status"] == "ABORTED"
        })
        .await;
    let aborted = detail["states"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["status"] == "aborted")
        .count();
    assert_eq!(aborted, 1, "the state it was in: {}", detail["states"]);
    c.wait_for(&format!("jobs/{slow}"), LONG, |j| j["status"] == "FAILED")
        .await;
    let (status, again) = c.post(&format!("jobs/{slow}/stop"), &json!({})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["stopped"], json!([]));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reclaimed_spot_attempt_ends_as_a_lost_host_and_is_retried() {
    let c = Console::start().await;
    let id = c.start_run("spotty", "slow.csv", "spot").await;
    let batch = c
        .wait_for("batch", LONG, |b| {
            b["jobs"]
                .as_array()
                .is_some_and(|j| j.iter().any(|j| j["status"] == "RUNNING"))
        })
        .await;
    let job = batch["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["status"] == "RUNNING")
        .unwrap();
    let batch_id = job["job_id"].as_str().unwrap().to_owned();
    assert_eq!(job["job_queue"], "stepscore-spot");
    let spot = batch["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "stepscore-spot")
        .unwrap();
    assert_eq!(spot["spot"], true);
    assert_eq!(spot["counts"]["RUNNING"], 1, "{spot}");

    let (status, body) = c
        .post(&format!("batch/jobs/{batch_id}/reclaim"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    // the attempt ends as AWS ends one on a reclaimed host, and the retry strategy runs it again
    let after = c
        .wait_for("batch", LONG, |b| {
            b["jobs"].as_array().is_some_and(|j| {
                j.iter()
                    .any(|j| j["job_id"] == batch_id.as_str() && j["attempts"].as_u64() >= Some(2))
            })
        })
        .await;
    let job = after["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == batch_id.as_str())
        .unwrap();
    assert!(
        job["status_reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("Host EC2")
            || job["status"] == "RUNNING",
        "{job}"
    );
    let (status, body) = c.post("batch/jobs/nope/reclaim", &json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = c.post(&format!("jobs/{id}/stop"), &json!({})).await;
    assert_eq!(status, 200);
    c.wait_for(&format!("jobs/{id}"), LONG, |j| j["status"] == "FAILED")
        .await;
    let (status, body) = c
        .post(&format!("batch/jobs/{batch_id}/reclaim"), &json!({}))
        .await;
    assert_eq!(status, 409, "an ended job has nothing to reclaim: {body}");
    c.shutdown().await;
}
