"""Runs of the earlier inline-Map definition, read from their own history (pure).

The current definition (``statemachine/orchestrator.asl.json``) runs ``SyncConnectors`` as a
DISTRIBUTED Map: none of these events is in its runs' histories (``ops.distributed`` reads
those). Executions started under the inline definition are still listed by ``runs`` and read by
``show`` (the same state machine; Step Functions keeps a closed execution's history 90 days):

- ``ListConnectors``'s output lists the connections (Map item *i* is connection *i*);
- each Map iteration's ``MapIterationStarted`` / ``MapIteration{Succeeded,Failed,Aborted}``
  events (by index) give a sync's start and end;
- a ``Record*`` state's output gives its outcome, sync id and cause;
- ``StartSyncAndWait`` entries count attempts, ``WaitForReschedule`` states are the free waits
  of rescheduled syncs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.run.collect import FAILED
from ops.distributed import sync_id_in
from ops.history import entered, exited, parse_json, readable_cause
from ops.run_model import RunView, SyncView, WaitView
from statemachine.definition import OUTCOME_STATES

__all__ = ["RECORD_STATES", "read_listed_connectors", "read_record", "read_sync_event"]

RECORD_STATES = OUTCOME_STATES
ITERATION_END = {"MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"}
ITERATION_DETAILS = (
    "mapIterationStartedEventDetails",
    "mapIterationSucceededEventDetails",
    "mapIterationFailedEventDetails",
    "mapIterationAbortedEventDetails",
)


def read_listed_connectors(view: RunView, output: dict[str, Any]) -> None:
    """The listing's ``connectors``: one queued sync each, in the Map's item order."""
    for item in output.get("connectors") or []:
        view.syncs.append(
            SyncView(connector_id=str(item.get("connector_id")), schema=str(item.get("schema", "")))
        )


def read_record(view: RunView, output: dict[str, Any]) -> None:
    """A ``Record*`` state's output: the connection's outcome, error, cause and sync id."""
    sync = view.sync(str(output.get("connector_id")))
    if sync is None:
        return
    sync.outcome = str(output.get("outcome", FAILED))
    sync.error = output.get("error")
    sync.cause = readable_cause(output.get("cause"))
    sync.sync_id = sync_id_in(output, sync.cause)


def _connector_of(event: dict[str, Any]) -> str | None:
    """The connection a Map-iteration state works on, from its input (entered) or output (exited)."""
    details = event.get("stateEnteredEventDetails") or {}
    data = parse_json(details.get("input") or (event.get("stateExitedEventDetails") or {}).get("output"))
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
    if entered(event, "StartSyncAndWait"):
        sync = view.sync(_connector_of(event) or "")
        if sync is not None:
            sync.attempts += 1
    elif entered(event, "WaitForReschedule"):
        sync = view.sync(_connector_of(event) or "")
        if sync is not None:
            sync.waits.append(WaitView(at, None, "rescheduled", "Fivetran rescheduled the sync"))
    elif exited(event, "WaitForReschedule"):
        sync = view.sync(_connector_of(event) or "")
        if sync is not None and sync.waits and sync.waits[-1].end is None:
            sync.waits[-1] = replace(sync.waits[-1], end=at)


def read_sync_event(view: RunView, event: dict[str, Any], at: datetime) -> None:
    """A Map iteration's start or end, a sync attempt, a reschedule wait's start or end."""
    if event["type"] == "MapIterationStarted" or event["type"] in ITERATION_END:
        _iteration(view, event, at)
    else:
        _sync_step(view, event, at)
