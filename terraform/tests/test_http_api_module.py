"""modules/http_api, the HTTP API in front of one function that the predict API (api.tf) and the
job API (jobs_api.tf) are: never anonymous, payload format 2.0 to the one function, throttled,
access-logged to an encrypted group, and the function invocable by the API's own routes only.
"""

from conftest import block, unquote


def test_every_route_needs_sigv4_and_targets_the_one_integration(http_api):
    route = http_api.resource("aws_apigatewayv2_route", "this")
    assert route["for_each"] == "${var.routes}"
    assert unquote(route["authorization_type"]) == "AWS_IAM", "no anonymous access"
    assert unquote(route["target"]) == "integrations/${aws_apigatewayv2_integration.this.id}"


def test_the_integration_is_the_function_with_payload_format_2(http_api):
    integration = http_api.resource("aws_apigatewayv2_integration", "this")
    assert unquote(integration["integration_type"]) == "AWS_PROXY"
    assert unquote(integration["payload_format_version"]) == "2.0", "the functions read 2.0 events"
    assert integration["integration_uri"] == "${var.function_invoke_arn}"
    assert unquote(http_api.resource("aws_apigatewayv2_api", "this")["protocol_type"]) == "HTTP"


def test_api_gateway_may_invoke_the_function_for_this_apis_routes_only(http_api):
    permission = http_api.resource("aws_lambda_permission", "this")
    assert permission["for_each"] == "${var.routes}"
    assert unquote(permission["principal"]) == "apigateway.amazonaws.com"
    assert unquote(permission["action"]) == "lambda:InvokeFunction"
    assert permission["function_name"] == "${var.function_name}"
    source = unquote(permission["source_arn"])
    assert source.startswith("${aws_apigatewayv2_api.this.execution_arn}/*/${split(\" \", each.value)[0]}"), source
    assert "replace(split(" in source, "path variables become * in the source ARN"


def test_the_stage_is_throttled_and_logs_every_request_to_an_encrypted_group(http_api):
    stage = http_api.resource("aws_apigatewayv2_stage", "this")
    assert unquote(stage["name"]) == "$default", "the functions' routes expect rawPath without a stage"
    settings = block(stage, "default_route_settings")
    assert settings["throttling_burst_limit"] == "${var.throttling_burst_limit}"
    assert settings["throttling_rate_limit"] == "${var.throttling_rate_limit}"
    logs = block(stage, "access_log_settings")
    assert logs["destination_arn"] == "${aws_cloudwatch_log_group.access.arn}"
    group = http_api.resource("aws_cloudwatch_log_group", "access")
    assert group["kms_key_id"] == "${var.log_kms_key_arn}"
    assert group["retention_in_days"] == "${var.log_retention_days}"


def test_every_variable_has_a_description_and_a_type(http_api):
    for name, body in http_api.variables.items():
        assert body.get("description") and body.get("type"), name
