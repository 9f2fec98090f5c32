################################################################################
# AWS Batch: spot and on-demand compute, their queues, the scoring job definition
################################################################################

resource "aws_cloudwatch_log_group" "batch" {
  name              = "/aws/batch/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  tags = local.tags
}

resource "aws_batch_compute_environment" "this" {
  for_each = local.compute_environments

  # A prefix, not a name: changing compute resources replaces the environment, and the new one
  # must exist before the queue lets go of the old one.
  name_prefix = "${var.name}-${replace(each.key, "_", "-")}-"
  type        = "MANAGED"
  state       = "ENABLED"

  compute_resources {
    type                = each.value.type
    allocation_strategy = each.value.allocation_strategy
    max_vcpus           = var.batch_max_vcpus
    min_vcpus           = local.fargate ? null : 0
    instance_type       = local.fargate ? null : local.batch_instance_types
    instance_role       = local.fargate ? null : aws_iam_instance_profile.batch_instance[0].arn
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids

    dynamic "ec2_configuration" {
      for_each = local.fargate ? [] : [1]

      content {
        image_type = "ECS_AL2023"
      }
    }

    tags = local.fargate ? null : merge(local.tags, {
      Name = "${var.name}-${each.key}"
    })
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_batch_job_queue" "this" {
  for_each = local.compute_environments

  name     = local.job_queue_names[each.key]
  state    = "ENABLED"
  priority = 1

  # The spot queue has no on-demand fallback of its own: the state machine resubmits a
  # spot-reclaimed job on the on-demand queue explicitly, when the job's config allows it.
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this[each.key].arn
  }

  # A job that can never be placed (no capacity, or larger than any instance) would sit in
  # RUNNABLE for ever and the pipeline would poll it for ever: cancel it, so the run fails.
  dynamic "job_state_time_limit_action" {
    for_each = local.runnable_cancel_reasons

    content {
      state            = "RUNNABLE"
      action           = "CANCEL"
      max_time_seconds = var.batch_runnable_timeout_seconds
      reason           = job_state_time_limit_action.value
    }
  }

  tags = local.tags
}

resource "aws_batch_job_definition" "score" {
  name                  = local.job_definition_name
  type                  = "container"
  platform_capabilities = [local.fargate ? "FARGATE" : "EC2"]
  propagate_tags        = true

  # Executions started before an apply submit to the revision they were deployed with (the state
  # machine names it by ARN); the provider's default would deregister it under them.
  deregister_on_new_revision = false

  container_properties = jsonencode(merge(
    {
      image            = local.batch_image
      jobRoleArn       = aws_iam_role.batch_job.arn
      executionRoleArn = aws_iam_role.batch_execution.arn
      resourceRequirements = [
        { type = "VCPU", value = tostring(var.batch_job_vcpus) },
        { type = "MEMORY", value = tostring(var.batch_job_memory_mib) },
      ]
      environment = [
        for key in sort(keys(var.batch_job_environment)) : { name = key, value = var.batch_job_environment[key] }
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.batch.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "score"
        }
      }
    },
    local.fargate ? {
      fargatePlatformConfiguration = { platformVersion = "LATEST" }
      runtimePlatform              = { operatingSystemFamily = "LINUX", cpuArchitecture = var.batch_cpu_architecture }
      networkConfiguration         = { assignPublicIp = var.batch_assign_public_ip ? "ENABLED" : "DISABLED" }
    } : {}
  ))

  # Identical to batch-job/retry-strategy.json, which the submit function also sends.
  retry_strategy {
    attempts = local.retry_strategy.attempts

    dynamic "evaluate_on_exit" {
      for_each = local.retry_strategy.evaluateOnExit

      content {
        action           = evaluate_on_exit.value.action
        on_exit_code     = lookup(evaluate_on_exit.value, "onExitCode", null)
        on_reason        = lookup(evaluate_on_exit.value, "onReason", null)
        on_status_reason = lookup(evaluate_on_exit.value, "onStatusReason", null)
      }
    }
  }

  timeout {
    attempt_duration_seconds = var.batch_job_timeout_seconds
  }

  tags = local.tags
}
