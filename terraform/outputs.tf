output "bucket_name" {
  description = "Pipeline bucket: drop job configs under jobs_prefix, upload models and inputs under their prefixes"
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the pipeline bucket"
  value       = aws_s3_bucket.this.arn
}

output "jobs_prefix" {
  description = "Key prefix whose *.json objects start a run"
  value       = var.jobs_prefix
}

output "table_name" {
  description = "Job table (STEPSCORE_TABLE for `stepscore status --aws`)"
  value       = aws_dynamodb_table.jobs.name
}

output "table_arn" {
  description = "ARN of the job table"
  value       = aws_dynamodb_table.jobs.arn
}

output "table_status_index_name" {
  description = "Global secondary index listing jobs by status and updated_at"
  value       = "status-updated_at-index"
}

output "state_machine_arn" {
  description = "ARN of the scoring pipeline state machine (STEPSCORE_STATE_MACHINE_ARN)"
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_console_url" {
  description = "Step Functions console page of the state machine, listing its executions"
  value       = "https://${local.region}.console.aws.amazon.com/states/home?region=${local.region}#/statemachines/view/${aws_sfn_state_machine.this.arn}"
}

output "lambda_function_arns" {
  description = "ARN of each function, by handler name (admit, register, submit, check, finalize, schedule)"
  value       = { for name, f in aws_lambda_function.this : name => f.arn }
}

output "lambda_function_names" {
  description = "Name of each function, by handler name"
  value       = { for name, f in aws_lambda_function.this : name => f.function_name }
}

output "lambda_role_arns" {
  description = "Execution role of each function, by handler name"
  value       = { for name, r in aws_iam_role.lambda : name => r.arn }
}

output "batch_ecr_repository_url" {
  description = "Repository to push the scoring image (Dockerfile.batch) to"
  value       = aws_ecr_repository.batch.repository_url
}

output "lambda_ecr_repository_url" {
  description = "Repository to push the Lambda images (Dockerfile.lambda) to; null when lambda_package_type is Zip"
  value       = try(aws_ecr_repository.lambda[0].repository_url, null)
}

output "batch_image" {
  description = "Image the scoring job definition runs"
  value       = local.batch_image
}

output "job_queue_arns" {
  description = "ARNs of the spot and on-demand job queues"
  value       = { for key, q in aws_batch_job_queue.this : key => q.arn }
}

output "job_definition_arn" {
  description = "ARN (with revision) of the scoring job definition"
  value       = aws_batch_job_definition.score.arn
}

output "batch_job_role_arn" {
  description = "Role the scoring container runs with"
  value       = aws_iam_role.batch_job.arn
}

output "events_dlq_url" {
  description = "Dead-letter queue of S3 events and scheduled runs that admit or schedule failed to process"
  value       = aws_sqs_queue.lambda_dlq.id
}

output "scheduler_dlq_url" {
  description = "Dead-letter queue of scheduled runs EventBridge Scheduler could not deliver"
  value       = aws_sqs_queue.scheduler_dlq.id
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify; null when create_alarm_topic is false"
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

output "log_group_names" {
  description = "CloudWatch log groups: one per function, the state machine's and the batch job's"
  value = merge(
    { for name, g in aws_cloudwatch_log_group.lambda : name => g.name },
    {
      state_machine = aws_cloudwatch_log_group.state_machine.name
      batch         = aws_cloudwatch_log_group.batch.name
    },
  )
}

output "schedule_arns" {
  description = "ARN of each EventBridge Scheduler schedule, by name"
  value       = { for name, s in aws_scheduler_schedule.this : name => s.arn }
}

output "predict_api_endpoint" {
  description = "Base URL of the HTTP API in front of the predict function (POST <endpoint>/v1/models/<name>:predict, SigV4-signed for service execute-api); null when predict_model_uri is not set"
  value       = try(module.predict_api[0].api_endpoint, null)
}

output "predict_api_execution_arn" {
  description = "Execution ARN of the predict HTTP API: grant callers execute-api:Invoke on <arn>/*/POST/v1/models/* and <arn>/*/GET/v1/models/*; null when predict_model_uri is not set"
  value       = try(module.predict_api[0].execution_arn, null)
}

output "jobs_api_endpoint" {
  description = "Base URL of the job HTTP API (POST <endpoint>/jobs, GET <endpoint>/jobs/<id>, SigV4-signed for service execute-api); null when jobs_api_enabled is false"
  value       = try(module.jobs_api[0].api_endpoint, null)
}

output "jobs_api_execution_arn" {
  description = "Execution ARN of the job HTTP API: grant callers execute-api:Invoke on <arn>/*/POST/jobs and <arn>/*/GET/jobs/*; null when jobs_api_enabled is false"
  value       = try(module.jobs_api[0].execution_arn, null)
}

output "job_dlq_url" {
  description = "URL of the job dead-letter queue (submissions intake could not admit, reason in the stepscore-failure attribute); null when jobs_api_enabled is false"
  value       = try(aws_sqs_queue.jobs_dlq[0].url, null)
}
