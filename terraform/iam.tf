################################################################################
# Lambda roles: one per function, exactly the calls its code makes
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.lambda_functions

  name               = "${var.name}-${each.key}"
  description        = "Runs the ${each.key} function of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "lambda" {
  for_each = local.lambda_functions

  # The calls the handler's code makes: its principal in iam/policies.json, see locals.tf.
  source_policy_documents = [jsonencode({ Version = "2012-10-17", Statement = local.policies[each.key].statements })]

  # Platform: the runtime writes the function's logs to its own log group only.
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
  }

  # Platform: active tracing; X-Ray accepts no resource narrower than "*" for these.
  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  # Platform: Lambda sends failed asynchronous events to the on-failure destination with the
  # function's own role.
  dynamic "statement" {
    for_each = each.value.async ? [1] : []

    content {
      sid       = "SendFailedEvents"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.lambda_dlq.arn]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.lambda_functions

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.lambda[each.key].id
  policy = data.aws_iam_policy_document.lambda[each.key].json
}

################################################################################
# State machine role: invoke the four task functions, deliver logs and traces
################################################################################

data "aws_iam_policy_document" "state_machine_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name}-state-machine"
  description        = "Runs the ${var.name} scoring pipeline state machine"
  assume_role_policy = data.aws_iam_policy_document.state_machine_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "state_machine" {
  # Invoke the four task functions (qualified ARNs too) and deliver execution logs (CloudWatch
  # Logs vended delivery accepts no resource narrower than "*"): iam/policies.json.
  source_policy_documents = [jsonencode({ Version = "2012-10-17", Statement = local.policies.state_machine.statements })]

  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid = "WriteTraces"
      actions = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "${var.name}-state-machine"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

################################################################################
# Scheduler role: invoke the schedule function, dead-letter undeliverable runs
################################################################################

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "Lets EventBridge Scheduler start ${var.name} runs"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "scheduler" {
  # Invoke the schedule function, dead-letter undeliverable runs: iam/policies.json.
  source_policy_documents = [jsonencode({ Version = "2012-10-17", Statement = local.policies.scheduler.statements })]
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

################################################################################
# Batch roles
################################################################################

# Service role: none is created. Without service_role, AWS Batch uses its service-linked role
# AWSServiceRoleForBatch, which AWS maintains with exactly the EC2, ECS and Auto Scaling calls
# Batch makes on your behalf; a hand-written role could be no narrower and would age.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Job role: what the scoring container (stepscore-batch) itself calls.
resource "aws_iam_role" "batch_job" {
  name               = "${var.name}-batch-job"
  description        = "The ${var.name} scoring container: read models and inputs, write outputs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "batch_job" {
  # Read models and inputs, write outputs; ListBucket lets a missing model or input surface as
  # NoSuchKey (exit 66) rather than AccessDenied and an array job find its shards:
  # iam/policies.json, where the tests prove these are the calls stepscore-batch makes.
  source_policy_documents = [jsonencode({ Version = "2012-10-17", Statement = local.policies.batch_job.statements })]
}

resource "aws_iam_role_policy" "batch_job" {
  name   = "${var.name}-batch-job"
  role   = aws_iam_role.batch_job.id
  policy = data.aws_iam_policy_document.batch_job.json
}

# Execution role: what the container agent does before and around the container (Fargate, and
# the awslogs driver): pull the image and write the job's logs.
resource "aws_iam_role" "batch_execution" {
  name               = "${var.name}-batch-execution"
  description        = "Pulls the ${var.name} scoring image and writes its logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "batch_execution" {
  statement {
    # GetAuthorizationToken is account-wide: it accepts only "*".
    sid       = "AuthenticateToRegistry"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullScoringImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.batch.arn]
  }

  statement {
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.batch.arn}:*"]
  }
}

resource "aws_iam_role_policy" "batch_execution" {
  name   = "${var.name}-batch-execution"
  role   = aws_iam_role.batch_execution.id
  policy = data.aws_iam_policy_document.batch_execution.json
}

# Instance role (EC2 compute only): the ECS agent on the instances Batch launches.
data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "batch_instance" {
  count = local.fargate ? 0 : 1

  name               = "${var.name}-batch-instance"
  description        = "ECS agent of the instances running ${var.name} scoring jobs"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "batch_instance" {
  statement {
    # Batch names the ECS cluster of a compute environment after it: <environment>_Batch_<id>.
    sid = "RunContainerInstance"
    actions = [
      "ecs:RegisterContainerInstance",
      "ecs:DeregisterContainerInstance",
      "ecs:UpdateContainerInstancesState",
      "ecs:SubmitContainerStateChange",
      "ecs:SubmitTaskStateChange",
      "ecs:SubmitAttachmentStateChanges",
    ]
    resources = [
      "arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/${var.name}-*",
      "arn:${local.partition}:ecs:${local.region}:${local.account_id}:container-instance/${var.name}-*",
    ]
  }

  statement {
    # Only to tag the container instance as it registers.
    sid       = "TagContainerInstanceOnRegistration"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:container-instance/${var.name}-*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterContainerInstance"]
    }
  }

  statement {
    sid       = "PollForTasks"
    actions   = ["ecs:Poll", "ecs:StartTelemetrySession", "ecs:PutSystemLogEvents"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:container-instance/${var.name}-*"]
  }

  statement {
    # DiscoverPollEndpoint and GetAuthorizationToken accept only "*".
    sid       = "DiscoverEndpoints"
    actions   = ["ecs:DiscoverPollEndpoint", "ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullScoringImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.batch.arn]
  }

  statement {
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.batch.arn}:*"]
  }
}

resource "aws_iam_role_policy" "batch_instance" {
  count = local.fargate ? 0 : 1

  name   = "${var.name}-batch-instance"
  role   = aws_iam_role.batch_instance[0].id
  policy = data.aws_iam_policy_document.batch_instance.json
}

resource "aws_iam_instance_profile" "batch_instance" {
  count = local.fargate ? 0 : 1

  name = "${var.name}-batch-instance"
  role = aws_iam_role.batch_instance[0].name

  tags = local.tags
}
