################################################################################
# Key for logs and alarms, alarm topic, alarms
################################################################################

# One customer managed key for the log groups and the alarm topic. Both are used by AWS services
# on the module's behalf (CloudWatch Logs, CloudWatch alarms publishing to SNS), which the AWS
# managed keys do not allow; the key policy names exactly those services.
resource "aws_kms_key" "observability" {
  description             = "${var.name}: CloudWatch log groups and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Administration through IAM policies of this account (whoever runs terraform).
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "kms:CancelKeyDeletion",
          "kms:CreateAlias",
          "kms:CreateGrant",
          "kms:DeleteAlias",
          "kms:DescribeKey",
          "kms:DisableKey",
          "kms:DisableKeyRotation",
          "kms:EnableKey",
          "kms:EnableKeyRotation",
          "kms:GetKeyPolicy",
          "kms:GetKeyRotationStatus",
          "kms:ListAliases",
          "kms:ListGrants",
          "kms:ListResourceTags",
          "kms:PutKeyPolicy",
          "kms:RevokeGrant",
          "kms:ScheduleKeyDeletion",
          "kms:TagResource",
          "kms:UntagResource",
          "kms:UpdateAlias",
          "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypts"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:DescribeKey",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        Sid       = "AlarmsPublishToTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        # The Batch job-failure rule publishes each failed job (name, queue, reason) to the topic.
        Sid       = "EventsPublishToTopic"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })

  tags = local.tags
}

resource "aws_kms_alias" "observability" {
  name          = "alias/${var.name}-observability"
  target_key_id = aws_kms_key.observability.key_id
}

resource "aws_sns_topic" "alarms" {
  count = var.create_alarm_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.observability.arn

  tags = local.tags
}

data "aws_iam_policy_document" "alarms_topic" {
  count = var.create_alarm_topic ? 1 : 0

  statement {
    sid       = "AlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "BatchJobFailuresPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.batch_job_failed.arn]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = var.create_alarm_topic ? 1 : 0

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarms_topic[0].json
}

resource "aws_sns_topic_subscription" "alarm_emails" {
  for_each = var.create_alarm_topic ? toset(var.alarm_emails) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = concat(aws_sns_topic.alarms[*].arn, var.alarm_actions)

  execution_alarms = {
    failed    = { metric = "ExecutionsFailed", description = "A scoring pipeline execution failed (the job record says why)" }
    timed_out = { metric = "ExecutionsTimedOut", description = "A scoring pipeline execution timed out" }
    aborted   = { metric = "ExecutionsAborted", description = "A scoring pipeline execution was aborted" }
  }

  dlq_alarms = merge(
    {
      events    = { queue = aws_sqs_queue.lambda_dlq.name, description = "An S3 job-config event or a scheduled run failed in admit or schedule after retries (see ${aws_sqs_queue.lambda_dlq.name})" }
      scheduler = { queue = aws_sqs_queue.scheduler_dlq.name, description = "EventBridge Scheduler could not deliver a scheduled run (see ${aws_sqs_queue.scheduler_dlq.name})" }
    },
    { for name, queue in aws_sqs_queue.jobs_dlq : "jobs" => { queue = queue.name, description = "A job submitted over HTTP could not be admitted; the message attribute stepscore-failure says why (see ${queue.name})" } },
  )
}

resource "aws_cloudwatch_metric_alarm" "executions" {
  for_each = local.execution_alarms

  alarm_name          = "${var.name}-executions-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = "AWS/States"
  metric_name         = each.value.metric
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.dlq_alarms

  alarm_name          = "${var.name}-${each.key}-dlq-not-empty"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

################################################################################
# Lambda errors and throttles, Batch job failures, over-long executions
################################################################################

# Declared beside the alarm it tunes rather than in variables.tf, so the alarm and its threshold
# read together.
variable "execution_time_alarm_seconds" {
  description = "An execution that took longer than this (seconds) raises <name>-executions-too-long; null derives it from the job definition: 2 queues (spot, then on-demand) x Batch attempts x (batch_runnable_timeout_seconds + batch_job_timeout_seconds). Set it to the worst case of the longest timeout_seconds your job configs use"
  type        = number
  default     = null

  validation {
    condition     = var.execution_time_alarm_seconds == null || try(var.execution_time_alarm_seconds >= 60, false)
    error_message = "execution_time_alarm_seconds must be null or 60 or more."
  }
}

locals {
  # Every function gets both alarms: Errors counts invocations that ended in a function error
  # (for admit and schedule, before Lambda's asynchronous retries), Throttles counts invocations
  # refused by the reserved concurrency (an S3 burst, or the account quota).
  lambda_alarm_metrics = {
    errors    = "Errors"
    throttles = "Throttles"
  }
  lambda_alarms = {
    for pair in setproduct(keys(local.lambda_functions), keys(local.lambda_alarm_metrics)) :
    "${pair[0]}-${pair[1]}" => { function = pair[0], metric = local.lambda_alarm_metrics[pair[1]] }
  }

  # The longest an execution may legitimately take: the spot attempt and the on-demand fallback,
  # each up to `attempts` Batch attempts, each waiting at most the RUNNABLE limit and running at
  # most the attempt timeout. Longer means a job ran past its timeout or the poll loop is stuck.
  execution_time_alarm_seconds = coalesce(
    var.execution_time_alarm_seconds,
    2 * local.retry_strategy.attempts * (var.batch_runnable_timeout_seconds + var.batch_job_timeout_seconds),
  )
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.lambda_alarms

  alarm_name          = "${var.name}-${each.value.function}-${lower(each.value.metric)}"
  alarm_description   = "Function ${var.name}-${each.value.function}: ${each.value.metric} in the last 5 minutes (its log group /aws/lambda/${var.name}-${each.value.function} says why)"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this[each.value.function].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

# AWS Batch publishes no per-job failure metric; its "Batch Job State Change" events are the
# documented signal. The rule matches a job of this module's queues entering FAILED (a scorer
# error, an attempt timeout, a spot reclaim after all attempts, a job cancelled in RUNNABLE), sends
# the job's name, queue and reason to the alarm topic, and the alarm below counts the rule's
# triggers so the failure also shows as alarm state next to the others.
resource "aws_cloudwatch_event_rule" "batch_job_failed" {
  name        = "${var.name}-batch-job-failed"
  description = "A scoring job of the ${var.name} queues failed"

  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = local.job_queue_arns
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "batch_job_failed" {
  count = var.create_alarm_topic ? 1 : 0

  rule      = aws_cloudwatch_event_rule.batch_job_failed.name
  target_id = "alarm-topic"
  arn       = aws_sns_topic.alarms[0].arn

  input_transformer {
    input_paths = {
      job    = "$.detail.jobName"
      id     = "$.detail.jobId"
      queue  = "$.detail.jobQueue"
      reason = "$.detail.statusReason"
    }
    input_template = "\"Batch job <job> (<id>) on <queue> failed: <reason>\""
  }
}

resource "aws_cloudwatch_metric_alarm" "batch_job_failed" {
  alarm_name          = "${var.name}-batch-job-failed"
  alarm_description   = "A scoring job failed in AWS Batch (the topic message and aws batch describe-jobs give the reason; the state machine may still have retried it on demand)"
  namespace           = "AWS/Events"
  metric_name         = "TriggeredRules"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.batch_job_failed.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

# ExecutionTime is emitted when an execution closes, so this alarm reports an execution that ran
# past the longest legitimate duration once it ends; one that never ends is bounded by the state
# machine's own TimeoutSeconds and then raises <name>-executions-timed-out. Listing the RUNNING
# executions older than the threshold (docs/deploy.md, "Alarms") finds them before that.
resource "aws_cloudwatch_metric_alarm" "execution_too_long" {
  alarm_name          = "${var.name}-executions-too-long"
  alarm_description   = "A scoring pipeline execution took longer than ${local.execution_time_alarm_seconds} s, the longest its Batch attempts and queue waits allow"
  namespace           = "AWS/States"
  metric_name         = "ExecutionTime"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.execution_time_alarm_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}
