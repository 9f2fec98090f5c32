"""Runs a definition on moto's Step Functions interpreter (in-process mock_aws with
stepfunctions.execute_state_machine enabled) and prints `transitions=N seconds=S rate=R`,
counting transitions as *StateEntered events in the execution history, like the Rust bench."""

import json
import sys
import time

import boto3
from moto import mock_aws


def main() -> int:
    definition_path, raw_input = sys.argv[1], sys.argv[2]
    with open(definition_path, encoding="utf-8") as f:
        definition = f.read()
    if raw_input.startswith("items:"):
        execution_input = json.dumps({"items": list(range(int(raw_input[len("items:"):])))})
    else:
        execution_input = raw_input
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="bench", definition=definition, roleArn="arn:aws:iam::123456789012:role/bench"
        )["stateMachineArn"]
        started = time.perf_counter()
        execution = sfn.start_execution(stateMachineArn=arn, input=execution_input)["executionArn"]
        while True:
            status = sfn.describe_execution(executionArn=execution)["status"]
            if status != "RUNNING":
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        if status != "SUCCEEDED":
            print(f"moto execution ended {status}", file=sys.stderr)
            return 1
        transitions = 0
        token = None
        while True:
            kwargs = {"executionArn": execution, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = sfn.get_execution_history(**kwargs)
            transitions += sum(1 for e in page["events"] if e["type"].endswith("StateEntered"))
            token = page.get("nextToken")
            if not token:
                break
    print(f"transitions={transitions} seconds={seconds:.6f} rate={transitions / seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
