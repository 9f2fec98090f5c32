variable "name" {
  description = "Name of the API; its access-log group is /aws/apigateway/<name>"
  type        = string
}

variable "description" {
  description = "Description of the API"
  type        = string
}

variable "routes" {
  description = "Route keys by a short name used in statement ids, e.g. { submit = \"POST /jobs\" }"
  type        = map(string)
}

variable "function_name" {
  description = "Name of the Lambda function behind every route"
  type        = string
}

variable "function_invoke_arn" {
  description = "Invoke ARN of that function"
  type        = string
}

variable "throttling_burst_limit" {
  description = "Requests the stage accepts in a burst before answering 429"
  type        = number
}

variable "throttling_rate_limit" {
  description = "Steady requests per second the stage accepts before answering 429"
  type        = number
}

variable "log_retention_days" {
  description = "Days the access log is kept"
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key the access-log group is encrypted with"
  type        = string
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
}
