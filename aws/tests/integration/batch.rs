//! BatchClient against moto's Batch in docker-free mode (`batch.use_docker: false`: jobs
//! succeed at once without running): the core Batch contract, plus what only this adapter sends
//! and reads (tags, timeouts, a failed array job's children).

use std::collections::BTreeMap;
use std::time::Duration;

use stepscore_aws::fixtures::{BatchWorld, batch_world, batch_world_on};
use stepscore_aws::moto::MotoServer;
use stepscore_core::batch::{BatchStatus, RetryStrategy, SubmitJobRequest};
use stepscore_core::batch_contract::{BatchSetup, check_batch_service};
use stepscore_core::ports::{BatchError, BatchService};

pub fn request(world: &BatchWorld, name: &str, array_size: Option<u32>) -> SubmitJobRequest {
    SubmitJobRequest {
        job_name: name.into(),
        job_queue: world.queue.clone(),
        job_definition: world.definition.clone(),
        array_size,
        environment: BTreeMap::from([
            ("STEPSCORE_JOB_ID".into(), name.into()),
            ("STEPSCORE_SHARDS".into(), "1".into()),
        ]),
        vcpus: 2,
        memory_mib: 4096,
        timeout_seconds: 3600,
        retry_strategy: RetryStrategy::scoring(),
        tags: BTreeMap::from([("team".into(), "risk".into())]),
    }
}

#[tokio::test]
async fn batch_client_meets_the_batch_contract() {
    let world = batch_world().await;
    let setup = BatchSetup {
        queue: world.queue.clone(),
        other_queue: world.another_queue().await,
        job_definition: world.definition.clone(),
        // moto has ended every job before SubmitJob returns
        patience: Duration::from_secs(10),
    };
    check_batch_service(&world.client, &setup).await;
}

#[tokio::test]
async fn a_submitted_job_is_described_with_its_queue_status_and_attempts() {
    let world = batch_world().await;
    let job = world
        .client
        .submit(&request(&world, "daily-1", None))
        .await
        .unwrap();
    assert_eq!(job.job_name, "daily-1");
    let view = world
        .client
        .describe(&job.job_id)
        .await
        .unwrap()
        .expect("Batch knows the job");
    assert_eq!(view.job_id, job.job_id);
    assert_eq!(
        view.status,
        BatchStatus::Succeeded,
        "docker-free moto finishes jobs at once: {view:?}"
    );
    assert!(view.job_queue.ends_with(&world.queue), "{}", view.job_queue);
    assert_eq!(view.array_size, None);
    assert!(!view.was_reclaimed());

    // what SubmitJob sent, as Batch stored it
    let raw = world
        .client
        .client()
        .describe_jobs()
        .jobs(&job.job_id)
        .send()
        .await
        .unwrap();
    let detail = &raw.jobs()[0];
    assert_eq!(
        detail.timeout().and_then(|t| t.attempt_duration_seconds()),
        Some(3600)
    );
    assert_eq!(
        detail
            .tags()
            .and_then(|t| t.get("team"))
            .map(String::as_str),
        Some("risk")
    );
}

#[tokio::test]
async fn an_array_job_reports_its_size_and_children() {
    let world = batch_world().await;
    let job = world
        .client
        .submit(&request(&world, "sharded-1", Some(3)))
        .await
        .unwrap();
    let view = world.client.describe(&job.job_id).await.unwrap().unwrap();
    assert_eq!(view.array_size, Some(3));
    let child = world
        .client
        .describe(&format!("{}:2", job.job_id))
        .await
        .unwrap()
        .expect("child 2 exists");
    assert_eq!(child.status, BatchStatus::Succeeded);
}

#[tokio::test]
async fn a_failed_array_job_reports_why_each_child_failed() {
    // docker-free moto fails every job when its server has MOTO_SIMPLE_BATCH_FAIL_AFTER set
    let server = MotoServer::start_own(&[("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")]).unwrap();
    let world = batch_world_on(&server).await;
    let job = world
        .client
        .submit(&request(&world, "sharded-fails", Some(3)))
        .await
        .unwrap();
    let view = world.client.describe(&job.job_id).await.unwrap().unwrap();
    assert_eq!(view.status, BatchStatus::Failed, "{view:?}");
    let indexes: Vec<u32> = view.failed_children.iter().map(|c| c.index).collect();
    assert_eq!(
        indexes,
        [0, 1, 2],
        "ListJobs lists every failed child: {view:?}"
    );
    // moto gives no statusReason: nothing says a spot host was reclaimed, so no fallback
    assert!(!view.was_reclaimed());
}

#[tokio::test]
async fn a_missing_queue_is_a_client_error_naming_it() {
    let world = batch_world().await;
    let mut r = request(&world, "lost", None);
    r.job_queue = "no-such-queue".into();
    let err = world.client.submit(&r).await.unwrap_err();
    assert!(
        matches!(&err, BatchError::Client { message } if message.contains("no-such-queue")),
        "{err}"
    );
}
