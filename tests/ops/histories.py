"""Execution histories shaped like Step Functions' (and moto's), built in a few lines for unit tests.

``RunHistory`` writes a Distributed Map run's parent history connection by connection (listing,
each connection's start, reschedule waits and outcome, then the map run's end and
``CollectOutcomes`` listing every outcome, dbt) at given offsets in seconds from the run's start;
``described()`` is the matching ``DescribeExecution`` answer.

``DistributedRunHistory`` writes one from counts and a whole outcomes file (the listing's items
file, the map run, ``CollectOutcomes``, dbt); ``outcomes_file`` builds the ``outcomes.json`` of
any number of connections, ``collect_output`` the bounded ``CollectOutcomes`` output made from
it (as the state machine's Lambda makes it), ``map_run`` a ``DescribeMapRun`` answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 1, 15, 10, 0, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:fivetran-orchestrator-dev:run-1"
BUCKET = "fivetran-orchestrator-local-artifacts"
RUN_NAME = ARN.rsplit(":", 1)[-1]
MAP_RUN_ARN = (
    "arn:aws:states:us-east-1:123456789012:mapRun:fivetran-orchestrator-dev/SyncConnectors:" + RUN_NAME
)
OUTCOMES_KEY = f"runs/{RUN_NAME}/outcomes.json"
BOUND = 100  # CollectOutcomes keeps at most this many outcomes and skipped connections
CAUSE_CUT = 1000  # ... and cuts each cause to this many characters
OPTIONS = {"dbt": {"command": "build", "select": "", "exclude": ""}, "on_sync_failure": "continue"}


def iso(seconds: float) -> str:
    """``2026-01-15T10:00:05.456Z``: a child execution's start or stop as outcomes.json writes it."""
    return (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunHistory:
    def __init__(self, run_input: dict[str, Any] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.input = run_input or {"group_id": "projected_sickle"}
        self.connectors: list[str] = []
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.skipped: list[dict[str, str]] = []
        self.options: dict[str, Any] = {}

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
        self.skipped = [{"connector_id": c, "reason": r} for c, r in skipped]
        self.options = {"dbt": {"command": dbt_command, "select": "", "exclude": ""}}
        output = {
            "items": {"bucket": BUCKET, "key": f"runs/{RUN_NAME}/items.json", "count": len(connectors)},
            "skipped": self.skipped,
            "skipped_count": len(skipped),
            "options": self.options,
        }
        self.add("ExecutionStarted", 0, "executionStartedEventDetails", input=json.dumps(self.input))
        self.state("Task", "ListConnectors", 0.0, 0.2, output)
        self.add("MapStateEntered", 0.3, "stateEnteredEventDetails", name="SyncConnectors", input="{}")
        self.add("MapRunStarted", 0.3, "mapRunStartedEventDetails", mapRunArn=MAP_RUN_ARN)
        return self

    def _outcome(self, index: int) -> dict[str, Any]:
        connector_id = self.connectors[index]
        return self.outcomes.setdefault(
            connector_id, {"connector_id": connector_id, "schema": connector_id.split("_")[0]}
        )

    def iteration_started(self, index: int, seconds: float) -> RunHistory:
        """Connection ``index``'s child execution started (its outcome's ``started_at``)."""
        self._outcome(index)["started_at"] = iso(seconds)
        return self

    def waited(self, index: int, start: float, end: float) -> RunHistory:
        """Fivetran rescheduled the sync: a free wait from ``start`` to ``end``."""
        outcome = self._outcome(index)
        waits = outcome.setdefault("waits", {"count": 0, "rescheduled": 0, "rate_limited": 0, "items": []})
        waits["count"] += 1
        waits["rescheduled"] += 1
        reason = "Fivetran rescheduled the sync"
        waits["items"].append({"at": iso(start), "until": iso(end), "kind": "rescheduled", "reason": reason})
        return self

    def recorded(self, index: int, seconds: float, outcome: str = "succeeded", **extra: Any) -> RunHistory:
        """Connection ``index``'s outcome; once every listed connection has one, the map run ends
        and ``CollectOutcomes`` lists them all (in the listing's order)."""
        self._outcome(index).update(outcome=outcome, ended_at=iso(seconds), **extra)
        if len(self.outcomes) == len(self.connectors) and all("outcome" in o for o in self.outcomes.values()):
            self.add("MapRunSucceeded", seconds)
            self.add("MapStateExited", seconds, "stateExitedEventDetails", name="SyncConnectors", output="{}")
            connections = [self.outcomes[c] for c in self.connectors]
            counts = {
                kind: sum(1 for c in connections if c["outcome"] == kind)
                for kind in ("succeeded", "failed", "timed_out")
            }
            collected = {
                "options": self.options,
                "counts": {"total": len(connections), **counts, "skipped": len(self.skipped)},
                "any_failed": counts["succeeded"] < len(connections),
                "connectors": connections,
                "skipped": self.skipped,
                "excluded_sources": sorted({c["schema"] for c in connections if c["outcome"] != "succeeded"}),
            }
            state = {"options": self.options, "result": {"collected": collected}}
            self.state("Task", "CollectOutcomes", seconds, seconds, state)
        return self

    def dbt(
        self,
        start: float,
        end: float | None,
        exit_code: int = 0,
        excluded: tuple[str, ...] = (),
        excluded_key: str = "failed_schemas",
    ) -> RunHistory:
        entered = {"options": {"dbt": {"command": "build"}}, excluded_key: list(excluded)}
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


def outcomes_file(
    connectors: list[str],
    failed: dict[str, str] | None = None,
    timed_out: tuple[str, ...] = (),
    skipped: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """``outcomes.json`` for these connections, in their order: each synced from +1 s for 1 to 50 s
    (by its position), ``failed`` ones with their cause, ``timed_out`` ones after 60 s."""
    failed = failed or {}
    connections = []
    for i, connector_id in enumerate(connectors):
        started = 1.0 + (i % 20) * 0.05
        entry: dict[str, Any] = {"connector_id": connector_id, "schema": connector_id.split("_")[0]}
        if connector_id in failed:
            ended = started + 3.0
            entry |= {"outcome": "failed", "error": "Fivetran.SyncFailed", "cause": failed[connector_id]}
        elif connector_id in timed_out:
            ended = started + 60.0
            entry |= {"outcome": "timed_out", "error": "States.Timeout", "cause": "no sync_end in 60 s"}
        else:
            ended = started + 1.0 + (i * 7 % 50)
            entry |= {
                "outcome": "succeeded",
                "status": "SUCCESSFUL",
                "sync_id": f"sync-{i:05d}",
                "finished_at": iso(ended - 0.1),
            }
        entry |= {"started_at": iso(started), "ended_at": iso(ended)}
        connections.append(entry)
    counts = {
        "total": len(connections),
        "succeeded": sum(1 for c in connections if c["outcome"] == "succeeded"),
        "failed": sum(1 for c in connections if c["outcome"] == "failed"),
        "timed_out": sum(1 for c in connections if c["outcome"] == "timed_out"),
        "skipped": len(skipped),
    }
    return {
        "execution_arn": ARN,
        "map_run_arn": MAP_RUN_ARN,
        "counts": counts,
        "connections": connections,
        "skipped": [{"connector_id": c, "reason": r} for c, r in skipped],
    }


def many_connectors(count: int) -> list[str]:
    return [f"conn{i:05d}_prod" for i in range(count)]


def collect_output(outcomes: dict[str, Any]) -> dict[str, Any]:
    """``CollectOutcomes``'s output for this outcomes file: bounded lists, not-succeeded first."""
    connections = outcomes["connections"]
    not_ok = [c for c in connections if c["outcome"] != "succeeded"]
    ordered = not_ok + [c for c in connections if c["outcome"] == "succeeded"]
    bounded = [{**c, "cause": c["cause"][:CAUSE_CUT]} if c.get("cause") else dict(c) for c in ordered[:BOUND]]
    excluded = sorted({c["schema"] for c in not_ok})
    counts = outcomes["counts"]
    summary = None
    if not_ok:
        listed = ", ".join(f"{c['connector_id']} ({c['outcome']}: {c['cause'][:80]})" for c in not_ok[:10])
        summary = (
            f"{len(not_ok)} of {counts['total']} connection sync(s) did not succeed: {listed} "
            f"(full list: s3://{BUCKET}/{OUTCOMES_KEY})"
        )
    return {
        "options": OPTIONS,
        "counts": counts,
        "any_failed": bool(not_ok),
        "connectors": bounded,
        "skipped": outcomes["skipped"][:BOUND],
        "outcomes": {"bucket": BUCKET, "key": OUTCOMES_KEY},
        "excluded_sources": excluded,
        "excluded_sources_count": len(excluded),
        "failure_summary": summary,
    }


def map_run(
    succeeded: int, failed: int, running: int, pending: int = 0, timed_out: int = 0, status: str = "RUNNING"
) -> dict[str, Any]:
    """A ``DescribeMapRun`` answer with these item counts."""
    total = succeeded + failed + running + pending + timed_out
    return {
        "mapRunArn": MAP_RUN_ARN,
        "executionArn": ARN,
        "status": status,
        "startDate": START,
        "itemCounts": {
            "pending": pending,
            "running": running,
            "succeeded": succeeded,
            "failed": failed,
            "timedOut": timed_out,
            "aborted": 0,
            "total": total,
            "resultsWritten": 0,
        },
    }


class DistributedRunHistory(RunHistory):
    """A Distributed Map run's parent history: no Map iteration or ``Record*`` state in it."""

    def listed_items(
        self, count: int, skipped: tuple[tuple[str, str], ...] = (), skipped_count: int | None = None
    ) -> DistributedRunHistory:
        output = {
            "items": {"bucket": BUCKET, "key": f"runs/{RUN_NAME}/items.json", "count": count},
            "skipped": [{"connector_id": c, "reason": r} for c, r in skipped][:BOUND],
            "skipped_count": len(skipped) if skipped_count is None else skipped_count,
            "options": OPTIONS,
        }
        self.add("ExecutionStarted", 0, "executionStartedEventDetails", input=json.dumps(self.input))
        self.state("Task", "ListConnectors", 0.0, 0.2, output)
        return self

    def map_started(self, seconds: float = 0.4) -> DistributedRunHistory:
        self.add("MapStateEntered", seconds, "stateEnteredEventDetails", name="SyncConnectors", input="{}")
        self.add("MapRunStarted", seconds, "mapRunStartedEventDetails", mapRunArn=MAP_RUN_ARN)
        return self

    def map_ended(self, seconds: float, failed: bool = False) -> DistributedRunHistory:
        if failed:
            self.add("MapRunFailed", seconds, "mapRunFailedEventDetails", error="States.ItemReaderFailed")
        else:
            self.add("MapRunSucceeded", seconds)
        self.add("MapStateExited", seconds, "stateExitedEventDetails", name="SyncConnectors", output="{}")
        return self

    def collected(self, seconds: float, output: dict[str, Any]) -> DistributedRunHistory:
        # The state machine keeps the Lambda's answer at $.result.collected (ResultPath), beside the options.
        state = {"options": {"on_sync_failure": "continue"}, "result": {"collected": output}}
        self.state("Task", "CollectOutcomes", seconds, seconds + 0.3, state)
        return self


def distributed_run(
    outcomes: dict[str, Any], *, dbt: bool = True, stopped: float = 80.0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A finished distributed run of this outcomes file: listing, map run, CollectOutcomes, dbt.
    It failed (Orchestrator.SyncsFailed) when a sync did not succeed and dbt does not run."""
    collected = collect_output(outcomes)
    skipped = tuple((s["connector_id"], s["reason"]) for s in outcomes["skipped"])
    history = DistributedRunHistory({"group_id": "projected_sickle", "on_sync_failure": "continue"})
    history.listed_items(outcomes["counts"]["total"], skipped=skipped, skipped_count=len(skipped))
    history.map_started().map_ended(70.0).collected(70.5, collected)
    if dbt:
        excluded = tuple(collected["excluded_sources"])
        history.dbt(71.0, 78.0, excluded=excluded, excluded_key="excluded_sources")
        return history.described("SUCCEEDED", stopped=stopped), history.events
    return (
        history.described("FAILED", stopped, "Orchestrator.SyncsFailed", collected["failure_summary"]),
        history.events,
    )
