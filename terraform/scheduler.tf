################################################################################
# EventBridge Scheduler: recurring runs through the schedule function
################################################################################

resource "aws_scheduler_schedule_group" "this" {
  count = length(var.schedules) > 0 ? 1 : 0

  name = var.name

  tags = local.tags
}

resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297:The input is a job-config template (keys and a model name, no secrets), encrypted at rest with an AWS owned key; a customer managed key would add kms:Decrypt to the scheduler role for nothing
  for_each = var.schedules

  name                         = each.key
  group_name                   = aws_scheduler_schedule_group.this[0].name
  description                  = each.value.description
  schedule_expression          = each.value.expression
  schedule_expression_timezone = each.value.timezone
  state                        = each.value.enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["schedule"].arn
    role_arn = aws_iam_role.scheduler.arn
    # The job-config template and the time it was scheduled for: a retried invocation carries the
    # same time, so the schedule function derives the same job id and starts nothing twice; the
    # time zone is the one {{date}} and {{time}} are written in.
    input = jsonencode({
      schedule       = each.key
      template       = jsondecode(each.value.template)
      scheduled_time = "<aws.scheduler.scheduled-time>"
      time_zone      = each.value.timezone
    })

    retry_policy {
      maximum_retry_attempts       = var.schedule_maximum_retry_attempts
      maximum_event_age_in_seconds = var.schedule_maximum_event_age_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.scheduler_dlq.arn
    }
  }
}
