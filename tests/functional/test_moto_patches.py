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


@pytest.mark.parametrize("running_polls", [0, 1, 3])
@pytest.mark.parametrize(("exit_code", "status"), [(0, "SUCCEEDED"), (3, "FAILED")])
def test_an_ecs_task_runs_locally_and_ends_with_its_real_exit_code(
    moto_aws, exit_code, status, running_polls
):
    # running_polls > 0: the process is still running at the first DescribeTasks, and the answer
    # that first says STOPPED must already hold the exit code (it used to hold the old state).
    runner = FakeDbtRunner(exit_code=exit_code, running_polls=running_polls)
    moto_patches.set_ecs_task_runner(runner)

    described = _run(_ecs_machine())

    assert described["status"] == status
    assert runner.runs[0]["RUN_ID"] == "r1"
    if exit_code == 0:
        assert json.loads(described["output"])["Containers"][0]["ExitCode"] == 0
    else:
        # AWS's shape: States.TaskFailed, the cause the stopped task's description.
        assert described["error"] == "States.TaskFailed"
        task = json.loads(described["cause"])
        assert task["Containers"][0]["ExitCode"] == 3
        assert task["LastStatus"] == "STOPPED"
        assert task["StoppedReason"] == "Essential container in task exited"


def test_describe_tasks_reports_the_exit_code_in_the_answer_that_first_says_stopped(moto_aws):
    machine = _ecs_machine()
    params = machine["States"]["Run"]["Parameters"]

    class Process:
        code: int | None = None

        def poll(self) -> int | None:
            return self.code

    process = Process()
    moto_patches.set_ecs_task_runner(lambda task, environment: process)
    ecs = boto3.client("ecs", region_name=REGION)
    task = ecs.run_task(
        cluster=params["Cluster"],
        taskDefinition=params["TaskDefinition"],
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": params["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"],
                "securityGroups": params["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"],
            }
        },
    )["tasks"][0]["taskArn"]

    first = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]
    process.code = 2  # the process ends between two polls
    second = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]

    assert first["lastStatus"] == "RUNNING"
    assert (second["lastStatus"], second["containers"][0]["exitCode"]) == ("STOPPED", 2)


def test_an_aws_sdk_s3_get_object_task_hands_the_state_the_body_as_a_string(moto_aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="run/summary.json", Body=b'{"exit_code": 2}')
    machine = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "artifacts", "Key": "run/summary.json"},
                "ResultSelector": {"summary.$": "States.StringToJson($.Body)"},
                "End": True,
            }
        },
    }

    described = _run(machine)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"summary": {"exit_code": 2}}


def test_run_task_takes_a_familys_latest_active_revision_and_refuses_an_inactive_one(moto_aws):
    ecs = boto3.client("ecs", region_name=REGION)
    machine = _ecs_machine()  # registers family "dbt" revision 1
    params = machine["States"]["Run"]["Parameters"]
    network = {
        "awsvpcConfiguration": {
            "subnets": params["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"],
            "securityGroups": params["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"],
        }
    }
    second = ecs.register_task_definition(
        family="dbt",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "dbt", "image": "dbt:v2"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.register_task_definition(
        family="dbt",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "dbt", "image": "dbt:v3"}],
    )
    ecs.deregister_task_definition(taskDefinition="dbt:3")

    def run(definition: str) -> str:
        tasks = ecs.run_task(
            cluster=params["Cluster"],
            taskDefinition=definition,
            launchType="FARGATE",
            networkConfiguration=network,
        )["tasks"]
        return tasks[0]["taskDefinitionArn"]

    assert run("dbt") == second  # revision 3 is INACTIVE: the latest ACTIVE one is 2
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="inactive"):
        run("dbt:3")


def test_a_run_started_before_a_deploy_runs_the_new_revision_of_the_family(moto_aws):
    # What CloudFormation does on a new DbtImageTag: register a new revision, deregister the old one.
    runner = FakeDbtRunner(exit_code=0)
    moto_patches.set_ecs_task_runner(runner)
    machine = _ecs_machine()
    old = machine["States"]["Run"]["Parameters"]["TaskDefinition"]
    machine["States"]["Run"]["Parameters"]["TaskDefinition"] = "dbt"  # the family, as the real ASL names it
    ecs = boto3.client("ecs", region_name=REGION)
    new = ecs.register_task_definition(
        family="dbt",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "dbt", "image": "dbt:new"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=old)

    described = _run(machine)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["TaskDefinitionArn"] == new


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
