//! A console on port 0 over a fresh state directory, and an HTTP client that speaks to it as
//! the page does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepscore_console::{ConsoleConfig, Schedules};
use stepscore_local::{LocalRuntime, RuntimeConfig, pipeline};

/// A scorer that writes what the real one writes (a progress report, a part and the manifest
/// finalize reads) after `SCORE_SECONDS` (default 0), or fails like the real one on bad data when
/// the input's name contains `bad`.
pub const SCORER: &str = r#"#!/bin/sh
i=${AWS_BATCH_JOB_ARRAY_INDEX:-0}
echo "scoring shard $i of $STEPSCORE_INPUT on $AWS_BATCH_JQ_NAME, attempt $AWS_BATCH_JOB_ATTEMPT"
case "$STEPSCORE_INPUT" in
  *bad*) echo "$STEPSCORE_INPUT line 3: column 'x' value 'abc' is not a number" >&2; exit 65 ;;
esac
out="$STEPSCORE_LOCAL_S3_ROOT/${STEPSCORE_OUTPUT#s3://}"
mkdir -p "$out"
cat > "$out/progress-$i.json" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": $i, "shard_count": 1, "rows_read": 1, "rows_scored": 1, "rows_rejected": 0, "bytes_read": 5, "bytes_total": 10, "seconds": 0.5, "done": false}
JSON
case "$STEPSCORE_INPUT" in
  *slow*) sleep 30 ;;
esac
printf 'id,score\n1,0.25\n2,0.75\n' > "$out/part-$i.csv"
cat > "$out/manifest-$i.json" <<JSON
{"version": 1, "job_id": "$STEPSCORE_JOB_ID", "shard_index": $i, "shard_count": 1, "rows_read": 2, "rows_scored": 2, "rows_rejected": 0, "duration_seconds": 1.0,
 "model": {"uri": "$STEPSCORE_MODEL", "algorithm": "test", "format_version": 1}, "inputs": [], "output": "${STEPSCORE_OUTPUT}part-$i.csv", "rejects": null}
JSON
"#;

/// A console serving over its own state directory.
pub struct Console {
    pub base: String,
    pub port: u16,
    pub rt: LocalRuntime,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Console {
    /// A console over a new state directory with the models and inputs jobs use.
    pub async fn start() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let rt = open_runtime(dir.path());
        for (key, body) in [
            ("models/m.json", "{\"model\": true}"),
            ("data/in.csv", "id,x\n1,2\n2,3\n"),
            ("data/bad.csv", "id,x\n1,abc\n"),
            ("data/slow.csv", "id,x\n1,2\n"),
        ] {
            let uri = stepscore_core::ObjectUri::new("stepscore", key).unwrap();
            rt.drop_config(&uri, body.as_bytes().to_vec())
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let config = ConsoleConfig {
            runtime: rt.clone(),
            bucket: "stepscore".into(),
            schedules: Schedules::default(),
        };
        let task = tokio::spawn(async move {
            stepscore_console::serve(listener, config, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Console {
            base: format!("http://127.0.0.1:{port}"),
            port,
            rt,
            http: reqwest::Client::new(),
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.rt.config().state_dir.clone()
    }

    /// GET `/api/<path>`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}/api/{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// POST `/api/<path>` as the console's own page does (its Origin, a JSON body).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/api/{path}", self.base))
            .header("Origin", &self.base)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Starts a run of a config named `name` reading `input` (under `s3://stepscore/data/`).
    pub async fn start_run(&self, name: &str, input: &str, capacity: &str) -> String {
        let config = json!({
            "name": name,
            "model": "s3://stepscore/models/m.json",
            "input": format!("s3://stepscore/data/{input}"),
            "output": format!("s3://stepscore/outputs/{name}/"),
            "capacity": capacity,
            "poll_interval_seconds": 1,
        });
        let (status, body) = self
            .post("runs", &json!({"config": config.to_string()}))
            .await;
        assert_eq!(status, 201, "{body}");
        body["job_id"].as_str().unwrap().to_owned()
    }

    /// Polls `path` until `done` holds for its body (or panics after `timeout`).
    pub async fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not get there within {timeout:?}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the console (and the pipeline it serves).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// The runtime on `dir` with the pipeline's functions and [`SCORER`], time compressed 100×.
pub fn open_runtime(dir: &Path) -> LocalRuntime {
    use std::os::unix::fs::PermissionsExt;
    let scorer = dir.join("scorer.sh");
    std::fs::write(&scorer, SCORER).unwrap();
    std::fs::set_permissions(&scorer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = RuntimeConfig::new(dir, pipeline::STATE_MACHINE_TEMPLATE, scorer);
    config.time_scale = 100.0;
    let rt = LocalRuntime::open(config).unwrap();
    pipeline::register_pipeline_functions(&rt);
    rt
}
