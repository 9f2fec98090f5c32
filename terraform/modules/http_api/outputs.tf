output "api_endpoint" {
  description = "Base URL of the API"
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN of the API (execute-api:Invoke on <arn>/*/<METHOD>/<path>)"
  value       = aws_apigatewayv2_api.this.execution_arn
}
