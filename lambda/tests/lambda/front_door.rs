//! Batch jobs over HTTP against moto: API Gateway's `POST /jobs` event answered by the jobs
//! function puts the submission on a real SQS queue; the messages SQS hands out (as the event
//! source mapping would) are admitted by intake into DynamoDB and Step Functions; `GET
//! /jobs/{id}` answers the record. A message intake cannot admit reaches the dead-letter queue
//! with its reason; and SQS's own redrive policy, which catches a consumer that died, delivers a
//! message exactly `maxReceiveCount` times, the count intake gives up on.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use stepscore_aws::SqsQueue;
use stepscore_core::JobId;
use stepscore_core::ports::{JobTable, ObjectStore, SystemClock};
use stepscore_core::status::JobStatus;
use stepscore_handlers::intake::{FAILURE_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE};
use stepscore_handlers::{AdmitPorts, FrontDoorPorts, IntakePorts};
use stepscore_lambda::jobs::answer_jobs;

use super::pipeline::{World, uri, world};
use super::{moto, unique};

/// The job queue's maxReceiveCount in these tests (Terraform's default is larger).
const MAX_RECEIVES: u32 = 2;

struct Queues {
    client: aws_sdk_sqs::Client,
    jobs: String,
    dead_letters: String,
}

/// A job queue whose redrive policy sends a message to the dead-letter queue after
/// [`MAX_RECEIVES`] receives, as `terraform/jobs_api.tf` creates them.
async fn queues() -> Queues {
    let config = moto().await;
    let (jobs, dead_letters) =
        stepscore_aws::fixtures::job_queues(&config, &unique("http"), MAX_RECEIVES).await;
    Queues {
        client: aws_sdk_sqs::Client::new(&config),
        jobs,
        dead_letters,
    }
}

impl Queues {
    /// Receives what the queue hands out now (visibility timeout 0: each message may come back
    /// at once), as the Lambda event source mapping turns it into an SQS event.
    async fn receive(&self, url: &str) -> SqsEvent {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let records: Vec<Value> = out
            .messages()
            .iter()
            .map(|m| {
                stepscore_aws::fixtures::sqs_event_record(
                    m,
                    "arn:aws:sqs:us-east-1:123456789012:jobs",
                    "us-east-1",
                )
            })
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    /// Deletes what the event source mapping deletes: every message of `event` not reported as
    /// a batch item failure.
    async fn delete_handled(&self, event: &SqsEvent, failed: &[String]) {
        for m in &event.records {
            if !failed.contains(m.message_id.as_ref().unwrap()) {
                self.client
                    .delete_message()
                    .queue_url(&self.jobs)
                    .receipt_handle(m.receipt_handle.as_deref().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

fn event(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/apigw/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `POST /jobs` with the fixture's headers and `config` as the body.
fn submit_event(config: &Value) -> ApiGatewayV2httpRequest {
    let mut e = event("jobs-submit.json");
    e["body"] = Value::from(config.to_string());
    serde_json::from_value(e).unwrap()
}

fn status_event(id: &str) -> ApiGatewayV2httpRequest {
    let mut e = event("jobs-status.json");
    e["rawPath"] = Value::from(format!("/jobs/{id}"));
    e["requestContext"]["http"]["path"] = Value::from(format!("/jobs/{id}"));
    e["pathParameters"]["id"] = Value::from(id);
    serde_json::from_value(e).unwrap()
}

/// The response's status and JSON body.
fn reply(r: aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> (i64, Value) {
    let body = match r.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => serde_json::from_str(&t).unwrap(),
        other => panic!("not a JSON text body: {other:?}"),
    };
    (r.status_code, body)
}

async fn with_model_and_input(w: &World) -> Value {
    let b = &w.bucket;
    w.store
        .put_bytes(&uri(b, "models/churn.json"), b"{\"model\": true}".to_vec())
        .await
        .unwrap();
    w.store
        .put_bytes(
            &uri(b, "inputs/2026-11-30/a.csv"),
            b"customer_id,x\n1,0.5\n".to_vec(),
        )
        .await
        .unwrap();
    json!({"version": 1, "name": "daily-churn", "model": format!("s3://{b}/models/churn.json"),
           "input": format!("s3://{b}/inputs/2026-11-30/"), "output": format!("s3://{b}/outputs/daily-churn/"),
           "id_columns": ["customer_id"], "capacity": "on-demand"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_posted_over_http_is_queued_in_sqs_admitted_by_intake_and_readable_by_id() {
    let w = world().await;
    let q = queues().await;
    let config = moto().await;
    let clock = SystemClock;
    let job_queue = SqsQueue::new(&config, &q.jobs);
    let dead_letters = SqsQueue::new(&config, &q.dead_letters);
    let front = FrontDoorPorts {
        store: &w.store,
        table: &w.table,
        queue: &job_queue,
        jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
    };
    let intake = IntakePorts {
        admit: AdmitPorts {
            store: &w.store,
            table: &w.table,
            executions: &w.executions,
            clock: &clock,
            jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
        },
        dead_letters: &dead_letters,
        max_receives: MAX_RECEIVES,
    };
    let job = with_model_and_input(&w).await;

    // an invalid config is refused at once, with every problem, and nothing is queued
    let mut bad = job.clone();
    bad["shards"] = json!(0);
    bad["model"] = json!(format!("s3://{}/models/absent.json", w.bucket));
    let (status, body) = reply(answer_jobs(front, &submit_event(&bad)).await);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["field"] == "shards"),
        "{body}"
    );
    assert!(q.receive(&q.jobs).await.records.is_empty());

    // the fixture's Idempotency-Key, sent twice: one job id
    let (status, body) = reply(answer_jobs(front, &submit_event(&job)).await);
    assert_eq!(status, 202, "{body}");
    let (_, again) = reply(answer_jobs(front, &submit_event(&job)).await);
    assert_eq!(again["job_id"], body["job_id"]);
    let id = body["job_id"].as_str().unwrap().to_owned();

    let (status, missing) = reply(answer_jobs(front, &status_event(&id)).await);
    assert_eq!(status, 404, "not admitted yet: {missing}");

    // SQS hands out both messages; intake admits one job from them
    let event = q.receive(&q.jobs).await;
    assert_eq!(event.records.len(), 2);
    let response = stepscore_handlers::intake(intake, &event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    q.delete_handled(&event, &[]).await;
    let record = w
        .table
        .get(&JobId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(record.source, "http:DxZ1cj2WjoEEMkw=");
    let execution = record.execution_arn.clone().unwrap();
    assert!(execution.ends_with(&format!(":{id}")), "{execution}");
    assert!(
        q.receive(&q.jobs).await.records.is_empty(),
        "every message was handled"
    );

    let (status, body) = reply(answer_jobs(front, &status_event(&id)).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["id"].as_str(), body["status"].as_str()),
        (Some(id.as_str()), Some("PENDING"))
    );
    assert_eq!(body["execution_arn"], execution.as_str());

    // a message that is not a submission: dead-lettered by intake with why, gone from the queue
    q.client
        .send_message()
        .queue_url(&q.jobs)
        .message_body("{\"hello\": \"world\"}")
        .send()
        .await
        .unwrap();
    let event = q.receive(&q.jobs).await;
    let response = stepscore_handlers::intake(intake, &event).await;
    assert!(response.batch_item_failures.is_empty());
    q.delete_handled(&event, &[]).await;
    let dead = q.receive(&q.dead_letters).await;
    assert_eq!(dead.records.len(), 1);
    let m = &dead.records[0];
    assert_eq!(m.body.as_deref(), Some("{\"hello\": \"world\"}"));
    let reason = m.message_attributes[FAILURE_ATTRIBUTE]
        .string_value
        .as_deref()
        .unwrap();
    assert!(reason.contains("not a job submission"), "{reason}");
    assert_eq!(
        m.message_attributes[RECEIVE_COUNT_ATTRIBUTE]
            .string_value
            .as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_delivers_a_message_max_receive_count_times_and_then_moves_it_to_the_dead_letter_queue()
{
    // what intake relies on: the receive numbered maxReceiveCount is the message's last, so a
    // consumer that fails there must say why itself; a consumer that died is still covered
    let q = queues().await;
    q.client
        .send_message()
        .queue_url(&q.jobs)
        .message_body("a submission whose consumer keeps dying")
        .send()
        .await
        .unwrap();
    let mut counts = Vec::new();
    for _ in 0..MAX_RECEIVES + 1 {
        for m in q.receive(&q.jobs).await.records {
            counts.push(m.attributes["ApproximateReceiveCount"].clone());
        }
    }
    let expected: Vec<String> = (1..=MAX_RECEIVES).map(|n| n.to_string()).collect();
    assert_eq!(counts, expected);
    let dead = q.receive(&q.dead_letters).await;
    assert_eq!(dead.records.len(), 1);
    assert_eq!(
        dead.records[0].body.as_deref(),
        Some("a submission whose consumer keeps dying")
    );
}
