output "bucket_name" {
  description = "Pipeline bucket"
  value       = module.stepscore.bucket_name
}

output "table_name" {
  description = "Job table, for `stepscore status --aws --table`"
  value       = module.stepscore.table_name
}

output "state_machine_arn" {
  description = "State machine, for `stepscore status --aws --state-machine-arn`"
  value       = module.stepscore.state_machine_arn
}

output "state_machine_console_url" {
  description = "Where to watch executions"
  value       = module.stepscore.state_machine_console_url
}

output "batch_ecr_repository_url" {
  description = "Where to push the scoring image"
  value       = module.stepscore.batch_ecr_repository_url
}

output "events_dlq_url" {
  description = "Dead-letter queue of failed S3 events and scheduled runs"
  value       = module.stepscore.events_dlq_url
}

output "predict_api_endpoint" {
  description = "Base URL of the online predictions API (null without predict_model_uri); sign requests with `curl --aws-sigv4 \"aws:amz:<region>:execute-api\"`"
  value       = module.stepscore.predict_api_endpoint
}

output "jobs_api_endpoint" {
  description = "Base URL of the job HTTP API (null unless jobs_api_enabled); POST <endpoint>/jobs, GET <endpoint>/jobs/<id>, signed with `curl --aws-sigv4 \"aws:amz:<region>:execute-api\"`"
  value       = module.stepscore.jobs_api_endpoint
}

output "job_dlq_url" {
  description = "URL of the job dead-letter queue (null unless jobs_api_enabled); the stepscore-failure attribute of each message says why"
  value       = module.stepscore.job_dlq_url
}
