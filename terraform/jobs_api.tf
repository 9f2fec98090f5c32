################################################################################
# Batch jobs over HTTP, deployed when jobs_api_enabled is true: an HTTP API (modules/http_api) in
# front of the jobs function (POST /jobs, GET /jobs/{id}), the SQS job queue it sends
# submissions to, the intake function that admits them, and the queue's dead-letter queue with
# an alarm. Every route needs SigV4-signed requests (AWS_IAM): nothing is anonymous.
################################################################################

locals {
  jobs_api_enabled = var.jobs_api_enabled

  # route name => route key; the function answers 404 for other paths and 405 for a wrong method
  jobs_routes = local.jobs_api_enabled ? {
    submit = "POST /jobs"
    status = "GET /jobs/{id}"
  } : {}

  # Built from names, like the state machine's ARN: the roles' policies (local.policies) must not
  # depend on resources that only exist when the API is enabled.
  job_queue_name = "${var.name}-jobs"
  job_dlq_name   = "${var.name}-jobs-dlq"
  job_queue_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.job_queue_name}"
  job_dlq_arn    = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.job_dlq_name}"
}

# Submissions intake gave up on, with the reason in the message attribute stepscore-failure
# (intake sends them on the last allowed receive), or moved by the redrive policy when intake
# died before it could say why.
resource "aws_sqs_queue" "jobs_dlq" {
  count = local.jobs_api_enabled ? 1 : 0

  name                      = local.job_dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = local.tags
}

resource "aws_sqs_queue" "jobs" {
  count = local.jobs_api_enabled ? 1 : 0

  name                    = local.job_queue_name
  sqs_managed_sse_enabled = true
  # AWS's guidance for a Lambda event source: at least six times the function's timeout, so a
  # batch being admitted is not handed out again
  visibility_timeout_seconds = 6 * var.lambda_timeout_seconds
  message_retention_seconds  = var.jobs_queue_retention_seconds
  # a config is at most 64 KiB; the message adds its job id and source
  max_message_size = 262144

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.jobs_dlq[0].arn
    maxReceiveCount     = var.jobs_max_receives
  })

  tags = local.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "jobs_dlq" {
  count = local.jobs_api_enabled ? 1 : 0

  queue_url = aws_sqs_queue.jobs_dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs[0].arn]
  })
}

# Lambda polls the job queue with the intake function's role and deletes what it admitted;
# a message reported in batchItemFailures comes back after the visibility timeout.
resource "aws_lambda_event_source_mapping" "intake" {
  count = local.jobs_api_enabled ? 1 : 0

  event_source_arn        = aws_sqs_queue.jobs[0].arn
  function_name           = aws_lambda_function.this["intake"].arn
  batch_size              = var.jobs_intake_batch_size
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    # at most this many concurrent intake invocations: admission writes DynamoDB and starts
    # executions, which a burst of submissions should not throttle
    maximum_concurrency = var.jobs_intake_max_concurrency
  }
}

module "jobs_api" {
  source = "./modules/http_api"
  count  = local.jobs_api_enabled ? 1 : 0

  name                   = "${var.name}-jobs"
  description            = "Batch job submission (POST /jobs) and status (GET /jobs/{id}); SigV4-signed requests only"
  routes                 = local.jobs_routes
  function_name          = aws_lambda_function.this["jobs"].function_name
  function_invoke_arn    = aws_lambda_function.this["jobs"].invoke_arn
  throttling_burst_limit = var.jobs_api_throttling_burst_limit
  throttling_rate_limit  = var.jobs_api_throttling_rate_limit
  log_retention_days     = var.log_retention_days
  log_kms_key_arn        = aws_kms_key.observability.arn
  tags                   = local.tags
}
