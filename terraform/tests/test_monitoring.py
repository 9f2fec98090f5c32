"""The alarms the deploy guide promises, checked against the resources they watch.

Each required alarm must exist in monitoring.tf, watch the documented AWS metric, and point its
dimension at the module's own resource (not a hard-coded name), so a renamed function or state
machine cannot leave an alarm watching nothing.
"""

import json
import re

from conftest import block, unquote

REQUIRED_EXECUTION_METRICS = {"ExecutionsFailed", "ExecutionsTimedOut"}


def alarm(module, name):
    return module.resource("aws_cloudwatch_metric_alarm", name)


def notifies_alarm_actions(body):
    return body.get("alarm_actions") == "${local.alarm_actions}"


def test_every_lambda_function_has_an_errors_and_a_throttles_alarm(module):
    # local.lambda_functions merges the pipeline's functions with the optional predict function
    functions = sorted({**unquote(module.local("pipeline_functions")), **unquote(module.local("predict_function"))})
    assert "admit" in functions and "predict" in functions, functions
    metrics = unquote(module.local("lambda_alarm_metrics"))
    assert sorted(metrics.values()) == ["Errors", "Throttles"]

    lambda_alarms = module.local("lambda_alarms")
    # The alarm map is the product of every function with every metric, so a function added to
    # local.lambda_functions gets both alarms without touching monitoring.tf.
    assert "setproduct(keys(local.lambda_functions), keys(local.lambda_alarm_metrics))" in lambda_alarms

    body = alarm(module, "lambda")
    assert body["for_each"] == "${local.lambda_alarms}"
    assert unquote(body["namespace"]) == "AWS/Lambda"
    assert body["metric_name"] == "${each.value.metric}"
    assert body["dimensions"] == {
        "FunctionName": "${aws_lambda_function.this[each.value.function].function_name}"
    }
    assert unquote(body["statistic"]) == "Sum"
    assert notifies_alarm_actions(body)


def test_lambda_alarm_names_are_unique_per_function_and_metric(module):
    body = alarm(module, "lambda")
    name = unquote(body["alarm_name"])
    assert "${each.value.function}" in name and "each.value.metric" in name


def test_failed_and_timed_out_executions_alarm_on_the_state_machine(module):
    table = unquote(module.local("execution_alarms"))
    metrics = {entry["metric"] for entry in table.values()}
    missing = REQUIRED_EXECUTION_METRICS - metrics
    assert not missing, f"no execution alarm for {sorted(missing)}"
    body = alarm(module, "executions")
    assert body["for_each"] == "${local.execution_alarms}"
    assert unquote(body["namespace"]) == "AWS/States"
    assert body["dimensions"] == {"StateMachineArn": "${aws_sfn_state_machine.this.arn}"}
    assert notifies_alarm_actions(body)


def test_batch_job_failures_are_matched_for_the_module_queues_and_alarmed(module):
    rule = module.resource("aws_cloudwatch_event_rule", "batch_job_failed")
    pattern = unquote(rule["event_pattern"])
    # python-hcl2 renders jsonencode({...}) as "${jsonencode({...})}"; the HCL object inside
    # uses the same keys and values as the JSON EventBridge receives.
    assert pattern.startswith("${jsonencode(")
    assert re.search(r"""source['"]?\s*[:=]\s*\[['"]aws\.batch['"]\]""", pattern), pattern
    assert "Batch Job State Change" in pattern
    assert re.search(r"""status['"]?\s*[:=]\s*\[['"]FAILED['"]\]""", pattern), pattern
    assert "local.job_queue_arns" in pattern

    body = alarm(module, "batch_job_failed")
    assert unquote(body["namespace"]) == "AWS/Events"
    assert unquote(body["metric_name"]) == "TriggeredRules"
    assert body["dimensions"] == {"RuleName": "${aws_cloudwatch_event_rule.batch_job_failed.name}"}
    assert notifies_alarm_actions(body)


def test_batch_job_failure_events_reach_the_topic_which_lets_eventbridge_publish(module):
    target = module.resource("aws_cloudwatch_event_target", "batch_job_failed")
    assert target["rule"] == "${aws_cloudwatch_event_rule.batch_job_failed.name}"
    assert target["arn"] == "${aws_sns_topic.alarms[0].arn}"
    paths = unquote(block(target, "input_transformer")["input_paths"])
    assert paths["reason"] == "$.detail.statusReason"

    policy = module.data_source("aws_iam_policy_document", "alarms_topic")
    publishers = {}
    for statement in policy["statement"]:
        principal = unquote(block(statement, "principals")["identifiers"])
        publishers.update({p: statement for p in principal})
    assert "events.amazonaws.com" in publishers, "the alarm topic's policy does not let EventBridge publish"
    condition = block(publishers["events.amazonaws.com"], "condition")
    assert unquote(condition["values"]) == ["${aws_cloudwatch_event_rule.batch_job_failed.arn}"]

    # The topic is encrypted with the observability key: EventBridge needs to use it too.
    key_policy = module.resource("aws_kms_key", "observability")["policy"]
    assert "events.amazonaws.com" in key_policy


def test_executions_longer_than_the_jobs_timeout_alarm(module):
    body = alarm(module, "execution_too_long")
    assert unquote(body["namespace"]) == "AWS/States"
    assert unquote(body["metric_name"]) == "ExecutionTime"
    assert unquote(body["statistic"]) == "Maximum"
    assert body["dimensions"] == {"StateMachineArn": "${aws_sfn_state_machine.this.arn}"}
    # ExecutionTime is in milliseconds; the threshold is configured in seconds.
    assert body["threshold"] == "${local.execution_time_alarm_seconds * 1000}"
    derived = module.local("execution_time_alarm_seconds")
    for term in ("var.batch_job_timeout_seconds", "var.batch_runnable_timeout_seconds", "local.retry_strategy.attempts"):
        assert term in derived, f"the execution-time threshold ignores {term}"
    assert notifies_alarm_actions(body)


def test_default_execution_time_threshold_exceeds_every_legitimate_run(module, retry_strategy_contract):
    # With the defaults, the worst legitimate execution is both queues' attempts each waiting the
    # full RUNNABLE limit and running the full attempt timeout.
    runnable = int(unquote(module.variables["batch_runnable_timeout_seconds"]["default"]))
    timeout = int(unquote(module.variables["batch_job_timeout_seconds"]["default"]))
    attempts = retry_strategy_contract["attempts"]
    derived = module.local("execution_time_alarm_seconds")
    expression = re.search(r"2 \* local\.retry_strategy\.attempts \* \(var\.batch_runnable_timeout_seconds \+ var\.batch_job_timeout_seconds\)", derived)
    assert expression, derived
    threshold = 2 * attempts * (runnable + timeout)
    assert threshold > attempts * timeout
    # ...and stays below the state machine's own timeout, or ExecutionsTimedOut would come first.
    asl = json.loads((module.files[0].parent.parent / "state-machines" / "scoring-pipeline.asl.json").read_text())
    assert threshold < asl["TimeoutSeconds"]


def test_every_alarm_notifies_the_alarm_actions(module):
    alarms = {name: body for (rtype, name), body in module.resources.items() if rtype == "aws_cloudwatch_metric_alarm"}
    silent = sorted(name for name, body in alarms.items() if not notifies_alarm_actions(body))
    assert not silent, f"alarms without alarm_actions: {silent}"


def test_alarm_topic_is_encrypted_with_the_observability_key(module):
    topic = module.resource("aws_sns_topic", "alarms")
    assert topic["kms_master_key_id"] == "${aws_kms_key.observability.arn}"


# --- examples/complete ---------------------------------------------------------------------------


def example_schedules(example):
    module_block = example.raw["main.tf"]
    assert "schedules = {" in module_block
    return module_block


def test_example_schedule_is_off_unless_asked_for(example):
    text = example_schedules(example)
    # Every schedule in the example reads its state from the variable...
    schedule_names = re.findall(r"^\s{4}([A-Za-z0-9_.-]+) = \{$", text.split("schedules = {", 1)[1], re.M)
    assert schedule_names, "examples/complete declares no schedule"
    enabled = re.findall(r"^\s*enabled\s*=\s*(.+)$", text, re.M)
    assert enabled == ["var.enable_example_schedule"] * len(schedule_names), enabled
    # ...whose default is off: a fresh deploy has no model or inputs for it to score.
    variable = example.variables["enable_example_schedule"]
    assert unquote(variable["type"]) in ("bool", "${bool}")
    assert variable["default"] is False


def test_module_schedules_honour_enabled(module):
    schedule = module.resource("aws_scheduler_schedule", "this")
    assert schedule["state"] == '${each.value.enabled ? "ENABLED" : "DISABLED"}'


def test_example_pins_the_exact_provider_release(example):
    text = example.raw["versions.tf"]
    match = re.search(r'version\s*=\s*"=\s*(\d+)\.(\d+)\.(\d+)"', text)
    assert match, "examples/complete/versions.tf must pin hashicorp/aws with an exact \"= x.y.z\""
    assert int(match.group(1)) == 6, "the module needs hashicorp/aws 6.x"


def test_example_protects_data_until_allow_destroy_is_applied(example):
    variable = example.variables["allow_destroy"]
    assert variable["default"] is False
    text = example.raw["main.tf"]
    for line in (
        "table_deletion_protection = !var.allow_destroy",
        "bucket_force_destroy      = var.allow_destroy",
        "ecr_force_delete          = var.allow_destroy",
    ):
        assert line in text, f"examples/complete/main.tf lacks `{line}`"


def test_example_passes_the_lambda_packaging_choice_to_the_module(example):
    text = example.raw["main.tf"]
    assert re.search(r"^\s*lambda_package_type\s*=\s*var\.lambda_package_type$", text, re.M)
    assert re.search(r"^\s*lambda_image_tag\s*=\s*var\.lambda_image_tag$", text, re.M)
    assert unquote(example.variables["lambda_package_type"]["default"]) == "Zip"
