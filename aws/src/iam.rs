//! The IAM actions each port method needs on AWS: the table least-privilege roles are built from
//! and that the handlers' tests check each function's principal in `iam/policies.json` against.

/// A port method the adapters in this crate implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortCall {
    /// `ObjectStore::head` (HeadObject).
    StoreHead,
    /// `ObjectStore::list` (ListObjectsV2).
    StoreList,
    /// `ObjectStore::get` / `get_bytes`, and `get_bytes_at` an ETag (GetObject, with If-Match;
    /// a HeadObject names the current ETag when it no longer matches).
    StoreGet,
    /// `ObjectStore::get_bytes_at` a version id (GetObject with VersionId).
    StoreGetVersion,
    /// `ObjectStore::put` / `put_bytes` (PutObject or a multipart upload).
    StorePut,
    /// `JobTable::create` (conditional PutItem, GetItem on conflict).
    TableCreate,
    /// `JobTable::get` (GetItem).
    TableGet,
    /// `JobTable::update` (conditional UpdateItem, GetItem when ignored).
    TableUpdate,
    /// `JobTable::list` (Query on the status index).
    TableList,
    /// `JobTable::record_live` (conditional UpdateItem, GetItem when held back).
    TableRecordLive,
    /// `JobTable::mark_notified` (conditional UpdateItem, GetItem when held back).
    TableMarkNotified,
    /// `Notifier::publish` (EventBridge PutEvents).
    Notify,
    /// `Executions::start` (StartExecution; a DescribeExecution on a name clash is best effort).
    ExecutionStart,
    /// `BatchService::submit` without tags (SubmitJob).
    BatchSubmit,
    /// `BatchService::submit` with tags (SubmitJob + TagResource).
    BatchSubmitTagged,
    /// `BatchService::find_by_name` (ListJobs with a JOB_NAME filter).
    BatchFind,
    /// `BatchService::describe` (DescribeJobs, and ListJobs for a failed array job's children).
    BatchDescribe,
    /// `BatchService::terminate` (TerminateJob).
    BatchTerminate,
    /// `Executions::stop` (DescribeExecution, then StopExecution when it runs).
    ExecutionStop,
    /// `MessageQueue::send` (SQS SendMessage).
    QueueSend,
}

/// The IAM actions the AWS adapter's implementation of `call` needs.
pub fn iam_actions(call: PortCall) -> &'static [&'static str] {
    match call {
        // HeadObject is authorised by s3:GetObject
        PortCall::StoreHead | PortCall::StoreGet => &["s3:GetObject"],
        // a request naming a version needs s3:GetObjectVersion, and s3:GetObject does not grant it
        PortCall::StoreGetVersion => &["s3:GetObjectVersion"],
        PortCall::StoreList => &["s3:ListBucket"],
        PortCall::StorePut => &["s3:PutObject", "s3:AbortMultipartUpload"],
        PortCall::TableCreate => &["dynamodb:PutItem", "dynamodb:GetItem"],
        PortCall::TableGet => &["dynamodb:GetItem"],
        PortCall::TableUpdate | PortCall::TableRecordLive | PortCall::TableMarkNotified => {
            &["dynamodb:UpdateItem", "dynamodb:GetItem"]
        }
        PortCall::TableList => &["dynamodb:Query"],
        PortCall::ExecutionStart => &["states:StartExecution"],
        PortCall::BatchSubmit => &["batch:SubmitJob"],
        PortCall::BatchSubmitTagged => &["batch:SubmitJob", "batch:TagResource"],
        PortCall::BatchDescribe => &["batch:DescribeJobs", "batch:ListJobs"],
        PortCall::BatchFind => &["batch:ListJobs"],
        PortCall::BatchTerminate => &["batch:TerminateJob"],
        PortCall::ExecutionStop => &["states:DescribeExecution", "states:StopExecution"],
        PortCall::Notify => &["events:PutEvents"],
        PortCall::QueueSend => &["sqs:SendMessage"],
    }
}

/// The IAM actions a pipeline function's role must grant for `call`.
///
/// This is [`iam_actions`] less `states:DescribeExecution`: `SfnExecutions` uses it only to tell
/// a duplicate start from a name clash and, without it, takes the name as this job's (names are
/// job ids), so the pipeline's roles leave it out.
pub fn required_actions(call: PortCall) -> Vec<&'static str> {
    iam_actions(call)
        .iter()
        .copied()
        .filter(|a| *a != "states:DescribeExecution")
        .collect()
}
