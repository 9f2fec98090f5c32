################################################################################
# Online predictions: an HTTP API (modules/http_api) in front of the predict function, deployed
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

module "predict_api" {
  source = "./modules/http_api"
  count  = local.predict_enabled ? 1 : 0

  name                   = "${var.name}-predict"
  description            = "KServe v1 predictions with the model at predict_model_uri (SigV4-signed requests only)"
  routes                 = local.predict_routes
  function_name          = aws_lambda_function.this["predict"].function_name
  function_invoke_arn    = aws_lambda_function.this["predict"].invoke_arn
  throttling_burst_limit = var.predict_api_throttling_burst_limit
  throttling_rate_limit  = var.predict_api_throttling_rate_limit
  log_retention_days     = var.log_retention_days
  log_kms_key_arn        = aws_kms_key.observability.arn
  tags                   = local.tags
}

# The predict API's resources were declared here before the HTTP API became a module: a
# deployment made then keeps them.
moved {
  from = aws_apigatewayv2_api.predict[0]
  to   = module.predict_api[0].aws_apigatewayv2_api.this
}

moved {
  from = aws_cloudwatch_log_group.predict_api[0]
  to   = module.predict_api[0].aws_cloudwatch_log_group.access
}

moved {
  from = aws_apigatewayv2_stage.predict[0]
  to   = module.predict_api[0].aws_apigatewayv2_stage.this
}

moved {
  from = aws_apigatewayv2_integration.predict[0]
  to   = module.predict_api[0].aws_apigatewayv2_integration.this
}

moved {
  from = aws_apigatewayv2_route.predict
  to   = module.predict_api[0].aws_apigatewayv2_route.this
}

moved {
  from = aws_lambda_permission.predict_api
  to   = module.predict_api[0].aws_lambda_permission.this
}
