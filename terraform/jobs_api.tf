################################################################################
# Batch jobs over HTTP, deployed when jobs_api_enabled is true: an HTTP API (API Gateway v2) in
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

resource "aws_apigatewayv2_api" "jobs" {
  count = local.jobs_api_enabled ? 1 : 0

  name          = "${var.name}-jobs"
  description   = "Batch job submission (POST /jobs) and status (GET /jobs/{id}); SigV4-signed requests only"
  protocol_type = "HTTP"

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "jobs_api" {
  count = local.jobs_api_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.name}-jobs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  tags = local.tags
}

resource "aws_apigatewayv2_stage" "jobs" {
  count = local.jobs_api_enabled ? 1 : 0

  api_id = aws_apigatewayv2_api.jobs[0].id
  # $default: the stage's name is not part of the URL, so rawPath is the route's path
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.jobs_api_throttling_burst_limit
    throttling_rate_limit    = var.jobs_api_throttling_rate_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.jobs_api[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      error              = "$context.error.message"
    })
  }

  tags = local.tags
}

resource "aws_apigatewayv2_integration" "jobs" {
  count = local.jobs_api_enabled ? 1 : 0

  api_id                 = aws_apigatewayv2_api.jobs[0].id
  description            = "The jobs function (stepscore-jobs)"
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this["jobs"].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "jobs" {
  for_each = local.jobs_routes

  api_id             = aws_apigatewayv2_api.jobs[0].id
  route_key          = each.value
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.jobs[0].id}"
}

# API Gateway may invoke the function for these routes of this API only (any stage): the source
# ARN is <execution ARN>/<stage>/<method>/<path>, a path variable matched by *.
resource "aws_lambda_permission" "jobs_api" {
  for_each = local.jobs_routes

  statement_id  = "AllowHttpApi-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["jobs"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.jobs[0].execution_arn}/*/${split(" ", each.value)[0]}${replace(split(" ", each.value)[1], "{id}", "*")}"
}
