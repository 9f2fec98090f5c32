################################################################################
# Dead-letter queues
################################################################################

# Events that admit or schedule failed to process after Lambda's retries: the S3 event or the
# schedule input, with the error, for inspection and redrive.
resource "aws_sqs_queue" "lambda_dlq" {
  name                      = "${var.name}-events-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = local.tags
}

# Scheduled runs EventBridge Scheduler could not deliver to the schedule function; the scheduler
# sends them with the schedule's execution role, which holds sqs:SendMessage on this queue only.
resource "aws_sqs_queue" "scheduler_dlq" {
  name                      = "${var.name}-scheduler-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = local.tags
}
