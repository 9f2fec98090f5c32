//! The whole pipeline's Lambda code over the AWS adapters against moto: an S3 event admits a
//! config (twice at once: one record, one execution), then register -> submit -> check ->
//! finalize run as the state machine would call them, with Batch in docker-free mode. A config
//! overwritten before admit reads it runs as the upload its event announced, or not at all.

use aws_lambda_events::event::s3::S3Event;
use serde_json::{Value, json};
use stepscore_aws::fixtures::{batch_world, store_with_bucket, store_with_versioned_bucket};
use stepscore_aws::{DynamoTable, EventBridgeNotifier, S3Store, SfnExecutions};
use stepscore_core::JobId;
use stepscore_core::ObjectUri;
use stepscore_core::manifest::{InputIdentity, ModelIdentity, ScoringManifest};
use stepscore_core::ports::{JobTable, ObjectMeta, ObjectStore, SystemClock};
use stepscore_core::status::JobStatus;
use stepscore_handlers::admit::{AdmitPorts, Admitted, admit};
use stepscore_handlers::tasks::{check, finalize, register, submit};

use super::{moto, unique};

/// A deployment in moto: bucket, job table, the real state machine.
pub(super) struct World {
    pub(super) store: S3Store,
    pub(super) table: DynamoTable,
    pub(super) executions: SfnExecutions,
    events: EventBridgeNotifier,
    pub(super) bucket: String,
}

pub(super) async fn world() -> World {
    world_on(store_with_bucket().await).await
}

/// The world with the bucket versioned, as Terraform creates it.
async fn versioned_world() -> World {
    world_on(store_with_versioned_bucket().await).await
}

async fn world_on((store, bucket): (S3Store, String)) -> World {
    let config = moto().await;
    let table = DynamoTable::new(&config, unique("jobs"));
    table.create_table().await.unwrap();
    // the real state machine, its placeholders filled as Terraform would
    let mut definition = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../state-machines/scoring-pipeline.asl.json"
    ))
    .unwrap()
    .replace("${partition}", "aws");
    for name in ["register", "submit", "check", "finalize"] {
        definition = definition.replace(
            &format!("${{{name}_function_arn}}"),
            &format!("arn:aws:lambda:us-east-1:123456789012:function:stepscore-{name}"),
        );
    }
    for (name, value) in [
        ("spot_job_queue", "spot"),
        ("on_demand_job_queue", "on-demand"),
        ("job_definition", "scoring"),
    ] {
        definition = definition.replace(&format!("${{{name}}}"), value);
    }
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = sfn
        .create_state_machine()
        .name(unique("scoring"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/stepscore-sfn")
        .send()
        .await
        .unwrap();
    let executions = SfnExecutions::from_client(sfn, machine.state_machine_arn());
    World {
        store,
        table,
        executions,
        events: EventBridgeNotifier::new(&config, "default"),
        bucket,
    }
}

pub(super) fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri::new(bucket, key).unwrap()
}

/// The S3 ObjectCreated notification of the upload `put` to `key`, as S3 sends it (key
/// form-encoded; a version id only from a versioned bucket).
fn s3_event(bucket: &str, encoded_key: &str, put: &ObjectMeta) -> S3Event {
    let mut object = json!({"key": encoded_key, "size": put.size, "eTag": put.etag.as_deref().unwrap().trim_matches('"'), "sequencer": "0055AED6DCD90281E5"});
    if let Some(version_id) = &put.version_id {
        object["versionId"] = json!(version_id);
    }
    serde_json::from_value(json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T06:15:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "stepscore-jobs",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": object}
    }]}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uploaded_config_is_admitted_once_scored_on_batch_and_finalized() {
    let w = world().await;
    let batch = batch_world().await;
    let b = &w.bucket;
    w.store
        .put_bytes(&uri(b, "models/churn.json"), b"{\"model\": true}".to_vec())
        .await
        .unwrap();
    w.store
        .put_bytes(
            &uri(b, "in/2026-11-23.csv"),
            b"id,x\n1,0.5\n2,0.7\n".to_vec(),
        )
        .await
        .unwrap();
    let config = json!({"name": "daily", "model": format!("s3://{b}/models/churn.json"), "input": format!("s3://{b}/in/"),
                        "output": format!("s3://{b}/out/daily/"), "capacity": "on-demand", "shards": 2});
    let key = "jobs/daily run.json";
    let put = w
        .store
        .put_bytes(&uri(b, key), serde_json::to_vec(&config).unwrap())
        .await
        .unwrap();
    let event = s3_event(b, "jobs/daily+run.json", &put);

    // two deliveries of one event at once: one record, one execution
    let clock = SystemClock;
    let ports = AdmitPorts {
        store: &w.store,
        table: &w.table,
        executions: &w.executions,
        clock: &clock,
        jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
    };
    let (first, second) = tokio::join!(admit(ports, &event), admit(ports, &event));
    let outcomes: Vec<Admitted> = first.unwrap().into_iter().chain(second.unwrap()).collect();
    let job_id = match &outcomes[0] {
        Admitted::Started { job_id, .. } | Admitted::Duplicate { job_id, .. } => job_id.clone(),
        other => panic!("the config must be admitted: {other:?}"),
    };
    assert!(outcomes.iter().all(|o| matches!(o, Admitted::Started { job_id: j, .. } | Admitted::Duplicate { job_id: j, .. } if *j == job_id)), "{outcomes:?}");
    let id = JobId::parse(&job_id).unwrap();
    let record = w.table.get(&id).await.unwrap().expect("one record");
    assert_eq!(
        (record.status, record.source.as_str()),
        (JobStatus::Pending, format!("s3://{b}/{key}").as_str())
    );
    let sfn = w.executions.client();
    let listed = sfn
        .list_executions()
        .state_machine_arn(w.executions.state_machine_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.executions().len(),
        1,
        "one execution for two deliveries"
    );
    let execution = sfn
        .describe_execution()
        .execution_arn(listed.executions()[0].execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        execution.name(),
        Some(job_id.as_str()),
        "the execution is named by the job id"
    );
    let execution_input: Value = serde_json::from_str(execution.input().unwrap()).unwrap();

    // the state machine's tasks, fed what its Parameters would pass
    let job = register(
        &w.table,
        &clock,
        &json!({"input": execution_input, "execution_name": job_id}),
    )
    .await
    .unwrap();
    let job = serde_json::to_value(job).unwrap();
    let submit_input = json!({"job": job, "spot_queue": batch.queue, "on_demand_queue": batch.queue, "job_definition": batch.definition});
    let job = serde_json::to_value(
        submit(&batch.client, &w.table, &clock, &submit_input)
            .await
            .unwrap(),
    )
    .unwrap();
    let after_submit = w.table.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (after_submit.status, after_submit.attempts.len()),
        (JobStatus::Submitted, 1)
    );
    let batch_job_id = after_submit.attempts[0].batch_job_id.clone();
    let described = batch
        .client
        .client()
        .describe_jobs()
        .jobs(&batch_job_id)
        .send()
        .await
        .unwrap();
    let detail = &described.jobs()[0];
    assert_eq!(
        detail.array_properties().and_then(|a| a.size()),
        Some(2),
        "two shards run as one array job"
    );
    let env: Vec<(&str, &str)> = detail
        .container()
        .map(|c| {
            c.environment()
                .iter()
                .map(|kv| (kv.name().unwrap_or(""), kv.value().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        env.contains(&("STEPSCORE_JOB_ID", job_id.as_str()))
            && env.contains(&("STEPSCORE_SHARDS", "2")),
        "{env:?}"
    );

    // the scorer's progress reports, one per shard: one of this attempt, one left by another
    for (shard, batch_id) in [
        (0u32, format!("{batch_job_id}:0")),
        (1, "an-earlier-attempt:1".to_owned()),
    ] {
        let report = json!({"version": 1, "job_id": job_id, "shard_index": shard, "shard_count": 2,
            "rows_read": 10, "rows_scored": 9, "rows_rejected": 1, "bytes_read": 100, "bytes_total": 400,
            "seconds": 2.5, "done": false, "batch_job_id": batch_id});
        w.store
            .put_bytes(
                &uri(b, &format!("out/daily/progress-{shard}.json")),
                serde_json::to_vec(&report).unwrap(),
            )
            .await
            .unwrap();
    }
    let checked = serde_json::to_value(
        check(
            &batch.client,
            &w.store,
            &w.table,
            &clock,
            &json!({"job": job}),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(checked["check"]["status"], "SUCCEEDED", "{checked}");
    let live = w
        .table
        .get(&id)
        .await
        .unwrap()
        .unwrap()
        .live
        .expect("check copied the progress");
    assert_eq!(
        (
            live.attempt,
            live.shards_reporting,
            live.rows_scored,
            live.bytes_read
        ),
        (1, 1, 9, 100),
        "only this attempt's report counts: {live:?}"
    );

    // the scorer's manifests, one per shard
    for shard in 0..2u32 {
        let manifest = ScoringManifest {
            version: 1,
            job_id: job_id.clone(),
            shard_index: shard,
            shard_count: 2,
            rows_read: 10 + u64::from(shard),
            rows_scored: 9 + u64::from(shard),
            rows_rejected: 1,
            duration_seconds: 2.0 + f64::from(shard),
            model: ModelIdentity {
                uri: format!("s3://{b}/models/churn.json"),
                algorithm: "random-forest-classifier".into(),
                format_version: 1,
            },
            inputs: vec![InputIdentity {
                uri: format!("s3://{b}/in/2026-11-23.csv"),
                size: 18,
                etag: None,
                range: None,
            }],
            output: format!("s3://{b}/out/daily/part-{shard}.csv"),
            rejects: None,
        };
        w.store
            .put_bytes(
                &uri(b, &format!("out/daily/manifest-{shard}.json")),
                serde_json::to_vec(&manifest).unwrap(),
            )
            .await
            .unwrap();
    }
    let finalize_input = json!({"outcome": "SUCCEEDED", "state": {"job": checked["job"], "check": checked["check"]}});
    let done = finalize(&w.store, &w.table, &w.events, &clock, &finalize_input)
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    let record = w.table.get(&id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(
        record.notification,
        Some(stepscore_core::record::Notification::Sent),
        "the status change was put on the default bus"
    );
    let m = record.metrics.expect("metrics from the manifests");
    assert_eq!(
        (m.rows_read, m.rows_scored, m.rows_rejected, m.parts),
        (21, 19, 2, 2)
    );

    // a late duplicate of the event after the end changes nothing
    let again = admit(ports, &event).await.unwrap();
    assert!(matches!(&again[0], Admitted::Duplicate { .. }), "{again:?}");
    assert_eq!(
        w.table.get(&id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
}

#[tokio::test]
async fn a_bad_config_uploaded_to_s3_is_a_visible_failed_record() {
    let w = world().await;
    let b = &w.bucket;
    let put = w
        .store
        .put_bytes(
            &uri(b, "jobs/broken.json"),
            br#"{"name": "broken", "shards": "four"}"#.to_vec(),
        )
        .await
        .unwrap();
    let clock = SystemClock;
    let ports = AdmitPorts {
        store: &w.store,
        table: &w.table,
        executions: &w.executions,
        clock: &clock,
        jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
    };
    let out = admit(ports, &s3_event(b, "jobs/broken.json", &put))
        .await
        .unwrap();
    let Admitted::Rejected { job_id, reason } = &out[0] else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("shards") && reason.contains("model"),
        "every problem at once: {reason}"
    );
    let record = w
        .table
        .get(&JobId::parse(job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let listed = w
        .executions
        .client()
        .list_executions()
        .state_machine_arn(w.executions.state_machine_arn())
        .send()
        .await
        .unwrap();
    assert!(
        listed.executions().is_empty(),
        "no execution for a rejected config"
    );
}

/// Uploads the model and input the configs of these tests name.
async fn seed(w: &World) {
    let b = &w.bucket;
    w.store
        .put_bytes(&uri(b, "models/churn.json"), b"{\"model\": true}".to_vec())
        .await
        .unwrap();
    w.store
        .put_bytes(&uri(b, "in/2026-11-23.csv"), b"id,x\n1,0.5\n".to_vec())
        .await
        .unwrap();
}

fn named_config(b: &str, name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"name": name, "model": format!("s3://{b}/models/churn.json"), "input": format!("s3://{b}/in/"),
                               "output": format!("s3://{b}/out/{name}/"), "capacity": "on-demand"}))
    .unwrap()
}

#[tokio::test]
async fn a_config_overwritten_in_a_versioned_bucket_before_admit_reads_it_runs_the_announced_version()
 {
    let w = versioned_world().await;
    seed(&w).await;
    let b = &w.bucket;
    let key = uri(b, "jobs/daily.json");
    let first = w
        .store
        .put_bytes(&key, named_config(b, "daily"))
        .await
        .unwrap();
    w.store
        .put_bytes(&key, named_config(b, "daily-fixed"))
        .await
        .unwrap();
    let clock = SystemClock;
    let ports = AdmitPorts {
        store: &w.store,
        table: &w.table,
        executions: &w.executions,
        clock: &clock,
        jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
    };
    let out = admit(ports, &s3_event(b, "jobs/daily.json", &first))
        .await
        .unwrap();
    let id = JobId::for_put(
        b,
        "jobs/daily.json",
        first.version_id.as_deref(),
        first.etag.as_deref(),
        Some("0055AED6DCD90281E5"),
    );
    assert!(
        matches!(&out[0], Admitted::Started { job_id, .. } if *job_id == id.to_string()),
        "{out:?}"
    );
    let record = w.table.get(&id).await.unwrap().unwrap();
    assert_eq!(record.config["name"], json!("daily"), "{record:?}");
    let execution = w
        .executions
        .client()
        .describe_execution()
        .execution_arn(record.execution_arn.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(
        input["config"]["name"],
        json!("daily"),
        "the execution runs the first upload's bytes under the first upload's id"
    );
}

#[tokio::test]
async fn a_config_overwritten_in_an_unversioned_bucket_before_admit_reads_it_is_a_failed_record() {
    let w = world().await;
    seed(&w).await;
    let b = &w.bucket;
    let key = uri(b, "jobs/daily.json");
    let first = w
        .store
        .put_bytes(&key, named_config(b, "daily"))
        .await
        .unwrap();
    let second = w
        .store
        .put_bytes(&key, named_config(b, "daily-fixed"))
        .await
        .unwrap();
    let clock = SystemClock;
    let ports = AdmitPorts {
        store: &w.store,
        table: &w.table,
        executions: &w.executions,
        clock: &clock,
        jobs_prefix: stepscore_handlers::DEFAULT_JOBS_PREFIX,
    };
    let out = admit(ports, &s3_event(b, "jobs/daily.json", &first))
        .await
        .unwrap();
    let Admitted::Rejected { job_id, reason } = &out[0] else {
        panic!("{out:?}")
    };
    for expected in [
        format!("s3://{b}/jobs/daily.json"),
        format!("ETag {}", first.etag.as_deref().unwrap()),
        "overwritten".into(),
        format!("now {}", second.etag.as_deref().unwrap()),
    ] {
        assert!(reason.contains(&expected), "'{reason}' lacks '{expected}'");
    }
    let record = w
        .table
        .get(&JobId::parse(job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.status, record.failure_reason.as_deref()),
        (JobStatus::Failed, Some(reason.as_str()))
    );
    let listed = w
        .executions
        .client()
        .list_executions()
        .state_machine_arn(w.executions.state_machine_arn())
        .send()
        .await
        .unwrap();
    assert!(
        listed.executions().is_empty(),
        "the newer bytes never run under the first upload's id"
    );
}
