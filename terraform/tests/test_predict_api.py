"""The HTTP API in front of the predict function (api.tf, a modules/http_api: never anonymous,
payload format 2.0, throttled, logged, see test_http_api_module): optional, its routes the
contract's, and the predict function's settings.

The API exists only when predict_model_uri is set (the module's count over
local.predict_enabled), like the function itself (local.lambda_functions, see test_crosscheck).
"""

import json
import re

from conftest import REPO, unquote



def routes(module):
    text = module.local("predict_routes")
    return dict(re.findall(r'(\w+)\s*=\s*"([A-Z]+ /[^"]*)"', text))


def test_the_api_exists_only_when_a_model_is_served(module):
    api = module.module_call("predict_api")
    assert api["count"] == "${local.predict_enabled ? 1 : 0}"
    assert unquote(api["source"]) == "./modules/http_api"
    assert module.local("predict_routes").endswith(": {}}"), "no routes without a model"
    for name in ["predict_api_endpoint", "predict_api_execution_arn"]:
        assert "try(module.predict_api[0]." in module.outputs[name]["value"], name


def test_the_routes_are_the_contracts_served_by_the_predict_function(module, contract):
    keys = routes(module)
    assert sorted(keys.values()) == ["GET /v1/models/{proxy+}", "POST /v1/models/{proxy+}"]
    trigger = contract["functions"]["predict"]["trigger"]
    for key in keys.values():
        method = key.split(" ")[0]
        assert f"{method} /v1/models/{{name}}" in trigger, f"{key} is not a route of the contract: {trigger}"
    api = module.module_call("predict_api")
    assert api["routes"] == "${local.predict_routes}"
    assert api["function_name"] == '${aws_lambda_function.this["predict"].function_name}'
    assert api["function_invoke_arn"] == '${aws_lambda_function.this["predict"].invoke_arn}'
    assert api["throttling_burst_limit"] == "${var.predict_api_throttling_burst_limit}"
    assert api["throttling_rate_limit"] == "${var.predict_api_throttling_rate_limit}"
    assert api["log_kms_key_arn"] == "${aws_kms_key.observability.arn}"


def test_a_deployment_made_before_the_module_keeps_its_api(module):
    bare = lambda text: unquote(text).removeprefix("${").removesuffix("}")  # noqa: E731
    moved = {(bare(m["from"]), bare(m["to"])) for m in module.moved}
    for old, new in [
        ("aws_apigatewayv2_api.predict[0]", "module.predict_api[0].aws_apigatewayv2_api.this"),
        ("aws_apigatewayv2_stage.predict[0]", "module.predict_api[0].aws_apigatewayv2_stage.this"),
        ("aws_apigatewayv2_route.predict", "module.predict_api[0].aws_apigatewayv2_route.this"),
        ("aws_lambda_permission.predict_api", "module.predict_api[0].aws_lambda_permission.this"),
    ]:
        assert any(f.replace(" ", "") == old and t.replace(" ", "") == new for f, t in moved), (old, moved)


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
