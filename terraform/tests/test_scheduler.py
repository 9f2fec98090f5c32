"""Scheduled runs are idempotent and dated in the schedule's time zone.

EventBridge Scheduler retries a failed invocation; only `<aws.scheduler.scheduled-time>` is the
same on every try, so the schedule function derives the job id from it (a retry starts nothing
twice). The function writes {{date}} in the time zone the schedule fires in.
"""

import re


def target_input(module):
    text = module.raw["scheduler.tf"]
    match = re.search(r"input = jsonencode\(\{(.*?)\n    \}\)", text, re.S)
    assert match, "aws_scheduler_schedule's target input must be a jsonencode({...}) object"
    return match.group(1)


def test_the_schedule_passes_its_scheduled_time_so_a_retry_starts_nothing_twice(module):
    body = target_input(module)
    assert re.search(r'scheduled_time\s*=\s*"<aws\.scheduler\.scheduled-time>"', body), body
    assert re.search(r"schedule\s*=\s*each\.key", body), body


def test_the_template_is_passed_as_json_and_dated_in_the_schedules_time_zone(module):
    body = target_input(module)
    assert re.search(r"template\s*=\s*jsondecode\(each\.value\.template\)", body), body
    assert re.search(r"time_zone\s*=\s*each\.value\.timezone", body), body
    text = module.raw["scheduler.tf"]
    assert "schedule_expression_timezone = each.value.timezone" in text
