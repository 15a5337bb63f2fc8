"""Each patch in ``local/moto_patches.py`` does what it says.

moto is pinned; these fail if an upgrade breaks a patch.
"""

from __future__ import annotations

import json
import threading
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


# -- Distributed Map (local/moto_dmap.py) --------------------------------------------------------


def _items(items: list[Any], max_concurrency: int = 0) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    if "runs" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="runs")
    s3.put_object(Bucket="runs", Key="items.json", Body=json.dumps(items).encode())
    return {"items": {"bucket": "runs", "key": "items.json"}, "options": {"max_concurrency": max_concurrency}}


def _dmap(child: dict[str, Any], *, writer: bool = True, **fields: Any) -> dict[str, Any]:
    """A one-state machine shaped like the orchestrator's SyncConnectors map (JSONPath)."""
    state: dict[str, Any] = {
        "Type": "Map",
        "Label": "Sync",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.items.bucket", "Key.$": "$.items.key"},
        },
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "parent.$": "$$.Execution.Id"},
        "MaxConcurrencyPath": "$.options.max_concurrency",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **child},
        "ResultPath": "$.map_run",
        "End": True,
        **fields,
    }
    if writer:
        state["ResultWriter"] = {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "runs", "Prefix": "map-runs"},
        }
    return {"StartAt": "SyncConnectors", "States": {"SyncConnectors": state}}


_PASS_OR_FAIL = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.item", "StringEquals": "bad", "Next": "Broken"}],
            "Default": "Done",
        },
        "Broken": {"Type": "Fail", "Error": "Fivetran.SyncFailed", "Cause": "connector broke"},
        "Done": {"Type": "Pass", "Parameters": {"synced.$": "$.item"}, "End": True},
    },
}


def _s3_json(key: str) -> Any:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket="runs", Key=key)["Body"].read()
    return json.loads(body)


def test_a_distributed_map_result_writer_writes_the_aws_manifest_and_result_files(moto_aws):
    described = _run(_dmap(_PASS_OR_FAIL, ToleratedFailurePercentage=100), _items(["a", "bad", "c"]))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    map_run = json.loads(described["output"])["map_run"]
    run_id = map_run["MapRunArn"].split(":")[-1]
    assert ":mapRun:" in map_run["MapRunArn"] and "/Sync:" in map_run["MapRunArn"]
    assert map_run["ResultWriterDetails"] == {"Bucket": "runs", "Key": f"map-runs/{run_id}/manifest.json"}
    manifest = _s3_json(map_run["ResultWriterDetails"]["Key"])
    assert manifest["DestinationBucket"] == "runs" and manifest["MapRunArn"] == map_run["MapRunArn"]
    files = manifest["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"map-runs/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"map-runs/{run_id}/FAILED_0.json"]
    assert files["PENDING"] == []
    succeeded = _s3_json(files["SUCCEEDED"][0]["Key"])
    failed = _s3_json(files["FAILED"][0]["Key"])
    raw = boto3.client("s3", region_name=REGION).get_object(Bucket="runs", Key=files["FAILED"][0]["Key"])
    assert files["FAILED"][0]["Size"] == raw["ContentLength"]

    assert [json.loads(r["Output"]) for r in succeeded] == [{"synced": "a"}, {"synced": "c"}]
    first = succeeded[0]
    assert set(first) == {
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount",
        "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate",
    }  # fmt: skip
    machine = described["stateMachineArn"]
    assert first["StateMachineArn"] == f"{machine}/Sync"
    assert (
        first["ExecutionArn"] == machine.replace(":stateMachine:", ":execution:") + f"/Sync:{first['Name']}"
    )
    assert json.loads(first["Input"]) == {"item": "a", "parent": described["executionArn"]}
    assert (first["Status"], first["RedriveStatus"], first["RedriveCount"]) == (
        "SUCCEEDED",
        "NOT_REDRIVABLE",
        0,
    )
    assert first["StartDate"].endswith("Z") and first["StartDate"] <= first["StopDate"]
    assert len(failed) == 1 and "Output" not in failed[0]
    assert (failed[0]["Status"], failed[0]["Error"], failed[0]["Cause"]) == (
        "FAILED",
        "Fivetran.SyncFailed",
        "connector broke",
    )


@pytest.mark.parametrize(
    ("fields", "items", "status"),
    [
        ({}, ["a", "bad", "c"], "FAILED"),  # both default to 0: one failure fails the map
        ({"ToleratedFailurePercentage": 100}, ["bad", "bad"], "SUCCEEDED"),
        ({"ToleratedFailureCount": 1}, ["a", "bad", "c"], "SUCCEEDED"),
        ({"ToleratedFailureCount": 1}, ["bad", "bad", "c"], "FAILED"),
        ({"ToleratedFailurePercentage": 50}, ["a", "bad"], "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 50}, ["bad", "bad", "c"], "FAILED"),
    ],
)
def test_a_distributed_map_fails_when_failures_exceed_the_tolerated_threshold(
    moto_aws, fields, items, status
):
    described = _run(_dmap(_PASS_OR_FAIL, **fields), _items(items, max_concurrency=1))

    assert described["status"] == status, described.get("cause")
    if status == "FAILED":
        assert described["error"] == "States.ExceedToleratedFailureThreshold"


def test_the_tolerated_failure_error_is_catchable_and_the_results_are_written_first(moto_aws):
    machine = _dmap(_PASS_OR_FAIL)
    machine["States"]["SyncConnectors"]["Catch"] = [
        {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.error", "Next": "Caught"}
    ]
    del machine["States"]["SyncConnectors"]["End"]
    machine["States"]["SyncConnectors"]["Next"] = "Done"
    machine["States"]["Caught"] = {"Type": "Pass", "End": True}
    machine["States"]["Done"] = {"Type": "Pass", "End": True}

    described = _run(machine, _items(["bad", "b", "c"], max_concurrency=1))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["error"]["Error"] == "States.ExceedToleratedFailureThreshold"
    keys = [
        o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="runs")["Contents"]
    ]
    manifest = _s3_json(next(k for k in keys if k.endswith("manifest.json")))
    failed = _s3_json(manifest["ResultFiles"]["FAILED"][0]["Key"])
    pending = _s3_json(manifest["ResultFiles"]["PENDING"][0]["Key"])
    assert [r["Error"] for r in failed] == ["Fivetran.SyncFailed"]
    # MaxConcurrency 1: the first failure fails the map run before the other items start.
    assert [json.loads(r["Input"]) for r in pending] == ["b", "c"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    (run,) = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
    assert sfn.describe_map_run(mapRunArn=run["mapRunArn"])["status"] == "FAILED"


def test_describe_map_run_counts_items_and_child_executions_as_aws_does(moto_aws):
    arn = _function("dmap-wait")
    tokens: dict[str, str] = {}
    moto_patches.register_handler(
        "dmap-wait", lambda event, context: tokens.update({event["item"]: event["token"]})
    )
    child = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": arn,
                    "Payload": {"item.$": "$.item", "token.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 30,
                "End": True,
            }
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="counts", definition=json.dumps(_dmap(child, ToleratedFailurePercentage=100)), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(_items(["a", "b", "c"])))[
        "executionArn"
    ]
    deadline = time.monotonic() + 10
    while len(tokens) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    (listed,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    running = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert running["status"] == "RUNNING"
    assert (running["itemCounts"]["running"], running["itemCounts"]["total"]) == (3, 3)
    assert (running["executionCounts"]["running"], running["executionCounts"]["total"]) == (3, 3)

    sfn.send_task_success(taskToken=tokens["a"], output="{}")
    sfn.send_task_success(taskToken=tokens["b"], output="{}")
    sfn.send_task_failure(taskToken=tokens["c"], error="Fivetran.SyncFailed", cause="no")
    while (
        sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline
    ):
        time.sleep(0.05)

    done = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert done["status"] == "SUCCEEDED" and "stopDate" in done
    for counts in (done["itemCounts"], done["executionCounts"]):
        picked = {
            k: counts[k] for k in ("pending", "running", "succeeded", "failed", "total", "resultsWritten")
        }
        assert picked == {
            "pending": 0,
            "running": 0,
            "succeeded": 2,
            "failed": 1,
            "total": 3,
            "resultsWritten": 3,
        }


def test_a_child_sees_its_own_execution_and_the_item_selector_the_parents(moto_aws):
    child = {
        "StartAt": "Look",
        "States": {
            "Look": {
                "Type": "Pass",
                "Parameters": {
                    "parent.$": "$.parent",
                    "execution.$": "$$.Execution.Id",
                    "name.$": "$$.Execution.Name",
                    "machine.$": "$$.StateMachine.Id",
                },
                "End": True,
            }
        },
    }

    described = _run(_dmap(child), _items(["a"]))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    manifest = _s3_json(json.loads(described["output"])["map_run"]["ResultWriterDetails"]["Key"])
    (record,) = _s3_json(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    seen = json.loads(record["Output"])
    assert seen["parent"] == described["executionArn"]  # ItemSelector: evaluated by the parent Map
    assert (seen["execution"], seen["name"]) == (record["ExecutionArn"], record["Name"])
    assert seen["machine"] == record["StateMachineArn"]


@pytest.mark.parametrize("timeouts", [{"HeartbeatSeconds": 1, "TimeoutSeconds": 5}, {"TimeoutSeconds": 1}])
def test_a_child_waiting_for_a_task_token_completes_fails_or_times_out_catchably(moto_aws, timeouts):
    arn = _function("dmap-callback")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def handler(event: Any, context: Any) -> dict:
        if event["item"] == "ok":
            sfn.send_task_heartbeat(taskToken=event["token"])
            sfn.send_task_success(taskToken=event["token"], output='{"synced": true}')
        elif event["item"] == "bad":
            sfn.send_task_failure(taskToken=event["token"], error="Fivetran.SyncFailed", cause="broke")
        return {}  # "silent": no heartbeat, no outcome

    moto_patches.register_handler("dmap-callback", handler)
    caught = {"ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout"], "Next": "TimedOut"}
    child = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": arn,
                    "Payload": {"item.$": "$.item", "token.$": "$$.Task.Token"},
                },
                **timeouts,
                "Catch": [caught],
                "End": True,
            },
            "TimedOut": {"Type": "Pass", "Parameters": {"error.$": "$.Error"}, "End": True},
        },
    }

    described = _run(_dmap(child, ToleratedFailurePercentage=100), _items(["ok", "bad", "silent"]))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    manifest = _s3_json(json.loads(described["output"])["map_run"]["ResultWriterDetails"]["Key"])
    succeeded = _s3_json(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    failed = _s3_json(manifest["ResultFiles"]["FAILED"][0]["Key"])
    # moto names a heartbeat timeout States.Timeout (everywhere, not only in a child); newer AWS
    # docs say States.HeartbeatTimeout: the Catch lists both, as the orchestrator's does.
    outputs = [json.loads(r["Output"]) for r in succeeded]
    assert {"synced": True} in outputs and len(outputs) == 2
    assert {"error": "States.Timeout"} in outputs or {"error": "States.HeartbeatTimeout"} in outputs
    assert [(r["Error"], r["Cause"]) for r in failed] == [("Fivetran.SyncFailed", "broke")]


def test_a_distributed_map_without_max_concurrency_runs_at_most_10000_children_at_once(moto_aws, monkeypatch):
    from local import moto_dmap

    monkeypatch.setattr(moto_dmap, "MAX_CHILDREN", 3)  # the cap, scaled down
    arn = _function("dmap-count")
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    def handler(event: Any, context: Any) -> dict:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return {}

    moto_patches.register_handler("dmap-count", handler)
    child = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}}}

    described = _run(_dmap(child, writer=False), _items(list(range(9))))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert running[1] == 3


@pytest.mark.parametrize("max_concurrency", [0, 1])
def test_a_distributed_map_over_2500_items_runs_on_a_small_machine(moto_aws, max_concurrency):
    child = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    run_input = _items(list(range(2500)), max_concurrency)

    described = _run(_dmap(child), run_input)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    manifest = _s3_json(json.loads(described["output"])["map_run"]["ResultWriterDetails"]["Key"])
    assert len(_s3_json(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])) == 2500


def test_children_still_running_when_the_threshold_is_exceeded_are_aborted(moto_aws):
    child = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.item", "StringEquals": "bad", "Next": "Broken"}],
                "Default": "Slow",
            },
            "Broken": {"Type": "Fail", "Error": "Fivetran.SyncFailed", "Cause": "connector broke"},
            "Slow": {"Type": "Wait", "Seconds": 60, "End": True},
        },
    }
    started = time.monotonic()

    described = _run(_dmap(child), _items(["slow", "bad"], max_concurrency=2))

    assert (described["status"], described["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert time.monotonic() - started < 20
    keys = [
        o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="runs")["Contents"]
    ]
    manifest = _s3_json(next(k for k in keys if k.endswith("manifest.json")))
    failed = _s3_json(manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert sorted(r["Status"] for r in failed) == ["ABORTED", "FAILED"]  # both in FAILED_0.json


# -- dynamodb_query_one_partition -------------------------------------------------------------------


def _keyed_table() -> Any:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="keyed",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    return dynamodb


def test_a_query_returns_its_partition_in_key_order_and_pages_through_it(moto_aws):
    dynamodb = _keyed_table()
    for p in range(30):
        for s in ("sync#b", "tok-2", "sync#a", "tok-1"):
            dynamodb.put_item(TableName="keyed", Item={"pk": {"S": f"conn-{p:02d}"}, "sk": {"S": s}})

    def query(**extra: Any) -> dict[str, Any]:
        return dynamodb.query(
            TableName="keyed",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "conn-07"}, **extra.pop("values", {})},
            **extra,
        )

    assert [i["sk"]["S"] for i in query()["Items"]] == ["sync#a", "sync#b", "tok-1", "tok-2"]
    first = query(Limit=3)
    rest = query(Limit=3, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [i["sk"]["S"] for i in first["Items"] + rest["Items"]] == ["sync#a", "sync#b", "tok-1", "tok-2"]
    syncs = dynamodb.query(
        TableName="keyed",
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": {"S": "conn-07"}, ":s": {"S": "sync#"}},
    )
    assert [i["sk"]["S"] for i in syncs["Items"]] == ["sync#a", "sync#b"]
    assert (
        dynamodb.query(
            TableName="keyed",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "none"}},
        )["Items"]
        == []
    )


def test_queries_never_fail_while_other_threads_add_partitions(moto_aws):
    dynamodb = _keyed_table()
    dynamodb.put_item(TableName="keyed", Item={"pk": {"S": "watched"}, "sk": {"S": "x"}})
    errors: list[BaseException] = []
    done = threading.Event()

    def write(n: int) -> None:
        try:
            for i in range(600):
                dynamodb.put_item(TableName="keyed", Item={"pk": {"S": f"w{n}-{i}"}, "sk": {"S": "x"}})
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not done.is_set():
                items = dynamodb.query(
                    TableName="keyed",
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "watched"}},
                )["Items"]
                assert len(items) == 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert errors == []
