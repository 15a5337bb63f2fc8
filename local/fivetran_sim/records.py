"""What the simulated Fivetran records about each connection (``ConnectionState``: its state, its
fault counters, its running sync) and each sync (``Sync``: one sync history row), and how those
times are written and read over the API (``stamp``, ``parse_time``; always UTC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.scenario import ConnectorSpec


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str) -> datetime:
    """An ISO 8601 instant (``Z`` or an offset; no offset means UTC); ValueError if it is not one."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Sync:
    """One sync as Fivetran records it (its sync history row); times on Fivetran's clock."""

    sync_id: str
    started: datetime
    ours: bool  # started by a trigger (or resuming such a sync): the scenario's webhook faults apply
    ended: datetime | None = None
    status: str = "RUNNING"
    reason: str | None = None
    rescheduled_for: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "sync_id": self.sync_id,
            "start_time": stamp(self.started),
            "end_time": stamp(self.ended) if self.ended else None,
            "status": self.status,
            "reason": self.reason,
            "rescheduled_for": stamp(self.rescheduled_for) if self.rescheduled_for else None,
        }


@dataclass
class ConnectionState:
    spec: ConnectorSpec
    sync_state: str = "scheduled"
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    rescheduled_for: datetime | None = None
    api_calls: int = 0
    attempts: int = 0  # syncs started by a trigger
    seed: int = 0
    paused: bool = False
    setup_state: str = "connected"
    deleted: bool = False
    group_id: str | None = None  # its own group, or moved there by ``mid_run`` (None: the scenario's)
    running: Sync | None = None
    syncs: list[Sync] = field(default_factory=list)
    webhook_attempts: int = 0

    def __post_init__(self) -> None:
        self.paused = self.spec.paused
        self.setup_state = self.spec.setup_state
        self.group_id = self.spec.group_id or None

    @property
    def syncable(self) -> bool:
        return not self.paused and not self.deleted and self.setup_state == "connected"

    def to_api(self, group_id: str) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": spec.id,
            "group_id": self.group_id or group_id,
            "service": spec.service,
            "schema": spec.schema,
            "paused": self.paused,
            "schedule_type": spec.schedule_type,
            "sync_frequency": 360,
            "succeeded_at": stamp(self.succeeded_at) if self.succeeded_at else None,
            "failed_at": stamp(self.failed_at) if self.failed_at else None,
            "status": {
                "setup_state": self.setup_state,
                "sync_state": "paused" if self.paused else self.sync_state,
                "update_state": "on_schedule",
                "is_historical_sync": False,
                "rescheduled_for": stamp(self.rescheduled_for) if self.rescheduled_for else None,
                "tasks": [],
                "warnings": [],
            },
        }
