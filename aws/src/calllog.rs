//! The AWS call log of this crate's clients: DynamoDB's, EventBridge's, SQS's, Step Functions' and Batch's operations
//! mapped to the IAM authorisations they need, following AWS's Service Authorization Reference: a
//! DynamoDB Query on an index is authorised on the index's ARN, and SubmitJob on both the queue
//! and the job definition (and `batch:TagResource` when it carries tags). The log itself and
//! S3's mapping are `stepscore_aws_s3::calllog`, re-exported here.

use aws_smithy_runtime_api::client::interceptors::context::Input;

pub use stepscore_aws_s3::calllog::*;

/// The [`Mapping`] of DynamoDB's, Step Functions' and Batch's calls (this crate's clients).
pub fn services(scope: &Scope<'_>, input: &Input) -> Option<(String, Vec<Authorisation>)> {
    use aws_sdk_batch::operation as batch;
    use aws_sdk_dynamodb::operation as ddb;
    use aws_sdk_eventbridge::operation as events;
    use aws_sdk_sfn::operation as sfn;
    use aws_sdk_sqs::operation as sqs;

    let table =
        |name: Option<&str>| scope.arn("dynamodb", &format!("table/{}", name.unwrap_or_default()));
    macro_rules! on {
        ($ty:ty, |$i:ident| $body:expr) => {
            if let Some($i) = input.downcast_ref::<$ty>() {
                return Some((operation_name(std::any::type_name::<$ty>()), $body));
            }
        };
    }
    // DynamoDB
    on!(ddb::put_item::PutItemInput, |i| vec![auth(
        "dynamodb:PutItem",
        table(i.table_name())
    )]);
    on!(ddb::get_item::GetItemInput, |i| vec![auth(
        "dynamodb:GetItem",
        table(i.table_name())
    )]);
    on!(ddb::update_item::UpdateItemInput, |i| vec![auth(
        "dynamodb:UpdateItem",
        table(i.table_name())
    )]);
    on!(ddb::query::QueryInput, |i| vec![auth(
        "dynamodb:Query",
        match i.index_name() {
            Some(index) => format!("{}/index/{index}", table(i.table_name())),
            None => table(i.table_name()),
        }
    )]);
    on!(ddb::create_table::CreateTableInput, |i| vec![auth(
        "dynamodb:CreateTable",
        table(i.table_name())
    )]);
    // EventBridge: PutEvents is authorised on each entry's bus (a name, or an ARN)
    on!(events::put_events::PutEventsInput, |i| i
        .entries()
        .iter()
        .map(|e| {
            let bus = e.event_bus_name().unwrap_or("default");
            auth(
                "events:PutEvents",
                if bus.starts_with("arn:") {
                    bus.to_owned()
                } else {
                    scope.arn("events", &format!("event-bus/{bus}"))
                },
            )
        })
        .collect());
    // SQS: each action is authorised on the queue, whose ARN its URL holds. Our code only
    // sends; the receive side is the Lambda event source mapping's, polling with the consuming
    // function's role, which the IAM test plays to prove that role's grants.
    let queue =
        |url: Option<&str>| queue_arn(scope.partition, scope.region, url.unwrap_or_default());
    on!(sqs::send_message::SendMessageInput, |i| vec![auth(
        "sqs:SendMessage",
        queue(i.queue_url())
    )]);
    on!(sqs::receive_message::ReceiveMessageInput, |i| vec![auth(
        "sqs:ReceiveMessage",
        queue(i.queue_url())
    )]);
    on!(sqs::delete_message::DeleteMessageInput, |i| vec![auth(
        "sqs:DeleteMessage",
        queue(i.queue_url())
    )]);
    on!(
        sqs::change_message_visibility::ChangeMessageVisibilityInput,
        |i| vec![auth("sqs:ChangeMessageVisibility", queue(i.queue_url()))]
    );
    on!(
        sqs::get_queue_attributes::GetQueueAttributesInput,
        |i| vec![auth("sqs:GetQueueAttributes", queue(i.queue_url()))]
    );
    // Step Functions
    on!(sfn::start_execution::StartExecutionInput, |i| vec![auth(
        "states:StartExecution",
        i.state_machine_arn().unwrap_or_default().to_owned()
    )]);
    on!(sfn::describe_execution::DescribeExecutionInput, |i| vec![
        auth(
            "states:DescribeExecution",
            i.execution_arn().unwrap_or_default().to_owned()
        )
    ]);
    on!(sfn::stop_execution::StopExecutionInput, |i| vec![auth(
        "states:StopExecution",
        i.execution_arn().unwrap_or_default().to_owned()
    )]);
    on!(sfn::list_executions::ListExecutionsInput, |i| vec![auth(
        "states:ListExecutions",
        i.state_machine_arn().unwrap_or_default().to_owned()
    )]);
    on!(
        sfn::create_state_machine::CreateStateMachineInput,
        |i| vec![auth(
            "states:CreateStateMachine",
            scope.arn(
                "states",
                &format!("stateMachine:{}", i.name().unwrap_or_default())
            )
        )]
    );
    // Batch: SubmitJob is authorised on the queue and on the job definition; tags need
    // TagResource on the job it creates (whose id is not known yet).
    on!(batch::submit_job::SubmitJobInput, |i| {
        let mut out = vec![
            auth(
                "batch:SubmitJob",
                scope.batch("job-queue", i.job_queue().unwrap_or_default()),
            ),
            auth(
                "batch:SubmitJob",
                scope.batch("job-definition", i.job_definition().unwrap_or_default()),
            ),
        ];
        if i.tags().is_some_and(|t| !t.is_empty()) {
            out.push(auth("batch:TagResource", scope.arn("batch", "job/*")));
        }
        out
    });
    // TerminateJob is authorised on the job (`job/<id>`).
    on!(batch::terminate_job::TerminateJobInput, |i| vec![auth(
        "batch:TerminateJob",
        scope.arn("batch", &format!("job/{}", i.job_id().unwrap_or_default()))
    )]);
    // ListJobs and DescribeJobs have no resource-level permissions.
    on!(batch::list_jobs::ListJobsInput, |_i| vec![auth(
        "batch:ListJobs",
        "*".into()
    )]);
    on!(batch::describe_jobs::DescribeJobsInput, |_i| vec![auth(
        "batch:DescribeJobs",
        "*".into()
    )]);
    None
}

/// The queue's ARN from its URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`, or an
/// endpoint's `http://host:port/<account>/<name>`): IAM authorises SendMessage on it.
pub fn queue_arn(partition: &str, region: &str, url: &str) -> String {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or_default();
    let account = segments.next().unwrap_or_default();
    format!("arn:{partition}:sqs:{region}:{account}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arn_of_a_queue_comes_from_its_url_on_aws_and_on_an_endpoint() {
        assert_eq!(
            queue_arn(
                "aws",
                "eu-west-1",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/scoring-jobs"
            ),
            "arn:aws:sqs:eu-west-1:123456789012:scoring-jobs"
        );
        assert_eq!(
            queue_arn(
                "aws",
                "us-east-1",
                "http://127.0.0.1:5000/123456789012/q-dlq/"
            ),
            "arn:aws:sqs:us-east-1:123456789012:q-dlq"
        );
    }
}
