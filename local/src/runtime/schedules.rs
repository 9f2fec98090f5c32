//! Running EventBridge Scheduler's schedules into the runtime's `stepscore-schedule` function.

use chrono::{DateTime, Utc};

use super::LocalRuntime;
use super::names::{LOCAL_ACCOUNT, LOCAL_REGION};

impl LocalRuntime {
    /// Fires `scheduler`'s schedules from `from` until `until` (or forever) into the
    /// `stepscore-schedule` function, as EventBridge Scheduler does (context attributes filled,
    /// failed invocations retried three times, then dropped with an error log as to a DLQ);
    /// returns the number of fires.
    pub async fn run_schedules(
        &self,
        scheduler: &crate::schedule::Scheduler,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> usize {
        const RETRIES: u32 = 3;
        let scale = self.inner.config.time_scale;
        scheduler
            .run(from, until, scale, |fire| {
                let rt = self.clone();
                async move {
                    let arn = format!("arn:aws:scheduler:{LOCAL_REGION}:{LOCAL_ACCOUNT}:schedule/default/{}", fire.schedule);
                    for attempt in 1..=RETRIES + 1 {
                        let input = crate::schedule::fill_context_attributes(&fire.input, &fire, &arn, attempt);
                        match rt.invoke("stepscore-schedule", input).await {
                            Ok(_) => return,
                            Err(e) => tracing::warn!(schedule = %fire.schedule, attempt, error = %e, "schedule target failed"),
                        }
                    }
                    tracing::error!(schedule = %fire.schedule, scheduled_time = %fire.scheduled_time, "schedule fire dropped after retries (dead letter)");
                }
            })
            .await
    }
}
