################################################################################
# Online predictions: an HTTP API (API Gateway v2) in front of the predict function, deployed
# when predict_model_uri is set. Every route needs SigV4-signed requests (AWS_IAM): a caller needs
# execute-api:Invoke on the route, so nothing is anonymous.
################################################################################

locals {
  # KServe v1 puts the verb in the last path segment (/v1/models/<name>:predict), and an
  # HTTP API path variable must be a whole segment, so the routes take the model's segment as a
  # greedy variable; the function answers 404 for a name it does not serve and 405 for a wrong
  # method on a path it knows. route name => route key
  predict_routes = local.predict_enabled ? {
    predict  = "POST /v1/models/{proxy+}"
    metadata = "GET /v1/models/{proxy+}"
  } : {}
}

resource "aws_apigatewayv2_api" "predict" {
  count = local.predict_enabled ? 1 : 0

  name          = "${var.name}-predict"
  description   = "KServe v1 predictions with the model at predict_model_uri (SigV4-signed requests only)"
  protocol_type = "HTTP"

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "predict_api" {
  count = local.predict_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.name}-predict"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  tags = local.tags
}

resource "aws_apigatewayv2_stage" "predict" {
  count = local.predict_enabled ? 1 : 0

  api_id = aws_apigatewayv2_api.predict[0].id
  # $default: the stage's name is not part of the URL, so rawPath is the route's path
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.predict_api_throttling_burst_limit
    throttling_rate_limit    = var.predict_api_throttling_rate_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.predict_api[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      error              = "$context.error.message"
    })
  }

  tags = local.tags
}

resource "aws_apigatewayv2_integration" "predict" {
  count = local.predict_enabled ? 1 : 0

  api_id                 = aws_apigatewayv2_api.predict[0].id
  description            = "The predict function (stepscore-predict)"
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this["predict"].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "predict" {
  for_each = local.predict_routes

  api_id             = aws_apigatewayv2_api.predict[0].id
  route_key          = each.value
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.predict[0].id}"
}

# API Gateway may invoke the function for these routes of this API only (any stage): the source
# ARN is <execution ARN>/<stage>/<method>/<path>.
resource "aws_lambda_permission" "predict_api" {
  for_each = local.predict_routes

  statement_id  = "AllowHttpApi-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["predict"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.predict[0].execution_arn}/*/${split(" ", each.value)[0]}/v1/models/*"
}
