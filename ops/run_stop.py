"""``orchestrator stop RUN``: stop a run, its map run and its dbt task, and say what was stopped.

- the execution: ``StopExecution`` on the parent. Its Distributed Map run and every child execution
  still running stop with it (AWS, "Examining Map Runs": a map run ends when its parent execution
  ends); the task tokens the children parked stay in the token table until the safety net's next pass
  finds their executions ended and deletes them, as for any run that ends early;
- the dbt task: when ``RunDbt`` submitted an ECS task (its ``TaskSubmitted`` event holds ``RunTask``'s
  answer) and no later event says it ended, ``ecs:StopTask`` on it (ECS sends the container SIGTERM,
  then SIGKILL 30 s later; the entrypoint stops dbt on SIGTERM). Step Functions also asks ECS to stop a
  ``.sync`` task when its execution stops; asking again is harmless.

The operator's own credentials make these calls: ``states:DescribeExecution``,
``states:GetExecutionHistory``, ``states:ListMapRuns``, ``states:DescribeMapRun``,
``states:StopExecution`` and ``ecs:StopTask`` (docs/operate.md, "The operator CLI's permissions").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ops.errors import OpsError
from ops.history import fetch_history
from ops.runs import fetch_map_run
from ops.target import Target

__all__ = ["STOP_CAUSE", "STOP_ERROR", "StoppedRun", "dbt_task_running", "stop_run"]

STOP_ERROR = "Orchestrator.Stopped"
STOP_CAUSE = "stopped with `orchestrator stop`"
TASK_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task/[A-Za-z0-9_-]+/[A-Za-z0-9-]+")
ECS_ENDED = ("taskSucceededEventDetails", "taskFailedEventDetails", "taskTimedOutEventDetails")


@dataclass(frozen=True)
class StoppedRun:
    """What ``stop_run`` did: the run's status before, the map run and its running children (None
    when the run had none), and the dbt task stopped (None when none was running)."""

    arn: str
    name: str
    status_before: str
    map_run_arn: str | None = None
    children_running: int | None = None
    dbt_task_arn: str | None = None

    @property
    def stopped(self) -> bool:
        return self.status_before == "RUNNING"

    def lines(self) -> list[str]:
        """What was stopped, one line each."""
        if not self.stopped:
            return [f"run {self.name} already ended ({self.status_before}): nothing to stop"]
        lines = [f"stopped run {self.name} (StopExecution; it was RUNNING, it is now ABORTED)"]
        if self.map_run_arn:
            running = (
                ""
                if self.children_running is None
                else f", {self.children_running} child execution(s) running"
            )
            lines.append(f"  map run {self.map_run_arn.rsplit(':', 1)[-1]}{running}: stopped with the run")
        else:
            lines.append("  map run: none started yet")
        if self.dbt_task_arn:
            lines.append(f"  dbt task {self.dbt_task_arn.rsplit('/', 1)[-1]}: stopped (ecs:StopTask)")
        else:
            lines.append("  dbt task: none running")
        lines.append("  parked task tokens: deleted by the safety net's next pass (reconcile_syncs)")
        return lines


def dbt_task_running(events: list[dict[str, Any]]) -> str | None:
    """The ARN of the ECS task ``RunDbt`` submitted last, unless a later ECS event says it ended."""
    task: str | None = None
    for event in events:
        submitted = event.get("taskSubmittedEventDetails") or {}
        if submitted.get("resourceType") == "ecs":
            found = TASK_ARN.search(str(submitted.get("output") or ""))
            task = found.group(0) if found else task
            continue
        if any((event.get(key) or {}).get("resourceType") == "ecs" for key in ECS_ENDED):
            task = None
    return task


def _map_run(sfn: Any, arn: str) -> tuple[str | None, int | None]:
    described = fetch_map_run(sfn, arn, None)
    if described is None:
        return None, None
    counts = described.get("executionCounts") or {}
    running = counts.get("running")
    return str(described.get("mapRunArn") or ""), int(running) if isinstance(running, int) else None


def stop_run(target: Target, arn: str, ecs: Any) -> StoppedRun:
    """Stop the run ``arn`` (an execution ARN) and its dbt task; ``ecs`` is an ECS client of the target."""
    sfn = target.stepfunctions()
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise OpsError(f"no run {arn} on {target.label}") from None
    name = str(described.get("name") or arn.rsplit(":", 1)[-1])
    status = str(described["status"])
    if status != "RUNNING":
        return StoppedRun(arn, name, status)
    map_run_arn, children = _map_run(sfn, arn)
    sfn.stop_execution(executionArn=arn, error=STOP_ERROR, cause=STOP_CAUSE)
    task = dbt_task_running(fetch_history(sfn, arn))
    if task is not None:
        cluster = task.split(":task/", 1)[1].split("/", 1)[0]
        ecs.stop_task(cluster=cluster, task=task, reason=STOP_CAUSE)
    return StoppedRun(arn, name, status, map_run_arn or None, children, task)
