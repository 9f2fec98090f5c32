//! Intake: the consumer of the job queue. Job configs submitted over HTTP (`POST /jobs`, see
//! [`crate::front_door`]) wait in SQS as [`QueuedJob`] messages; intake admits each through the
//! same path as a config dropped into `jobs/` (same validation, record and state machine).
//!
//! Delivery is at least once and a batch may fail in part, so:
//! - a message admitted twice is one job (the job id travels in the message; admission is
//!   idempotent on it);
//! - a message that fails for a reason that may pass (throttling, a 5xx) is reported as a batch
//!   item failure (Lambda's `ReportBatchItemFailures`) and comes back after the visibility
//!   timeout, while the rest of the batch is deleted;
//! - a message that cannot succeed (not a job message), or that failed on its last allowed
//!   receive, is sent to the dead-letter queue with its reason in the message attributes
//!   [`FAILURE_ATTRIBUTE`] and [`RECEIVE_COUNT_ATTRIBUTE`], and deleted from the job queue.
//!   SQS's own redrive policy (same `maxReceiveCount`) still moves a message whose consumer
//!   died before it could say why.
//!
//! A config that is invalid by the time intake reads it (its model deleted since `POST /jobs`
//! checked it) is not a delivery failure: admission writes a FAILED record saying why, which
//! `GET /jobs/<id>` shows.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepscore_core::JobId;
use stepscore_core::ports::MessageQueue;

use crate::admit::{AdmitPorts, Admitted, Document, admit_document};
use crate::error::HandlerError;

/// The version of the [`QueuedJob`] message format.
pub const QUEUED_JOB_VERSION: u32 = 1;

/// The dead-letter message attribute that says why intake gave up on the message.
pub const FAILURE_ATTRIBUTE: &str = "stepscore-failure";
/// The dead-letter message attribute with the number of times the message was received.
pub const RECEIVE_COUNT_ATTRIBUTE: &str = "stepscore-receive-count";
/// The dead-letter message attribute with the job queue's id of the message.
pub const MESSAGE_ID_ATTRIBUTE: &str = "stepscore-message-id";

/// A job submission on the queue: the config as the client sent it, under the job id the
/// front door answered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuedJob {
    /// [`QUEUED_JOB_VERSION`].
    pub version: u32,
    /// The job id (derived from the config's name and the request id or idempotency key).
    pub job_id: String,
    /// Where the config came from (`http:<request id>`), kept in the record.
    pub source: String,
    /// The config document.
    pub config: Value,
}

/// The ports intake touches.
#[derive(Debug, Clone, Copy)]
pub struct IntakePorts<'a> {
    /// Admission's ports (store, table, executions, clock, jobs prefix).
    pub admit: AdmitPorts<'a>,
    /// The dead-letter queue.
    pub dead_letters: &'a dyn MessageQueue,
    /// The job queue's `maxReceiveCount`: on that receive a message that fails again goes to the
    /// dead-letter queue with its reason.
    pub max_receives: u32,
}

/// What intake did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Admitted (started, a duplicate, or rejected with a FAILED record).
    Admitted(Admitted),
    /// Left on the queue to be received again: why.
    Retry(String),
    /// Sent to the dead-letter queue: why.
    DeadLettered(String),
}

/// Handles one batch of the job queue: admits every message, and answers the ids of those to
/// be received again.
pub async fn intake(ports: IntakePorts<'_>, event: &SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Taken::Retry(reason) = take(ports, message).await {
            let id = message.message_id.clone().unwrap_or_default();
            tracing::warn!(message_id = %id, reason = %reason, "leaving the message on the job queue for another receive");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Admits one message, or says why not and what became of it.
pub async fn take(ports: IntakePorts<'_>, message: &SqsMessage) -> Taken {
    let receives = receive_count(message);
    let job = match read_message(message) {
        Ok(job) => job,
        Err(reason) => return dead_letter(ports, message, receives, reason).await,
    };
    let bytes = match serde_json::to_vec(&job.config) {
        Ok(bytes) => bytes,
        Err(e) => {
            let reason = format!("the message's config cannot be written back as JSON: {e}");
            return dead_letter(ports, message, receives, reason).await;
        }
    };
    let id = match JobId::parse(&job.job_id) {
        Ok(id) => id,
        Err(e) => return dead_letter(ports, message, receives, e.to_string()).await,
    };
    match admit_document(ports.admit, id, &job.source, Document::Bytes(bytes)).await {
        Ok(admitted) => Taken::Admitted(admitted),
        Err(HandlerError::Transient(reason)) if receives < ports.max_receives => Taken::Retry(
            format!("receive {receives} of {}: {reason}", ports.max_receives),
        ),
        Err(e) => {
            let reason = format!(
                "admitting job {} failed on receive {receives} of {}: {e}",
                job.job_id, ports.max_receives
            );
            dead_letter(ports, message, receives, reason).await
        }
    }
}

/// The message's `ApproximateReceiveCount` (1 on the first receive).
fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn read_message(message: &SqsMessage) -> Result<QueuedJob, String> {
    let body = message.body.as_deref().ok_or_else(|| {
        "the message has no body: the job queue holds QueuedJob messages sent by POST /jobs"
            .to_owned()
    })?;
    let job: QueuedJob = serde_json::from_str(body).map_err(|e| {
        format!(
            "the message body is not a job submission ({e}): the job queue holds {{\"version\", \"job_id\", \"source\", \"config\"}} messages sent by POST /jobs; submit jobs through the API"
        )
    })?;
    if job.version != QUEUED_JOB_VERSION {
        return Err(format!(
            "the message is a job submission of format version {}; this intake reads version {QUEUED_JOB_VERSION}: deploy the front door and intake from the same release",
            job.version
        ));
    }
    Ok(job)
}

/// Sends the message to the dead-letter queue with `reason`; when that fails too, the message
/// stays on the job queue (SQS's redrive moves it after `maxReceiveCount` receives).
async fn dead_letter(
    ports: IntakePorts<'_>,
    message: &SqsMessage,
    receives: u32,
    reason: String,
) -> Taken {
    let id = message.message_id.as_deref().unwrap_or_default();
    let count = receives.to_string();
    let attributes = [
        (FAILURE_ATTRIBUTE, reason.as_str()),
        (RECEIVE_COUNT_ATTRIBUTE, count.as_str()),
        (MESSAGE_ID_ATTRIBUTE, id),
    ];
    // SQS refuses an empty body; a message without one is still kept, with its reason
    let body = message
        .body
        .as_deref()
        .filter(|b| !b.is_empty())
        .unwrap_or("(the message had no body)");
    match ports.dead_letters.send(body, &attributes).await {
        Ok(dead_letter_id) => {
            tracing::error!(message_id = %id, dead_letter_id = %dead_letter_id, reason = %reason, "job submission sent to the dead-letter queue");
            Taken::DeadLettered(reason)
        }
        Err(e) => Taken::Retry(format!(
            "{reason}; and it could not be sent to the dead-letter queue ({e})"
        )),
    }
}
