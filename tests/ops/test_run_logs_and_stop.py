"""``orchestrator logs`` on a deployed stage (CloudWatch Logs, moto) and ``stop``'s dbt task: which lines
are a run's, and which ECS task is stopped."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3

from contracts.run_logs import RunWindow
from ops.run_logs import _cloudwatch_logs
from ops.run_stop import STOP_CAUSE, dbt_task_running, stop_run
from tests.conftest import REGION

APP, STAGE = "fivetran-orchestrator", "dev"
ARN = f"arn:aws:states:{REGION}:123456789012:execution:{APP}-{STAGE}:run-1"
OTHER = f"arn:aws:states:{REGION}:123456789012:execution:{APP}-{STAGE}:run-2"
TASK = f"arn:aws:ecs:{REGION}:123456789012:task/{APP}-{STAGE}/0123456789abcdef0123456789abcdef"
STARTED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def _put(logs: Any, group: str, stream: str, lines: list[tuple[int, dict[str, Any] | str]]) -> None:
    """Lines at STARTED + N seconds (JSON objects or plain text), as Lambda or awslogs writes them."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [
        {
            "timestamp": int((STARTED + timedelta(seconds=second)).timestamp() * 1000),
            "message": line if isinstance(line, str) else json.dumps(line),
        }
        for second, line in lines
    ]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def _stage(logs: Any) -> Any:
    return SimpleNamespace(
        app_name=APP, stage=STAGE, outputs={}, client=lambda service: logs, label=f"stage {STAGE}"
    )


def _window() -> RunWindow:
    return RunWindow(
        ARN, "run-1", STARTED, STARTED + timedelta(seconds=60), frozenset({"stripe_prod", "hubspot_crm"})
    )


def _stage_logs(logs: Any) -> None:
    lam = f"/aws/lambda/{APP}-{STAGE}"
    _put(
        logs,
        f"{lam}-start_sync",
        "2026/12/06/[$LATEST]a",
        [
            (2, "START RequestId: 1 Version: $LATEST"),
            (2, {"message": "token parked", "execution_id": ARN, "connector_id": "stripe_prod"}),
            (3, {"message": "token parked", "execution_id": ARN, "connector_id": "hubspot_crm"}),
            (4, {"message": "token parked", "execution_id": OTHER, "connector_id": "stripe_prod"}),
        ],
    )
    _put(
        logs,
        lam,
        "2026/12/06/[$LATEST]b",
        [
            (10, {"message": "webhook sync_end processed", "connector_id": "stripe_prod"}),
            (11, {"message": "task token completed", "execution_id": ARN, "connector_id": "stripe_prod"}),
        ],
    )
    _put(
        logs,
        f"/ecs/{APP}-{STAGE}-dbt",
        "dbt/dbt/task-1",
        [(20, {"event": "run_started", "run_id": "run-1"}), (25, {"event": "dbt_finished", "exit_code": 0})],
    )
    _put(
        logs, f"/ecs/{APP}-{STAGE}-dbt", "dbt/dbt/task-2", [(21, {"event": "run_started", "run_id": "run-2"})]
    )


def test_cloudwatch_logs_give_the_run_lines_of_every_part_in_time_order(moto_aws: None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    _stage_logs(logs)

    found = _cloudwatch_logs(_stage(logs), _window(), None)

    assert [(line.part, line.record.get("message") or line.record.get("event")) for line in found.lines] == [
        ("start_sync", "token parked"),
        ("start_sync", "token parked"),
        ("webhook", "task token completed"),
        ("dbt", "run_started"),
        ("dbt", "dbt_finished"),  # the whole task's stream, though the line does not name the run
    ]
    assert f"no log group /aws/lambda/{APP}-{STAGE}-list_connectors (nothing logged there yet)" in found.notes


def test_cloudwatch_logs_of_one_connection_add_the_webhook_lines_that_name_only_the_connection(
    moto_aws: None,
) -> None:
    logs = boto3.client("logs", region_name=REGION)
    _stage_logs(logs)

    found = _cloudwatch_logs(_stage(logs), _window(), "stripe_prod")

    assert [(line.part, line.record.get("message")) for line in found.lines] == [
        ("start_sync", "token parked"),
        ("webhook", "webhook sync_end processed"),
        ("webhook", "task token completed"),
    ]
    assert all(line.connector_id == "stripe_prod" for line in found.lines)


def _submitted(task: str) -> dict[str, Any]:
    output = json.dumps({"Tasks": [{"TaskArn": task, "LastStatus": "PROVISIONING"}]})
    return {"type": "TaskSubmitted", "taskSubmittedEventDetails": {"resourceType": "ecs", "output": output}}


def test_the_dbt_task_is_running_from_its_submission_until_an_event_says_it_ended() -> None:
    lambda_done = {"type": "TaskSucceeded", "taskSucceededEventDetails": {"resourceType": "lambda"}}
    ecs_done = {"type": "TaskSucceeded", "taskSucceededEventDetails": {"resourceType": "ecs"}}

    assert dbt_task_running([]) is None
    assert dbt_task_running([_submitted(TASK)]) == TASK
    assert dbt_task_running([_submitted(TASK), lambda_done]) == TASK
    assert dbt_task_running([_submitted(TASK), ecs_done]) is None


class _Sfn:
    """Step Functions as ``stop_run`` reads it: a RUNNING execution whose history holds ``events``."""

    class exceptions:
        ExecutionDoesNotExist = KeyError

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.stopped: list[dict[str, Any]] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"executionArn": executionArn, "name": "run-1", "status": "RUNNING"}

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": []}

    def stop_execution(self, **kwargs: Any) -> None:
        self.stopped.append(kwargs)

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        return {"events": self.events}


def test_stop_stops_the_execution_then_its_running_dbt_task_in_its_cluster() -> None:
    sfn = _Sfn([_submitted(TASK)])
    ecs = SimpleNamespace(calls=[])
    ecs.stop_task = lambda **kwargs: ecs.calls.append(kwargs)

    stopped = stop_run(SimpleNamespace(stepfunctions=lambda: sfn, label="stage dev"), ARN, ecs)

    assert sfn.stopped == [{"executionArn": ARN, "error": "Orchestrator.Stopped", "cause": STOP_CAUSE}]
    assert ecs.calls == [{"cluster": f"{APP}-{STAGE}", "task": TASK, "reason": STOP_CAUSE}]
    assert "  dbt task 0123456789abcdef0123456789abcdef: stopped (ecs:StopTask)" in stopped.lines()
    assert "  map run: none started yet" in stopped.lines()


def test_stop_stops_a_run_whose_dbt_task_runs_and_the_task_s_process(moto_aws: None) -> None:
    """In moto, with the local ECS runner: the ARN comes from the real ``TaskSubmitted`` event's shape."""
    from local import moto_patches
    from tests.functional.moto_support import ROLE
    from tests.functional.test_moto_patches_ecs import _ecs_machine

    class Process:
        stopped = False

        def poll(self) -> int | None:
            return 143 if self.stopped else None

        def stop(self) -> None:
            self.stopped = True

    process = Process()
    moto_patches.set_ecs_task_runner(lambda task, environment: process)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="dbt-run", definition=json.dumps(_ecs_machine()), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while dbt_task_running(sfn.get_execution_history(executionArn=arn)["events"]) is None:
        assert time.monotonic() < deadline, "the dbt task was never submitted"
        time.sleep(0.05)

    stopped = stop_run(
        SimpleNamespace(stepfunctions=lambda: sfn, label="moto"), arn, boto3.client("ecs", region_name=REGION)
    )

    assert process.stopped
    assert stopped.dbt_task_arn and stopped.dbt_task_arn.startswith("arn:aws:ecs:")
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
