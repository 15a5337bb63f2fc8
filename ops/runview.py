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

A Distributed Map run (``SyncConnectors`` runs each sync in a child execution whose events are
not in this history) reads differently:

- ``ListConnectors``'s output names an S3 items file (``items.count`` connections) and at most
  100 skipped ones (``skipped_count`` in all);
- ``MapRunStarted`` names the map run; while it runs, only its item counts (``map_run``: the
  ``DescribeMapRun`` answer) say how far the syncs are;
- ``CollectOutcomes``'s output has the counts, at most 100 outcomes (not-succeeded first) and
  where the full list is: ``outcomes`` (the parsed ``outcomes.json``), when given, is that list.

``fetch_history`` pages through ``GetExecutionHistory``; ``HistoryReader`` keeps a growing
history up to date by reading only the newest events (for ``start-run --wait``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.run.collect import readable_cause as collected_cause
from chalicelib.run.run_files import S3Location
from statemachine.definition import OUTCOME_STATES

__all__ = [
    "DbtView",
    "HistoryReader",
    "MapProgress",
    "RunView",
    "SkippedView",
    "SyncCounts",
    "SyncView",
    "build_run_view",
    "distributed_sources",
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
# chalicelib.tokens.outcomes words a failed sync's cause "... (sync <id>, reported by webhook): reason".
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


@dataclass(frozen=True)
class SyncCounts:
    """How many connections a distributed run synced, by outcome (``CollectOutcomes``'s ``counts``)."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    skipped: int = 0

    @property
    def not_succeeded(self) -> int:
        return self.failed + self.timed_out


@dataclass(frozen=True)
class MapProgress:
    """A map run's item counts while it runs (``DescribeMapRun``'s ``itemCounts``)."""

    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    aborted: int = 0
    status: str = "RUNNING"

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.timed_out + self.aborted

    @property
    def not_succeeded(self) -> int:
        return self.failed + self.timed_out + self.aborted


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
    # A Distributed Map run (``distributed``): the syncs are in child executions.
    distributed: bool = False
    listed_count: int | None = None  # connections to sync, from the listing's items file
    skipped_count: int | None = None  # skipped in all (``skipped`` holds at most 100 of them)
    map_run_arn: str | None = None
    map_run_status: str | None = None  # RUNNING, SUCCEEDED, FAILED, ABORTED (from the history)
    counts: SyncCounts | None = None  # once CollectOutcomes has run (or from outcomes.json)
    progress: MapProgress | None = None  # the map run's item counts (in flight, or no CollectOutcomes)
    collected: bool = False  # CollectOutcomes has run
    outcomes_location: S3Location | None = None
    outcomes_read: bool = False  # ``syncs`` came from outcomes.json: every connection is there
    outcomes_problem: str | None = None  # why outcomes.json could not be read (set by ops.runs)
    failure_summary: str | None = None

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.stopped)

    @property
    def outcomes_uri(self) -> str | None:
        return self.outcomes_location.uri if self.outcomes_location else None

    @property
    def complete(self) -> bool:
        """``syncs`` holds every connection of the run (always so for an inline Map run)."""
        if not self.distributed:
            return True
        if self.counts is not None:
            return self.outcomes_read or len(self.syncs) >= self.counts.total
        return False

    @property
    def ok(self) -> int:
        if not self.complete:
            if self.counts is not None:
                return self.counts.succeeded
            if self.progress is not None:
                return self.progress.succeeded
        return sum(1 for s in self.syncs if s.outcome == "succeeded")

    @property
    def failed(self) -> int:
        if not self.complete:
            if self.counts is not None:
                return self.counts.not_succeeded
            if self.progress is not None:
                return self.progress.not_succeeded
        return sum(1 for s in self.syncs if s.outcome in NOT_OK)

    @property
    def skipped_total(self) -> int:
        return max(len(self.skipped), self.skipped_count or 0)

    @property
    def to_sync(self) -> int:
        """How many connections the listing gave the sync Map."""
        if self.listed_count is not None:
            return self.listed_count
        if self.counts is not None:
            return self.counts.total
        return len(self.syncs)

    @property
    def failed_connectors(self) -> list[str]:
        return [s.connector_id for s in self.syncs if s.outcome in NOT_OK]

    @property
    def failed_connectors_complete(self) -> bool:
        """``failed_connectors`` names every connection that did not succeed."""
        return len(self.failed_connectors) >= self.failed

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
    """A cause a person can read (``chalicelib.run.collect.readable_cause``); ``None`` stays ``None``."""
    return collected_cause(cause) if cause else cause


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


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _location(value: Any) -> S3Location | None:
    if isinstance(value, dict) and value.get("bucket") and value.get("key"):
        return S3Location(str(value["bucket"]), str(value["key"]))
    return None


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 time (``2026-11-30T10:00:05.456Z``) as UTC, or None."""
    if isinstance(value, datetime):
        return _as_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _skipped(items: Any) -> list[SkippedView]:
    return [
        SkippedView(str(s.get("connector_id")), str(s.get("reason", "")))
        for s in items or []
        if isinstance(s, dict)
    ]


def _listing(view: RunView, output: dict[str, Any]) -> None:
    view.listed = True
    items = output.get("items")
    if isinstance(items, dict):  # a Distributed Map reads its items from S3
        view.distributed = True
        view.listed_count = _int(items.get("count"))
        view.skipped_count = _int(output.get("skipped_count")) or None
    for item in output.get("connectors") or []:
        view.syncs.append(
            SyncView(connector_id=str(item.get("connector_id")), schema=str(item.get("schema", "")))
        )
    view.skipped = _skipped(output.get("skipped"))
    view.dbt.command = str(((output.get("options") or {}).get("dbt") or {}).get("command") or "build")


def _outcome(item: dict[str, Any]) -> SyncView:
    """One connection's outcome from ``outcomes.json`` or ``CollectOutcomes``'s ``connectors``."""
    cause = readable_cause(item.get("cause"))
    found = SYNC_ID_IN_CAUSE.search(cause or "")
    return SyncView(
        connector_id=str(item.get("connector_id")),
        schema=str(item.get("schema") or ""),
        outcome=str(item.get("outcome") or "failed"),
        sync_id=item.get("sync_id") or (found.group(1) if found and found.group(1) != "unknown" else None),
        started=_moment(item.get("started_at")),
        ended=_moment(item.get("ended_at")),
        error=item.get("error"),
        cause=cause,
        attempts=_int(item.get("attempts")),
    )


COUNT_KEYS = ("total", "succeeded", "failed", "timed_out", "skipped")


def _counts(value: Any) -> SyncCounts | None:
    if not isinstance(value, dict):
        return None
    return SyncCounts(**{key: _int(value.get(key)) for key in COUNT_KEYS})


def _collect_result(output: Any) -> Any:
    """``CollectOutcomes``' own result: the state machine keeps it at ``$.result.collected``."""
    if isinstance(output, dict) and isinstance((output.get("result") or {}).get("collected"), dict):
        return output["result"]["collected"]
    return output


def _collected(view: RunView, output: dict[str, Any]) -> None:
    """``CollectOutcomes``: the counts, the bounded outcomes, where the full list is."""
    view.distributed = view.collected = True
    view.counts = _counts(output.get("counts")) or view.counts
    view.syncs = [_outcome(c) for c in output.get("connectors") or [] if isinstance(c, dict)]
    skipped = _skipped(output.get("skipped"))
    if len(skipped) >= len(view.skipped):
        view.skipped = skipped
    if view.counts is not None:
        view.skipped_count = max(view.counts.skipped, view.skipped_count or 0) or None
    view.outcomes_location = _location(output.get("outcomes")) or view.outcomes_location
    summary = output.get("failure_summary")
    view.failure_summary = str(summary) if summary else None
    if output.get("excluded_sources") is not None and not view.dbt.excluded_sources:
        view.dbt.excluded_sources = [str(s) for s in output.get("excluded_sources") or []]


def _read_outcomes(view: RunView, outcomes: dict[str, Any]) -> None:
    """The parsed ``outcomes.json``: every connection's outcome (it replaces the bounded list)."""
    view.distributed = view.outcomes_read = True
    view.syncs = [_outcome(c) for c in outcomes.get("connections") or [] if isinstance(c, dict)]
    view.counts = _counts(outcomes.get("counts")) or view.counts
    if view.counts is None:
        by = [s.outcome for s in view.syncs]
        view.counts = SyncCounts(
            len(by), by.count("succeeded"), by.count("failed"), by.count("timed_out"), view.skipped_total
        )
    if "skipped" in outcomes:
        view.skipped = _skipped(outcomes.get("skipped"))
        view.skipped_count = max(len(view.skipped), view.counts.skipped) or None
    view.map_run_arn = view.map_run_arn or outcomes.get("map_run_arn")


def _progress(map_run: dict[str, Any]) -> MapProgress:
    counts = map_run.get("itemCounts") or {}
    return MapProgress(
        total=_int(counts.get("total")),
        pending=_int(counts.get("pending")),
        running=_int(counts.get("running")),
        succeeded=_int(counts.get("succeeded")),
        failed=_int(counts.get("failed")),
        timed_out=_int(counts.get("timedOut")),
        aborted=_int(counts.get("aborted")),
        status=str(map_run.get("status") or "RUNNING"),
    )


def _map_run_event(view: RunView, event: dict[str, Any]) -> None:
    kind = event["type"]
    view.distributed = True
    if kind == "MapRunStarted":
        view.map_run_arn = (event.get("mapRunStartedEventDetails") or {}).get("mapRunArn") or view.map_run_arn
        view.map_run_status = "RUNNING"
    else:
        view.map_run_status = {"MapRunSucceeded": "SUCCEEDED", "MapRunFailed": "FAILED"}.get(kind, "ABORTED")


def distributed_sources(events: list[dict[str, Any]]) -> tuple[S3Location | None, str | None, bool]:
    """What a distributed run's view needs from elsewhere: (outcomes.json's place, the map run's ARN,
    whether ``CollectOutcomes`` has run). ``(None, None, False)`` for an inline Map run."""
    location, map_run_arn, collected = None, None, False
    for event in events:
        if event["type"] == "MapRunStarted":
            map_run_arn = (event.get("mapRunStartedEventDetails") or {}).get("mapRunArn")
        elif _exited(event, "CollectOutcomes"):
            collected = True
            output = _collect_result(_json(event["stateExitedEventDetails"].get("output")))
            location = _location(output.get("outcomes")) if isinstance(output, dict) else None
    return location, map_run_arn, collected


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
        excluded = data.get("excluded_sources")
        excluded = excluded if excluded is not None else data.get("failed_schemas")
        dbt.excluded_sources = [str(s) for s in excluded or []]
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


def _state_output(view: RunView, event: dict[str, Any]) -> None:
    """The listing, a ``Record*`` state's outcome, ``CollectOutcomes``: read from the state's output."""
    name = _exited(event)
    if name not in ("ListConnectors", "CollectOutcomes", *RECORD_STATES):
        return
    output = _json(event["stateExitedEventDetails"].get("output"))
    if not isinstance(output, dict):
        return
    if name == "ListConnectors":
        if "connectors" in output or "items" in output:
            _listing(view, output)
    elif name == "CollectOutcomes":
        _collected(view, _collect_result(output))
    else:
        _record(view, output)


def _extras(view: RunView, outcomes: dict[str, Any] | None, map_run: dict[str, Any] | None) -> None:
    if isinstance(outcomes, dict):
        _read_outcomes(view, outcomes)
    if isinstance(map_run, dict) and view.counts is None:
        view.distributed = True
        view.progress = _progress(map_run)
        view.map_run_arn = view.map_run_arn or map_run.get("mapRunArn")


MAP_RUN_EVENTS = {"MapRunStarted", "MapRunSucceeded", "MapRunFailed", "MapRunAborted"}


def build_run_view(
    described: dict[str, Any],
    events: list[dict[str, Any]],
    outcomes: dict[str, Any] | None = None,
    map_run: dict[str, Any] | None = None,
) -> RunView:
    """The per-connection view of one execution (running, finished or failed).

    For a Distributed Map run, ``outcomes`` is the parsed ``outcomes.json`` (every connection;
    without it, ``CollectOutcomes``'s at most 100 outcomes) and ``map_run`` the map run's
    ``DescribeMapRun`` answer (its item counts: all there is to know while the syncs run).
    """
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
        _state_output(view, event)
        if event["type"] == "MapIterationStarted" or event["type"] in ITERATION_END:
            _iteration(view, event, at)
        elif event["type"] in MAP_RUN_EVENTS:
            _map_run_event(view, event)
        _sync_step(view, event, at)
        _dbt_step(view, event, at)
        if event["type"] == "ExecutionFailed" and not view.error:
            details = event.get("executionFailedEventDetails") or {}
            view.error, view.cause = details.get("error"), readable_cause(details.get("cause"))
    _extras(view, outcomes, map_run)
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
