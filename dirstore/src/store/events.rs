//! The S3 event of a put: the `ObjectCreated:Put` notification JSON, sent to the store's sink
//! for keys under its notification filter, as a bucket notification sends it to Lambda.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectMeta, StoreError};

use super::DirStore;

/// Receives the S3 event JSON of each object created under the notification filter. An error
/// (the event could not be kept) fails the put that made it: a put returns only once its event
/// is where it will be delivered from.
pub type EventSink = Arc<dyn Fn(Value) -> Result<(), String> + Send + Sync>;

/// Which puts emit an event, like an S3 bucket notification's prefix/suffix filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Keys must start with this.
    pub prefix: String,
    /// Keys must end with this.
    pub suffix: String,
}

impl Default for NotificationFilter {
    /// The pipeline's notification: job configs under `jobs/`.
    fn default() -> Self {
        NotificationFilter {
            prefix: "jobs/".into(),
            suffix: ".json".into(),
        }
    }
}

impl DirStore {
    /// Sends the event of a stored object to the sink, when there is one and the key matches
    /// the filter.
    pub(super) fn emit(
        &self,
        uri: &ObjectUri,
        meta: &ObjectMeta,
        sequencer: &str,
    ) -> Result<(), StoreError> {
        let Some(sink) = &self.inner.sink else {
            return Ok(());
        };
        let f = &self.inner.filter;
        if !(uri.key().starts_with(&f.prefix) && uri.key().ends_with(&f.suffix)) {
            return Ok(());
        }
        let event = s3_event(&self.inner.region, uri, meta, sequencer);
        tracing::debug!(uri = %uri, "object created event");
        sink(event).map_err(|e| StoreError::Other {
            uri: uri.to_string(),
            message: format!(
                "stored as version {}, but its S3 event could not be kept, so nothing will process it: {e}; put the object again",
                meta.version_id.as_deref().unwrap_or("(none)")
            ),
        })
    }
}

/// The S3 `ObjectCreated:Put` notification for one object, as AWS delivers it to Lambda.
pub fn s3_event(region: &str, uri: &ObjectUri, meta: &ObjectMeta, sequencer: &str) -> Value {
    let now = Utc::now();
    // S3 URL-encodes the key in events (spaces as '+'), which handlers must decode
    let key = form_urlencode(uri.key());
    let mut object = serde_json::Map::new();
    object.insert("key".into(), json!(key));
    object.insert("size".into(), json!(meta.size));
    if let Some(e) = &meta.etag {
        object.insert("eTag".into(), json!(e));
    }
    if let Some(v) = &meta.version_id {
        object.insert("versionId".into(), json!(v));
    }
    object.insert("sequencer".into(), json!(sequencer));
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "LOCAL"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
                "x-amz-id-2": uuid::Uuid::new_v4().to_string()
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "stepscore-jobs",
                "bucket": {
                    "name": uri.bucket(),
                    "ownerIdentity": {"principalId": "LOCAL"},
                    "arn": format!("arn:aws:s3:::{}", uri.bucket())
                },
                "object": Value::Object(object)
            }
        }]
    })
}

fn form_urlencode(key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // What S3 leaves unescaped in event keys: unreserved characters and '/'
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/')
        .remove(b' ');
    utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
}
