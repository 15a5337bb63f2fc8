"""The ECS patches applied by ``local/moto_patches.py`` do what they say.

``ecs_parameter_casing`` (``local/patches/ecs_parameters.py``), ``ecs_container_memory`` and
``ecs_active_task_definition`` (``ecs_task_definitions.py``), ``ecs_local_task_runner``
(``ecs_task_runner.py``), ``ecs_overrides_limit`` (``ecs_overrides.py``). moto is pinned; these fail if
an upgrade breaks a patch.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local import moto_patches
from tests.conftest import REGION
from tests.fakes import FakeDbtRunner
from tests.functional.moto_support import run_machine


def _register_dbt(ecs: Any, image: str) -> str:
    """A new revision of family "dbt"; no container-level memory, as on Fargate (ecs_container_memory)."""
    return ecs.register_task_definition(
        family="dbt",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "dbt", "image": image}],
    )["taskDefinition"]["taskDefinitionArn"]


def _ecs_machine() -> dict[str, Any]:
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    task = _register_dbt(ecs, "dbt:latest")
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


def _run_task(ecs: Any, params: dict[str, Any]) -> str:
    return ecs.run_task(
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


@pytest.mark.parametrize("running_polls", [0, 1, 4])  # 4: the old patch answered STOPPED, exit code 0
@pytest.mark.parametrize(("exit_code", "status"), [(0, "SUCCEEDED"), (3, "FAILED")])
def test_an_ecs_task_runs_locally_and_ends_with_its_real_exit_code(
    moto_aws, exit_code, status, running_polls
):
    # running_polls > 0: the process is still running at the first DescribeTasks, and the answer
    # that first says STOPPED must already hold the exit code (it used to hold the old state).
    runner = FakeDbtRunner(exit_code=exit_code, running_polls=running_polls)
    moto_patches.set_ecs_task_runner(runner)

    described = run_machine(_ecs_machine())

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
    task = _run_task(ecs, params)

    first = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]
    process.code = 2  # the process ends between two polls
    second = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]

    assert first["lastStatus"] == "RUNNING"
    assert (second["lastStatus"], second["containers"][0]["exitCode"]) == ("STOPPED", 2)


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
    second = _register_dbt(ecs, "dbt:v2")
    _register_dbt(ecs, "dbt:v3")
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
    new = _register_dbt(ecs, "dbt:new")
    ecs.deregister_task_definition(taskDefinition=old)

    described = run_machine(machine)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["TaskDefinitionArn"] == new


def _overrides_of(chars: int) -> dict[str, Any]:
    """Container overrides whose compact JSON is exactly ``chars`` characters long."""
    overrides: dict[str, Any] = {
        "containerOverrides": [{"name": "dbt", "environment": [{"name": "X", "value": ""}]}]
    }
    padding = chars - len(json.dumps(overrides, separators=(",", ":")))
    overrides["containerOverrides"][0]["environment"][0]["value"] = "v" * padding
    assert len(json.dumps(overrides, separators=(",", ":"))) == chars
    return overrides


def test_run_task_refuses_overrides_past_8192_characters_as_aws_does(moto_aws):
    moto_patches.set_ecs_task_runner(FakeDbtRunner(exit_code=0))
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="c")
    _register_dbt(ecs, "dbt:latest")
    ec2 = boto3.client("ec2", region_name=REGION)
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]

    def run(chars: int) -> Any:
        return ecs.run_task(
            cluster="c",
            taskDefinition="dbt",
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
            overrides=_overrides_of(chars),
        )

    assert len(run(8_192)["tasks"]) == 1
    with pytest.raises(ecs.exceptions.InvalidParameterException) as refused:
        run(8_193)
    assert "at most 8192" in str(refused.value)


def test_stop_task_stops_the_local_process_as_ecs_stops_the_container(moto_aws):
    params = _ecs_machine()["States"]["Run"]["Parameters"]

    class Process:
        stopped = False

        def poll(self) -> int | None:
            return 143 if self.stopped else None

        def stop(self) -> None:
            self.stopped = True

    process = Process()
    moto_patches.set_ecs_task_runner(lambda task, environment: process)
    ecs = boto3.client("ecs", region_name=REGION)
    task = _run_task(ecs, params)

    stopped = ecs.stop_task(cluster=params["Cluster"], task=task, reason="stopped by a test")["task"]

    assert process.stopped
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "stopped by a test"
    assert stopped["containers"][0]["exitCode"] == 143


def test_a_stopped_task_is_stopped_only_when_its_process_has_ended_with_its_code_and_the_reason(moto_aws):
    # ECS sends SIGTERM and the container may take a while (up to 30 s before SIGKILL): until it
    # exits, the task is RUNNING with desiredStatus STOPPED, never STOPPED with exit code 0.
    params = _ecs_machine()["States"]["Run"]["Parameters"]

    class Process:
        code: int | None = None

        def poll(self) -> int | None:
            return self.code

        def stop(self) -> None:
            pass  # still shutting down

    process = Process()
    moto_patches.set_ecs_task_runner(lambda task, environment: process)
    ecs = boto3.client("ecs", region_name=REGION)
    task = _run_task(ecs, params)

    stopping = ecs.stop_task(cluster=params["Cluster"], task=task, reason="run stopped")["task"]
    still = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]
    process.code = 1
    ended = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]

    assert (stopping["lastStatus"], stopping["desiredStatus"]) == ("RUNNING", "STOPPED")
    assert (still["lastStatus"], still["containers"][0].get("exitCode")) == ("RUNNING", None)
    assert (ended["lastStatus"], ended["containers"][0]["exitCode"]) == ("STOPPED", 1)
    assert ended["stoppedReason"] == "run stopped"


@pytest.mark.parametrize("running_polls", range(1, 7))
def test_a_process_that_exits_while_an_answer_is_built_never_shows_stopped_with_exit_code_0(
    moto_aws, running_polls
):
    # The dbt process exited (code 1) after DescribeTasks settled the task but before its answer
    # was serialised (containers come before lastStatus): the answer said STOPPED with moto's
    # default exit code 0, and a run whose dbt failed ended SUCCEEDED. Every answer must be one
    # moment of the task, whichever poll of the process first sees it ended: RUNNING with no exit
    # code, or STOPPED with the real one.
    params = _ecs_machine()["States"]["Run"]["Parameters"]

    class Process:
        polls = 0

        def poll(self) -> int | None:
            self.polls += 1
            return None if self.polls <= running_polls else 1

    moto_patches.set_ecs_task_runner(lambda task, environment: Process())
    ecs = boto3.client("ecs", region_name=REGION)
    task = _run_task(ecs, params)

    answers = [ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0] for _ in range(8)]

    seen = [(a["lastStatus"], a["containers"][0].get("exitCode")) for a in answers]
    assert set(seen) <= {("RUNNING", None), ("STOPPED", 1)}, seen
    assert seen[-1] == ("STOPPED", 1)


def test_a_running_task_stays_running_however_often_it_is_described(moto_aws):
    # moto moves a task RUNNING -> DEACTIVATING -> ... -> STOPPED by itself, one step per
    # DescribeTasks read; a task run by the local runner is STOPPED only when its process ends.
    params = _ecs_machine()["States"]["Run"]["Parameters"]

    class Process:
        def poll(self) -> int | None:
            return None

    moto_patches.set_ecs_task_runner(lambda task, environment: Process())
    ecs = boto3.client("ecs", region_name=REGION)
    task = _run_task(ecs, params)

    statuses = set()
    for _ in range(20):
        answer = ecs.describe_tasks(cluster=params["Cluster"], tasks=[task])["tasks"][0]
        statuses.add((answer["lastStatus"], answer["containers"][0].get("exitCode")))

    assert statuses == {("RUNNING", None)}
