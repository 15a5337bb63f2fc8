"""An execution's history: fetching it from Step Functions and reading one event at a time.

``fetch_history`` pages through ``GetExecutionHistory``; ``HistoryReader`` keeps a growing
history up to date by reading only the newest events (for ``start-run --wait``). The pure
helpers read what one event says: the state it entered or exited (``entered``, ``exited``),
a JSON payload (``parse_json``), a time as UTC (``as_utc``, ``moment``), a count (``as_int``),
a cause a person can read (``readable_cause``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.run.collect import readable_cause as collected_cause

__all__ = [
    "HistoryReader",
    "as_int",
    "as_utc",
    "entered",
    "exited",
    "fetch_history",
    "moment",
    "parse_json",
    "readable_cause",
]


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


def entered(event: dict[str, Any], name: str) -> bool:
    return (
        event["type"].endswith("StateEntered")
        and event.get("stateEnteredEventDetails", {}).get("name") == name
    )


def exited(event: dict[str, Any], name: str | None = None) -> str | None:
    """The exited state's name (or None), optionally only when it is ``name``."""
    if not event["type"].endswith("StateExited"):
        return None
    name_exited = event.get("stateExitedEventDetails", {}).get("name")
    return name_exited if name is None or name_exited == name else None


def parse_json(text: Any) -> Any:
    """A state's JSON input or output, parsed; None when it is not JSON text."""
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def as_utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def moment(value: Any) -> datetime | None:
    """An ISO 8601 time (``2026-11-30T10:00:05.456Z``) as UTC, or None."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def readable_cause(cause: str | None) -> str | None:
    """A cause a person can read (``chalicelib.run.collect.readable_cause``); ``None`` stays ``None``."""
    return collected_cause(cause) if cause else cause
