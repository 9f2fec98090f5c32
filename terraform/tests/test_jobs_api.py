"""Batch jobs over HTTP (jobs_api.tf; the HTTP API is a modules/http_api, see
test_http_api_module): optional, the queue's redrive count the
same number intake gives up on, failures alarmed, and each role holding only its side of the
queue.

Every resource exists only when jobs_api_enabled is true (count or for_each over
local.jobs_api_enabled), like the two functions (local.lambda_functions, see test_crosscheck).
"""

import json
import re

from conftest import REPO, unquote

COUNTED = [
    ("aws_sqs_queue", "jobs"),
    ("aws_sqs_queue", "jobs_dlq"),
    ("aws_sqs_queue_redrive_allow_policy", "jobs_dlq"),
    ("aws_lambda_event_source_mapping", "intake"),
]


def routes(module):
    return dict(re.findall(r'(\w+)\s*=\s*"([A-Z]+ /[^"]*)"', module.local("jobs_routes")))


def functions(module):
    return unquote(module.local("jobs_api_functions"))


def test_every_resource_exists_only_when_the_job_api_is_enabled(module):
    for key in COUNTED:
        assert module.resource(*key)["count"] == "${local.jobs_api_enabled ? 1 : 0}", key
    api = module.module_call("jobs_api")
    assert api["count"] == "${local.jobs_api_enabled ? 1 : 0}"
    assert unquote(api["source"]) == "./modules/http_api"
    assert module.local("jobs_routes").endswith(": {}}"), "no routes when disabled"
    for name in ["jobs_api_endpoint", "jobs_api_execution_arn", "job_dlq_url"]:
        assert module.outputs[name]["value"].startswith("${try("), name


def test_the_routes_are_the_contracts_served_by_the_jobs_function(module, contract):
    keys = routes(module)
    assert sorted(keys.values()) == ["GET /jobs/{id}", "POST /jobs"]
    trigger = contract["functions"]["jobs"]["trigger"]
    for key in keys.values():
        assert key in trigger, f"{key} is not a route of the contract: {trigger}"
    api = module.module_call("jobs_api")
    assert api["routes"] == "${local.jobs_routes}"
    assert api["function_name"] == '${aws_lambda_function.this["jobs"].function_name}'
    assert api["function_invoke_arn"] == '${aws_lambda_function.this["jobs"].invoke_arn}'
    assert api["throttling_burst_limit"] == "${var.jobs_api_throttling_burst_limit}"
    assert api["throttling_rate_limit"] == "${var.jobs_api_throttling_rate_limit}"


def test_intake_gives_up_on_the_receive_the_redrive_policy_counts_to(module):
    queue = module.resource("aws_sqs_queue", "jobs")
    redrive = queue["redrive_policy"]
    assert "deadLetterTargetArn = aws_sqs_queue.jobs_dlq[0].arn" in redrive, redrive
    assert "maxReceiveCount = var.jobs_max_receives" in redrive, redrive
    intake = functions(module)["intake"]["environment"]
    assert intake["STEPSCORE_MAX_RECEIVES"] == "${tostring(var.jobs_max_receives)}"
    assert intake["STEPSCORE_JOB_DLQ_URL"] == '${try(aws_sqs_queue.jobs_dlq[0].url, "")}'
    assert functions(module)["jobs"]["environment"]["STEPSCORE_JOB_QUEUE_URL"] == '${try(aws_sqs_queue.jobs[0].url, "")}'


def test_a_batch_being_admitted_is_not_handed_out_again(module):
    queue = module.resource("aws_sqs_queue", "jobs")
    assert queue["visibility_timeout_seconds"] == "${6 * var.lambda_timeout_seconds}", "AWS: six times the function's timeout"
    assert queue["sqs_managed_sse_enabled"] is True
    assert module.resource("aws_sqs_queue", "jobs_dlq")["sqs_managed_sse_enabled"] is True


def test_intake_reports_partial_batch_failures_from_the_job_queue(module):
    mapping = module.resource("aws_lambda_event_source_mapping", "intake")
    assert mapping["event_source_arn"] == "${aws_sqs_queue.jobs[0].arn}"
    assert mapping["function_name"] == '${aws_lambda_function.this["intake"].arn}'
    assert unquote(mapping["function_response_types"]) == ["ReportBatchItemFailures"]


def test_the_dead_letter_queue_is_alarmed(module):
    alarms = module.local("dlq_alarms")
    assert "for name, queue in aws_sqs_queue.jobs_dlq" in alarms and '"jobs" =>' in alarms, alarms


def test_the_queue_arns_the_policies_name_are_the_queues_deployed(module):
    assert module.resource("aws_sqs_queue", "jobs")["name"] == "${local.job_queue_name}"
    assert module.resource("aws_sqs_queue", "jobs_dlq")["name"] == "${local.job_dlq_name}"
    for name, queue in [("job_queue_arn", "job_queue_name"), ("job_dlq_arn", "job_dlq_name")]:
        arn = unquote(module.local(name))
        assert arn == "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.%s}" % queue, arn


def test_each_role_holds_only_its_side_of_the_queues():
    principals = json.loads((REPO / "iam" / "policies.json").read_text())["principals"]

    def grants(principal, action):
        return [r for s in principals[principal]["statements"] if action in s["Action"] for r in s["Resource"]]

    assert grants("jobs", "sqs:SendMessage") == ["${job_queue_arn}"]
    assert grants("jobs", "sqs:ReceiveMessage") == []
    assert grants("intake", "sqs:SendMessage") == ["${job_dlq_arn}"], "intake sends only dead letters"
    for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]:
        assert grants("intake", action) == ["${job_queue_arn}"], action
    # the front door reads records; only intake creates them
    assert grants("jobs", "dynamodb:PutItem") == [] and grants("jobs", "dynamodb:GetItem") == ["${table_arn}"]
