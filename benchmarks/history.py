"""Reading a Step Functions execution history (as ``get_execution_history`` returns it) for the benchmarks.

Everything here is pure: events in, figures out. Events of an inline Map iteration are found by
following ``previousEventId`` back to the iteration's ``MapIterationStarted``; Map-level and
execution-level events never belong to an iteration.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "STEP_FUNCTIONS_MAX_EVENTS",
    "STEP_FUNCTIONS_MAX_PAYLOAD_BYTES",
    "LambdaCall",
    "completions",
    "events_per_iteration",
    "iteration_connectors",
    "lambda_calls",
    "largest_payload",
    "state_seconds",
    "state_transitions",
]

STEP_FUNCTIONS_MAX_EVENTS = 25_000  # Standard workflow: events in one execution's history
STEP_FUNCTIONS_MAX_PAYLOAD_BYTES = 256 * 1024  # a state's input or output (UTF-8)

Event = Mapping[str, Any]
_OUTSIDE_ITERATIONS = ("MapState", "Execution")
_WAIT_TASK_ENDS = {
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
}


def _by_id(history: Iterable[Event]) -> dict[int, Event]:
    return {int(e["id"]): e for e in history}


def _iteration_index(history: Sequence[Event]) -> dict[int, int | None]:
    """Event id -> index of the Map iteration it belongs to (None: not inside an iteration)."""
    events = _by_id(history)
    found: dict[int, int | None] = {}
    for event in history:
        chain: list[int] = []
        current: Event | None = event
        result: int | None = None
        while current is not None:
            eid = int(current["id"])
            if eid in found:
                result = found[eid]
                break
            chain.append(eid)
            kind = str(current["type"])
            if kind == "MapIterationStarted":
                result = int(current["mapIterationStartedEventDetails"]["index"])
                break
            if kind.startswith(_OUTSIDE_ITERATIONS):
                result = None
                break
            current = events.get(int(current.get("previousEventId") or 0))
        for eid in chain:
            found[eid] = result
    return found


def events_per_iteration(history: Sequence[Event]) -> dict[int, int]:
    """How many history events each Map iteration (one connection) produced."""
    counts: Counter[int] = Counter()
    for index in _iteration_index(history).values():
        if index is not None:
            counts[index] += 1
    return dict(counts)


def _entered(events: dict[int, Event], event: Event) -> tuple[str, dict[str, Any]] | None:
    """The name and input of the task state ``event`` belongs to (its ``TaskStateEntered``)."""
    current: Event | None = event
    while current is not None:
        details = current.get("stateEnteredEventDetails")
        if current["type"] == "TaskStateEntered" and details:
            try:
                return str(details.get("name")), json.loads(details.get("input") or "{}")
            except ValueError:
                return None
        current = events.get(int(current.get("previousEventId") or 0))
    return None


def completions(history: list[Event], state: str = "StartSyncAndWait") -> dict[str, list[datetime]]:
    """connector_id -> when each ``waitForTaskToken`` task of ``state`` ended (success, failure, timeout)."""
    events = _by_id(history)
    found: dict[str, list[datetime]] = defaultdict(list)
    for event in history:
        key = _WAIT_TASK_ENDS.get(str(event["type"]))
        if key is None or event.get(key, {}).get("resource") != "invoke.waitForTaskToken":
            continue
        entered = _entered(events, event)
        if not entered or entered[0] != state:
            continue
        connector = entered[1].get("connector") or {}
        cid = connector.get("connector_id") if isinstance(connector, dict) else None
        if cid:
            found[str(cid)].append(event["timestamp"])
    return dict(found)


def state_transitions(history: Iterable[Event]) -> int:
    """Billed state transitions: one per state entered (Map iterations' states included)."""
    return sum(1 for e in history if str(e["type"]).endswith("StateEntered"))


@dataclass(frozen=True)
class LambdaCall:
    function: str
    seconds: float


def lambda_calls(history: Sequence[Event]) -> list[LambdaCall]:
    """Each Lambda invoke of the execution, with how long it ran (TaskStarted until the invoke returned)."""
    children: dict[int, list[Event]] = defaultdict(list)
    for event in history:
        children[int(event.get("previousEventId") or 0)].append(event)
    calls = []
    for event in history:
        details = event.get("taskScheduledEventDetails")
        if event["type"] != "TaskScheduled" or not details or details.get("resourceType") != "lambda":
            continue
        try:
            name = str(json.loads(details["parameters"])["FunctionName"]).rsplit(":", 1)[-1]
        except (KeyError, ValueError):
            name = "unknown"
        name = name.rsplit("-", 1)[-1]
        started = next((c for c in children[int(event["id"])] if c["type"] == "TaskStarted"), None)
        if started is None:
            continue
        ended = next(
            (
                c
                for c in children[int(started["id"])]
                if c["type"] in ("TaskSubmitted", "TaskSucceeded", "TaskFailed")
            ),
            None,
        )
        if ended is not None:
            calls.append(LambdaCall(name, (ended["timestamp"] - started["timestamp"]).total_seconds()))
    return calls


def largest_payload(history: Iterable[Event]) -> tuple[int, str]:
    """The largest state input or output in bytes, and which event carried it."""
    best, where = 0, ""
    for event in history:
        for key, value in event.items():
            if not isinstance(value, dict):
                continue
            for field in ("input", "output"):
                text = value.get(field)
                if isinstance(text, str) and len(text.encode("utf-8")) > best:
                    best = len(text.encode("utf-8"))
                    where = f"{event['type']} {value.get('name') or key}"
    return best, where


def state_seconds(history: Sequence[Event], name: str) -> float | None:
    """Seconds between a state's first ``*StateEntered`` and its last ``*StateExited`` (None if absent)."""
    entered = exited = None
    for event in history:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if not details or details.get("name") != name:
            continue
        if str(event["type"]).endswith("StateEntered") and entered is None:
            entered = event["timestamp"]
        elif str(event["type"]).endswith("StateExited"):
            exited = event["timestamp"]
    if entered is None or exited is None:
        return None
    return (exited - entered).total_seconds()


def iteration_connectors(history: Sequence[Event]) -> dict[int, str]:
    """Map iteration index -> the connection it synced (from its first ``TaskStateEntered`` input)."""
    index_of = _iteration_index(history)
    found: dict[int, str] = {}
    for event in history:
        index = index_of.get(int(event["id"]))
        details = event.get("stateEnteredEventDetails")
        if index is None or index in found or event["type"] != "TaskStateEntered" or not details:
            continue
        try:
            connector = json.loads(details.get("input") or "{}").get("connector") or {}
        except ValueError:
            continue
        if isinstance(connector, dict) and connector.get("connector_id"):
            found[index] = str(connector["connector_id"])
    return found
