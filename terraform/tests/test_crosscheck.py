"""Ties the Terraform module to the code it deploys.

The contracts are handlers/lambda-functions.json (functions, binaries, environment, state machine
placeholders), iam/policies.json (every principal's IAM statements, which Terraform reads) and
batch-job/retry-strategy.json; the code is lambda/ (the binaries and the environment variables
they read), handlers/ (the functions, which read none) and state-machines/scoring-pipeline.asl.json.
"""

import json
import re
import tomllib

import pytest

from conftest import (
    REPO,
    TERRAFORM,
    block,
    dynamic_blocks,
    policy_statements,
    unquote,
)

ASL = REPO / "state-machines" / "scoring-pipeline.asl.json"
POLICIES = REPO / "iam" / "policies.json"
HANDLERS = REPO / "handlers"
# the crate that builds the functions' binaries (package stepscore-lambda)
LAMBDA = REPO / "lambda"

# What iam.tf may add to a function's role beyond the calls its code makes, and why.
PLATFORM_ACTIONS = {
    "logs:CreateLogStream": "the runtime writes the function's logs",
    "logs:PutLogEvents": "the runtime writes the function's logs",
    "xray:PutTraceSegments": "active tracing, when tracing_enabled",
    "xray:PutTelemetryRecords": "active tracing, when tracing_enabled",
    "sqs:SendMessage": "on-failure destination of asynchronously invoked functions",
}

# Set by the Lambda runtime itself; a handler may read them without Terraform setting them.
RUNTIME_ENVIRONMENT = re.compile(
    r"^(AWS_[A-Z0-9_]+|_HANDLER|_X_AMZN_TRACE_ID|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|TZ|LANG|PATH|LD_LIBRARY_PATH|RUST_LOG|RUST_BACKTRACE)$"
)


def lambda_table(module):
    """Every function the module can deploy: the pipeline's, predict (optional, see api.tf), and the
    job API's jobs and intake (optional, see jobs_api.tf)."""
    return {
        **unquote(module.local("pipeline_functions")),
        **unquote(module.local("predict_function")),
        **unquote(module.local("jobs_api_functions")),
    }


def statement_actions(statements):
    actions = []
    for statement in statements:
        actions.extend(statement["actions"])
    return actions


def state_machine_functions(contract):
    """Functions the state machine calls, with the ASL state names that call each."""
    calls = {}
    for name, function in contract["functions"].items():
        trigger = function["trigger"]
        match = re.match(r"state machine tasks? (.+)$", trigger)
        if match:
            calls[name] = re.split(r"\s*(?:,|\band\b)\s*", match.group(1).strip())
    return calls


# --- functions and binaries ------------------------------------------------------------------


def test_every_contract_function_is_deployed_and_every_deployed_function_is_in_the_contract(module, contract):
    assert sorted(lambda_table(module)) == sorted(contract["functions"])
    # the pipeline's functions always, predict only with a model to serve, the job API's two
    # only when it is enabled
    assert module.local("lambda_functions") == (
        "${merge(local.pipeline_functions, "
        "{for name, f in local.predict_function : name => f if local.predict_enabled}, "
        "{for name, f in local.jobs_api_functions : name => f if local.jobs_api_enabled})}"
    )
    assert sorted(unquote(module.local("predict_function"))) == ["predict"]
    assert module.local("predict_enabled") == "${var.predict_model_uri != null}"
    assert module.variables["predict_model_uri"]["default"] is None
    assert sorted(unquote(module.local("jobs_api_functions"))) == ["intake", "jobs"]
    assert module.local("jobs_api_enabled") == "${var.jobs_api_enabled}"
    assert module.variables["jobs_api_enabled"]["default"] is False


@pytest.mark.parametrize(
    "function", ["admit", "register", "submit", "check", "finalize", "schedule", "cleanup", "predict", "jobs", "intake"]
)
def test_function_runs_the_contract_binary(module, contract, function):
    assert lambda_table(module)[function]["binary"] == contract["functions"][function]["binary"]


def test_one_lambda_resource_per_table_entry_on_provided_al2023_arm64(module):
    fn = module.resource("aws_lambda_function", "this")
    assert fn["for_each"] == "${local.lambda_functions}"
    assert unquote(fn["architectures"]) == ["arm64"]
    assert '"provided.al2023"' in fn["runtime"] and '"bootstrap"' in fn["handler"]
    assert "${var.lambda_artifacts_dir}/${each.value.binary}/bootstrap.zip" in fn["filename"]
    assert "filebase64sha256" in fn["source_code_hash"], "code changes must redeploy the function"
    assert fn["role"] == "${aws_iam_role.lambda[each.key].arn}", "each function runs with its own role"
    assert fn["reserved_concurrent_executions"] == "${var.lambda_reserved_concurrency}"
    logging = unquote(block(fn, "logging_config"))
    assert logging["log_format"] == "JSON", "AWS_LAMBDA_LOG_FORMAT=JSON comes from logging_config"
    assert logging["log_group"] == "${aws_cloudwatch_log_group.lambda[each.key].name}"
    group = module.resource("aws_cloudwatch_log_group", "lambda")
    assert group["retention_in_days"] == "${var.log_retention_days}"


def declared_handler_binaries():
    """[[bin]] names of lambda/Cargo.toml plus src/bin/<name>.rs and src/bin/<name>/main.rs."""
    with open(LAMBDA / "Cargo.toml", "rb") as f:
        manifest = tomllib.load(f)
    names = {b["name"] for b in manifest.get("bin", []) if "name" in b}
    bin_dir = LAMBDA / "src" / "bin"
    if bin_dir.is_dir():
        names |= {p.stem for p in bin_dir.glob("*.rs")}
        names |= {p.parent.name for p in bin_dir.glob("*/main.rs")}
    return names


def test_lambda_crate_builds_every_contract_binary(contract):
    declared = declared_handler_binaries()
    missing = sorted(f["binary"] for f in contract["functions"].values() if f["binary"] not in declared)
    assert not missing, f"lambda/ declares no binary {missing}: add src/bin/<name>.rs or a [[bin]] to lambda/Cargo.toml"


def test_every_lambda_binary_is_a_contract_function(contract):
    binaries = {f["binary"] for f in contract["functions"].values()}
    extra = sorted(name for name in declared_handler_binaries() if name.startswith("stepscore-") and name not in binaries)
    assert not extra, f"lambda/ builds {extra}, which no function in lambda-functions.json (and so no Terraform) deploys"


# --- environment -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "function", ["admit", "register", "submit", "check", "finalize", "schedule", "cleanup", "predict", "jobs", "intake"]
)
def test_function_sets_every_environment_variable_of_the_contract(module, contract, function):
    environment = lambda_table(module)[function]["environment"]
    assert isinstance(environment, dict), f"local.lambda_functions.{function}.environment must be a literal map"
    missing = sorted(set(contract["functions"][function]["env"]) - set(environment))
    assert not missing, f"{function} does not set {missing}"


def env_reads(path):
    text = path.read_text()
    return set(re.findall(r"\benv::var(?:_os)?\(\s*\"([A-Za-z_][A-Za-z0-9_]*)\"", text))


def test_environment_read_by_handler_code_is_set_by_terraform(module, contract):
    table = lambda_table(module)
    by_binary = {f["binary"]: name for name, f in contract["functions"].items()}
    set_anywhere = set().union(*(set(f["environment"]) for f in table.values()))
    problems = []
    for crate in (HANDLERS, LAMBDA):
        sources = sorted((crate / "src").rglob("*.rs"))
        assert sources, f"{crate.name}/src has no Rust sources"
        problems += undeclared_environment(crate, sources, table, by_binary, set_anywhere)
    assert not problems, "\n".join(problems)


def undeclared_environment(crate, sources, table, by_binary, set_anywhere):
    """What the Rust sources of `crate` read from the environment that Terraform does not set."""
    problems = []
    for path in sources:
        names = {n for n in env_reads(path) if not RUNTIME_ENVIRONMENT.match(n)}
        relative = path.relative_to(crate / "src").parts
        owner = None
        if relative[0] == "bin":
            stem = path.stem if len(relative) == 2 else relative[1]
            owner = by_binary.get(stem)
        for name in sorted(names):
            if owner is not None and name not in table[owner]["environment"]:
                problems.append(f"{path.relative_to(REPO)} reads {name}, which the {owner} function does not set")
            elif owner is None and name not in set_anywhere:
                problems.append(f"{path.relative_to(REPO)} reads {name}, which no function sets")
    return problems


# --- IAM -------------------------------------------------------------------------------------


def policy_file():
    return json.loads(POLICIES.read_text())


def rendered_policies():
    """iam/policies.json with each placeholder replaced by <name>, as templatefile would fill it."""
    text = POLICIES.read_text()
    return json.loads(re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: f"<{m.group(1)}>", text))["principals"]


def source_documents(document):
    """The source_policy_documents expressions of an aws_iam_policy_document body."""
    sources = document.get("source_policy_documents")
    assert sources, "the policy document must take its statements from iam/policies.json (source_policy_documents)"
    return unquote(sources)


def file_actions(principal):
    return [a for statement in rendered_policies()[principal]["statements"] for a in statement["Action"]]


def test_policies_are_read_from_the_policy_file_with_every_placeholder(module):
    policies = module.local("policies")
    match = re.match(r'^\$\{jsondecode\(templatefile\("\$\{path\.module\}/\.\./iam/policies\.json", \{(.*)\}\)\)\.principals\}$', policies, re.S)
    assert match, f"local.policies must be jsondecode(templatefile(\"${{path.module}}/../iam/policies.json\", {{...}})).principals: {policies}"
    arguments = dict(re.findall(r"([A-Za-z0-9_]+) = ([^,]+?)(?:,|$)", match.group(1)))
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", POLICIES.read_text()))
    declared = set(policy_file()["placeholders"])
    assert used == declared, f"placeholders used {sorted(used)} vs described {sorted(declared)}"
    assert set(arguments) == declared, f"templatefile passes {sorted(arguments)}, the file has {sorted(declared)}"
    assert "%{" not in POLICIES.read_text(), "templatefile would read %{ as a directive"
    assert arguments["partition"] == "local.partition"
    assert arguments["table_arn"] == "aws_dynamodb_table.jobs.arn"
    for prefix in ["jobs_prefix", "models_prefix", "inputs_prefix", "outputs_prefix"]:
        assert arguments[prefix] == f"var.{prefix}"
    # the roles' policies must not depend on the functions (which depend on the roles)
    assert "aws_lambda_function" not in match.group(1)


def test_every_principal_of_the_module_is_in_the_policy_file(module, contract):
    principals = policy_file()["principals"]
    assert set(contract["functions"]) <= set(principals)
    assert {name for name, p in principals.items() if p["kind"] == "lambda"} == set(contract["functions"])
    assert {"batch_job", "state_machine", "scheduler", "cli"} <= set(principals)


def test_each_lambda_role_takes_exactly_its_principals_statements(module):
    document = module.data_source("aws_iam_policy_document", "lambda")
    assert document["for_each"] == "${local.lambda_functions}"
    assert source_documents(document) == [
        '${jsonencode({Version = "2012-10-17", Statement = local.policies[each.key].statements})}'
    ]


def test_lambda_role_policy_adds_only_platform_actions(module):
    document = module.data_source("aws_iam_policy_document", "lambda")
    gates = {}
    for statement, for_each in policy_statements(document):
        for action in unquote(statement["actions"]):
            assert action in PLATFORM_ACTIONS, f"Lambda roles get {action}, neither in iam/policies.json nor a platform need"
            gates[action] = for_each
    assert set(gates) == set(PLATFORM_ACTIONS)
    assert gates["logs:CreateLogStream"] is None and gates["logs:PutLogEvents"] is None
    assert "var.tracing_enabled" in gates["xray:PutTraceSegments"]
    assert "each.value.async" in gates["sqs:SendMessage"]
    logs = next(s for s, f in policy_statements(document) if "\"logs:PutLogEvents\"" in s["actions"])
    assert unquote(logs["resources"]) == ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"], "only its own log group"


def test_only_the_asynchronously_invoked_functions_may_dead_letter(module, contract):
    table = lambda_table(module)
    async_functions = {name for name, f in table.items() if f["async"] is True}
    expected = {
        name
        for name, f in contract["functions"].items()
        if "state machine" not in f["trigger"] and "synchronous" not in f["trigger"]
    }
    assert async_functions == expected == {"admit", "schedule", "cleanup"}
    invoke_config = module.resource("aws_lambda_function_event_invoke_config", "async")
    assert invoke_config["for_each"] == "${local.async_functions}"
    on_failure = block(block(invoke_config, "destination_config"), "on_failure")
    assert on_failure["destination"] == "${aws_sqs_queue.lambda_dlq.arn}"


def test_each_lambda_role_gets_only_its_own_policy(module):
    policy = module.resource("aws_iam_role_policy", "lambda")
    assert policy["for_each"] == "${local.lambda_functions}"
    assert policy["role"] == "${aws_iam_role.lambda[each.key].id}"
    assert policy["policy"] == "${data.aws_iam_policy_document.lambda[each.key].json}"
    assert not [key for key in module.resources if key[0] == "aws_iam_role_policy_attachment"], (
        "managed policy attachments would grant actions no code calls"
    )


def test_state_machine_role_may_invoke_only_the_four_task_functions(module, contract):
    tasks = unquote(module.local("state_machine_task_functions"))
    assert sorted(tasks) == sorted(state_machine_functions(contract))
    document = module.data_source("aws_iam_policy_document", "state_machine")
    assert '${jsonencode({Version = "2012-10-17", Statement = local.policies.state_machine.statements})}' in source_documents(document)
    statements = rendered_policies()["state_machine"]["statements"]
    invoking = [s for s in statements if "lambda:InvokeFunction" in s["Action"]]
    assert len(invoking) == 1 and invoking[0]["Action"] == ["lambda:InvokeFunction"]
    expected = [arn for name in tasks for arn in (f"<function_arn_prefix>{name}", f"<function_arn_prefix>{name}:*")]
    assert sorted(invoking[0]["Resource"]) == sorted(expected)
    for statement in statements:
        assert all(not a.startswith("lambda:") or statement is invoking[0] for a in statement["Action"])
    for statement, _ in policy_statements(document):
        assert all(a.startswith("xray:") for a in unquote(statement["actions"])), "only tracing is added in iam.tf"


def test_function_arns_of_the_policies_are_the_deployed_functions(module):
    prefix = unquote(module.local("function_arn_prefix"))
    assert prefix == "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name}-"
    function = module.resource("aws_lambda_function", "this")
    assert unquote(function["function_name"]) == "${var.name}-${each.key}"


def test_scheduler_role_invokes_only_the_schedule_function(module):
    document = module.data_source("aws_iam_policy_document", "scheduler")
    assert source_documents(document) == ['${jsonencode({Version = "2012-10-17", Statement = local.policies.scheduler.statements})}']
    assert not policy_statements(document)
    by_action = {a: s for s in rendered_policies()["scheduler"]["statements"] for a in s["Action"]}
    assert set(by_action) == {"lambda:InvokeFunction", "sqs:SendMessage"}
    assert by_action["lambda:InvokeFunction"]["Resource"] == ["<function_arn_prefix>schedule", "<function_arn_prefix>schedule:*"]
    assert by_action["sqs:SendMessage"]["Resource"] == ["<scheduler_dlq_arn>"]
    assert "scheduler_dlq_arn = aws_sqs_queue.scheduler_dlq.arn" in module.local("policies")


def test_batch_job_role_reads_models_and_inputs_and_writes_outputs_only(module):
    document = module.data_source("aws_iam_policy_document", "batch_job")
    assert source_documents(document) == ['${jsonencode({Version = "2012-10-17", Statement = local.policies.batch_job.statements})}']
    grants = {}
    for statement in rendered_policies()["batch_job"]["statements"]:
        for action in statement["Action"]:
            grants[action] = statement["Resource"]
    assert grants["s3:GetObject"] == ["<bucket_arn>/<models_prefix>*", "<bucket_arn>/<inputs_prefix>*"]
    assert grants["s3:PutObject"] == ["<bucket_arn>/<outputs_prefix>*"]
    assert set(grants) == {"s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:AbortMultipartUpload"}


# Actions AWS authorises on no resource narrower than "*" (Service Authorization Reference).
RESOURCE_WILDCARD_ONLY = {
    "batch:ListJobs", "batch:DescribeJobs",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


def test_every_statement_of_the_policy_file_names_its_resources():
    problems = []
    for principal, body in rendered_policies().items():
        for statement in body["statements"]:
            sid = f"{principal}.{statement.get('Sid')}"
            if set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}:
                problems.append(f"{sid}: only Sid, Effect, Action, Resource and Condition are used")
            if not statement.get("Resource"):
                problems.append(f"{sid}: no Resource")
                continue
            if "*" in statement["Resource"]:
                wide = [a for a in statement["Action"] if a not in RESOURCE_WILDCARD_ONLY]
                if wide:
                    problems.append(f"{sid}: Resource \"*\" for {wide}, which accept narrower resources")
            for resource in statement["Resource"]:
                if resource != "*" and not re.match(r"^(<[a-z_]+>|arn:<partition>:)", resource):
                    problems.append(f"{sid}: {resource} is neither a placeholder ARN nor built on <partition>")
            if "s3:ListBucket" in statement["Action"]:
                prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
                if not prefixes:
                    problems.append(f"{sid}: s3:ListBucket without a StringLike s3:prefix condition")
    assert not problems, "\n".join(problems)


def test_no_arn_names_a_literal_partition():
    offenders = []
    for path in [*TERRAFORM.glob("*.tf"), ASL, POLICIES]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"arn:aws(-[a-z-]+)?:", line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "ARNs must use the partition (local.partition / ${partition}):\n" + "\n".join(offenders)


def test_admit_reads_the_jobs_prefix_terraform_filters_on(module):
    environment = unquote(lambda_table(module)["admit"]["environment"])
    assert environment["STEPSCORE_JOBS_PREFIX"] == "${var.jobs_prefix}"


def test_only_admit_reads_object_versions_and_only_job_configs():
    # admit reads the config version its S3 event names (GetObject with VersionId needs
    # s3:GetObjectVersion, which s3:GetObject does not grant); no other code reads by version
    grants = {}
    for principal, body in rendered_policies().items():
        for statement in body["statements"]:
            if "s3:GetObjectVersion" in statement["Action"]:
                grants.setdefault(principal, []).extend(statement["Resource"])
    assert grants == {"admit": ["<bucket_arn>/<jobs_prefix>*"]}


def all_policy_documents(module):
    for (dtype, name), body in module.data.items():
        if dtype == "aws_iam_policy_document":
            yield name, body


def test_no_allow_statement_grants_a_wildcard_action(module):
    offenders = []
    for name, document in all_policy_documents(module):
        for statement, _ in policy_statements(document):
            if unquote(statement.get("effect", '"Allow"')) == "Deny":
                continue  # a deny only ever narrows access
            actions = statement["actions"]
            if isinstance(actions, str):
                continue  # the code statements, checked against the contract
            offenders += [f"data.aws_iam_policy_document.{name}: {a}" for a in unquote(actions) if "*" in a]
    for principal, body in rendered_policies().items():
        offenders += [f"iam/policies.json {principal}: {a}" for st in body["statements"] if st["Effect"] == "Allow" for a in st["Action"] if "*" in a]
    # Policies written inline with jsonencode (the KMS key policy): any IAM-action-shaped string.
    for file_name, text in module.raw.items():
        offenders += [f"{file_name}: {a}" for a in re.findall(r'"((?:kms|s3|sqs|sns|logs|lambda|iam|ecr|ecs|batch|states|dynamodb|xray):[A-Za-z]*\*[A-Za-z*]*)"', text) if file_name != "main.tf"]
    assert not offenders, "wildcard actions granted:\n" + "\n".join(offenders)


def test_only_the_tls_deny_of_the_bucket_policy_uses_a_wildcard(module):
    text = module.raw["main.tf"]
    wildcards = re.findall(r'"[a-z0-9]+:\*"', text)
    document = module.data_source("aws_iam_policy_document", "bucket")
    statements = [s for s, _ in policy_statements(document)]
    assert all(unquote(s["effect"]) == "Deny" for s in statements)
    assert len(wildcards) == len(statements)


# --- state machine ---------------------------------------------------------------------------


def asl_placeholders():
    assert ASL.is_file(), f"{ASL.relative_to(REPO)} does not exist yet"
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL.read_text()))


def templatefile_arguments(module):
    definition = module.resource("aws_sfn_state_machine", "this")["definition"]
    match = re.match(r"^\$\{templatefile\(local\.state_machine_definition_path, \{(.*)\}\)\}$", definition, re.S)
    assert match, f"the state machine definition must be templatefile(local.state_machine_definition_path, {{...}}): {definition}"
    return dict(re.findall(r"([A-Za-z0-9_]+) = ([^,]+?)(?:,|$)", match.group(1)))


def test_templatefile_fills_exactly_the_contract_placeholders(module, contract):
    assert sorted(templatefile_arguments(module)) == sorted(contract["state_machine_placeholders"])
    path = module.local("state_machine_definition_path")
    assert "${path.module}/../state-machines/scoring-pipeline.asl.json" in path


def test_every_placeholder_of_the_state_machine_is_filled(module, contract):
    placeholders = asl_placeholders()
    unfilled = sorted(placeholders - set(templatefile_arguments(module)))
    assert not unfilled, f"{ASL.name} uses ${{...}} placeholders Terraform does not fill: {unfilled}"
    unknown = sorted(placeholders - set(contract["state_machine_placeholders"]))
    assert not unknown, f"{ASL.name} uses placeholders lambda-functions.json does not list: {unknown}"


def test_placeholders_sit_only_inside_json_strings():
    text = ASL.read_text() if ASL.is_file() else None
    assert text is not None, f"{ASL.relative_to(REPO)} does not exist yet"
    # templatefile would read %{ as a template directive and fail the plan.
    assert "%{" not in text, f"{ASL.name} contains '%{{', which templatefile reads as a directive: write %%{{"
    rendered = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: f"PLACEHOLDER-{m.group(1)}", text)
    json.loads(rendered)


def test_placeholders_point_at_the_right_resources(module):
    arguments = templatefile_arguments(module)
    for name, value in arguments.items():
        match = re.match(r"(register|submit|check|finalize)_function_arn$", name)
        if match:
            assert value == f'aws_lambda_function.this["{match.group(1)}"].arn', f"{name} = {value}"
    assert arguments["spot_job_queue"] == 'aws_batch_job_queue.this["spot"].arn'
    assert arguments["on_demand_job_queue"] == 'aws_batch_job_queue.this["on_demand"].arn'
    assert arguments["job_definition"] == "aws_batch_job_definition.score.arn"


def asl_states(definition):
    """Every state of a state machine, including those inside Parallel branches and Map processors."""
    for name, state in definition.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from asl_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from asl_states(state[key])


def test_each_task_state_calls_the_function_the_contract_names(contract):
    assert ASL.is_file(), f"{ASL.relative_to(REPO)} does not exist yet"
    rendered = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: f"PLACEHOLDER-{m.group(1)}", ASL.read_text())
    states = dict(asl_states(json.loads(rendered)))
    for function, state_names in state_machine_functions(contract).items():
        for state_name in state_names:
            assert state_name in states, f"{ASL.name} has no state {state_name}, which calls {function}"
            state = states[state_name]
            target = json.dumps([state.get("Resource"), state.get("Parameters", {}), state.get("Arguments", {})])
            called = set(re.findall(r"PLACEHOLDER-([a-z_]+)_function_arn", target))
            assert called == {function}, f"state {state_name} calls {sorted(called)}, the contract says {function}"


# --- Batch -----------------------------------------------------------------------------------


def test_job_definition_declares_the_retry_strategy_file(module, retry_strategy_contract):
    assert module.local("retry_strategy") == '${jsondecode(file("${path.module}/../batch-job/retry-strategy.json"))}'
    assert (TERRAFORM / ".." / "batch-job" / "retry-strategy.json").resolve().is_file()
    job = module.resource("aws_batch_job_definition", "score")
    retry = block(job, "retry_strategy")
    assert retry["attempts"] == "${local.retry_strategy.attempts}"
    (on_exit,) = dynamic_blocks(retry, "evaluate_on_exit")
    assert on_exit["for_each"] == "${local.retry_strategy.evaluateOnExit}"
    (content,) = on_exit["content"]
    fields = {k: v for k, v in content.items() if not k.startswith("__")}
    assert fields == {
        "action": "${evaluate_on_exit.value.action}",
        "on_exit_code": '${lookup(evaluate_on_exit.value, "onExitCode", null)}',
        "on_reason": '${lookup(evaluate_on_exit.value, "onReason", null)}',
        "on_status_reason": '${lookup(evaluate_on_exit.value, "onStatusReason", null)}',
    }
    # Every key the file uses must be one the dynamic block maps, or Terraform would drop it.
    used = {key for entry in retry_strategy_contract["evaluateOnExit"] for key in entry}
    assert used <= {"action", "onExitCode", "onReason", "onStatusReason"}


def test_retry_strategy_is_one_aws_batch_accepts(retry_strategy_contract):
    attempts = retry_strategy_contract["attempts"]
    entries = retry_strategy_contract["evaluateOnExit"]
    assert 1 <= attempts <= 10, "AWS Batch accepts 1 to 10 attempts"
    assert len(entries) <= 5, (
        f"batch-job/retry-strategy.json has {len(entries)} evaluateOnExit entries; AWS Batch (and the provider) "
        "accept at most 5, so SubmitJob and the job definition would be rejected"
    )
    for entry in entries:
        assert entry["action"] in ("RETRY", "EXIT"), entry
        for key in ("onExitCode", "onReason", "onStatusReason"):
            if key in entry:
                value = entry[key]
                assert len(value) <= 512 and "*" not in value[:-1], f"{key} {value!r}: only a trailing * is allowed"
        if "onExitCode" in entry:
            assert re.fullmatch(r"[0-9]+\*?", entry["onExitCode"]), entry


def test_job_queues_cancel_jobs_stuck_in_runnable(module):
    queue = module.resource("aws_batch_job_queue", "this")
    (limit,) = dynamic_blocks(queue, "job_state_time_limit_action")
    (content,) = limit["content"]
    assert unquote(content["state"]) == "RUNNABLE" and unquote(content["action"]) == "CANCEL"
    assert content["max_time_seconds"] == "${var.batch_runnable_timeout_seconds}"
    assert limit["for_each"] == "${local.runnable_cancel_reasons}"
    reasons = set(unquote(module.local("runnable_cancel_reasons")))
    assert reasons == {
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    }


def test_spot_compute_uses_price_capacity_optimized(module):
    environments = unquote(module.local("compute_environments"))
    assert "SPOT_PRICE_CAPACITY_OPTIMIZED" in environments["spot"]["allocation_strategy"]
    assert '"FARGATE_SPOT"' in environments["spot"]["type"] and '"SPOT"' in environments["spot"]["type"]


# --- data plane ------------------------------------------------------------------------------


def test_job_table_keys_index_and_ttl(module):
    table = unquote(module.resource("aws_dynamodb_table", "jobs"))
    assert table["hash_key"] == "id" and table["billing_mode"] == "PAY_PER_REQUEST"
    attributes = {a["name"]: a["type"] for a in table["attribute"]}
    assert attributes == {"id": "S", "status": "S", "updated_at": "S"}
    (index,) = table["global_secondary_index"]
    assert (index["hash_key"], index["range_key"]) == ("status", "updated_at")
    assert table["ttl"][0]["attribute_name"] == "expires_at"
    assert table["point_in_time_recovery"][0]["enabled"] is True


def test_job_configs_under_the_jobs_prefix_invoke_admit(module):
    notification = module.resource("aws_s3_bucket_notification", "this")
    target = unquote(block(notification, "lambda_function"))
    assert target["lambda_function_arn"] == '${aws_lambda_function.this["admit"].arn}'
    assert target["filter_prefix"] == "${var.jobs_prefix}" and target["filter_suffix"] == ".json"
    assert unquote(module.variables["jobs_prefix"]["default"]) == "jobs/"


def test_executions_that_end_unfinished_invoke_cleanup(module):
    rule = module.resource("aws_cloudwatch_event_rule", "execution_ended")
    pattern = rule["event_pattern"]
    # the pattern is jsonencode({...}) of an HCL object: check the fields it filters on
    for needed in ('"aws.states"', '"Step Functions Execution Status Change"', "local.state_machine_arn", '"ABORTED"', '"TIMED_OUT"', '"FAILED"'):
        assert needed in pattern, f"the rule's event pattern lacks {needed}: {pattern}"
    assert '"SUCCEEDED"' not in pattern and '"RUNNING"' not in pattern
    target = module.resource("aws_cloudwatch_event_target", "cleanup")
    assert target["rule"] == "${aws_cloudwatch_event_rule.execution_ended.name}"
    assert target["arn"] == '${aws_lambda_function.this["cleanup"].arn}'
    assert block(target, "dead_letter_config")["arn"] == "${aws_sqs_queue.lambda_dlq.arn}"
    permission = module.resource("aws_lambda_permission", "events_cleanup")
    assert unquote(permission["principal"]) == "events.amazonaws.com"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.execution_ended.arn}"
    assert permission["function_name"] == '${aws_lambda_function.this["cleanup"].function_name}'


def test_the_state_machine_may_start_only_itself(module):
    statements = rendered_policies()["state_machine"]["statements"]
    starting = [s for s in statements if any(a.startswith("states:") for a in s["Action"])]
    assert len(starting) == 1
    assert starting[0]["Action"] == ["states:StartExecution"]
    assert starting[0]["Resource"] == ["<state_machine_arn>"]


# --- variables -------------------------------------------------------------------------------


def test_every_variable_has_a_description_and_a_type(module, example):
    problems = []
    for where, mod in (("terraform", module), ("terraform/examples", example)):
        for name, body in mod.variables.items():
            if not unquote(body.get("description", "")).strip():
                problems.append(f"{where}: variable {name} has no description")
            if "type" not in body:
                problems.append(f"{where}: variable {name} has no type")
    assert not problems, "\n".join(problems)


def test_example_uses_the_module_with_every_required_variable(module, example):
    required = sorted(name for name, body in module.variables.items() if "default" not in body)
    text = "".join(example.raw.values())
    assert 'source = "../.."' in text
    missing = [name for name in required if not re.search(rf"^\s*{name}\s*=", text, re.M)]
    assert not missing, f"examples/complete does not set the required variables {missing}"


def test_every_reference_to_a_variable_is_declared(module):
    used = set()
    for text in module.raw.values():
        used |= set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", text))
    assert sorted(used - set(module.variables)) == []
    unused = sorted(set(module.variables) - used)
    assert not unused, f"variables declared but never used: {unused}"


def test_every_local_reference_is_declared(module):
    used = set()
    for text in module.raw.values():
        used |= set(re.findall(r"\blocal\.([A-Za-z0-9_]+)", text))
    assert sorted(used - set(module.locals)) == []


def test_references_name_declared_resources(module):
    declared = {f"{t}.{n}" for t, n in module.resources} | {f"data.{t}.{n}" for t, n in module.data}
    referenced = set()
    for text in module.raw.values():
        # a moved block's `from` names a resource that no longer is (it moved into a module)
        text = re.sub(r"^\s*from\s*=.*$", "", text, flags=re.M)
        referenced |= set(re.findall(r"(?<![A-Za-z0-9_.\]])((?:data\.)?aws_[a-z0-9_]+\.[a-z0-9_]+)", text))
    assert sorted(referenced - declared) == []


@pytest.mark.parametrize(
    "name, allowed",
    [
        ("lambda_package_type", ["Zip", "Image"]),
        ("batch_compute_type", ["EC2", "FARGATE"]),
        ("batch_cpu_architecture", ["X86_64", "ARM64"]),
        ("state_machine_log_level", ["ALL", "ERROR", "FATAL", "OFF"]),
        ("lambda_log_level", ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
    ],
)
def test_enum_like_variables_validate_their_values(module, name, allowed):
    variable = module.variables[name]
    conditions = [v["condition"] for v in variable.get("validation", [])]
    expected = "contains([" + ", ".join(f'"{a}"' for a in allowed) + f"], var.{name})"
    assert any(expected in c for c in conditions), f"variable {name} must validate against {allowed}: {conditions}"
    assert unquote(variable["default"]) in allowed


def test_check_reads_only_the_progress_reports_under_the_outputs_prefix():
    grants = {}
    for statement in rendered_policies()["check"]["statements"]:
        for action in statement["Action"]:
            grants.setdefault(action, []).extend(statement["Resource"])
    assert grants["s3:GetObject"] == ["<bucket_arn>/<outputs_prefix>*"]
    assert not any(a.startswith("s3:") and a != "s3:GetObject" for a in grants), grants


def test_exactly_finalize_and_cleanup_publish_job_status_changes_to_the_module_bus(module):
    publishers = {
        name
        for name, principal in rendered_policies().items()
        for s in principal["statements"]
        if any(a.startswith("events:") for a in s["Action"])
    }
    assert publishers == {"finalize", "cleanup"}
    for name in publishers:
        statements = [s for s in rendered_policies()[name]["statements"] if "events:PutEvents" in s["Action"]]
        assert [s["Action"] for s in statements] == [["events:PutEvents"]]
        assert [s["Resource"] for s in statements] == [["<event_bus_arn>"]]
        environment = lambda_table(module)[name]["environment"]
        assert environment["STEPSCORE_EVENT_BUS"] == "${local.event_bus_name}"
    assert "event_bus_arn           = local.event_bus_arn" in module.raw["locals.tf"]
    assert unquote(module.local("event_bus_arn")) == (
        "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${local.event_bus_name}"
    )


def test_job_status_changes_reach_the_notification_topic_when_one_is_asked_for(module):
    core_event = (REPO / "core" / "src" / "event.rs").read_text()
    assert 'pub const EVENT_SOURCE: &str = "stepscore";' in core_event
    assert 'pub const EVENT_DETAIL_TYPE: &str = "stepscore Job Status Change";' in core_event
    rule = module.resource("aws_cloudwatch_event_rule", "job_status_change")
    assert rule["count"] == "${local.notify ? 1 : 0}"
    for needed in ('"stepscore"', '"stepscore Job Status Change"'):
        assert needed in rule["event_pattern"], rule["event_pattern"]
    target = module.resource("aws_cloudwatch_event_target", "job_status_change")
    assert target["arn"] == "${local.notification_topic_arn}"
    assert block(target, "dead_letter_config")["arn"] == "${aws_sqs_queue.lambda_dlq.arn}"
    topic = module.resource("aws_sns_topic", "job_notifications")
    assert topic["kms_master_key_id"] == "${aws_kms_key.observability.arn}"
    document = module.data_source("aws_iam_policy_document", "job_notifications_topic")
    [statement] = policy_statements(document)
    assert statement[0]["actions"] == ["sns:Publish"] or unquote(statement[0]["actions"]) == ["sns:Publish"]
    assert "aws_cloudwatch_event_rule.job_status_change[0].arn" in str(statement[0]["condition"])
    # the dead-letter queue takes this rule's undeliverable events too
    dlq = module.data_source("aws_iam_policy_document", "events_to_dlq")
    assert "aws_cloudwatch_event_rule.job_status_change[*].arn" in str(dlq)
    for name in ("notification_emails", "notification_topic_arn"):
        assert name in module.variables
