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
  job_definition_arn  = "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-definition/${local.job_definition_name}"
  job_queue_names = {
    spot      = "${var.name}-spot"
    on_demand = "${var.name}-on-demand"
  }
  job_queue_arns = {
    for kind, queue in local.job_queue_names : kind => "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-queue/${queue}"
  }

  # Function ARNs are built from names like the state machine's: the roles' policies must not
  # depend on the functions, which depend on the roles.
  function_arn_prefix = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name}-"

  # iam/policies.json: every principal's permissions (each function, the Batch job role, the
  # state machine and Scheduler roles, and the policy for users of the CLI's --aws commands) with
  # their resources. It is the one source: the roles in iam.tf take their statements from it
  # unchanged, and the code's tests evaluate every AWS call the code makes against it, rendered
  # with the same placeholders. templatefile fails the plan on a placeholder not given here.
  policies = jsondecode(templatefile("${path.module}/../iam/policies.json", {
    partition               = local.partition
    region                  = local.region
    account_id              = local.account_id
    bucket_arn              = local.bucket_arn
    jobs_prefix             = var.jobs_prefix
    models_prefix           = var.models_prefix
    inputs_prefix           = var.inputs_prefix
    outputs_prefix          = var.outputs_prefix
    table_arn               = aws_dynamodb_table.jobs.arn
    state_machine_arn       = local.state_machine_arn
    state_machine_name      = local.state_machine_name
    spot_job_queue_arn      = local.job_queue_arns["spot"]
    on_demand_job_queue_arn = local.job_queue_arns["on_demand"]
    job_definition_arn      = local.job_definition_arn
    function_arn_prefix     = local.function_arn_prefix
    scheduler_dlq_arn       = aws_sqs_queue.scheduler_dlq.arn
    event_bus_arn           = local.event_bus_arn
    predict_model_arn       = local.predict_model_arn
    job_queue_arn           = local.job_queue_arn
    job_dlq_arn             = local.job_dlq_arn
  })).principals

  # One entry per function of handlers/lambda-functions.json: the pipeline's, the predict
  # function when it is enabled, and the job API's two when it is. The role policy of each is its principal's statements in
  # local.policies (exactly the AWS API calls the function's code makes, each on only the
  # resources it touches); iam.tf adds only what the platform itself needs (own log group, X-Ray,
  # and the on-failure destination of the asynchronously invoked functions). terraform/tests
  # checks both.
  # (a for expression, not `cond ? map : {}`: a conditional's two object types must agree)
  lambda_functions = merge(
    local.pipeline_functions,
    { for name, f in local.predict_function : name => f if local.predict_enabled },
    { for name, f in local.jobs_api_functions : name => f if local.jobs_api_enabled },
  )

  pipeline_functions = {
    admit = {
      binary      = "stepscore-admit"
      description = "Validates a job config dropped under ${var.jobs_prefix}, records the job and starts the scoring pipeline"
      async       = true
      environment = {
        STEPSCORE_TABLE             = local.table_name
        STEPSCORE_STATE_MACHINE_ARN = local.state_machine_arn
        STEPSCORE_JOBS_PREFIX       = var.jobs_prefix
      }
    }

    register = {
      binary      = "stepscore-register"
      description = "Registers the job record when an execution starts (also for runs started by hand)"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
    }

    submit = {
      binary      = "stepscore-submit"
      description = "Submits the scoring job to the spot or on-demand Batch queue"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
    }

    check = {
      binary      = "stepscore-check"
      description = "Reads the Batch job's status for the pipeline's polling loop, and the scorer's progress into the job record"
      async       = false
      environment = {
        STEPSCORE_TABLE = local.table_name
      }
    }

    finalize = {
      binary      = "stepscore-finalize"
      description = "Writes the run's outcome, metrics and reason to the job record and publishes the job's status change"
      async       = false
      environment = {
        STEPSCORE_TABLE     = local.table_name
        STEPSCORE_EVENT_BUS = local.event_bus_name
      }
    }

    cleanup = {
      binary      = "stepscore-cleanup"
      description = "Terminates the Batch job of an execution that ended ABORTED, TIMED_OUT or FAILED, records the job FAILED and publishes its status change"
      async       = true
      environment = {
        STEPSCORE_TABLE     = local.table_name
        STEPSCORE_EVENT_BUS = local.event_bus_name
      }
    }

    schedule = {
      binary      = "stepscore-schedule"
      description = "Turns a schedule's job-config template into a job and admits it"
      async       = true
      environment = {
        STEPSCORE_TABLE             = local.table_name
        STEPSCORE_STATE_MACHINE_ARN = local.state_machine_arn
      }
    }
  }

  # Online predictions (api.tf): the function behind the HTTP API, deployed when a model is named.
  predict_enabled = var.predict_model_uri != null
  # s3://bucket/key as the object's ARN: the predict role may read that one object
  predict_model_arn = local.predict_enabled ? "arn:${local.partition}:s3:::${trimprefix(var.predict_model_uri, "s3://")}" : "arn:${local.partition}:s3:::${local.bucket_name}/${var.models_prefix}predict-disabled"

  predict_function = {
    predict = {
      binary      = "stepscore-predict"
      description = "Answers KServe v1 predict and metadata requests of the HTTP API with the model artifact at predict_model_uri"
      async       = false
      environment = {
        STEPSCORE_MODEL_URI           = coalesce(var.predict_model_uri, "s3://${local.bucket_name}/${var.models_prefix}predict-disabled")
        STEPSCORE_MODEL_NAME          = var.predict_model_name
        STEPSCORE_MODEL_CHECK_SECONDS = tostring(var.predict_model_check_seconds)
        STEPSCORE_MAX_BODY_BYTES      = tostring(var.predict_max_body_bytes)
        STEPSCORE_MAX_ROWS            = tostring(var.predict_max_rows)
      }
    }
  }

  # Batch jobs over HTTP (jobs_api.tf): the front door behind the HTTP API, and the job queue's
  # consumer.
  jobs_api_functions = {
    jobs = {
      binary      = "stepscore-jobs"
      description = "Answers POST /jobs (checks the config, queues it) and GET /jobs/{id} (the job record) of the job HTTP API"
      async       = false
      environment = {
        STEPSCORE_TABLE         = local.table_name
        STEPSCORE_JOB_QUEUE_URL = try(aws_sqs_queue.jobs[0].url, "")
        STEPSCORE_JOBS_PREFIX   = var.jobs_prefix
      }
    }

    intake = {
      binary      = "stepscore-intake"
      description = "Admits the job submissions of the SQS job queue; those it gives up on go to the dead-letter queue with the reason"
      async       = false
      environment = {
        STEPSCORE_TABLE             = local.table_name
        STEPSCORE_STATE_MACHINE_ARN = local.state_machine_arn
        STEPSCORE_JOBS_PREFIX       = var.jobs_prefix
        STEPSCORE_JOB_DLQ_URL       = try(aws_sqs_queue.jobs_dlq[0].url, "")
        STEPSCORE_MAX_RECEIVES      = tostring(var.jobs_max_receives)
      }
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
