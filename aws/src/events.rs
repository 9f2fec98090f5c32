//! [`EventBridgeNotifier`]: the notifier port over EventBridge: one PutEvents entry per event,
//! source `stepscore`, detail-type `stepscore Job Status Change`, on one event bus.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use stepscore_core::event::{EVENT_DETAIL_TYPE, EVENT_SOURCE, JobStatusChange};
use stepscore_core::ports::{Notifier, NotifyError};

use stepscore_aws_s3::errors::classify;

/// The bus events go to unless told otherwise: the account's default bus.
pub const DEFAULT_EVENT_BUS: &str = "default";

/// The notifier port over one EventBridge event bus.
#[derive(Debug, Clone)]
pub struct EventBridgeNotifier {
    client: Client,
    bus: String,
}

impl EventBridgeNotifier {
    /// Publishes to `bus` (a name or ARN) through a client built from `config`.
    pub fn new(config: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        Self::from_client(
            Client::from_conf(
                stepscore_aws_s3::with_call_log!(
                    aws_sdk_eventbridge::config::Builder::from(config),
                    crate::calllog::services
                )
                .build(),
            ),
            bus,
        )
    }

    /// Publishes to `bus` through an existing client.
    pub fn from_client(client: Client, bus: impl Into<String>) -> Self {
        EventBridgeNotifier {
            client,
            bus: bus.into(),
        }
    }

    /// The underlying client (for administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The event bus.
    pub fn bus(&self) -> &str {
        &self.bus
    }
}

#[async_trait]
impl Notifier for EventBridgeNotifier {
    #[tracing::instrument(level = "debug", skip(self, event), fields(bus = %self.bus, event_id = %event.event_id))]
    async fn publish(&self, event: &JobStatusChange) -> Result<(), NotifyError> {
        let other = |message: String| NotifyError::Other {
            event_id: event.event_id.clone(),
            message,
        };
        let detail = serde_json::to_string(event)
            .map_err(|e| other(format!("the event cannot be serialized: {e}")))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(EVENT_DETAIL_TYPE)
            .detail(detail)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                let f = classify(&e);
                let message = format!("PutEvents on event bus '{}': {}", self.bus, f.message);
                if f.transient {
                    NotifyError::Transient {
                        event_id: event.event_id.clone(),
                        message,
                    }
                } else {
                    other(message)
                }
            })?;
        // PutEvents answers 200 with per-entry failures
        if out.failed_entry_count() > 0 {
            let (code, message) = out
                .entries()
                .iter()
                .find_map(|e| e.error_code().map(|c| (c, e.error_message().unwrap_or(""))))
                .unwrap_or(("unknown", ""));
            let message = format!(
                "EventBridge refused the event on bus '{}': {code}: {message}",
                self.bus
            );
            // AWS names the entry errors that a retry may clear
            return Err(
                if matches!(code, "InternalFailure" | "ThrottlingException") {
                    NotifyError::Transient {
                        event_id: event.event_id.clone(),
                        message,
                    }
                } else {
                    other(message)
                },
            );
        }
        Ok(())
    }
}
