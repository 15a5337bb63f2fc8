"""What happened in one run, read from its ``DescribeExecution`` and execution history (pure).

``build_run_view(described, events, outcomes, map_run)`` knows the state machine's shape
(``statemachine/orchestrator.asl.json``) and nothing about AWS clients. It reads, event by event:

- ``ListConnectors``'s output: the skipped connections with their reason, dbt's command, and
  where the connections to sync are;
- the sync Map: a Distributed Map run's syncs are in child executions, so ``ops.distributed``
  reads its items file, map run, ``CollectOutcomes`` and ``outcomes.json``;
- ``RunDbt``'s entry and exit: dbt's timing, its exit code (output), its command and the sources
  excluded after failed syncs (input); ``ReadDbtBuildSummary``/``ReadDbtSummary``: what dbt built
  and why (``ops.dbt_build``);
- the execution's failure, and its end: whatever was still running then is unfinished.

The view itself is ``ops.run_model``; the history is fetched and its events read with ``ops.history``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ops.dbt_build import SUMMARY_STATES, read_build
from ops.distributed import (
    MAP_RUN_EVENTS,
    collect_result,
    read_collected,
    read_listing_items,
    read_map_run_event,
    read_skipped,
    read_sources,
)
from ops.history import as_utc, entered, exited, parse_json, readable_cause
from ops.run_model import RunView

__all__ = ["build_run_view"]

MAX_CAUSE = 500  # an ECS task's failure cause can be the whole task description


def _listing(view: RunView, output: dict[str, Any]) -> None:
    view.listed = True
    read_listing_items(view, output)
    view.skipped = read_skipped(output.get("skipped"))
    view.dbt.command = str(((output.get("options") or {}).get("dbt") or {}).get("command") or "build")


def _transform_lease(view: RunView, event: dict[str, Any]) -> None:
    """``TakeTransformLease``'s answer: the run whose dbt this run waits (or waited) for."""
    data = parse_json(event["stateExitedEventDetails"].get("output")) or {}
    lease = data.get("transform_lease") if isinstance(data, dict) else None
    if not isinstance(lease, dict):
        return
    view.dbt.waiting = not lease.get("held")
    if lease.get("waited_for"):
        view.dbt.waited_for = str(lease["waited_for"]).rsplit(":", 1)[-1]
        waited = lease.get("waited_s")
        view.dbt.waited_s = waited if isinstance(waited, int) else None


def _dbt_step(view: RunView, event: dict[str, Any], at: datetime) -> None:
    dbt = view.dbt
    if exited(event, "TakeTransformLease"):
        _transform_lease(view, event)
    elif entered(event, "RunDbt"):
        dbt.state, dbt.started = "running", at
        data = parse_json(event["stateEnteredEventDetails"].get("input")) or {}
        dbt.command = str(((data.get("options") or {}).get("dbt") or {}).get("command") or dbt.command)
        excluded = data.get("excluded_sources")
        excluded = excluded if excluded is not None else data.get("failed_schemas")
        dbt.excluded_sources = [str(s) for s in excluded or []]
    elif event["type"] == "TaskFailed" and dbt.state == "running":
        details = event.get("taskFailedEventDetails") or {}
        cause = readable_cause(details.get("cause")) or details.get("error") or ""
        dbt.cause = cause if len(cause) <= MAX_CAUSE else cause[: MAX_CAUSE - 1] + "…"
    elif exited(event) in SUMMARY_STATES:
        name = str(exited(event))
        output = parse_json(event["stateExitedEventDetails"].get("output"))
        dbt.build = read_build(name, output) or dbt.build
    elif exited(event, "RunDbt"):
        dbt.ended = at
        data = parse_json(event["stateExitedEventDetails"].get("output")) or {}
        code = (data.get("dbt") or {}).get("exit_code")
        dbt.exit_code = code if isinstance(code, int) else None
        dbt.state = "succeeded" if dbt.exit_code == 0 else "failed"


def _state_output(view: RunView, event: dict[str, Any]) -> None:
    """The listing and ``CollectOutcomes``: read from the state's output."""
    name = exited(event)
    if name not in ("ListConnectors", "CollectOutcomes"):
        return
    output = parse_json(event["stateExitedEventDetails"].get("output"))
    if not isinstance(output, dict):
        return
    if name == "ListConnectors":
        if "items" in output:
            _listing(view, output)
    else:
        read_collected(view, collect_result(output))


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
        started=as_utc(described["startDate"]),
        stopped=as_utc(stopped) if stopped else None,
        input=parse_json(described.get("input")) or {},
        error=described.get("error"),
        cause=readable_cause(described.get("cause")),
        history_events=len(events),
    )
    for event in events:
        at = as_utc(event["timestamp"])
        _state_output(view, event)
        if event["type"] in MAP_RUN_EVENTS:
            read_map_run_event(view, event)
        _dbt_step(view, event, at)
        if event["type"] == "ExecutionFailed" and not view.error:
            details = event.get("executionFailedEventDetails") or {}
            view.error, view.cause = details.get("error"), readable_cause(details.get("cause"))
    read_sources(view, outcomes, map_run)
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
