//! The `stepscore-predict` binary as Lambda runs it: started with the function's environment
//! (`handlers/lambda-functions.json`) against a Lambda Runtime API served here as AWS documents
//! it (`GET /2018-06-01/runtime/invocation/next` hands over an event with its
//! `Lambda-Runtime-*` headers, `POST /2018-06-01/runtime/invocation/<id>/response` takes the
//! answer), its S3 calls going to moto: init reads the artifact, an API Gateway event is
//! answered. A model that cannot be loaded fails the init: the process ends, naming the model.
//! The same for `stepscore-intake` (an SQS event; a dead letter in moto's SQS) and
//! `stepscore-jobs` (an API Gateway event answered from moto's DynamoDB).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use serde_json::Value;
use stepscore_aws::fixtures::store_with_bucket;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, unquoted};
use tokio::sync::mpsc;

/// What the binary posted back: the request id (with `/error` for an invocation error) and body.
type Posted = (String, Bytes);

#[derive(Clone)]
struct RuntimeApi {
    events: Arc<Mutex<VecDeque<Bytes>>>,
    posted: mpsc::UnboundedSender<Posted>,
}

/// Serves the Runtime API on 127.0.0.1 with `events` to hand out, in order; once they are gone a
/// `next` call waits (as Lambda freezes an idle function).
async fn runtime_api(events: Vec<Bytes>) -> (SocketAddr, mpsc::UnboundedReceiver<Posted>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = RuntimeApi {
        events: Arc::new(Mutex::new(events.into())),
        posted: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(
                |State(s): State<RuntimeApi>, Path(id): Path<String>, body: Bytes| async move {
                    let _ = s.posted.send((id, body));
                    "{}"
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(
                |State(s): State<RuntimeApi>, Path(id): Path<String>, body: Bytes| async move {
                    let _ = s.posted.send((format!("{id}/error"), body));
                    "{}"
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

async fn next(State(s): State<RuntimeApi>) -> (HeaderMap, Bytes) {
    let event = s.events.lock().unwrap().pop_front();
    let Some(event) = event else {
        return std::future::pending().await;
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (
            "lambda-runtime-aws-request-id",
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned(),
        ),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:stepscore-predict".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    (headers, event)
}

/// The predict binary started as Lambda starts it, with `model_uri` and its Runtime API at `api`.
fn start(api: SocketAddr, model_uri: &str) -> tokio::process::Child {
    start_binary(
        env!("CARGO_BIN_EXE_stepscore-predict"),
        api,
        &[
            ("STEPSCORE_MODEL_URI", model_uri),
            ("STEPSCORE_MAX_ROWS", "100"),
        ],
    )
}

/// `exe` started as Lambda starts a function, with its Runtime API at `api`, AWS calls going to
/// moto, and the function's own environment `env`.
fn start_binary(exe: &str, api: SocketAddr, env: &[(&str, &str)]) -> tokio::process::Child {
    let moto = stepscore_aws::moto::shared();
    let name = std::path::Path::new(exe)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    tokio::process::Command::new(exe)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.to_string().as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The first answer the binary posts, or a panic with its stderr.
async fn first_answer(
    child: &mut tokio::process::Child,
    posted: &mut mpsc::UnboundedReceiver<Posted>,
) -> Posted {
    match tokio::time::timeout(Duration::from_secs(60), posted.recv()).await {
        Ok(Some(answer)) => answer,
        _ => {
            child.kill().await.unwrap();
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                e.read_to_string(&mut stderr).await.unwrap();
            }
            panic!("no answer posted: {stderr}");
        }
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn the_binary_loads_its_model_from_s3_at_init_and_answers_an_api_gateway_event() {
    let (store, bucket) = store_with_bucket().await;
    let put = store
        .put_bytes(
            &ObjectUri::new(&bucket, "models/churn.json").unwrap(),
            fixture("churn.json"),
        )
        .await
        .unwrap();
    let (api, mut posted) = runtime_api(vec![Bytes::from(fixture("apigw/predict-ok.json"))]).await;
    let mut child = start(api, &format!("s3://{bucket}/models/churn.json"));

    let answer = tokio::time::timeout(Duration::from_secs(60), posted.recv()).await;
    let Ok(Some((id, body))) = answer else {
        child.kill().await.unwrap();
        let out = child.wait_with_output().await.unwrap();
        panic!("no answer posted: {}", String::from_utf8_lossy(&out.stderr));
    };
    assert_eq!(id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    let predictions: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        predictions["model_version"],
        Value::from(unquoted(put.etag.as_deref().unwrap())),
        "{predictions}"
    );
    assert_eq!(
        predictions["model_name"], "churn",
        "the name defaults to the artifact's stem"
    );
    assert_eq!(predictions["predictions"].as_array().unwrap().len(), 2);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_model_that_cannot_be_loaded_ends_the_init_naming_it() {
    let (_store, bucket) = store_with_bucket().await;
    let (api, _posted) = runtime_api(vec![Bytes::from(fixture("apigw/predict-ok.json"))]).await;
    let uri = format!("s3://{bucket}/models/absent.json");
    let child = start(api, &uri);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the init must end, not wait for events")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot read model {uri}")),
        "{stderr}"
    );
}

async fn sqs_queue(name: &str) -> String {
    let sqs = aws_sdk_sqs::Client::new(&super::moto().await);
    sqs.create_queue()
        .queue_name(super::unique(name))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_intake_binary_dead_letters_a_message_that_is_not_a_submission_with_why() {
    let config = super::moto().await;
    let table = stepscore_aws::DynamoTable::new(&config, super::unique("jobs"));
    table.create_table().await.unwrap();
    let dlq = sqs_queue("jobs-dlq").await;
    let mut event: Value = serde_json::from_slice(&fixture(
        "../../../handlers/tests/fixtures/sqs-job-submission.json",
    ))
    .unwrap();
    event["Records"][0]["body"] = Value::from("not a submission");
    let (api, mut posted) = runtime_api(vec![Bytes::from(event.to_string())]).await;
    let mut child = start_binary(
        env!("CARGO_BIN_EXE_stepscore-intake"),
        api,
        &[
            ("STEPSCORE_TABLE", table.table_name()),
            (
                "STEPSCORE_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:absent",
            ),
            ("STEPSCORE_JOBS_PREFIX", "jobs/"),
            ("STEPSCORE_JOB_DLQ_URL", &dlq),
            ("STEPSCORE_MAX_RECEIVES", "5"),
        ],
    );
    let (id, body) = first_answer(&mut child, &mut posted).await;
    child.kill().await.unwrap();
    assert_eq!(
        id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        "an answer, not an error"
    );
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let dead = aws_sdk_sqs::Client::new(&config)
        .receive_message()
        .queue_url(&dlq)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let m = &dead.messages()[0];
    assert_eq!(m.body(), Some("not a submission"));
    let reason = m.message_attributes().unwrap()["stepscore-failure"]
        .string_value()
        .unwrap();
    assert!(reason.contains("not a job submission"), "{reason}");
}

#[tokio::test]
async fn the_jobs_binary_answers_an_api_gateway_event_from_the_job_table() {
    let config = super::moto().await;
    let table = stepscore_aws::DynamoTable::new(&config, super::unique("jobs"));
    table.create_table().await.unwrap();
    let queue = sqs_queue("jobs").await;
    let (api, mut posted) = runtime_api(vec![Bytes::from(fixture("apigw/jobs-status.json"))]).await;
    let mut child = start_binary(
        env!("CARGO_BIN_EXE_stepscore-jobs"),
        api,
        &[
            ("STEPSCORE_TABLE", table.table_name()),
            ("STEPSCORE_JOB_QUEUE_URL", &queue),
            ("STEPSCORE_JOBS_PREFIX", "jobs/"),
        ],
    );
    let (_, body) = first_answer(&mut child, &mut posted).await;
    child.kill().await.unwrap();
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["statusCode"], 404, "{response}");
    let answer: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("daily-churn-0123456789abcdef"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_intake_whose_max_receives_is_not_a_count_ends_its_init_naming_the_variable() {
    let (api, _posted) = runtime_api(Vec::new()).await;
    let child = start_binary(
        env!("CARGO_BIN_EXE_stepscore-intake"),
        api,
        &[
            ("STEPSCORE_TABLE", "t"),
            (
                "STEPSCORE_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:s",
            ),
            ("STEPSCORE_JOBS_PREFIX", "jobs/"),
            (
                "STEPSCORE_JOB_DLQ_URL",
                "http://127.0.0.1:1/123456789012/dlq",
            ),
            ("STEPSCORE_MAX_RECEIVES", "0"),
        ],
    );
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the init must end")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("STEPSCORE_MAX_RECEIVES is '0'"), "{stderr}");
}
