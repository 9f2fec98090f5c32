//! [`DynamoTable`]: the job table port over DynamoDB.
//!
//! One item per job. The record's fields are stored as DynamoDB attributes of the same names
//! (maps and lists for nested values, so the console shows them), plus:
//! - `progress` (N): [`Progress::value`](stepscore_core::status::Progress::value), the one number the forward-only rule compares: every
//!   update is conditional on `progress < :new`, so a duplicate or out-of-order update fails the
//!   condition and becomes a no-op, and a terminal record (`progress` = max) never changes;
//! - `expires_at` (N, epoch seconds): set when the record becomes terminal; the table's TTL
//!   attribute, so finished jobs age out after [`DynamoTable::with_retention`].
//!
//! The GSI `by-status` (hash `status`, range `updated_at`, RFC 3339 text that sorts by time) lists
//! jobs by status, newest first.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};
use stepscore_core::JobId;
use stepscore_core::live::LiveProgress;
use stepscore_core::ports::{Created, JobTable, ListFilter, TableError, Updated};
use stepscore_core::record::Notification;
use stepscore_core::record::{JobRecord, JobUpdate};
use stepscore_core::status::JobStatus;

use stepscore_aws_s3::errors::classify;

/// The status/time index's name.
pub const STATUS_INDEX: &str = "by-status";
/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// How long terminal records are kept unless told otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// The job table port over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoTable {
    /// The table `table` through a client built from `config`.
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::from_client(
            Client::from_conf(
                stepscore_aws_s3::with_call_log!(
                    aws_sdk_dynamodb::config::Builder::from(config),
                    crate::calllog::services
                )
                .build(),
            ),
            table,
        )
    }

    /// The table `table` through an existing client.
    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        DynamoTable {
            client,
            table: table.into(),
            retention: Duration::days(DEFAULT_RETENTION_DAYS),
        }
    }

    /// Keeps terminal records for `retention` before DynamoDB's TTL removes them.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The underlying client (for administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Creates the table with the layout this adapter expects (on-demand billing, the
    /// `by-status` index, TTL on `expires_at`) — what Terraform creates in a deployment; used by
    /// tests and local tooling.
    pub async fn create_table(&self) -> Result<(), TableError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_error)
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(STATUS_INDEX)
            .key_schema(key("status", KeyType::Hash)?)
            .key_schema(key("updated_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("id")?)
            .attribute_definitions(attr("status")?)
            .attribute_definitions(attr("updated_at")?)
            .key_schema(key("id", KeyType::Hash)?)
            .global_secondary_indexes(index)
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        Ok(())
    }

    fn item(&self, record: &JobRecord) -> Result<HashMap<String, AttributeValue>, TableError> {
        let value = serde_json::to_value(record).map_err(|e| TableError::Other {
            message: format!("job record '{}' cannot be serialized: {e}", record.id),
        })?;
        let Value::Object(fields) = value else {
            return Err(TableError::Other {
                message: format!("job record '{}' did not serialize to an object", record.id),
            });
        };
        let mut item: HashMap<String, AttributeValue> =
            fields.into_iter().map(|(k, v)| (k, to_attr(&v))).collect();
        item.insert("progress".into(), number(record.progress().value()));
        item.insert(
            "updated_at".into(),
            AttributeValue::S(timestamp(record.updated_at)),
        );
        item.insert(
            "created_at".into(),
            AttributeValue::S(timestamp(record.created_at)),
        );
        if record.status.is_terminal() {
            item.insert(TTL_ATTRIBUTE.into(), self.expiry(record.updated_at));
        }
        Ok(item)
    }

    fn expiry(&self, at: DateTime<Utc>) -> AttributeValue {
        number((at + self.retention).timestamp().max(0) as u64)
    }
}

#[async_trait]
impl JobTable for DynamoTable {
    #[tracing::instrument(level = "debug", skip(self, record), fields(table = %self.table, job_id = %record.id))]
    async fn create(&self, record: &JobRecord) -> Result<Created, TableError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(record)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::Created),
            Err(e) if is_condition_failure(&e) => match self.get(&record.id).await? {
                Some(existing) => Ok(Created::Exists(existing)),
                // created and deleted (TTL) between the two calls: report it as it was found
                None => Err(TableError::Transient {
                    message: format!(
                        "job record '{}' existed and then vanished; retry",
                        record.id
                    ),
                }),
            },
            Err(e) => Err(table_error(&e)),
        }
    }

    #[tracing::instrument(level = "debug", skip(self), fields(table = %self.table, job_id = %id))]
    async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        out.item()
            .map(|item| record_from_item(id.as_str(), item))
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip(self, update), fields(table = %self.table, job_id = %id, status = %update.status, attempt = update.attempt))]
    async fn update(&self, id: &JobId, update: &JobUpdate) -> Result<Updated, TableError> {
        let new = update.progress();
        let mut sets = vec![
            "#status = :status",
            "#progress = :progress",
            "#attempt = :attempt",
            "#updated_at = :updated_at",
        ];
        let mut names: HashMap<String, String> = [
            ("#status", "status"),
            ("#progress", "progress"),
            ("#attempt", "attempt"),
            ("#updated_at", "updated_at"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        values.insert(
            ":status".into(),
            AttributeValue::S(update.status.as_str().into()),
        );
        values.insert(":progress".into(), number(new.value()));
        values.insert(":attempt".into(), number(u64::from(update.attempt)));
        values.insert(
            ":updated_at".into(),
            AttributeValue::S(timestamp(update.at)),
        );
        if update.new_attempt.is_some() {
            values.insert(":empty".into(), AttributeValue::L(Vec::new()));
        }
        let mut add = |set: &'static str, name: &str, value_name: &str, value: AttributeValue| {
            sets.push(set);
            names.insert(format!("#{name}"), name.to_owned());
            values.insert(value_name.to_owned(), value);
        };
        if let Some(arn) = &update.execution_arn {
            add(
                "#execution_arn = :execution_arn",
                "execution_arn",
                ":execution_arn",
                AttributeValue::S(arn.clone()),
            );
        }
        if let Some(attempt) = &update.new_attempt {
            let a = to_json(attempt)?;
            add(
                "#attempts = list_append(if_not_exists(#attempts, :empty), :new_attempt)",
                "attempts",
                ":new_attempt",
                AttributeValue::L(vec![to_attr(&a)]),
            );
        }
        if let Some(metrics) = &update.metrics {
            add(
                "#metrics = :metrics",
                "metrics",
                ":metrics",
                to_attr(&to_json(metrics)?),
            );
        }
        if let Some(reason) = &update.failure_reason {
            add(
                "#failure_reason = :failure_reason",
                "failure_reason",
                ":failure_reason",
                AttributeValue::S(reason.clone()),
            );
        }
        if update.status.is_terminal() {
            // the outbox of the status change event, in the write that ends the record
            add(
                "#notification = :notification",
                "notification",
                ":notification",
                to_attr(&to_json(&Notification::Pending)?),
            );
            let expiry = self.expiry(update.at);
            add(
                "#expires_at = :expires_at",
                TTL_ATTRIBUTE,
                ":expires_at",
                expiry,
            );
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(#id) AND #progress < :progress")
            .set_expression_attribute_names(Some(
                names
                    .into_iter()
                    .chain([("#id".to_owned(), "id".to_owned())])
                    .collect(),
            ))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        self.applied_or_current(id, result).await
    }

    #[tracing::instrument(level = "debug", skip(self, live), fields(table = %self.table, job_id = %id, attempt = live.attempt, sequence = live.sequence))]
    async fn record_live(&self, id: &JobId, live: &LiveProgress) -> Result<Updated, TableError> {
        // JobRecord::apply_live's rule as the condition: the record's attempt, not ended, and
        // the attempt's first figures or further on than the kept ones
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .update_expression("SET #live = :live")
            .condition_expression(
                "attribute_exists(#id) AND #progress < :ended AND #attempt = :attempt \
                 AND (attribute_not_exists(#live) OR #live.#attempt < :attempt \
                 OR #live.#sequence < :sequence)",
            )
            .expression_attribute_names("#id", "id")
            .expression_attribute_names("#progress", "progress")
            .expression_attribute_names("#attempt", "attempt")
            .expression_attribute_names("#live", "live")
            .expression_attribute_names("#sequence", "sequence")
            .expression_attribute_values(":live", to_attr(&to_json(live)?))
            .expression_attribute_values(
                ":ended",
                number(stepscore_core::status::Progress::of(JobStatus::Failed, 0).value()),
            )
            .expression_attribute_values(":attempt", number(u64::from(live.attempt)))
            .expression_attribute_values(":sequence", number(live.sequence))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        self.applied_or_current(id, result).await
    }

    #[tracing::instrument(level = "debug", skip(self), fields(table = %self.table, job_id = %id))]
    async fn mark_notified(&self, id: &JobId) -> Result<Updated, TableError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .update_expression("SET #notification = :sent")
            .condition_expression("attribute_exists(#id) AND #notification = :pending")
            .expression_attribute_names("#id", "id")
            .expression_attribute_names("#notification", "notification")
            .expression_attribute_values(":sent", to_attr(&to_json(&Notification::Sent)?))
            .expression_attribute_values(":pending", to_attr(&to_json(&Notification::Pending)?))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        self.applied_or_current(id, result).await
    }

    #[tracing::instrument(level = "debug", skip(self), fields(table = %self.table, status = ?filter.status, limit = filter.limit))]
    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, TableError> {
        // Without a status, ask the index once per status and merge: each answer is already
        // newest first, so the merge needs at most `limit` from each.
        let statuses: Vec<JobStatus> = match filter.status {
            Some(s) => vec![s],
            None => JobStatus::ALL.to_vec(),
        };
        let mut found = Vec::new();
        for status in statuses {
            found.extend(self.query_status(status, filter.limit).await?);
        }
        found.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        found.truncate(filter.limit);
        Ok(found)
    }
}

impl DynamoTable {
    /// The record a conditional UpdateItem wrote, or, when its condition held it back, the
    /// record as it is (NotFound when there is none).
    async fn applied_or_current(
        &self,
        id: &JobId,
        result: Result<
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
            aws_sdk_dynamodb::error::SdkError<
                aws_sdk_dynamodb::operation::update_item::UpdateItemError,
                aws_sdk_dynamodb::config::http::HttpResponse,
            >,
        >,
    ) -> Result<Updated, TableError> {
        match result {
            Ok(out) => {
                let item = out.attributes().ok_or_else(|| TableError::Other {
                    message: format!(
                        "UpdateItem on '{id}' in table {} returned no attributes",
                        self.table
                    ),
                })?;
                Ok(Updated::Applied(record_from_item(id.as_str(), item)?))
            }
            Err(e) if is_condition_failure(&e) => match self.get(id).await? {
                Some(current) => {
                    tracing::debug!(job_id = %id, current = %current.status, "conditional update held back; ignored");
                    Ok(Updated::Ignored(current))
                }
                None => Err(TableError::NotFound { id: id.to_string() }),
            },
            Err(e) => Err(table_error(&e)),
        }
    }

    async fn query_status(
        &self,
        status: JobStatus,
        limit: usize,
    ) -> Result<Vec<JobRecord>, TableError> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        while found.len() < limit {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STATUS_INDEX)
                .key_condition_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.as_str().into()))
                .scan_index_forward(false)
                .limit(i32::try_from(limit - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| table_error(&e))?;
            for item in out.items() {
                let id = item
                    .get("id")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                found.push(record_from_item(&id, item)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(found)
    }
}

fn record_from_item(
    id: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<JobRecord, TableError> {
    let fields: Map<String, Value> = item
        .iter()
        .filter(|(k, _)| k.as_str() != "progress" && k.as_str() != TTL_ATTRIBUTE)
        .map(|(k, v)| from_attr(v).map(|v| (k.clone(), v)))
        .collect::<Result<_, String>>()
        .map_err(|message| TableError::Corrupt {
            id: id.to_owned(),
            message,
        })?;
    let record: JobRecord =
        serde_json::from_value(Value::Object(fields)).map_err(|e| TableError::Corrupt {
            id: id.to_owned(),
            message: format!("{e}"),
        })?;
    if record.version > stepscore_core::record::RECORD_VERSION {
        return Err(TableError::Corrupt {
            id: id.to_owned(),
            message: format!(
                "record version {} is newer than this build understands ({}): upgrade stepscore",
                record.version,
                stepscore_core::record::RECORD_VERSION
            ),
        });
    }
    Ok(record)
}

/// JSON to a DynamoDB attribute: objects become maps, arrays lists, numbers N (their exact text).
fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// A DynamoDB attribute back to JSON; maps come back with keys sorted (DynamoDB keeps no order).
fn from_attr(v: &AttributeValue) -> Result<Value, String> {
    Ok(match v {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => {
            let parsed: Option<Number> = n
                .parse::<u64>()
                .ok()
                .map(Number::from)
                .or_else(|| n.parse::<i64>().ok().map(Number::from))
                .or_else(|| n.parse::<f64>().ok().and_then(Number::from_f64));
            Value::Number(
                parsed.ok_or_else(|| format!("number attribute '{n}' is not a JSON number"))?,
            )
        }
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), from_attr(&m[k])?);
            }
            Value::Object(out)
        }
        other => return Err(format!("unexpected attribute type {other:?}")),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, TableError> {
    serde_json::to_value(value).map_err(|e| TableError::Other {
        message: format!("cannot serialize an update: {e}"),
    })
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// RFC 3339 with fixed microsecond precision, so text order is time order in the index.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn is_condition_failure<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

fn table_error<E>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> TableError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let f = classify(e);
    if f.transient || f.code.as_deref() == Some("TransactionConflictException") {
        TableError::Transient { message: f.message }
    } else {
        TableError::Other { message: f.message }
    }
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Other {
        message: format!("invalid table definition: {e}"),
    }
}
