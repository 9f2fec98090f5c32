################################################################################
# Cleanup: an execution that ends without finishing its job
################################################################################

# Step Functions sends every status change of an execution to the default event bus. The ones
# that can leave a Batch job running (stopped by a user, timed out, failed past every Catch) go
# to the cleanup function, which terminates the job's Batch attempts and records the job FAILED
# with why. EventBridge invokes it asynchronously: Lambda's retries, then the events
# dead-letter queue (aws_lambda_function_event_invoke_config.async), keep a failed cleanup.
resource "aws_cloudwatch_event_rule" "execution_ended" {
  name        = "${var.name}-execution-ended"
  description = "Executions of ${local.state_machine_name} that end ABORTED, TIMED_OUT or FAILED, for the cleanup function"

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      stateMachineArn = [local.state_machine_arn]
      status          = ["ABORTED", "TIMED_OUT", "FAILED"]
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "cleanup" {
  rule      = aws_cloudwatch_event_rule.execution_ended.name
  target_id = "cleanup"
  arn       = aws_lambda_function.this["cleanup"].arn

  # an event EventBridge cannot deliver at all (the function deleted, throttled for a day) is
  # kept too, beside the ones the function failed on
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.lambda_dlq.arn
  }
}

resource "aws_lambda_permission" "events_cleanup" {
  statement_id   = "AllowExecutionStatusChanges"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["cleanup"].function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.execution_ended.arn
  source_account = local.account_id
}

# EventBridge sends undeliverable events to the dead-letter queue as itself: the queue allows
# exactly this rule and the job notifications' (notifications.tf).
data "aws_iam_policy_document" "events_to_dlq" {
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.lambda_dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = concat([aws_cloudwatch_event_rule.execution_ended.arn], aws_cloudwatch_event_rule.job_status_change[*].arn)
    }
  }
}

resource "aws_sqs_queue_policy" "events_to_dlq" {
  queue_url = aws_sqs_queue.lambda_dlq.id
  policy    = data.aws_iam_policy_document.events_to_dlq.json
}
