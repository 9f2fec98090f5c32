//! Publishing a job's end: the "stepscore Job Status Change" event, once per terminal transition.
//!
//! The write that ends a record leaves its notification `pending` (the record is the outbox);
//! finalize and cleanup call [`publish_pending`] with the record their write returned, applied or
//! not. It publishes only a `pending` notification and then marks it `sent`, so a duplicate
//! finalize or cleanup that comes after publishes nothing. A publisher that dies between
//! publishing and marking leaves `pending`, and the task's retry (or the cleanup that follows a
//! failed execution) publishes again, with the same `event_id`: at least once, never lost.

use stepscore_core::event::JobStatusChange;
use stepscore_core::ports::{JobTable, Notifier, Updated};
use stepscore_core::record::{JobRecord, Notification};

use crate::error::HandlerError;

/// Publishes `record`'s status change if it is still pending, then marks it sent. A transient
/// publishing failure is an error (the task's retry publishes); any other is logged and left
/// pending: the record has ended either way, and a job does not fail for its notification.
pub async fn publish_pending(
    notifier: &dyn Notifier,
    table: &dyn JobTable,
    record: &JobRecord,
) -> Result<(), HandlerError> {
    if record.notification != Some(Notification::Pending) {
        return Ok(());
    }
    let Some(event) = JobStatusChange::of(record) else {
        return Ok(());
    };
    match notifier.publish(&event).await {
        Ok(()) => {}
        Err(e) if e.is_transient() => return Err(HandlerError::Transient(e.to_string())),
        Err(e) => {
            tracing::error!(job_id = %record.id, event_id = %event.event_id, error = %e, "the job's status change was not published");
            return Ok(());
        }
    }
    match table.mark_notified(&record.id).await? {
        Updated::Applied(_) => {
            tracing::info!(job_id = %record.id, event_id = %event.event_id, "status change published")
        }
        Updated::Ignored(_) => {
            tracing::warn!(job_id = %record.id, event_id = %event.event_id, "status change published, but another publisher had marked it sent: published twice")
        }
    }
    Ok(())
}
