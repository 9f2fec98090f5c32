//! [`SqsQueue`]: the message-queue port over one SQS queue (SendMessage, string attributes).

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use stepscore_core::ports::{MessageQueue, QueueError};

use stepscore_aws_s3::errors::classify;

/// The message-queue port over one SQS queue, named by its URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// Sends to the queue at `url` through a client built from `config`.
    pub fn new(config: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        Self::from_client(
            Client::from_conf(
                stepscore_aws_s3::with_call_log!(
                    aws_sdk_sqs::config::Builder::from(config),
                    crate::calllog::services
                )
                .build(),
            ),
            url,
        )
    }

    /// Sends to the queue at `url` through an existing client.
    pub fn from_client(client: Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    /// The underlying client (for administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    #[tracing::instrument(level = "debug", skip(self, body, attributes), fields(queue = %self.url))]
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                // SQS refuses an empty string attribute value
                .string_value(if value.is_empty() { "-" } else { value })
                .build()
                .map_err(|e| QueueError::Other {
                    queue: self.url.clone(),
                    message: format!("message attribute '{name}': {e}"),
                })?;
            request = request.message_attributes(*name, value);
        }
        let out = request.send().await.map_err(|e| {
            let f = classify(&e);
            let message = format!("SendMessage: {}", f.message);
            if f.transient {
                QueueError::Transient {
                    queue: self.url.clone(),
                    message,
                }
            } else {
                QueueError::Other {
                    queue: self.url.clone(),
                    message,
                }
            }
        })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
