data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  bucket_name = coalesce(var.bucket_name, "${var.name}-${local.account_id}-${local.region}")
  bucket_arn  = "arn:${local.partition}:s3:::${local.bucket_name}"
  table_name  = coalesce(var.table_name, "${var.name}-jobs")

  # Built from its name rather than taken from the resource: admit and schedule need it in their
  # environment, and the state machine needs the task functions' ARNs, so referencing the resource
  # would make one for_each over the functions depend on itself.
  state_machine_name = "${var.name}-scoring-pipeline"
  state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"

  state_machine_definition_path = coalesce(var.state_machine_definition_path, "${path.module}/../state-machines/scoring-pipeline.asl.json")

  # The Batch retryStrategy is shared with the submit function, which sends the same file's content.
  retry_strategy = jsondecode(file("${path.module}/../batch-job/retry-strategy.json"))

  job_definition_name = "${var.name}-score"
  job_definition_arns = [
    "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-definition/${local.job_definition_name}",
    "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-definition/${local.job_definition_name}:*",
  ]
  job_queue_names = {
    spot      = "${var.name}-spot"
    on_demand = "${var.name}-on-demand"
  }
  job_queue_arns = [
    for queue in values(local.job_queue_names) : "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-queue/${queue}"
  ]

  # One entry per handler of handlers/lambda-functions.json. `statements` are exactly the AWS API
  # calls the function's code makes (that file's iam_actions), each on only the resources it
  # touches; iam.tf adds only what the platform itself needs (own log group, X-Ray, and the
  # on-failure destination of the asynchronously invoked functions). terraform/tests checks both.
  lambda_functions = {
    admit = {
      binary      = "stepscore-admit"
      description = "Validates a job config dropped under ${var.jobs_prefix}, records the job and starts the scoring pipeline"
      async       = true
      environment = {
        STEPSCORE_TABLE             = local.table_name
        STEPSCORE_STATE_MACHINE_ARN = local.state_machine_arn
      }
      statements = [
        {
          sid       = "ReadJobConfigs"
          actions   = ["s3:GetObject"]
          resources = ["${local.bucket_arn}/${var.jobs_prefix}*"]
          prefixes  = []
        },
        {
          # Without ListBucket a missing key reads as AccessDenied instead of NoSuchKey.
          sid       = "ListJobConfigs"
          actions   = ["s3:ListBucket"]
          resources = [local.bucket_arn]
          prefixes  = ["${var.jobs_prefix}*"]
        },
        {
          sid       = "CreateJobRecord"
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.jobs.arn]
          prefixes  = []
        },
        {
          sid       = "StartPipeline"
          actions   = ["states:StartExecution"]
          resources = [local.state_machine_arn]
          prefixes  = []
        },
      ]
    }

    register = {
      binary      = "stepscore-register"
      description = "Registers the job record when an execution starts (also for runs started by hand)"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
      statements = [
        {
          sid       = "CreateJobRecord"
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.jobs.arn]
          prefixes  = []
        },
      ]
    }

    submit = {
      binary      = "stepscore-submit"
      description = "Submits the scoring job to the spot or on-demand Batch queue"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
      statements = [
        {
          sid       = "SubmitScoringJob"
          actions   = ["batch:SubmitJob"]
          resources = concat(local.job_queue_arns, local.job_definition_arns)
          prefixes  = []
        },
        {
          # Before submitting, the handler looks its attempt up by job name (a retried Submit must
          # not run the job twice); ListJobs has no resource-level permissions.
          sid       = "FindSubmittedJob"
          actions   = ["batch:ListJobs"]
          resources = ["*"]
          prefixes  = []
        },
        {
          # SubmitJob with tags (job id, run) needs TagResource on the job it creates.
          sid       = "TagScoringJob"
          actions   = ["batch:TagResource"]
          resources = ["arn:${local.partition}:batch:${local.region}:${local.account_id}:job/*"]
          prefixes  = []
        },
        {
          sid       = "UpdateJobRecord"
          actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.jobs.arn]
          prefixes  = []
        },
      ]
    }

    check = {
      binary      = "stepscore-check"
      description = "Reads the Batch job's status for the pipeline's polling loop"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
      statements = [
        {
          # DescribeJobs and ListJobs (a failed array job's children, to tell a reclaimed spot
          # host from bad input) have no resource-level permissions: "*" is the only resource.
          sid       = "DescribeScoringJobs"
          actions   = ["batch:DescribeJobs", "batch:ListJobs"]
          resources = ["*"]
          prefixes  = []
        },
        {
          sid       = "UpdateJobRecord"
          actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.jobs.arn]
          prefixes  = []
        },
      ]
    }

    finalize = {
      binary      = "stepscore-finalize"
      description = "Writes the run's outcome, metrics and reason to the job record"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
      statements = [
        {
          sid       = "ReadManifests"
          actions   = ["s3:GetObject"]
          resources = ["${local.bucket_arn}/${var.outputs_prefix}*"]
          prefixes  = []
        },
        {
          sid       = "ListOutputs"
          actions   = ["s3:ListBucket"]
          resources = [local.bucket_arn]
          prefixes  = ["${var.outputs_prefix}*"]
        },
        {
          sid       = "FinishJobRecord"
          actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.jobs.arn]
          prefixes  = []
        },
      ]
    }

    schedule = {
      binary      = "stepscore-schedule"
      description = "Turns a schedule's job-config template into a job and admits it"
      async       = true
      environment = {
        STEPSCORE_TABLE             = local.table_name
        STEPSCORE_STATE_MACHINE_ARN = local.state_machine_arn
      }
      statements = [
        {
          # A template may reference a model or input; the function checks they exist.
          sid       = "ReadJobObjects"
          actions   = ["s3:GetObject"]
          resources = ["${local.bucket_arn}/${var.jobs_prefix}*", "${local.bucket_arn}/${var.models_prefix}*", "${local.bucket_arn}/${var.inputs_prefix}*"]
          prefixes  = []
        },
        {
          sid       = "ListJobObjects"
          actions   = ["s3:ListBucket"]
          resources = [local.bucket_arn]
          prefixes  = ["${var.jobs_prefix}*", "${var.models_prefix}*", "${var.inputs_prefix}*"]
        },
        {
          sid       = "CreateJobRecord"
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.jobs.arn]
          prefixes  = []
        },
        {
          sid       = "StartPipeline"
          actions   = ["states:StartExecution"]
          resources = [local.state_machine_arn]
          prefixes  = []
        },
      ]
    }
  }

  # The four functions the state machine calls; its role may invoke these and nothing else.
  state_machine_task_functions = ["register", "submit", "check", "finalize"]

  async_functions = toset([for name, f in local.lambda_functions : name if f.async])

  batch_instance_types = coalesce(var.batch_instance_types, var.batch_cpu_architecture == "ARM64" ? ["c7g", "m7g", "c6g", "m6g"] : ["c7i", "m7i", "c6i", "m6i"])

  fargate = var.batch_compute_type == "FARGATE"

  compute_environments = {
    spot = {
      type                = local.fargate ? "FARGATE_SPOT" : "SPOT"
      allocation_strategy = local.fargate ? null : "SPOT_PRICE_CAPACITY_OPTIMIZED"
    }
    on_demand = {
      type                = local.fargate ? "FARGATE" : "EC2"
      allocation_strategy = local.fargate ? null : "BEST_FIT_PROGRESSIVE"
    }
  }

  # Cancel a job stuck at the head of a queue in RUNNABLE for each reason Batch can report.
  runnable_cancel_reasons = [
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
  ]

  batch_image = coalesce(var.batch_image, "${aws_ecr_repository.batch.repository_url}:${var.batch_image_tag}")

  tags = merge(var.tags, {
    "stepscore:deployment" = var.name
  })
}
