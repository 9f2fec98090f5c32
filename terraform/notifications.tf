################################################################################
# Job notifications: "stepscore Job Status Change" events
################################################################################

# finalize and cleanup publish one event per job that reaches SUCCEEDED or FAILED to the
# account's default event bus (source "stepscore", detail-type "stepscore Job Status Change";
# their roles may put events on that bus only). Any rule can take them from there; with
# notification_emails or notification_topic_arn set, this module adds one that sends each to an
# SNS topic (e-mail, chat through AWS Chatbot, anything SNS reaches).
locals {
  event_bus_name = "default"
  event_bus_arn  = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${local.event_bus_name}"

  create_notification_topic = var.notification_topic_arn == null && length(var.notification_emails) > 0
  notification_topic_arn = (
    var.notification_topic_arn != null ? var.notification_topic_arn :
    local.create_notification_topic ? aws_sns_topic.job_notifications[0].arn : null
  )
  notify = local.notification_topic_arn != null
}

resource "aws_sns_topic" "job_notifications" {
  count = local.create_notification_topic ? 1 : 0

  name = "${var.name}-job-status"
  # the key's policy lets EventBridge publish to topics it encrypts (EventsPublishToTopic)
  kms_master_key_id = aws_kms_key.observability.arn

  tags = local.tags
}

resource "aws_sns_topic_subscription" "job_notifications_email" {
  for_each = local.create_notification_topic ? toset(var.notification_emails) : toset([])

  topic_arn = aws_sns_topic.job_notifications[0].arn
  protocol  = "email"
  endpoint  = each.value
}

data "aws_iam_policy_document" "job_notifications_topic" {
  count = local.create_notification_topic ? 1 : 0

  statement {
    sid       = "JobStatusChangesPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.job_notifications[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.job_status_change[0].arn]
    }
  }
}

resource "aws_sns_topic_policy" "job_notifications" {
  count = local.create_notification_topic ? 1 : 0

  arn    = aws_sns_topic.job_notifications[0].arn
  policy = data.aws_iam_policy_document.job_notifications_topic[0].json
}

resource "aws_cloudwatch_event_rule" "job_status_change" {
  count = local.notify ? 1 : 0

  name           = "${var.name}-job-status-change"
  description    = "Jobs of ${var.name} that reached SUCCEEDED or FAILED, to the notification topic"
  event_bus_name = local.event_bus_name

  event_pattern = jsonencode({
    source        = ["stepscore"]
    "detail-type" = ["stepscore Job Status Change"]
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "job_status_change" {
  count = local.notify ? 1 : 0

  rule           = aws_cloudwatch_event_rule.job_status_change[0].name
  event_bus_name = local.event_bus_name
  target_id      = "notification-topic"
  arn            = local.notification_topic_arn

  dead_letter_config {
    arn = aws_sqs_queue.lambda_dlq.arn
  }
}
