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

variable "enable_example_schedule" {
  description = "Whether the nightly-churn schedule runs; turn it on once s3://<bucket>/models/churn/model.json and the daily inputs/customers/<date>.csv files are uploaded"
  type        = bool
  default     = false
}
