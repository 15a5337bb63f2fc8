"""A Distributed Map run: what its parent history, its map run and ``outcomes.json`` say (pure).

``SyncConnectors`` runs each sync in a child execution whose events are not in the run's history:

- ``ListConnectors``'s output names an S3 items file (``items.count`` connections) and at most
  100 skipped ones (``skipped_count`` in all): ``read_listing_items``;
- ``MapRunStarted`` names the map run (``read_map_run_event``); while it runs, only its item
  counts (the ``DescribeMapRun`` answer) say how far the syncs are;
- ``CollectOutcomes``'s output (``read_collected``) has the counts, at most 100 outcomes
  (not-succeeded first) and where the full list is: ``outcomes.json``, once read, is that list.

``distributed_sources`` says what to fetch besides the history; ``read_sources`` applies what
was fetched. Counts are ``chalicelib.run.collect``'s (``Collected.counts``), read back.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.run.collect import FAILED, Collected, Outcome
from chalicelib.run.run_files import S3Location
from ops.history import as_int, exited, moment, parse_json, readable_cause
from ops.run_model import MapProgress, RunView, SkippedView, SyncCounts, SyncView, WaitView

__all__ = [
    "MAP_RUN_EVENTS",
    "collect_result",
    "distributed_sources",
    "read_collected",
    "read_listing_items",
    "read_map_run_event",
    "read_skipped",
    "read_sources",
    "sync_id_in",
]

MAP_RUN_EVENTS = {"MapRunStarted", "MapRunSucceeded", "MapRunFailed", "MapRunAborted"}
# chalicelib.tokens.outcomes words a failed sync's cause "... (sync <id>, reported by webhook): reason".
SYNC_ID_IN_CAUSE = re.compile(r"\(sync ([0-9A-Za-z_-]+), reported by ")
COUNT_KEYS = tuple(Collected([], []).counts)  # chalicelib's counts: total, one per outcome, skipped


def sync_id_in(output: dict[str, Any], cause: str | None) -> str | None:
    """A recorded outcome's sync id, else the one its cause names (never ``unknown``)."""
    found = SYNC_ID_IN_CAUSE.search(cause or "")
    return output.get("sync_id") or (found.group(1) if found and found.group(1) != "unknown" else None)


def read_skipped(items: Any) -> list[SkippedView]:
    return [
        SkippedView(str(s.get("connector_id")), str(s.get("reason", "")))
        for s in items or []
        if isinstance(s, dict)
    ]


def _location(value: Any) -> S3Location | None:
    if isinstance(value, dict) and value.get("bucket") and value.get("key"):
        return S3Location(str(value["bucket"]), str(value["key"]))
    return None


def _counts(value: Any) -> SyncCounts | None:
    """``Collected.counts`` (its keys are chalicelib's outcome words) as ``SyncCounts``."""
    if not isinstance(value, dict):
        return None
    return SyncCounts(**{key: as_int(value.get(key)) for key in COUNT_KEYS})


def _counted(view: RunView) -> SyncCounts:
    """The outcomes read, counted as ``chalicelib.run.collect`` counts them."""
    counts = Collected([Outcome(s.connector_id, s.schema, s.outcome) for s in view.syncs], []).counts
    return SyncCounts(**{key: counts.get(key, 0) for key in COUNT_KEYS} | {"skipped": view.skipped_total})


def _waits(value: Any) -> tuple[list[WaitView], dict[str, int]]:
    """A recorded outcome's ``waits`` (``chalicelib.run.waits``: in full in ``outcomes.json``, only the
    counts and the last one in ``CollectOutcomes``' bounded list) as ``WaitView``s and their counts."""
    if not isinstance(value, dict):
        return [], {}
    counts = {key: as_int(value.get(key)) for key in ("count", "rescheduled", "rate_limited")}
    items = [i for i in value.get("items") or [] if isinstance(i, dict)]
    if not items and value.get("until"):  # the bounded form: the last wait, its start unknown
        items = [{"until": value.get("until"), "reason": value.get("reason"), "kind": None}]
    waits = [
        WaitView(
            start=moment(i.get("at")),
            end=moment(i.get("until")),
            kind=str(i.get("kind") or "wait"),
            reason=str(i.get("reason") or ""),
        )
        for i in items
    ]
    return waits, counts


def _outcome(item: dict[str, Any]) -> SyncView:
    """One connection's outcome from ``outcomes.json`` or ``CollectOutcomes``'s ``connectors``."""
    cause = readable_cause(item.get("cause"))
    waits, wait_counts = _waits(item.get("waits"))
    return SyncView(
        connector_id=str(item.get("connector_id")),
        schema=str(item.get("schema") or ""),
        outcome=str(item.get("outcome") or FAILED),
        sync_id=sync_id_in(item, cause),
        started=moment(item.get("started_at")),
        ended=moment(item.get("ended_at")),
        error=item.get("error"),
        cause=cause,
        waits=waits,
        wait_counts=wait_counts,
    )


def read_listing_items(view: RunView, output: dict[str, Any]) -> None:
    """The listing's items file: how many connections the Map reads, how many were skipped in all."""
    items = output.get("items")
    if isinstance(items, dict):
        view.distributed = True
        view.listed_count = as_int(items.get("count"))
        view.skipped_count = as_int(output.get("skipped_count")) or None


def collect_result(output: Any) -> Any:
    """``CollectOutcomes``' own result: the state machine keeps it at ``$.result.collected``."""
    if isinstance(output, dict) and isinstance((output.get("result") or {}).get("collected"), dict):
        return output["result"]["collected"]
    return output


def read_collected(view: RunView, output: dict[str, Any]) -> None:
    """``CollectOutcomes``: the counts, the bounded outcomes, where the full list is."""
    view.distributed = view.collected = True
    view.counts = _counts(output.get("counts")) or view.counts
    view.syncs = [_outcome(c) for c in output.get("connectors") or [] if isinstance(c, dict)]
    skipped = read_skipped(output.get("skipped"))
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
    view.counts = _counts(outcomes.get("counts")) or view.counts or _counted(view)
    if "skipped" in outcomes:
        view.skipped = read_skipped(outcomes.get("skipped"))
        view.skipped_count = max(len(view.skipped), view.counts.skipped) or None
    view.map_run_arn = view.map_run_arn or outcomes.get("map_run_arn")


def _progress(map_run: dict[str, Any]) -> MapProgress:
    counts = map_run.get("itemCounts") or {}
    return MapProgress(
        total=as_int(counts.get("total")),
        pending=as_int(counts.get("pending")),
        running=as_int(counts.get("running")),
        succeeded=as_int(counts.get("succeeded")),
        failed=as_int(counts.get("failed")),
        timed_out=as_int(counts.get("timedOut")),
        aborted=as_int(counts.get("aborted")),
        status=str(map_run.get("status") or "RUNNING"),
    )


def read_map_run_event(view: RunView, event: dict[str, Any]) -> None:
    """``MapRun{Started,Succeeded,Failed,Aborted}``: the map run's ARN and status."""
    kind = event["type"]
    view.distributed = True
    if kind == "MapRunStarted":
        view.map_run_arn = (event.get("mapRunStartedEventDetails") or {}).get("mapRunArn") or view.map_run_arn
        view.map_run_status = "RUNNING"
    else:
        view.map_run_status = {"MapRunSucceeded": "SUCCEEDED", "MapRunFailed": "FAILED"}.get(kind, "ABORTED")


def distributed_sources(events: list[dict[str, Any]]) -> tuple[S3Location | None, str | None, bool]:
    """What a distributed run's view needs from elsewhere: (outcomes.json's place, the map run's ARN,
    whether ``CollectOutcomes`` has run). ``(None, None, False)`` before the Map."""
    location, map_run_arn, collected = None, None, False
    for event in events:
        if event["type"] == "MapRunStarted":
            map_run_arn = (event.get("mapRunStartedEventDetails") or {}).get("mapRunArn")
        elif exited(event, "CollectOutcomes"):
            collected = True
            output = collect_result(parse_json(event["stateExitedEventDetails"].get("output")))
            location = _location(output.get("outcomes")) if isinstance(output, dict) else None
    return location, map_run_arn, collected


def read_sources(view: RunView, outcomes: dict[str, Any] | None, map_run: dict[str, Any] | None) -> None:
    """What was fetched besides the history: ``outcomes.json`` (parsed), the ``DescribeMapRun`` answer."""
    if isinstance(outcomes, dict):
        _read_outcomes(view, outcomes)
    if isinstance(map_run, dict) and view.counts is None:
        view.distributed = True
        view.progress = _progress(map_run)
        view.map_run_arn = view.map_run_arn or map_run.get("mapRunArn")
