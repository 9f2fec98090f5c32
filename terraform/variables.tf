################################################################################
# General
################################################################################

variable "name" {
  description = "Prefix of every resource name (bucket, table, functions, state machine, queues); lowercase letters, digits and hyphens"
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter, for example \"stepscore\"."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags"
  type        = map(string)
  default     = {}
}

################################################################################
# Object store (S3)
################################################################################

variable "bucket_name" {
  description = "Name of the pipeline bucket; null derives \"<name>-<account id>-<region>\" so the name is globally unique"
  type        = string
  default     = null
}

variable "bucket_force_destroy" {
  description = "Whether terraform destroy may delete the bucket while it still holds objects (all versions are lost)"
  type        = bool
  default     = false
}

variable "jobs_prefix" {
  description = "Key prefix where job configs are dropped; ObjectCreated events of *.json keys under it invoke the admit function"
  type        = string
  default     = "jobs/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.jobs_prefix))
    error_message = "jobs_prefix must be a relative key prefix ending in \"/\", for example \"jobs/\"."
  }
}

variable "models_prefix" {
  description = "Key prefix of model artifacts; the batch job may read under it"
  type        = string
  default     = "models/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.models_prefix))
    error_message = "models_prefix must be a relative key prefix ending in \"/\", for example \"models/\"."
  }
}

variable "inputs_prefix" {
  description = "Key prefix of input CSV files; the batch job may read under it"
  type        = string
  default     = "inputs/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.inputs_prefix))
    error_message = "inputs_prefix must be a relative key prefix ending in \"/\", for example \"inputs/\"."
  }
}

variable "outputs_prefix" {
  description = "Key prefix of predictions, rejected rows and manifests; the batch job may write and the finalize function read under it"
  type        = string
  default     = "outputs/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.outputs_prefix))
    error_message = "outputs_prefix must be a relative key prefix ending in \"/\", for example \"outputs/\"."
  }
}

variable "outputs_expiration_days" {
  description = "Days after which objects under outputs_prefix expire; 0 keeps them forever"
  type        = number
  default     = 90

  validation {
    condition     = var.outputs_expiration_days >= 0 && floor(var.outputs_expiration_days) == var.outputs_expiration_days
    error_message = "outputs_expiration_days must be a whole number of days, 0 or more."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed for good"
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, 1 or more."
  }
}

################################################################################
# Job table (DynamoDB)
################################################################################

variable "table_name" {
  description = "Name of the job table; null uses \"<name>-jobs\""
  type        = string
  default     = null
}

variable "table_deletion_protection" {
  description = "Whether the job table refuses deletion (set false before terraform destroy)"
  type        = bool
  default     = true
}

################################################################################
# Lambda functions
################################################################################

variable "lambda_package_type" {
  description = "How the handlers are deployed: Zip (bootstrap.zip from cargo lambda, runtime provided.al2023) or Image (one Dockerfile.lambda image per function in the module's Lambda ECR repository)"
  type        = string
  default     = "Zip"

  validation {
    condition     = contains(["Zip", "Image"], var.lambda_package_type)
    error_message = "lambda_package_type must be \"Zip\" or \"Image\"."
  }
}

variable "lambda_artifacts_dir" {
  description = "Directory holding <binary>/bootstrap.zip per function as written by `cargo lambda build --release --arm64 --output-format zip` (relative to the directory terraform runs in, or absolute); used when lambda_package_type is Zip"
  type        = string
  default     = "target/lambda"
}

variable "lambda_image_tag" {
  description = "Tag suffix of the Lambda images: function <f> runs image <lambda repository>:<f>-<lambda_image_tag>; used when lambda_package_type is Image"
  type        = string
  default     = "latest"
}

variable "lambda_memory_size" {
  description = "Memory (MiB) of each function; CPU share grows with it"
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be between 128 and 10240 MiB."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of each function in seconds"
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds must be between 1 and 900."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of each function, which also caps it (protects DynamoDB and Batch from bursts of S3 events); -1 leaves the function unreserved"
  type        = number
  default     = 10

  validation {
    condition     = var.lambda_reserved_concurrency >= -1 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency
    error_message = "lambda_reserved_concurrency must be a whole number, -1 (unreserved) or more."
  }
}

variable "lambda_log_level" {
  description = "Lowest application log level Lambda keeps from the handlers' JSON logs"
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.lambda_log_level)
    error_message = "lambda_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "admit_maximum_retry_attempts" {
  description = "Times Lambda retries a failed asynchronous invocation of admit or schedule before sending the event to the dead-letter queue"
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.admit_maximum_retry_attempts)
    error_message = "admit_maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "admit_maximum_event_age_seconds" {
  description = "Oldest asynchronous event (seconds) Lambda still tries to deliver to admit or schedule before sending it to the dead-letter queue"
  type        = number
  default     = 21600

  validation {
    condition     = var.admit_maximum_event_age_seconds >= 60 && var.admit_maximum_event_age_seconds <= 21600
    error_message = "admit_maximum_event_age_seconds must be between 60 and 21600."
  }
}

################################################################################
# Observability
################################################################################

variable "log_retention_days" {
  description = "Retention of every log group the module creates (Lambda, state machine, Batch)"
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "tracing_enabled" {
  description = "Whether the functions and the state machine send X-Ray traces (adds xray:PutTraceSegments and xray:PutTelemetryRecords to their roles)"
  type        = bool
  default     = true
}

variable "state_machine_log_level" {
  description = "Execution history events the state machine writes to CloudWatch Logs"
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.state_machine_log_level)
    error_message = "state_machine_log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "state_machine_log_execution_data" {
  description = "Whether state machine logs include state input and output (job configs and results; keep false unless debugging)"
  type        = bool
  default     = false
}

variable "state_machine_definition_path" {
  description = "Path of the Amazon States Language template; null uses state-machines/scoring-pipeline.asl.json of this repository"
  type        = string
  default     = null
}

variable "create_alarm_topic" {
  description = "Whether to create an SNS topic that the alarms notify"
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)"
  type        = list(string)
  default     = []
}

variable "alarm_actions" {
  description = "Extra ARNs (SNS topics, for example an existing on-call topic) notified when an alarm fires or clears"
  type        = list(string)
  default     = []
}

variable "notification_emails" {
  description = "E-mail addresses told of every job that reaches SUCCEEDED or FAILED (a topic is created for them; each address must confirm its subscription). Ignored when notification_topic_arn is set"
  type        = list(string)
  default     = []
}

variable "notification_topic_arn" {
  description = "An existing SNS topic that every \"stepscore Job Status Change\" event is sent to (its policy must let events.amazonaws.com publish, and its key, if any, must let EventBridge use it); null to create one for notification_emails, or none"
  type        = string
  default     = null

  validation {
    condition     = var.notification_topic_arn == null || can(regex("^arn:[a-z-]+:sns:", var.notification_topic_arn))
    error_message = "notification_topic_arn must be an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME) or null."
  }
}

################################################################################
# Dead-letter queues
################################################################################

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queues keep an undelivered event (seconds)"
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

################################################################################
# AWS Batch
################################################################################

variable "batch_compute_type" {
  description = "Compute behind the job queues: EC2 (SPOT with SPOT_PRICE_CAPACITY_OPTIMIZED, and on-demand EC2) or FARGATE (FARGATE_SPOT and FARGATE)"
  type        = string
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "FARGATE"], var.batch_compute_type)
    error_message = "batch_compute_type must be \"EC2\" or \"FARGATE\"."
  }
}

variable "batch_cpu_architecture" {
  description = "CPU architecture of the scoring image and of the instances (EC2) or tasks (Fargate) that run it; check that Fargate Spot offers ARM64 in your region before combining it with FARGATE (it long did not)"
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.batch_cpu_architecture)
    error_message = "batch_cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}

variable "batch_instance_types" {
  description = "EC2 instance types or families the compute environments may launch; null picks current general-purpose and compute families of batch_cpu_architecture"
  type        = list(string)
  default     = null
}

variable "batch_max_vcpus" {
  description = "Most vCPUs each compute environment (spot, on-demand) runs at once"
  type        = number
  default     = 64

  validation {
    condition     = var.batch_max_vcpus >= 1 && floor(var.batch_max_vcpus) == var.batch_max_vcpus
    error_message = "batch_max_vcpus must be a whole number, 1 or more."
  }
}

variable "subnet_ids" {
  description = "Subnets the Batch compute runs in (private subnets with a NAT gateway or VPC endpoints for S3, ECR, ECS and CloudWatch Logs)"
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the Batch compute; they need outbound HTTPS only"
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids must name at least one security group."
  }
}

variable "batch_assign_public_ip" {
  description = "Whether Fargate jobs get a public IP (needed in public subnets without a NAT gateway to reach ECR, S3 and CloudWatch Logs); ignored for EC2"
  type        = bool
  default     = false
}

variable "batch_image" {
  description = "Scoring image URI; null uses <batch ECR repository>:<batch_image_tag>"
  type        = string
  default     = null
}

variable "batch_image_tag" {
  description = "Tag of the scoring image in the module's batch ECR repository (tags are immutable: push a new tag per release)"
  type        = string
  default     = "latest"
}

variable "batch_job_vcpus" {
  description = "vCPUs of one scoring job (Fargate accepts 0.25, 0.5, 1, 2, 4, 8 or 16)"
  type        = number
  default     = 2

  validation {
    condition     = var.batch_job_vcpus > 0
    error_message = "batch_job_vcpus must be more than 0."
  }
}

variable "batch_job_memory_mib" {
  description = "Memory (MiB) of one scoring job"
  type        = number
  default     = 4096

  validation {
    condition     = var.batch_job_memory_mib >= 512
    error_message = "batch_job_memory_mib must be 512 MiB or more."
  }
}

variable "batch_job_timeout_seconds" {
  description = "Longest a single scoring attempt may run before Batch terminates it"
  type        = number
  default     = 3600

  validation {
    condition     = var.batch_job_timeout_seconds >= 60
    error_message = "batch_job_timeout_seconds must be 60 or more (AWS Batch minimum)."
  }
}

variable "batch_runnable_timeout_seconds" {
  description = "Longest a job may wait in RUNNABLE at the head of a queue (no capacity, or a job bigger than any instance) before Batch cancels it, so the run fails instead of hanging"
  type        = number
  default     = 1800

  validation {
    condition     = var.batch_runnable_timeout_seconds >= 600 && var.batch_runnable_timeout_seconds <= 86400
    error_message = "batch_runnable_timeout_seconds must be between 600 and 86400 (AWS Batch limits)."
  }
}

variable "batch_job_environment" {
  description = "Extra environment of the scoring container (the submit function adds the per-job STEPSCORE_* variables as overrides)"
  type        = map(string)
  default     = {}
}

################################################################################
# Container registries (ECR)
################################################################################

variable "ecr_keep_images" {
  description = "Images each ECR repository keeps; older ones expire"
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_keep_images >= 1
    error_message = "ecr_keep_images must be 1 or more."
  }
}

variable "ecr_force_delete" {
  description = "Whether terraform destroy may delete the ECR repositories while they still hold images"
  type        = bool
  default     = false
}

################################################################################
# Schedules (EventBridge Scheduler)
################################################################################

variable "schedules" {
  description = "Recurring runs: name => { expression (cron(...), rate(...) or at(...)), timezone (IANA, default UTC), template (job-config JSON with {{date}}, {{time}}, {{run_id}}, {{scheduled_time}} placeholders, filled by the schedule function in the schedule's time zone), description, enabled }"
  type = map(object({
    expression  = string
    timezone    = optional(string, "UTC")
    template    = string
    description = optional(string, "")
    enabled     = optional(bool, true)
  }))
  default = {}

  validation {
    condition     = alltrue([for s in values(var.schedules) : can(regex("^(cron|rate|at)\\(.+\\)$", s.expression))])
    error_message = "Each schedules[*].expression must be cron(...), rate(...) or at(...), for example \"cron(0 6 * * ? *)\"."
  }

  validation {
    condition     = alltrue([for s in values(var.schedules) : can(jsondecode(s.template))])
    error_message = "Each schedules[*].template must be a JSON document (use jsonencode({...}) or a heredoc)."
  }

  validation {
    condition     = alltrue([for k in keys(var.schedules) : can(regex("^[0-9A-Za-z_.-]{1,40}$", k))])
    error_message = "Schedule names must be 1-40 characters of letters, digits, \".\", \"-\" and \"_\"."
  }
}

variable "schedule_maximum_retry_attempts" {
  description = "Times EventBridge Scheduler retries invoking the schedule function before sending the event to its dead-letter queue"
  type        = number
  default     = 3

  validation {
    condition     = var.schedule_maximum_retry_attempts >= 0 && var.schedule_maximum_retry_attempts <= 185
    error_message = "schedule_maximum_retry_attempts must be between 0 and 185."
  }
}

variable "schedule_maximum_event_age_seconds" {
  description = "Oldest scheduled event (seconds) EventBridge Scheduler still tries to deliver"
  type        = number
  default     = 3600

  validation {
    condition     = var.schedule_maximum_event_age_seconds >= 60 && var.schedule_maximum_event_age_seconds <= 86400
    error_message = "schedule_maximum_event_age_seconds must be between 60 and 86400."
  }
}

################################################################################
# Online predictions (HTTP API in front of the predict function)
################################################################################

variable "predict_model_uri" {
  description = "Model artifact the predict function serves, s3://bucket/key; null (the default) deploys no predict function and no HTTP API. The function reads this one object only, and serves a new version published under the same key within predict_model_check_seconds"
  type        = string
  default     = null

  validation {
    condition     = var.predict_model_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+[^/]$", var.predict_model_uri))
    error_message = "predict_model_uri must be an S3 object, s3://bucket/key, for example \"s3://my-bucket/models/churn.json\"."
  }
}

variable "predict_model_name" {
  description = "Name the model is served under (POST /v1/models/<name>:predict); empty serves it under the artifact file's name without extension"
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[^/:]*$", var.predict_model_name))
    error_message = "predict_model_name is one path segment: no \"/\" and no \":\"."
  }
}

variable "predict_model_check_seconds" {
  description = "Seconds between checks (one HeadObject per warm function instance) for a new version of the served artifact"
  type        = number
  default     = 30

  validation {
    condition     = var.predict_model_check_seconds >= 0 && floor(var.predict_model_check_seconds) == var.predict_model_check_seconds
    error_message = "predict_model_check_seconds must be a whole number, 0 or more."
  }
}

variable "predict_max_body_bytes" {
  description = "Largest predict request body the function accepts (413 above it). HTTP APIs have a fixed 10 MB payload limit and Lambda a 6 MB synchronous one, so this limit is enforced in the function"
  type        = number
  default     = 6291456

  validation {
    condition     = var.predict_max_body_bytes >= 1 && var.predict_max_body_bytes <= 6291456 && floor(var.predict_max_body_bytes) == var.predict_max_body_bytes
    error_message = "predict_max_body_bytes must be a whole number between 1 and 6291456 (Lambda's synchronous payload limit)."
  }
}

variable "predict_max_rows" {
  description = "Most instances one predict request may score (413 above it)"
  type        = number
  default     = 10000

  validation {
    condition     = var.predict_max_rows >= 1 && floor(var.predict_max_rows) == var.predict_max_rows
    error_message = "predict_max_rows must be a whole number, 1 or more."
  }
}

variable "predict_api_throttling_burst_limit" {
  description = "Requests the HTTP API's stage accepts in a burst before answering 429"
  type        = number
  default     = 100

  validation {
    condition     = var.predict_api_throttling_burst_limit >= 0 && floor(var.predict_api_throttling_burst_limit) == var.predict_api_throttling_burst_limit
    error_message = "predict_api_throttling_burst_limit must be a whole number, 0 or more."
  }
}

variable "predict_api_throttling_rate_limit" {
  description = "Steady requests per second the HTTP API's stage accepts before answering 429"
  type        = number
  default     = 50

  validation {
    condition     = var.predict_api_throttling_rate_limit >= 0
    error_message = "predict_api_throttling_rate_limit must be 0 or more."
  }
}

################################################################################
# Batch jobs over HTTP (HTTP API -> jobs function -> SQS -> intake function, with a DLQ)
################################################################################

variable "jobs_api_enabled" {
  description = "Deploy the job HTTP API: POST /jobs (a job config, checked at once, queued in SQS and admitted by the intake function) and GET /jobs/{id} (the job record), SigV4-signed requests only"
  type        = bool
  default     = false
}

variable "jobs_max_receives" {
  description = "Receives of a job submission before it goes to the job dead-letter queue (the queue's maxReceiveCount; intake sends it there itself on the last one, with the reason)"
  type        = number
  default     = 5

  validation {
    condition     = var.jobs_max_receives >= 1 && var.jobs_max_receives <= 1000 && floor(var.jobs_max_receives) == var.jobs_max_receives
    error_message = "jobs_max_receives must be a whole number between 1 and 1000 (SQS's range for maxReceiveCount)."
  }
}

variable "jobs_queue_retention_seconds" {
  description = "How long a job submission may wait in the job queue"
  type        = number
  default     = 345600

  validation {
    condition     = var.jobs_queue_retention_seconds >= 60 && var.jobs_queue_retention_seconds <= 1209600
    error_message = "jobs_queue_retention_seconds must be between 60 and 1209600 (SQS's range)."
  }
}

variable "jobs_intake_batch_size" {
  description = "Job submissions one intake invocation admits"
  type        = number
  default     = 10

  validation {
    condition     = var.jobs_intake_batch_size >= 1 && var.jobs_intake_batch_size <= 10 && floor(var.jobs_intake_batch_size) == var.jobs_intake_batch_size
    error_message = "jobs_intake_batch_size must be a whole number between 1 and 10 (larger SQS batches need a batching window)."
  }
}

variable "jobs_intake_max_concurrency" {
  description = "Most concurrent intake invocations the job queue's event source mapping starts"
  type        = number
  default     = 5

  validation {
    condition     = var.jobs_intake_max_concurrency >= 2 && var.jobs_intake_max_concurrency <= 1000 && floor(var.jobs_intake_max_concurrency) == var.jobs_intake_max_concurrency
    error_message = "jobs_intake_max_concurrency must be a whole number between 2 and 1000 (Lambda's range for an SQS event source)."
  }
}

variable "jobs_api_throttling_burst_limit" {
  description = "Requests the job HTTP API's stage accepts in a burst before answering 429"
  type        = number
  default     = 50

  validation {
    condition     = var.jobs_api_throttling_burst_limit >= 0 && floor(var.jobs_api_throttling_burst_limit) == var.jobs_api_throttling_burst_limit
    error_message = "jobs_api_throttling_burst_limit must be a whole number, 0 or more."
  }
}

variable "jobs_api_throttling_rate_limit" {
  description = "Steady requests per second the job HTTP API's stage accepts before answering 429"
  type        = number
  default     = 10

  validation {
    condition     = var.jobs_api_throttling_rate_limit >= 0
    error_message = "jobs_api_throttling_rate_limit must be 0 or more."
  }
}
