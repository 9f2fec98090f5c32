//! EventBridgeNotifier: each job status change reaches the bus once, as stepscore's event, with
//! its detail; a bus that does not exist is an error naming it.
//!
//! moto keeps no record of the events a bus takes, but it runs the bus's rules: an archive
//! whose pattern names the detail's fields counts exactly the events that carry them.

use aws_sdk_eventbridge::types::ArchiveState;
use chrono::{TimeZone, Utc};
use serde_json::json;
use stepscore_aws::EventBridgeNotifier;
use stepscore_core::JobId;
use stepscore_core::event::JobStatusChange;
use stepscore_core::ports::Notifier;
use stepscore_core::status::JobStatus;

use super::{moto, unique};

fn event(job: &str) -> JobStatusChange {
    let at = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
    JobStatusChange {
        version: 1,
        event_id: format!("{job}/SUCCEEDED"),
        job_id: JobId::parse(job).unwrap(),
        name: Some("daily".into()),
        status: JobStatus::Succeeded,
        reason: None,
        rows_scored: 270,
        rows_rejected: 30,
        output: Some("s3://b/out/daily/".into()),
        attempts: 1,
        total_seconds: 100.0,
        running_seconds: 60.0,
        queued_seconds: 40.0,
        created_at: at,
        finished_at: at + chrono::Duration::seconds(100),
    }
}

/// Events on `bus` matching `pattern`, as the archive `name` counts them.
async fn archived(notifier: &EventBridgeNotifier, name: &str) -> i64 {
    let out = notifier
        .client()
        .describe_archive()
        .archive_name(name)
        .send()
        .await
        .unwrap();
    assert_eq!(out.state(), Some(&ArchiveState::Enabled));
    out.event_count()
}

#[tokio::test]
async fn each_publish_puts_one_stepscore_event_with_its_detail_on_the_bus() {
    let config = moto().await;
    let bus = unique("bus");
    let notifier = EventBridgeNotifier::new(&config, &bus);
    let created = notifier
        .client()
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let job = unique("job");
    let archive = |name: &str, pattern: serde_json::Value| {
        let notifier = notifier.clone();
        let arn = created.event_bus_arn().unwrap_or_default().to_owned();
        let name = name.to_owned();
        async move {
            notifier
                .client()
                .create_archive()
                .archive_name(name)
                .event_source_arn(arn)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .unwrap();
        }
    };
    let this_job = unique("this-job");
    archive(
        &this_job,
        json!({"source": ["stepscore"], "detail-type": ["stepscore Job Status Change"],
               "detail": {"job_id": [job], "event_id": [format!("{job}/SUCCEEDED")], "status": ["SUCCEEDED"],
                          "rows_scored": [270], "rows_rejected": [30], "output": ["s3://b/out/daily/"], "name": ["daily"]}}),
    )
    .await;
    let other_source = unique("other-source");
    archive(&other_source, json!({"source": ["aws.states"]})).await;

    notifier.publish(&event(&job)).await.unwrap();
    assert_eq!(
        archived(&notifier, &this_job).await,
        1,
        "one event, with the job's detail"
    );
    assert_eq!(archived(&notifier, &other_source).await, 0);
    notifier.publish(&event(&unique("other"))).await.unwrap();
    assert_eq!(
        archived(&notifier, &this_job).await,
        1,
        "another job's event is not this one's"
    );
}

#[tokio::test]
async fn a_bus_that_does_not_exist_is_an_error_naming_it() {
    let notifier = EventBridgeNotifier::new(&moto().await, "no-such-bus");
    let err = notifier.publish(&event("j-1")).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("no-such-bus") && err.to_string().contains("j-1/SUCCEEDED"),
        "{err}"
    );
}
