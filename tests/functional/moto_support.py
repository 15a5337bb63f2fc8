"""What the tests of moto's patches share: a Lambda function to invoke, a state machine run to its end."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from tests.conftest import PATIENCE_S, REGION

ROLE = "arn:aws:iam::123456789012:role/test"


def lambda_function(name: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"r-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="nowhere.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]


def run_machine(definition: dict[str, Any], run_input: dict[str, Any] | None = None) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"m{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(run_input or {}))[
        "executionArn"
    ]
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution did not end")
