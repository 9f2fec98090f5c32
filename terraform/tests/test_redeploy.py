"""A running execution keeps working across `terraform apply` of a new scoring image.

Step Functions runs an execution on the definition it started with, and the state machine names
the job definition by its revisioned ARN. A job submitted after the apply (the poll loop's
on-demand fallback, or a Submit retried) must find that revision still ACTIVE: the provider's
default deregisters the old revision when it registers a new one.
"""

from conftest import unquote


def test_job_definition_revisions_are_not_deregistered_under_running_executions(module):
    job_definition = module.resources[("aws_batch_job_definition", "score")]
    assert unquote(job_definition.get("deregister_on_new_revision")) is False, (
        "aws_batch_job_definition.score must set deregister_on_new_revision = false: running "
        "executions submit to the revision they started with"
    )


def test_the_state_machine_names_the_revision_it_was_deployed_with(module):
    sfn = module.raw["step_functions.tf"]
    assert "job_definition        = aws_batch_job_definition.score.arn" in sfn
