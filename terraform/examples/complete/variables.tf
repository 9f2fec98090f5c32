variable "region" {
  description = "AWS region to deploy the pipeline in"
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Prefix of every resource name"
  type        = string
  default     = "stepscore"
}

variable "batch_image_tag" {
  description = "Tag of the scoring image pushed to the batch ECR repository (see docs/deploy.md)"
  type        = string
  default     = "0.1.0"
}

variable "batch_compute_type" {
  description = "EC2 (spot and on-demand instances) or FARGATE (Fargate Spot and Fargate)"
  type        = string
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "FARGATE"], var.batch_compute_type)
    error_message = "batch_compute_type must be \"EC2\" or \"FARGATE\"."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses notified by the alarms"
  type        = list(string)
  default     = []
}

variable "notification_emails" {
  description = "E-mail addresses told of every job that reaches SUCCEEDED or FAILED"
  type        = list(string)
  default     = []
}

variable "enable_example_schedule" {
  description = "Whether the nightly-churn schedule runs; turn it on once s3://<bucket>/models/churn/model.json and the daily inputs/customers/<date>.csv files are uploaded"
  type        = bool
  default     = false
}

variable "lambda_package_type" {
  description = "Zip (the bootstrap.zip files of scripts/package-lambdas) or Image (Dockerfile.lambda images pushed to the <name>/lambda repository, see docs/deploy.md)"
  type        = string
  default     = "Zip"
}

variable "lambda_image_tag" {
  description = "With lambda_package_type = Image: function <f> runs <name>/lambda:<f>-<lambda_image_tag>"
  type        = string
  default     = "0.1.0"
}

variable "predict_model_uri" {
  description = "s3://bucket/key of a model artifact to serve online behind an HTTP API (POST /v1/models/<name>:predict, SigV4-signed); null deploys no API"
  type        = string
  default     = null
}

variable "jobs_api_enabled" {
  description = "Deploy the job HTTP API (POST /jobs, GET /jobs/{id}, SigV4-signed) with its SQS job queue, intake function and dead-letter queue"
  type        = bool
  default     = false
}

variable "allow_destroy" {
  description = "Lift the protections so `terraform destroy` can remove the job table (deletion protection), the bucket with every object version, and the ECR repositories with their images"
  type        = bool
  default     = false
}
