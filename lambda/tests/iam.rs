//! IAM proven by execution: the pipeline's Lambda code runs against moto over the AWS adapters,
//! each component with its own SDK config, and
//!
//! 1. every AWS call each component made (recorded by `stepscore_aws::calllog` as IAM action,
//!    resource ARN and condition keys) is evaluated against that principal's statements in
//!    `iam/policies.json`, rendered with this deployment's values as Terraform renders them;
//! 2. the same pass runs again with moto enforcing IAM: one IAM user per component holding only
//!    its rendered policy (non-S3 resources widened to `*`, see `MotoServer::enforceable`),
//!    each component signing with its own user's key.
//!
//! Job configs are admitted under a non-default jobs prefix, as `STEPSCORE_JOBS_PREFIX` (from
//! Terraform's `jobs_prefix`) would set it. The scoring container's calls are proven the same
//! way in `batch-job/tests/batch.rs`, where it runs as a child process.

use std::collections::BTreeMap;

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_batch::types::{
    CeState, CeType, ComputeEnvironmentOrder, ContainerProperties, JobDefinitionType, JqState,
    ResourceRequirement, ResourceType,
};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde_json::json;
use stepscore_aws::moto::MotoServer;
use stepscore_aws::policy::{PolicyFile, app_name_of, check_calls};
use stepscore_aws::{
    BatchClient, DynamoTable, EventBridgeNotifier, S3Store, SdkConfig, SfnExecutions, SqsQueue,
};
use stepscore_core::manifest::{InputIdentity, ModelIdentity, ScoringManifest};
use stepscore_core::ports::{
    Executions, JobTable, MessageQueue, ObjectMeta, ObjectStore, SystemClock,
};
use stepscore_core::record::Notification;
use stepscore_core::status::JobStatus;
use stepscore_core::{JobId, ObjectUri};
use stepscore_handlers::admit::{AdmitPorts, Admitted, admit};
use stepscore_handlers::intake::intake as intake_batch;
use stepscore_handlers::tasks::{check, finalize, register, submit};
use stepscore_handlers::{FrontDoorPorts, IntakePorts, JobsRequest, handle_jobs_request};
use stepscore_lambda::predict::{PredictEnv, PredictSettings, answer, service};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
/// Not Terraform's default `jobs/`: the prefix must reach admit from its configuration.
const JOBS_PREFIX: &str = "incoming/configs/";

/// The components this pass runs: the pipeline's Lambda functions, the predict function and the
/// CLI's `stop --aws` (the state machine and Scheduler roles are used by AWS services, not by our
/// code).
const COMPONENTS: [&str; 11] = [
    "admit", "register", "submit", "check", "finalize", "schedule", "cleanup", "predict", "jobs",
    "intake", "cli",
];

/// The one artifact the predict function serves: outside `models/`'s wildcard grants of the
/// others, as any key a deployment names.
const PREDICT_MODEL_KEY: &str = "online/churn.json";

/// The AWS side Terraform would create, here in moto.
struct Deployment {
    name: String,
    bucket: String,
    table: String,
    state_machine_arn: String,
    state_machine_name: String,
    queue: String,
    definition: String,
    /// The SQS job queue's and its dead-letter queue's URLs.
    job_queue_url: String,
    job_dlq_url: String,
}

impl Deployment {
    /// The placeholder values Terraform passes to `templatefile` for this deployment.
    fn values(&self) -> BTreeMap<String, String> {
        let arn =
            |service: &str, rest: &str| format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}");
        [
            ("partition", "aws".to_owned()),
            ("region", REGION.into()),
            ("account_id", ACCOUNT.into()),
            ("bucket_arn", format!("arn:aws:s3:::{}", self.bucket)),
            ("jobs_prefix", JOBS_PREFIX.into()),
            ("models_prefix", "models/".into()),
            ("inputs_prefix", "inputs/".into()),
            ("outputs_prefix", "outputs/".into()),
            (
                "table_arn",
                arn("dynamodb", &format!("table/{}", self.table)),
            ),
            ("state_machine_arn", self.state_machine_arn.clone()),
            ("state_machine_name", self.state_machine_name.clone()),
            (
                "spot_job_queue_arn",
                arn("batch", &format!("job-queue/{}", self.queue)),
            ),
            (
                "on_demand_job_queue_arn",
                arn("batch", &format!("job-queue/{}", self.queue)),
            ),
            (
                "job_definition_arn",
                arn("batch", &format!("job-definition/{}", self.definition)),
            ),
            (
                "function_arn_prefix",
                arn("lambda", &format!("function:{}-", self.name)),
            ),
            (
                "scheduler_dlq_arn",
                arn("sqs", &format!("{}-scheduler-dlq", self.name)),
            ),
            ("event_bus_arn", arn("events", "event-bus/default")),
            (
                "job_queue_arn",
                stepscore_aws::calllog::queue_arn("aws", REGION, &self.job_queue_url),
            ),
            (
                "job_dlq_arn",
                stepscore_aws::calllog::queue_arn("aws", REGION, &self.job_dlq_url),
            ),
            (
                "predict_model_arn",
                format!("arn:aws:s3:::{}/{PREDICT_MODEL_KEY}", self.bucket),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates the bucket, table, state machine and Batch queue with `admin`.
async fn deploy(server: &MotoServer, admin: &SdkConfig) -> Deployment {
    let name = unique("iam");
    let bucket = unique("iam-bucket");
    let s3 = S3Store::new(admin);
    s3.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    // versioned as Terraform makes it: admit then reads a config by its version id
    s3.client()
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let table = format!("{name}-jobs");
    DynamoTable::new(admin, &table)
        .create_table()
        .await
        .unwrap();
    let mut definition = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../state-machines/scoring-pipeline.asl.json"
    ))
    .unwrap();
    definition = definition.replace("${partition}", "aws");
    for function in ["register", "submit", "check", "finalize"] {
        definition = definition.replace(
            &format!("${{{function}_function_arn}}"),
            &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}-{function}"),
        );
    }
    let queue = format!("{name}-spot");
    let job_definition = format!("{name}-score");
    for (placeholder, value) in [
        ("spot_job_queue", &queue),
        ("on_demand_job_queue", &queue),
        ("job_definition", &job_definition),
    ] {
        definition = definition.replace(&format!("${{{placeholder}}}"), value);
    }
    let state_machine_name = format!("{name}-scoring-pipeline");
    let machine = aws_sdk_sfn::Client::new(admin)
        .create_state_machine()
        .name(&state_machine_name)
        .definition(definition)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}-state-machine"))
        .send()
        .await
        .unwrap();

    server
        .configure(&json!({"batch": {"use_docker": false}}))
        .unwrap();
    let role = server.create_role(&format!("{name}-batch")).unwrap();
    let batch = aws_sdk_batch::Client::new(admin);
    let environment = format!("{name}-ce");
    batch
        .create_compute_environment()
        .compute_environment_name(&environment)
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role(&role)
        .send()
        .await
        .unwrap();
    batch
        .create_job_queue()
        .job_queue_name(&queue)
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(&environment)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let requirement = |kind, value: &str| {
        ResourceRequirement::builder()
            .r#type(kind)
            .value(value)
            .build()
    };
    batch
        .register_job_definition()
        .job_definition_name(&job_definition)
        .r#type(JobDefinitionType::Container)
        .container_properties(
            ContainerProperties::builder()
                .image("stepscore-batch:latest")
                .resource_requirements(requirement(ResourceType::Vcpu, "1"))
                .resource_requirements(requirement(ResourceType::Memory, "2048"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (job_queue_url, job_dlq_url) = stepscore_aws::fixtures::job_queues(admin, &name, 5).await;
    Deployment {
        name,
        bucket,
        table,
        state_machine_arn: machine.state_machine_arn().to_owned(),
        state_machine_name,
        queue,
        definition: job_definition,
        job_queue_url,
        job_dlq_url,
    }
}

fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri::new(bucket, key).unwrap()
}

/// The S3 ObjectCreated notification of the upload `put` to `key`, as a versioned bucket
/// sends it (key form-encoded).
fn s3_event(bucket: &str, encoded_key: &str, put: &ObjectMeta) -> S3Event {
    serde_json::from_value(json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-11-23T06:15:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "stepscore-jobs",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded_key, "size": put.size, "eTag": put.etag.as_deref().unwrap().trim_matches('"'),
                          "versionId": put.version_id.as_deref().expect("the bucket is versioned"), "sequencer": "0055AED6DCD90281E5"}}
    }]}))
    .unwrap()
}

/// Runs admit (the same event twice at once), schedule, register, submit, check and finalize,
/// each component over `configs[component]`; the test's own setup and assertions use `admin`.
async fn run_pipeline(d: &Deployment, admin: &SdkConfig, configs: &BTreeMap<&str, SdkConfig>) {
    let b = &d.bucket;
    let setup = S3Store::new(admin);
    let records = DynamoTable::new(admin, &d.table);
    setup
        .put_bytes(&uri(b, "models/churn.json"), b"{\"model\": true}".to_vec())
        .await
        .unwrap();
    setup
        .put_bytes(
            &uri(b, "inputs/2026-11-23/part-0.csv"),
            b"id,x\n1,0.5\n2,0.7\n".to_vec(),
        )
        .await
        .unwrap();
    let config = json!({"name": "daily", "model": format!("s3://{b}/models/churn.json"), "input": format!("s3://{b}/inputs/2026-11-23/"),
                        "output": format!("s3://{b}/outputs/daily/"), "capacity": "on-demand", "shards": 2});
    let key = format!("{JOBS_PREFIX}daily run.json");
    let put = setup
        .put_bytes(&uri(b, &key), serde_json::to_vec(&config).unwrap())
        .await
        .unwrap();
    let event = s3_event(b, &format!("{JOBS_PREFIX}daily+run.json"), &put);

    let clock = SystemClock;
    let admit_store = S3Store::new(&configs["admit"]);
    let admit_table = DynamoTable::new(&configs["admit"], &d.table);
    let admit_executions = SfnExecutions::new(&configs["admit"], &d.state_machine_arn);
    let ports = AdmitPorts {
        store: &admit_store,
        table: &admit_table,
        executions: &admit_executions,
        clock: &clock,
        jobs_prefix: JOBS_PREFIX,
    };
    let (first, second) = tokio::join!(admit(ports, &event), admit(ports, &event));
    let outcomes: Vec<Admitted> = first.unwrap().into_iter().chain(second.unwrap()).collect();
    let job_id = match &outcomes[0] {
        Admitted::Started { job_id, .. } | Admitted::Duplicate { job_id, .. } => job_id.clone(),
        other => panic!("the config under {JOBS_PREFIX} must be admitted: {other:?}"),
    };
    let id = JobId::parse(&job_id).unwrap();
    let record = records.get(&id).await.unwrap().expect("one record");
    assert_eq!(
        (record.status, record.failure_reason),
        (JobStatus::Pending, None)
    );

    // `stepscore stop --aws`: the execution admit started, and the continuation it would have
    let stopped = stepscore_handlers::stop_job(
        &SfnExecutions::new(&configs["cli"], &d.state_machine_arn),
        &DynamoTable::new(&configs["cli"], &d.table),
        &id,
        "stopped by the IAM test",
    )
    .await
    .unwrap();
    assert_eq!(stopped.stopped, std::slice::from_ref(&job_id));

    // a scheduled run of the same model and input
    let schedule_store = S3Store::new(&configs["schedule"]);
    let schedule_table = DynamoTable::new(&configs["schedule"], &d.table);
    let schedule_executions = SfnExecutions::new(&configs["schedule"], &d.state_machine_arn);
    let scheduled = stepscore_handlers::schedule(
        AdmitPorts {
            store: &schedule_store,
            table: &schedule_table,
            executions: &schedule_executions,
            clock: &clock,
            jobs_prefix: JOBS_PREFIX,
        },
        &json!({"schedule": "nightly", "scheduled_time": "2026-11-22T02:00:00Z", "template": {
            "name": "nightly", "model": format!("s3://{b}/models/churn.json"), "input": format!("s3://{b}/inputs/2026-11-23/"),
            "output": format!("s3://{b}/outputs/nightly/{{{{date}}}}/")}}),
    )
    .await
    .unwrap();
    let Admitted::Started {
        job_id: scheduled_id,
        ..
    } = scheduled
    else {
        panic!("the scheduled run must start: {scheduled:?}")
    };

    let execution_input =
        json!({"job_id": job_id, "config": config, "source": format!("s3://{b}/{key}")});
    let job = register(
        &DynamoTable::new(&configs["register"], &d.table),
        &clock,
        &json!({"input": execution_input, "execution_name": job_id}),
    )
    .await
    .unwrap();
    let submit_input = json!({"job": job, "spot_queue": d.queue, "on_demand_queue": d.queue, "job_definition": d.definition});
    let job = serde_json::to_value(
        submit(
            &BatchClient::new(&configs["submit"]),
            &DynamoTable::new(&configs["submit"], &d.table),
            &clock,
            &submit_input,
        )
        .await
        .unwrap(),
    )
    .unwrap();
    // the scorer's progress reports, which check copies into the record
    for shard in 0..2u32 {
        let report = json!({"version": 1, "job_id": job_id, "shard_index": shard, "shard_count": 2,
            "rows_read": 1, "rows_scored": 1, "rows_rejected": 0, "bytes_read": 9, "bytes_total": 18,
            "seconds": 1.0, "done": true});
        setup
            .put_bytes(
                &uri(b, &format!("outputs/daily/progress-{shard}.json")),
                serde_json::to_vec(&report).unwrap(),
            )
            .await
            .unwrap();
    }
    let checked = serde_json::to_value(
        check(
            &BatchClient::new(&configs["check"]),
            &S3Store::new(&configs["check"]),
            &DynamoTable::new(&configs["check"], &d.table),
            &clock,
            &json!({"job": job}),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(checked["check"]["status"], "SUCCEEDED", "{checked}");
    let live = records.get(&id).await.unwrap().unwrap().live;
    assert_eq!(
        live.map(|l| (l.shards_reporting, l.rows_scored)),
        Some((2, 2)),
        "check read both progress reports"
    );

    // the scorer's manifests (the scoring container's own calls are proven in batch-job)
    for shard in 0..2u32 {
        let manifest = ScoringManifest {
            version: 1,
            job_id: job_id.clone(),
            shard_index: shard,
            shard_count: 2,
            rows_read: 1,
            rows_scored: 1,
            rows_rejected: 0,
            duration_seconds: 1.0,
            model: ModelIdentity {
                uri: format!("s3://{b}/models/churn.json"),
                algorithm: "random-forest-classifier".into(),
                format_version: 1,
            },
            inputs: vec![InputIdentity {
                uri: format!("s3://{b}/inputs/2026-11-23/part-0.csv"),
                size: 18,
                etag: None,
                range: None,
            }],
            output: format!("s3://{b}/outputs/daily/part-{shard}.csv"),
            rejects: None,
        };
        setup
            .put_bytes(
                &uri(b, &format!("outputs/daily/manifest-{shard}.json")),
                serde_json::to_vec(&manifest).unwrap(),
            )
            .await
            .unwrap();
    }
    let finalize_input = json!({"outcome": "SUCCEEDED", "state": {"job": checked["job"], "check": checked["check"]}});
    let done = finalize(
        &S3Store::new(&configs["finalize"]),
        &DynamoTable::new(&configs["finalize"], &d.table),
        &EventBridgeNotifier::new(&configs["finalize"], "default"),
        &clock,
        &finalize_input,
    )
    .await
    .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    let record = records.get(&id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.metrics.map(|m| m.parts), Some(2));
    assert_eq!(
        record.notification,
        Some(Notification::Sent),
        "finalize put the job's status change on the bus"
    );

    // the stopped execution's end reaches cleanup: it terminates the attempt; the record,
    // already final, stays as it is
    let ended = json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
        "account": ACCOUNT, "time": "2026-11-23T21:02:11Z", "region": REGION,
        "resources": [SfnExecutions::new(admin, &d.state_machine_arn).execution_arn(&job_id)],
        "detail": {"executionArn": SfnExecutions::new(admin, &d.state_machine_arn).execution_arn(&job_id),
                   "stateMachineArn": d.state_machine_arn, "name": job_id, "status": "ABORTED",
                   "input": execution_input.to_string(), "inputDetails": {"included": true},
                   "error": "stepscore.Stopped", "cause": "stopped by the IAM test"}
    });
    let cleaned = stepscore_handlers::cleanup(
        &BatchClient::new(&configs["cleanup"]),
        &DynamoTable::new(&configs["cleanup"], &d.table),
        &EventBridgeNotifier::new(&configs["cleanup"], "default"),
        &clock,
        &ended,
    )
    .await
    .unwrap();
    assert_eq!(cleaned.terminated.len(), 1);
    assert_eq!(cleaned.status, Some(JobStatus::Succeeded));

    // the scheduled run's execution is stopped before it submitted anything: cleanup fails
    // its record and publishes that
    let stopped = json!({
        "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
        "detail": {"executionArn": SfnExecutions::new(admin, &d.state_machine_arn).execution_arn(&scheduled_id),
                   "name": scheduled_id, "status": "ABORTED"}
    });
    let cleaned = stepscore_handlers::cleanup(
        &BatchClient::new(&configs["cleanup"]),
        &DynamoTable::new(&configs["cleanup"], &d.table),
        &EventBridgeNotifier::new(&configs["cleanup"], "default"),
        &clock,
        &stopped,
    )
    .await
    .unwrap();
    assert_eq!(cleaned.status, Some(JobStatus::Failed));
    let scheduled = records
        .get(&JobId::parse(&scheduled_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        scheduled.notification,
        Some(Notification::Sent),
        "cleanup put the job's status change on the bus"
    );

    predict(d, admin, &configs["predict"]).await;
    jobs_over_http(d, &configs["jobs"], &configs["intake"]).await;
}

/// The job front door and its queue's consumer: `POST /jobs` and `GET /jobs/{id}` answered by
/// the jobs function; the event source mapping's receive and delete, made with the intake
/// function's role as Lambda makes them; intake admitting one submission and dead-lettering a
/// message that is not one.
async fn jobs_over_http(d: &Deployment, jobs: &SdkConfig, intake: &SdkConfig) {
    let b = &d.bucket;
    let clock = SystemClock;
    let front = FrontDoorPorts {
        store: &S3Store::new(jobs),
        table: &DynamoTable::new(jobs, &d.table),
        queue: &SqsQueue::new(jobs, &d.job_queue_url),
        jobs_prefix: JOBS_PREFIX,
    };
    let config = json!({"name": "over-http", "model": format!("s3://{b}/models/churn.json"), "input": format!("s3://{b}/inputs/2026-11-23/"),
                        "output": format!("s3://{b}/outputs/over-http/"), "capacity": "on-demand"});
    let reply = handle_jobs_request(
        front,
        JobsRequest {
            method: "POST",
            path: "/jobs",
            body: &serde_json::to_vec(&config).unwrap(),
            request_id: "iam-request-1",
            idempotency_key: None,
        },
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();

    let poller = SqsQueue::new(intake, &d.job_queue_url);
    // a message that is not a submission (sent with the jobs role, which may send here)
    let garbage = SqsQueue::new(jobs, &d.job_queue_url);
    garbage.send("not a submission", &[]).await.unwrap();
    let mut records = Vec::new();
    while records.len() < 2 {
        let out = poller
            .client()
            .receive_message()
            .queue_url(&d.job_queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        assert!(
            !out.messages().is_empty(),
            "the queue holds two messages: {records:?}"
        );
        let queue_arn = stepscore_aws::calllog::queue_arn("aws", REGION, &d.job_queue_url);
        for m in out.messages() {
            records.push(stepscore_aws::fixtures::sqs_event_record(
                m, &queue_arn, REGION,
            ));
        }
    }
    let event: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_value(json!({ "Records": records })).unwrap();
    let dead_letters = SqsQueue::new(intake, &d.job_dlq_url);
    let admit_store = S3Store::new(intake);
    let admit_table = DynamoTable::new(intake, &d.table);
    let admit_executions = SfnExecutions::new(intake, &d.state_machine_arn);
    let ports = IntakePorts {
        admit: AdmitPorts {
            store: &admit_store,
            table: &admit_table,
            executions: &admit_executions,
            clock: &clock,
            jobs_prefix: JOBS_PREFIX,
        },
        dead_letters: &dead_letters,
        max_receives: 5,
    };
    let response = intake_batch(ports, &event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    for m in &event.records {
        poller
            .client()
            .delete_message()
            .queue_url(&d.job_queue_url)
            .receipt_handle(m.receipt_handle.as_deref().unwrap())
            .send()
            .await
            .unwrap();
    }

    let reply = handle_jobs_request(
        front,
        JobsRequest {
            method: "GET",
            path: &format!("/jobs/{job_id}"),
            body: b"",
            request_id: "iam-request-2",
            idempotency_key: None,
        },
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "PENDING");
}

/// The predict function as its binary runs it: the artifact read at init, one API Gateway event
/// answered, then a republished artifact found by its ETag (HeadObject) and read again.
async fn predict(d: &Deployment, admin: &SdkConfig, config: &SdkConfig) {
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let setup = S3Store::new(admin);
    let model = uri(&d.bucket, PREDICT_MODEL_KEY);
    let artifact = fixture("churn.json");
    setup.put_bytes(&model, artifact.clone()).await.unwrap();
    let settings = PredictSettings::from_env(PredictEnv {
        model_uri: Some(model.to_string()),
        check_seconds: Some("0".into()),
        ..PredictEnv::default()
    })
    .unwrap();
    let service = service(&settings, std::sync::Arc::new(S3Store::new(config)))
        .await
        .unwrap();
    let event: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_slice(&fixture("apigw/predict-ok.json")).unwrap();
    let first = answer(&service, &event).await;
    assert_eq!(first.status_code, 200, "{first:?}");
    let republished = String::from_utf8(artifact)
        .unwrap()
        .replace("\"seed\":42", "\"seed\":7");
    let put = setup
        .put_bytes(&model, republished.into_bytes())
        .await
        .unwrap();
    let second = answer(&service, &event).await;
    assert_eq!(second.status_code, 200, "{second:?}");
    let version = &service.model().current().version;
    assert_eq!(
        Some(version.as_str()),
        put.etag.as_deref().map(stepscore_core::ports::unquoted),
        "the predict function serves the republished artifact"
    );
}

fn testing_credentials() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "moto")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_aws_call_of_each_component_is_allowed_by_its_policy() {
    let server = stepscore_aws::moto::shared();
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("calls.jsonl");
    stepscore_aws::calllog::log_to(&log);
    let admin = server.sdk_config().await;
    let d = deploy(server, &admin).await;
    let mut configs = BTreeMap::new();
    for component in COMPONENTS {
        let config = server
            .sdk_config_as(testing_credentials(), Some(&app_name_of(component)))
            .await;
        configs.insert(component, config);
    }
    run_pipeline(&d, &admin, &configs).await;

    let calls = stepscore_aws::calllog::read(&log).unwrap();
    let file = PolicyFile::bundled().unwrap();
    let (denials, allowed) = check_calls(&file, &d.values(), &calls).unwrap();
    assert!(
        denials.is_empty(),
        "calls iam/policies.json does not allow:\n{}",
        denials.join("\n")
    );
    // admit reads the config by the version id its event names, which IAM authorises as
    // s3:GetObjectVersion (s3:GetObject does not grant it)
    let config_version = (
        "admit".to_owned(),
        "s3:GetObjectVersion".to_owned(),
        format!("arn:aws:s3:::{}/{JOBS_PREFIX}daily run.json", d.bucket),
    );
    assert!(
        allowed.contains(&config_version),
        "admit's versioned read of its config was not evaluated: {allowed:?}"
    );
    for component in COMPONENTS {
        assert!(
            allowed.iter().any(|(p, _, _)| p == component),
            "no call of {component} was recorded: is its SDK config named {}?",
            app_name_of(component)
        );
    }
    eprintln!(
        "{} distinct (principal, action, resource) calls evaluated and allowed:",
        allowed.len()
    );
    for (principal, action, resource) in &allowed {
        eprintln!("  {principal} {action} {resource}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_runs_with_moto_enforcing_one_iam_user_per_component() {
    // Setup runs unauthenticated (moto's INITIAL_NO_AUTH_ACTION_COUNT); then enforce_iam resets
    // the count to 0 and every request must be signed and allowed.
    let server = MotoServer::start_own(&[("INITIAL_NO_AUTH_ACTION_COUNT", "100000")]).unwrap();
    let setup = server.sdk_config().await;
    let d = deploy(&server, &setup).await;
    let file = PolicyFile::bundled().unwrap();
    let admin_key = server
        .create_user(
            &format!("{}-admin", d.name),
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
        .unwrap();
    let mut configs = BTreeMap::new();
    for component in COMPONENTS {
        let policy = MotoServer::enforceable(&file.document(component, &d.values()).unwrap());
        let key = server
            .create_user(&format!("{}-{component}", d.name), &policy)
            .unwrap();
        // unnamed: the call log of the other test evaluates named components only
        configs.insert(component, server.sdk_config_as(key, None).await);
    }
    let admin = server.sdk_config_as(admin_key, None).await;
    server.enforce_iam().unwrap();

    // moto enforces: an unknown key is refused
    let refused = S3Store::new(&server.sdk_config().await)
        .get_bytes(&uri(&d.bucket, "models/churn.json"), 1024)
        .await;
    assert!(
        refused.is_err(),
        "moto must refuse the unknown key 'testing'"
    );

    run_pipeline(&d, &admin, &configs).await;
}

#[test]
fn a_component_without_its_grants_is_refused_by_moto() {
    // The enforcing server is a working oracle: the register principal may not read objects.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = MotoServer::start_own(&[("INITIAL_NO_AUTH_ACTION_COUNT", "100000")]).unwrap();
        let setup = server.sdk_config().await;
        let d = deploy(&server, &setup).await;
        S3Store::new(&setup)
            .put_bytes(&uri(&d.bucket, "models/churn.json"), b"{}".to_vec())
            .await
            .unwrap();
        let file = PolicyFile::bundled().unwrap();
        let key = server
            .create_user(
                &format!("{}-register", d.name),
                &MotoServer::enforceable(&file.document("register", &d.values()).unwrap()),
            )
            .unwrap();
        let register = server.sdk_config_as(key, None).await;
        let key = server
            .create_user(
                &format!("{}-predict", d.name),
                &MotoServer::enforceable(&file.document("predict", &d.values()).unwrap()),
            )
            .unwrap();
        let predict = server.sdk_config_as(key, None).await;
        S3Store::new(&setup)
            .put_bytes(&uri(&d.bucket, PREDICT_MODEL_KEY), b"{}".to_vec())
            .await
            .unwrap();
        server.enforce_iam().unwrap();
        // the predict principal reads its one artifact and no other object
        let predict = S3Store::new(&predict);
        predict
            .get_bytes(&uri(&d.bucket, PREDICT_MODEL_KEY), 1024)
            .await
            .unwrap();
        let denied = predict
            .get_bytes(&uri(&d.bucket, "models/churn.json"), 1024)
            .await
            .unwrap_err();
        assert!(
            denied.to_string().contains("denied"),
            "predict may read only {PREDICT_MODEL_KEY}: {denied}"
        );
        let denied = S3Store::new(&register)
            .get_bytes(&uri(&d.bucket, "models/churn.json"), 1024)
            .await
            .unwrap_err();
        assert!(
            denied.to_string().contains("denied"),
            "register holds no s3:GetObject: {denied}"
        );
    });
}
