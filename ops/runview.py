"""What happened in one run, read from its ``DescribeExecution`` and execution history (pure).

``build_run_view(described, events)`` knows the state machine's shape
(``statemachine/orchestrator.asl.json``) and nothing about AWS clients:

- ``ListConnectors``'s output lists the connections to sync (Map item *i* is connection *i*)
  and the skipped ones with their reason;
- each Map iteration's ``MapIterationStarted`` / ``MapIteration{Succeeded,Failed,Aborted}``
  events (by index) give a sync's start and end; a ``Record*`` state's output gives its outcome,
  sync id and cause; ``WaitForReschedule`` states are the free waits of rescheduled syncs;
- ``RunDbt``'s entry and exit give dbt's timing, its output the exit code, its input the command
  and the sources excluded after failed syncs.

``fetch_history`` pages through ``GetExecutionHistory``; ``HistoryReader`` keeps a growing
history up to date by reading only the newest events (for ``start-run --wait``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from statemachine.definition import OUTCOME_STATES

__all__ = [
    "DbtView",
    "HistoryReader",
    "RunView",
    "SkippedView",
    "SyncView",
    "build_run_view",
    "fetch_history",
    "readable_cause",
]

RECORD_STATES = OUTCOME_STATES
ITERATION_END = {"MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"}
ITERATION_DETAILS = (
    "mapIterationStartedEventDetails",
    "mapIterationSucceededEventDetails",
    "mapIterationFailedEventDetails",
    "mapIterationAbortedEventDetails",
)
NOT_OK = {"failed", "timed_out", "unfinished"}
# chalicelib.outcomes words a failed sync's cause "... (sync <id>, reported by webhook): reason".
MAX_CAUSE = 500  # an ECS task's failure cause can be the whole task description
SYNC_ID_IN_CAUSE = re.compile(r"\(sync ([0-9A-Za-z_-]+), reported by ")


@dataclass
class SyncView:
    """One connection's sync in this run.

    ``outcome``: queued, running, succeeded, failed, timed_out, or unfinished (the run ended first).
    """

    connector_id: str
    schema: str = ""
    outcome: str = "queued"
    sync_id: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    error: str | None = None
    cause: str | None = None
    attempts: int = 0
    waits: list[tuple[datetime, datetime | None]] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.ended)


@dataclass(frozen=True)
class SkippedView:
    connector_id: str
    reason: str


@dataclass
class DbtView:
    """``state``: not_run, running, succeeded, failed."""

    state: str = "not_run"
    command: str = "build"
    started: datetime | None = None
    ended: datetime | None = None
    exit_code: int | None = None
    excluded_sources: list[str] = field(default_factory=list)
    cause: str | None = None

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.ended)


@dataclass
class RunView:
    arn: str
    name: str
    status: str
    started: datetime
    stopped: datetime | None
    input: dict[str, Any]
    error: str | None = None
    cause: str | None = None
    listed: bool = False
    syncs: list[SyncView] = field(default_factory=list)
    skipped: list[SkippedView] = field(default_factory=list)
    dbt: DbtView = field(default_factory=DbtView)
    history_events: int = 0

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.stopped)

    @property
    def ok(self) -> int:
        return sum(1 for s in self.syncs if s.outcome == "succeeded")

    @property
    def failed(self) -> int:
        return sum(1 for s in self.syncs if s.outcome in NOT_OK)

    @property
    def failed_connectors(self) -> list[str]:
        return [s.connector_id for s in self.syncs if s.outcome in NOT_OK]

    def sync(self, connector_id: str) -> SyncView | None:
        return next((s for s in self.syncs if s.connector_id == connector_id), None)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def readable_cause(cause: str | None) -> str | None:
    """A cause a person can read: a Lambda error's JSON (``errorType``, ``errorMessage``) becomes its text."""
    if not cause:
        return cause
    parsed = _json(cause)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"
    return cause


# -- history ---------------------------------------------------------------------------------


def fetch_history(stepfunctions: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


class HistoryReader:
    """A run's history kept current by reading newest-first until an event already seen."""

    def __init__(self, stepfunctions: Any, arn: str) -> None:
        self._sfn = stepfunctions
        self._arn = arn
        self.events: list[dict[str, Any]] = []

    def refresh(self) -> list[dict[str, Any]]:
        """Fetch what is new; returns the new events, oldest first."""
        last = self.events[-1]["id"] if self.events else 0
        fresh: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self._arn, "maxResults": 200, "reverseOrder": True}
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            newer = [e for e in page["events"] if e["id"] > last]
            fresh.extend(newer)
            if len(newer) < len(page["events"]) or not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        fresh.sort(key=lambda e: e["id"])
        self.events.extend(fresh)
        return fresh


# -- the view --------------------------------------------------------------------------------


def _entered(event: dict[str, Any], name: str) -> bool:
    return (
        event["type"].endswith("StateEntered")
        and event.get("stateEnteredEventDetails", {}).get("name") == name
    )


def _exited(event: dict[str, Any], name: str | None = None) -> str | None:
    """The exited state's name (or None), optionally only when it is ``name``."""
    if not event["type"].endswith("StateExited"):
        return None
    exited = event.get("stateExitedEventDetails", {}).get("name")
    return exited if name is None or exited == name else None


def _listing(view: RunView, output: dict[str, Any]) -> None:
    view.listed = True
    for item in output.get("connectors") or []:
        view.syncs.append(
            SyncView(connector_id=str(item.get("connector_id")), schema=str(item.get("schema", "")))
        )
    view.skipped = [
        SkippedView(str(s.get("connector_id")), str(s.get("reason", ""))) for s in output.get("skipped") or []
    ]
    view.dbt.command = str(((output.get("options") or {}).get("dbt") or {}).get("command") or "build")


def _record(view: RunView, output: dict[str, Any]) -> None:
    sync = view.sync(str(output.get("connector_id")))
    if sync is None:
        return
    sync.outcome = str(output.get("outcome", "failed"))
    sync.error = output.get("error")
    sync.cause = readable_cause(output.get("cause"))
    found = SYNC_ID_IN_CAUSE.search(sync.cause or "")
    sync.sync_id = output.get("sync_id") or (
        found.group(1) if found and found.group(1) != "unknown" else None
    )


def _connector_of(event: dict[str, Any]) -> str | None:
    """The connection a Map-iteration state works on, from its input (entered) or output (exited)."""
    details = event.get("stateEnteredEventDetails") or {}
    data = _json(details.get("input") or (event.get("stateExitedEventDetails") or {}).get("output"))
    connector = data.get("connector") if isinstance(data, dict) else None
    return str(connector.get("connector_id")) if isinstance(connector, dict) else None


def _iteration_details(event: dict[str, Any]) -> dict[str, Any]:
    for key in ITERATION_DETAILS:
        if key in event:
            return event[key] or {}
    return {}


def _iteration(view: RunView, event: dict[str, Any], at: datetime) -> None:
    details = _iteration_details(event)
    index = details.get("index")
    if details.get("name") != "SyncConnectors" or not isinstance(index, int) or index >= len(view.syncs):
        return
    sync = view.syncs[index]
    if event["type"] == "MapIterationStarted":
        sync.started = at
        sync.outcome = "running" if sync.outcome == "queued" else sync.outcome
    else:
        sync.ended = at


def _sync_step(view: RunView, event: dict[str, Any], at: datetime) -> None:
    """Attempts and reschedule waits, found by the connection in the state's input or output."""
    if _entered(event, "StartSyncAndWait"):
        sync = view.sync(_connector_of(event) or "")
        if sync is not None:
            sync.attempts += 1
    elif _entered(event, "WaitForReschedule"):
        sync = view.sync(_connector_of(event) or "")
        if sync is not None:
            sync.waits.append((at, None))
    elif _exited(event, "WaitForReschedule"):
        sync = view.sync(_connector_of(event) or "")
        if sync is not None and sync.waits and sync.waits[-1][1] is None:
            sync.waits[-1] = (sync.waits[-1][0], at)


def _dbt_step(view: RunView, event: dict[str, Any], at: datetime) -> None:
    dbt = view.dbt
    if _entered(event, "RunDbt"):
        dbt.state, dbt.started = "running", at
        data = _json(event["stateEnteredEventDetails"].get("input")) or {}
        dbt.command = str(((data.get("options") or {}).get("dbt") or {}).get("command") or dbt.command)
        dbt.excluded_sources = [str(s) for s in data.get("failed_schemas") or []]
    elif event["type"] == "TaskFailed" and dbt.state == "running":
        details = event.get("taskFailedEventDetails") or {}
        cause = readable_cause(details.get("cause")) or details.get("error") or ""
        dbt.cause = cause if len(cause) <= MAX_CAUSE else cause[: MAX_CAUSE - 1] + "…"
    elif _exited(event, "RunDbt"):
        dbt.ended = at
        data = _json(event["stateExitedEventDetails"].get("output")) or {}
        code = (data.get("dbt") or {}).get("exit_code")
        dbt.exit_code = code if isinstance(code, int) else None
        dbt.state = "succeeded" if dbt.exit_code == 0 else "failed"


def build_run_view(described: dict[str, Any], events: list[dict[str, Any]]) -> RunView:
    """The per-connection view of one execution (running, finished or failed)."""
    stopped = described.get("stopDate")
    view = RunView(
        arn=described["executionArn"],
        name=described.get("name") or described["executionArn"].rsplit(":", 1)[-1],
        status=described["status"],
        started=_as_utc(described["startDate"]),
        stopped=_as_utc(stopped) if stopped else None,
        input=_json(described.get("input")) or {},
        error=described.get("error"),
        cause=readable_cause(described.get("cause")),
        history_events=len(events),
    )
    for event in events:
        at = _as_utc(event["timestamp"])
        name = _exited(event)
        if name == "ListConnectors":
            output = _json(event["stateExitedEventDetails"].get("output"))
            if isinstance(output, dict) and "connectors" in output:
                _listing(view, output)
        elif name in RECORD_STATES:
            output = _json(event["stateExitedEventDetails"].get("output"))
            if isinstance(output, dict):
                _record(view, output)
        if event["type"] == "MapIterationStarted" or event["type"] in ITERATION_END:
            _iteration(view, event, at)
        _sync_step(view, event, at)
        _dbt_step(view, event, at)
        if event["type"] == "ExecutionFailed" and not view.error:
            details = event.get("executionFailedEventDetails") or {}
            view.error, view.cause = details.get("error"), readable_cause(details.get("cause"))
    if view.status != "RUNNING":
        _close(view)
    return view


def _close(view: RunView) -> None:
    """A finished run has nothing running: whatever had not ended was stopped with it."""
    for sync in view.syncs:
        if sync.outcome in ("queued", "running"):
            sync.outcome = "unfinished"
            sync.ended = sync.ended or (view.stopped if sync.started else None)
    if view.dbt.state == "running":
        view.dbt.state = "failed"
        view.dbt.ended = view.dbt.ended or view.stopped
