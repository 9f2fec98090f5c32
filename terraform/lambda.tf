################################################################################
# Lambda functions: one per handler binary, provided.al2023 on arm64
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.lambda_functions

  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  tags = local.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.lambda_functions

  #checkov:skip=CKV_AWS_117:The handlers call only regional AWS APIs (S3, DynamoDB, Step Functions, Batch, EventBridge); a VPC would add NAT or endpoint cost and cold-start latency and protect nothing
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and signed uploads the build does not produce; the zips come from the pinned cargo lambda build in CI
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and ARNs, the served model's S3 URI and request limits, no secrets; Lambda encrypts it at rest with its service key
  #checkov:skip=CKV_AWS_116:admit, schedule and cleanup, the asynchronously invoked functions, send failed events to SQS through an on-failure destination (aws_lambda_function_event_invoke_config), which supersedes dead_letter_config; the other four are called synchronously by Step Functions, whose Retry and Catch handle their failures, and predict synchronously by the HTTP API, whose caller gets the answer
  function_name = "${var.name}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.lambda[each.key].arn
  architectures = ["arm64"]
  package_type  = var.lambda_package_type

  # Zip: the bootstrap executable from `cargo lambda build --release --arm64 --output-format zip`.
  runtime          = var.lambda_package_type == "Zip" ? "provided.al2023" : null
  handler          = var.lambda_package_type == "Zip" ? "bootstrap" : null
  filename         = var.lambda_package_type == "Zip" ? "${var.lambda_artifacts_dir}/${each.value.binary}/bootstrap.zip" : null
  source_code_hash = var.lambda_package_type == "Zip" ? filebase64sha256("${var.lambda_artifacts_dir}/${each.value.binary}/bootstrap.zip") : null

  # Image: Dockerfile.lambda built with --build-arg FUNCTION=<binary>, tagged <function>-<tag>.
  image_uri = var.lambda_package_type == "Image" ? "${aws_ecr_repository.lambda[0].repository_url}:${each.key}-${var.lambda_image_tag}" : null

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrency

  environment {
    variables = each.value.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.lambda[each.key].name
    application_log_level = var.lambda_log_level
    system_log_level      = "WARN"
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
  ]
}

# Failed asynchronous invocations (S3 events to admit, schedules to schedule, execution status
# changes to cleanup) land in the events
# dead-letter queue after Lambda's own retries, so no job config is silently dropped.
resource "aws_lambda_function_event_invoke_config" "async" {
  for_each = local.async_functions

  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = var.admit_maximum_retry_attempts
  maximum_event_age_in_seconds = var.admit_maximum_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.lambda_dlq.arn
    }
  }
}

resource "aws_lambda_permission" "s3_admit" {
  statement_id   = "AllowS3JobConfigs"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["admit"].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.this.arn
  source_account = local.account_id
}
