################################################################################
# Scoring pipeline state machine
################################################################################

resource "aws_cloudwatch_log_group" "state_machine" {
  # Vended logs: the /aws/vendedlogs/ prefix keeps the log resource policy short.
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  tags = local.tags
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:Execution history is logged at state_machine_log_level (ALL by default); only the state input and output are left out by default, because they carry job configs and results into logs that outlive the job record
  name     = local.state_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine.arn

  # Every ${placeholder} of the template (handlers/lambda-functions.json lists them) is filled here;
  # templatefile fails the plan on any it does not know.
  definition = templatefile(local.state_machine_definition_path, {
    partition             = local.partition
    register_function_arn = aws_lambda_function.this["register"].arn
    submit_function_arn   = aws_lambda_function.this["submit"].arn
    check_function_arn    = aws_lambda_function.this["check"].arn
    finalize_function_arn = aws_lambda_function.this["finalize"].arn
    spot_job_queue        = aws_batch_job_queue.this["spot"].arn
    on_demand_job_queue   = aws_batch_job_queue.this["on_demand"].arn
    job_definition        = aws_batch_job_definition.score.arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level                  = var.state_machine_log_level
    include_execution_data = var.state_machine_log_execution_data
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.state_machine]
}
