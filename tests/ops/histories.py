"""Execution histories shaped like Step Functions' (and moto's), built in a few lines for unit tests.

``RunHistory`` writes the events the orchestrator's state machine produces (listing, Map
iterations, ``Record*`` states, reschedule waits, dbt) at given offsets in seconds from the
run's start; ``described()`` is the matching ``DescribeExecution`` answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 1, 15, 10, 0, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:fivetran-orchestrator-dev:run-1"


class RunHistory:
    def __init__(self, run_input: dict[str, Any] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.input = run_input or {"group_id": "projected_sickle"}
        self.connectors: list[str] = []

    def at(self, seconds: float) -> datetime:
        return START + timedelta(seconds=seconds)

    def add(self, kind: str, seconds: float, details_key: str | None = None, **details: Any) -> None:
        event: dict[str, Any] = {
            "timestamp": self.at(seconds),
            "type": kind,
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
        }
        if details_key:
            event[details_key] = details
        self.events.append(event)

    def state(self, kind: str, name: str, entered: float, exited: float, data: dict[str, Any]) -> None:
        self.add(
            f"{kind}StateEntered", entered, "stateEnteredEventDetails", name=name, input=json.dumps(data)
        )
        self.add(f"{kind}StateExited", exited, "stateExitedEventDetails", name=name, output=json.dumps(data))

    def listed(
        self, connectors: list[str], skipped: tuple[tuple[str, str], ...] = (), dbt_command: str = "build"
    ) -> RunHistory:
        self.connectors = list(connectors)
        output = {
            "connectors": [{"connector_id": c, "schema": c.split("_")[0]} for c in connectors],
            "skipped": [{"connector_id": c, "reason": r} for c, r in skipped],
            "options": {"dbt": {"command": dbt_command, "select": "", "exclude": ""}},
        }
        self.add("ExecutionStarted", 0, "executionStartedEventDetails", input=json.dumps(self.input))
        self.state("Task", "ListConnectors", 0.0, 0.2, output)
        self.add("MapStateEntered", 0.3, "stateEnteredEventDetails", name="SyncConnectors", input="{}")
        return self

    def iteration_started(self, index: int, seconds: float) -> RunHistory:
        self.add(
            "MapIterationStarted",
            seconds,
            "mapIterationStartedEventDetails",
            name="SyncConnectors",
            index=index,
        )
        connector = {"connector": {"connector_id": self.connectors[index]}}
        self.add(
            "TaskStateEntered",
            seconds,
            "stateEnteredEventDetails",
            name="StartSyncAndWait",
            input=json.dumps(connector),
        )
        return self

    def waited(self, index: int, start: float, end: float) -> RunHistory:
        data = {"connector": {"connector_id": self.connectors[index]}}
        self.state("Wait", "WaitForReschedule", start, end, data)
        self.add(
            "TaskStateEntered",
            end,
            "stateEnteredEventDetails",
            name="StartSyncAndWait",
            input=json.dumps(data),
        )
        return self

    def recorded(self, index: int, seconds: float, outcome: str = "succeeded", **extra: Any) -> RunHistory:
        connector_id = self.connectors[index]
        record = {
            "connector_id": connector_id,
            "schema": connector_id.split("_")[0],
            "outcome": outcome,
            **extra,
        }
        name = {"succeeded": "RecordSucceeded", "failed": "RecordFailed", "timed_out": "RecordTimedOut"}[
            outcome
        ]
        self.state("Pass", name, seconds, seconds, record)
        self.add(
            "MapIterationSucceeded",
            seconds,
            "mapIterationSucceededEventDetails",
            name="SyncConnectors",
            index=index,
        )
        return self

    def dbt(
        self, start: float, end: float | None, exit_code: int = 0, excluded: tuple[str, ...] = ()
    ) -> RunHistory:
        entered = {"options": {"dbt": {"command": "build"}}, "failed_schemas": list(excluded)}
        self.add(
            "TaskStateEntered", start, "stateEnteredEventDetails", name="RunDbt", input=json.dumps(entered)
        )
        if end is not None:
            output = {**entered, "dbt": {"exit_code": exit_code, "task_arn": "arn:task"}}
            self.add(
                "TaskStateExited", end, "stateExitedEventDetails", name="RunDbt", output=json.dumps(output)
            )
        return self

    def described(
        self, status: str, stopped: float | None = None, error: str | None = None, cause: str | None = None
    ) -> dict[str, Any]:
        described: dict[str, Any] = {
            "executionArn": ARN,
            "name": ARN.rsplit(":", 1)[-1],
            "status": status,
            "startDate": START,
            "input": json.dumps(self.input),
        }
        if stopped is not None:
            described["stopDate"] = self.at(stopped)
        if error:
            described["error"], described["cause"] = error, cause
        return described


def succeeded_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two connections synced, one skipped, dbt excluded nothing and exited 0 — a 12 s run."""
    history = (
        RunHistory()
        .listed(["stripe_prod", "hubspot_crm"], skipped=(("zendesk_support", "paused"),))
        .iteration_started(0, 0.5)
        .iteration_started(1, 0.6)
        .recorded(0, 2.5, sync_id="sync-a", status="SUCCESSFUL")
        .recorded(1, 4.6, sync_id="sync-b", status="SUCCESSFUL")
        .dbt(5.0, 11.5)
    )
    return history.described("SUCCEEDED", stopped=12.0), history.events
