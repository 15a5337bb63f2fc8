"""Each patch in ``local/moto_patches.py`` does what it says.

moto is pinned; these fail if an upgrade breaks a patch.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from local import moto_patches
from tests.conftest import REGION
from tests.fakes import FakeDbtRunner

ROLE = "arn:aws:iam::123456789012:role/test"


def _function(name: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"r-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="nowhere.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]


def _run(definition: dict[str, Any], run_input: dict[str, Any] | None = None) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"m{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(run_input or {}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution did not end")


def test_lambda_in_process_runs_the_registered_handler(moto_aws):
    _function("echo")
    moto_patches.register_handler("echo", lambda event, context: {"got": event, "fn": context.function_name})

    response = boto3.client("lambda", region_name=REGION).invoke(FunctionName="echo", Payload=b'{"a": 1}')

    assert json.loads(response["Payload"].read()) == {"got": {"a": 1}, "fn": "echo"}
    assert "FunctionError" not in response


def test_lambda_in_process_reports_an_exception_with_its_class_name_as_error_type(moto_aws):
    class Boom(Exception):
        pass

    Boom.__name__ = "Fivetran.RateLimited"
    _function("boom")

    def handler(event: Any, context: Any) -> None:
        raise Boom("slow down")

    moto_patches.register_handler("boom", handler)

    response = boto3.client("lambda", region_name=REGION).invoke(FunctionName="boom", Payload=b"{}")

    body = json.loads(response["Payload"].read())
    assert response["FunctionError"]
    assert (body["errorType"], body["errorMessage"]) == ("Fivetran.RateLimited", "slow down")


def _callback_machine(function_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": function_arn, "Payload": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 10,
                "HeartbeatSeconds": 5,
                "End": True,
            }
        },
    }


def test_an_outcome_sent_before_the_invoke_returns_is_not_lost(moto_aws):
    arn = _function("inline")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def handler(event: Any, context: Any) -> dict:
        sfn.send_task_heartbeat(taskToken=event["token"])  # heartbeat_before_endpoint
        sfn.send_task_success(taskToken=event["token"], output='{"done": true}')  # callback_before_heartbeat
        return {}

    moto_patches.register_handler("inline", handler)

    described = _run(_callback_machine(arn))

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"done": True}


def test_send_task_failure_keeps_its_cause(moto_aws):
    arn = _function("fails")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def handler(event: Any, context: Any) -> dict:
        sfn.send_task_failure(taskToken=event["token"], error="Fivetran.SyncFailed", cause="it broke")
        return {}

    moto_patches.register_handler("fails", handler)

    described = _run(_callback_machine(arn))

    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Fivetran.SyncFailed",
        "it broke",
    )


def test_an_execution_started_without_a_name_gets_a_unique_one(moto_aws):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="named",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]

    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    assert first != second and not first.endswith(":None")
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 2


def _ecs_machine() -> dict[str, Any]:
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    # No container-level memory, as usual on Fargate (ecs_container_memory).
    task = ecs.register_task_definition(
        family="dbt",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "dbt", "image": "dbt:latest"}],
    )["taskDefinition"]["taskDefinitionArn"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    return {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {  # PascalCase, as AWS requires (ecs_parameter_casing)
                    "LaunchType": "FARGATE",
                    "Cluster": cluster,
                    "TaskDefinition": task,
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {"Subnets": [subnet], "SecurityGroups": [group]}
                    },
                    "Overrides": {
                        "ContainerOverrides": [
                            {"Name": "dbt", "Environment": [{"Name": "RUN_ID", "Value": "r1"}]}
                        ]
                    },
                },
                "End": True,
            }
        },
    }


@pytest.mark.parametrize(("exit_code", "status"), [(0, "SUCCEEDED"), (3, "FAILED")])
def test_an_ecs_task_runs_locally_and_ends_with_its_real_exit_code(moto_aws, exit_code, status):
    runner = FakeDbtRunner(exit_code=exit_code)
    moto_patches.set_ecs_task_runner(runner)

    described = _run(_ecs_machine())

    assert described["status"] == status
    assert runner.runs[0]["RUN_ID"] == "r1"
    if exit_code == 0:
        assert json.loads(described["output"])["Containers"][0]["ExitCode"] == 0
    else:
        assert described["error"] == "ECS.EssentialContainerExited"
        assert '"ExitCode": 3' in described["cause"]


def _wait_machine(wait: dict[str, Any], function_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", **wait, "Next": "After"},
            "After": {"Type": "Task", "Resource": function_arn, "End": True},
        },
    }


@pytest.mark.parametrize("field", ["Timestamp", "TimestampPath"])
def test_a_wait_never_ends_before_its_timestamp(moto_aws, field):
    arn = _function(f"after-{field}")
    ended: list[float] = []
    moto_patches.register_handler(f"after-{field}", lambda event, context: ended.append(time.time()) or {})
    # A fraction close to the next whole second: moto alone drops it and rounds the wait down.
    target = int(time.time()) + 1.95
    stamp = datetime.fromtimestamp(target, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    wait = {"Timestamp": stamp} if field == "Timestamp" else {"TimestampPath": "$.until"}

    described = _run(_wait_machine(wait, arn), {"until": stamp})

    assert described["status"] == "SUCCEEDED"
    assert ended and ended[0] >= round(target, 3)


def test_a_wait_for_a_past_timestamp_ends_at_once_and_a_bad_one_fails_the_run(moto_aws):
    arn = _function("after-past")
    moto_patches.register_handler("after-past", lambda event, context: {"ran": True})
    machine = _wait_machine({"TimestampPath": "$.until"}, arn)

    assert _run(machine, {"until": "2020-01-01T00:00:00Z"})["status"] == "SUCCEEDED"
    failed = _run(machine, {"until": "tomorrow"})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Runtime")
