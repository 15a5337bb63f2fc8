"""Fivetran REST API client: the calls the orchestrator's Lambdas need, and typed records.

- ``GET /v1/groups/{id}/connections`` (cursor pagination to the end, ``limit=1000``)
- ``GET /v1/connections/{id}``
- ``POST /v1/connections/{id}/sync`` with ``{"force": false}`` (join a running sync, never restart it);
  the answer's HTTP ``Date`` header is the moment Fivetran accepted it, on Fivetran's clock
  (``chalicelib/tokens/identity.py``), and 409 ("a sync already in progress") means it was joined
- ``GET /v1/connections/{id}/sync-history`` (``start_time``/``end_time``, at most 7 days
  apart; ``cursor``, ``limit`` 1..1000). Source: Fivetran API reference, "Retrieve
  Connection Sync History" (fivetran.com/docs/rest-api/api-reference/connections/
  retrieve-connection-sync-history). Fields read from each item: ``sync_id`` (``id``
  accepted), ``start_time`` (null if not started), ``end_time`` (null while running),
  ``status``, ``reason``, ``rescheduled_for``; the reference names the start time's
  meaning but its stored copy does not show every field name, so aliases
  (``started_at``/``ended_at``/``start``/``end``) are accepted too.
- ``GET /v1/webhooks`` (cursor paging; ``Accept: application/json``): the safety net's webhook watchdog
  (``chalicelib/safety_net/webhook_watchdog.py``) reads whether the stage's webhook exists and is ``active``.
  Source: Fivetran API reference, "List all webhooks" (fivetran.com/docs/rest-api/api-reference/webhooks).

The operator CLI's webhook calls (``ops/fivetran_admin.py``) subclass this client and pass their own
``accept`` to ``_request``/``_items``; nothing here serves only the operator.

Retries, the time budget (``within``) and the typed errors are the transport's
(``chalicelib/fivetran/transport.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.fivetran.transport import FivetranTransport
from chalicelib.platform.timeutil import format_asl_timestamp, parse_http_date, parse_timestamp

__all__ = ["ACCEPT_JSON", "Connection", "FivetranClient", "TriggerResult"]

# The webhook endpoints want ``application/json``, not the connection endpoints' ``version=2``.
ACCEPT_JSON = "application/json"


@dataclass(frozen=True)
class Connection:
    """A Fivetran connection, as the orchestrator sees it."""

    id: str
    service: str
    schema: str
    paused: bool
    schedule_type: str
    setup_state: str
    sync_state: str
    succeeded_at: datetime | None
    failed_at: datetime | None
    rescheduled_for: datetime | None
    group_id: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Connection:
        status = data.get("status") or {}
        return cls(
            id=str(data["id"]),
            service=str(data.get("service") or ""),
            schema=str(data.get("schema") or ""),
            paused=bool(data.get("paused", False)),
            schedule_type=str(data.get("schedule_type") or "auto"),
            setup_state=str(status.get("setup_state") or "connected"),
            sync_state=str(status.get("sync_state") or "scheduled"),
            succeeded_at=parse_timestamp(data.get("succeeded_at")),
            failed_at=parse_timestamp(data.get("failed_at")),
            rescheduled_for=parse_timestamp(status.get("rescheduled_for")),
            group_id=data.get("group_id"),
        )

    @property
    def is_connected(self) -> bool:
        return self.setup_state == "connected"

    @property
    def last_completed_at(self) -> datetime | None:
        """When the latest sync ended, successfully or not (the only reliable completion signal)."""
        stamps = [t for t in (self.succeeded_at, self.failed_at) if t is not None]
        return max(stamps) if stamps else None

    @property
    def last_sync_succeeded(self) -> bool:
        if self.succeeded_at is None:
            return False
        return self.failed_at is None or self.succeeded_at >= self.failed_at


@dataclass(frozen=True)
class TriggerResult:
    """Fivetran's answer to a sync trigger.

    ``accepted_at``: the answer's ``Date`` header (Fivetran's clock, whole seconds), None
    if it had none. ``joined``: Fivetran answered 409, a sync was already running and the
    trigger joined it (``force: false``).
    """

    message: str
    joined: bool
    accepted_at: datetime | None


def _history_time(item: dict[str, Any], *names: str) -> datetime | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, str) and value:
            try:
                return parse_timestamp(value)
            except ValueError:
                return None
    return None


def sync_from_history(item: dict[str, Any]) -> SyncRecord | None:
    """One sync-history item as a ``SyncRecord`` (None if it has no id). A status of a
    sync still running (no end time) is not an end status."""
    sync_id = item.get("sync_id") or item.get("id")
    if not isinstance(sync_id, str) or not sync_id:
        return None
    ended = _history_time(item, "end_time", "ended_at", "end")
    status = item.get("status")
    reason = item.get("reason")
    return SyncRecord(
        sync_id=sync_id,
        started_at=_history_time(item, "start_time", "started_at", "start"),
        ended_at=ended,
        status=str(status).upper() if ended is not None and status else None,
        reason=reason if isinstance(reason, str) else None,
        rescheduled_for=_history_time(item, "rescheduled_for", "rescheduledAt"),
        source="history",
    )


class FivetranClient(FivetranTransport):
    """Thin per-endpoint methods over the transport's ``_request``/``_items``."""

    # -- endpoints -------------------------------------------------------------------

    def list_group_connections(self, group_id: str, *, timeout: float | None = None) -> list[Connection]:
        """Every connection of a group, following ``next_cursor`` to the last page (1,000 a page).
        ``timeout``: seconds per request (None: the client's)."""
        return list(self._iter_group_connections(group_id, timeout))

    def _iter_group_connections(self, group_id: str, timeout: float | None) -> Iterator[Connection]:
        path = f"/v1/groups/{quote(group_id, safe='')}/connections"
        for item in self._items("GET", path, timeout=timeout):
            yield Connection.from_api(item)

    def get_connection(self, connection_id: str, *, timeout: float | None = None) -> Connection:
        data = self._request("GET", f"/v1/connections/{quote(connection_id, safe='')}", timeout=timeout)
        return Connection.from_api(data)

    def trigger_sync(self, connection_id: str) -> TriggerResult:
        """Start a sync (``force: false``: a running sync is joined, HTTP 409).

        Raises the typed errors of ``_unwrap`` for any other failure (401/403, 404, 429...).
        """
        path = f"/v1/connections/{quote(connection_id, safe='')}/sync"
        response = self._send("POST", path, json={"force": False})
        accepted_at = parse_http_date(response.headers.get("Date"))
        if response.status_code == 409:
            # "a sync already in progress": with force=false that sync is the one we wait for.
            return TriggerResult("joined the sync already in progress", True, accepted_at)
        body = self._unwrap(response, "POST", path)
        return TriggerResult(str(body.get("message", "")), False, accepted_at)

    def sync_history(
        self, connection_id: str, start: datetime, end: datetime, *, timeout: float | None = None
    ) -> list[SyncRecord]:
        """The connection's syncs in ``[start, end]`` (Fivetran's clock; at most 7 days apart),
        following ``next_cursor`` to the last page."""
        path = f"/v1/connections/{quote(connection_id, safe='')}/sync-history"
        params: dict[str, Any] = {
            "start_time": format_asl_timestamp(start),
            "end_time": format_asl_timestamp(end, round_up=True),
        }
        records = (
            sync_from_history(item) for item in self._items("GET", path, params=params, timeout=timeout)
        )
        return [record for record in records if record is not None]

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Every webhook of the account (group and account webhooks), following ``next_cursor``: each
        ``{"id", "type": "group"|"account", "group_id"?, "url", "events", "active", ...}``."""
        return list(self._items("GET", "/v1/webhooks", accept=ACCEPT_JSON))
