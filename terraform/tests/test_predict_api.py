"""The HTTP API in front of the predict function (api.tf): optional, never anonymous, routed to
the function with payload format 2.0, and the function invocable by this API's routes only.

The API's resources exist only when predict_model_uri is set (count or for_each over
local.predict_enabled), like the function itself (local.lambda_functions, see test_crosscheck).
"""

import json
import re

from conftest import REPO, block, unquote

API_RESOURCES = [
    ("aws_apigatewayv2_api", "predict"),
    ("aws_apigatewayv2_stage", "predict"),
    ("aws_apigatewayv2_integration", "predict"),
    ("aws_cloudwatch_log_group", "predict_api"),
]


def routes(module):
    text = module.local("predict_routes")
    return dict(re.findall(r'(\w+)\s*=\s*"([A-Z]+ /[^"]*)"', text))


def test_every_api_resource_exists_only_when_a_model_is_served(module):
    for key in API_RESOURCES:
        assert module.resource(*key)["count"] == "${local.predict_enabled ? 1 : 0}", key
    for key in [("aws_apigatewayv2_route", "predict"), ("aws_lambda_permission", "predict_api")]:
        assert module.resource(*key)["for_each"] == "${local.predict_routes}", key
    assert module.local("predict_routes").endswith(": {}}"), "no routes without a model"
    for name in ["predict_api_endpoint", "predict_api_execution_arn"]:
        assert "try(aws_apigatewayv2_api.predict[0]." in module.outputs[name]["value"], name


def test_the_routes_are_the_contracts_and_each_needs_sigv4(module, contract):
    keys = routes(module)
    assert sorted(keys.values()) == ["GET /v1/models/{proxy+}", "POST /v1/models/{proxy+}"]
    trigger = contract["functions"]["predict"]["trigger"]
    for key in keys.values():
        method = key.split(" ")[0]
        assert f"{method} /v1/models/{{name}}" in trigger, f"{key} is not a route of the contract: {trigger}"
    route = module.resource("aws_apigatewayv2_route", "predict")
    assert unquote(route["authorization_type"]) == "AWS_IAM", "no anonymous access"
    assert unquote(route["target"]) == "integrations/${aws_apigatewayv2_integration.predict[0].id}"


def test_the_integration_is_the_predict_function_with_payload_format_2(module):
    integration = module.resource("aws_apigatewayv2_integration", "predict")
    assert unquote(integration["integration_type"]) == "AWS_PROXY"
    assert unquote(integration["payload_format_version"]) == "2.0", "the function reads 2.0 events"
    assert integration["integration_uri"] == '${aws_lambda_function.this["predict"].invoke_arn}'
    assert unquote(module.resource("aws_apigatewayv2_api", "predict")["protocol_type"]) == "HTTP"


def test_api_gateway_may_invoke_the_function_for_this_apis_routes_only(module):
    permission = module.resource("aws_lambda_permission", "predict_api")
    assert unquote(permission["principal"]) == "apigateway.amazonaws.com"
    assert unquote(permission["action"]) == "lambda:InvokeFunction"
    assert permission["function_name"] == '${aws_lambda_function.this["predict"].function_name}'
    assert unquote(permission["source_arn"]) == (
        '${aws_apigatewayv2_api.predict[0].execution_arn}/*/${split(" ", each.value)[0]}/v1/models/*'
    )


def test_the_stage_is_throttled_and_logs_every_request_to_an_encrypted_group(module):
    stage = module.resource("aws_apigatewayv2_stage", "predict")
    assert unquote(stage["name"]) == "$default", "the function's routes expect rawPath without a stage"
    settings = block(stage, "default_route_settings")
    assert settings["throttling_burst_limit"] == "${var.predict_api_throttling_burst_limit}"
    assert settings["throttling_rate_limit"] == "${var.predict_api_throttling_rate_limit}"
    logs = block(stage, "access_log_settings")
    assert logs["destination_arn"] == "${aws_cloudwatch_log_group.predict_api[0].arn}"
    group = module.resource("aws_cloudwatch_log_group", "predict_api")
    assert group["kms_key_id"] == "${aws_kms_key.observability.arn}"
    assert group["retention_in_days"] == "${var.log_retention_days}"


def test_the_body_limit_is_the_functions_within_lambdas_payload_limit(module):
    environment = unquote(module.local("predict_function"))["predict"]["environment"]
    assert environment["STEPSCORE_MAX_BODY_BYTES"] == "${tostring(var.predict_max_body_bytes)}"
    validation = " ".join(v["condition"] for v in module.variables["predict_max_body_bytes"]["validation"])
    assert "6291456" in validation, "Lambda's synchronous payload is at most 6 MB"
    assert environment["STEPSCORE_MODEL_URI"].startswith("${coalesce(var.predict_model_uri,")


def test_the_predict_role_reads_exactly_the_served_artifact(module):
    policies = json.loads((REPO / "iam" / "policies.json").read_text())["principals"]
    statements = policies["predict"]["statements"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [(["s3:GetObject"], ["${predict_model_arn}"])]
    arn = module.local("predict_model_arn")
    assert 'trimprefix(var.predict_model_uri, "s3://")' in arn, arn
