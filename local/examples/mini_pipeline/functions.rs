//! Stand-in Lambda functions for a small submit/poll pipeline (admit, submit, check), so the
//! runtime can be exercised without the real handlers.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use stepscore_core::JobId;
use stepscore_core::batch::{RetryStrategy, SubmitJobRequest};
use stepscore_core::ports::{BatchService, Executions, ObjectStore};
use stepscore_local::batch::{ON_DEMAND_QUEUE, SCORING_JOB_DEFINITION};
use stepscore_local::{LambdaError, LocalRuntime};

/// The "container": records each run, sleeps `SLEEP` seconds, exits `EXIT_CODE`.
pub const CONTAINER: &str = r#"#!/bin/sh
echo "start $JOB $AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT $(date +%s%N)" >> "$RUNS"
sleep "${SLEEP:-0}"
echo "end $JOB $AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT $(date +%s%N)" >> "$RUNS"
exit "${EXIT_CODE:-0}"
"#;

/// Writes the container script into `dir` and returns its path.
pub fn write_container(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("container.sh");
    std::fs::write(&path, CONTAINER).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn err(t: &str, m: impl ToString) -> LambdaError {
    LambdaError {
        error_type: t.into(),
        error_message: m.to_string(),
    }
}

/// Registers stepscore-admit, stepscore-submit and stepscore-check on `rt`.
pub fn register(rt: &LocalRuntime) {
    let r = rt.clone();
    rt.register_function(
        "stepscore-admit",
        std::sync::Arc::new(move |event: Value| {
            let r = r.clone();
            Box::pin(async move {
                let rec = &event["Records"][0]["s3"];
                let bucket = rec["bucket"]["name"]
                    .as_str()
                    .ok_or_else(|| err("BadEvent", "no bucket"))?;
                let key = rec["object"]["key"]
                    .as_str()
                    .ok_or_else(|| err("BadEvent", "no key"))?;
                let key = percent_encoding::percent_decode_str(&key.replace('+', " "))
                    .decode_utf8_lossy()
                    .to_string();
                let version = rec["object"]["versionId"].as_str().unwrap_or_default();
                let uri =
                    stepscore_core::ObjectUri::new(bucket, &key).map_err(|e| err("BadEvent", e))?;
                let bytes = r
                    .store()
                    .get_bytes(&uri, 65536)
                    .await
                    .map_err(|e| err("StoreError", e))?;
                let config: Value =
                    serde_json::from_slice(&bytes).map_err(|e| err("BadConfig", e))?;
                let id = JobId::for_object(bucket, &key, version);
                r.executions()
                    .start(id.as_str(), &config)
                    .await
                    .map_err(|e| err("StartFailed", e))?;
                Ok(json!({"job_id": id.as_str()}))
            })
        }),
    );
    let r = rt.clone();
    rt.register_function(
        "stepscore-submit",
        std::sync::Arc::new(move |input: Value| {
            let r = r.clone();
            Box::pin(async move {
                let mut env = BTreeMap::new();
                for k in ["SLEEP", "EXIT_CODE", "JOB"] {
                    if let Some(v) = input.get(k).and_then(Value::as_str) {
                        env.insert(k.to_owned(), v.to_owned());
                    }
                }
                let req = SubmitJobRequest {
                    job_name: input["JOB"].as_str().unwrap_or("job").into(),
                    job_queue: ON_DEMAND_QUEUE.into(),
                    job_definition: SCORING_JOB_DEFINITION.into(),
                    array_size: None,
                    environment: env,
                    vcpus: 1,
                    memory_mib: 256,
                    timeout_seconds: 600,
                    retry_strategy: RetryStrategy::scoring(),
                    tags: BTreeMap::new(),
                };
                let job = r
                    .batch()
                    .submit(&req)
                    .await
                    .map_err(|e| err("BatchError", e))?;
                Ok(json!({"job_id": job.job_id}))
            })
        }),
    );
    let r = rt.clone();
    rt.register_function(
        "stepscore-check",
        std::sync::Arc::new(move |input: Value| {
            let r = r.clone();
            Box::pin(async move {
                let id = input["job_id"]
                    .as_str()
                    .ok_or_else(|| err("BadInput", "no job_id"))?;
                let v = r
                    .batch()
                    .describe(id)
                    .await
                    .map_err(|e| err("TransientError", e))?;
                let v = v.ok_or_else(|| err("JobNotFound", id))?;
                Ok(json!({"status": v.status.as_str()}))
            })
        }),
    );
}

/// The runtime config of the mini pipeline in `state_dir`.
pub fn config(
    state_dir: &Path,
    container: std::path::PathBuf,
    time_scale: f64,
) -> stepscore_local::RuntimeConfig {
    let definition = include_str!("../../tests/fixtures/mini-pipeline.asl.json");
    let mut c = stepscore_local::RuntimeConfig::new(state_dir, definition, container);
    c.time_scale = time_scale;
    c.batch
        .environment
        .insert("RUNS".into(), state_dir.join("runs").display().to_string());
    c
}
