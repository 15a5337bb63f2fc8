"""Fivetran webhook payloads: classify a verified body; ``sync_start``/``sync_end`` become a
``SyncRecord`` (what the event says of one sync, on Fivetran's clock).

Payloads still say ``connector_*`` (not ``connection_*``). Only Fivetran's test deliveries
are tests: the creation probe (``event: test_event``) and ``POST /v1/webhooks/{id}/test``,
which carry fake ``_``-prefixed ids. A real connection's ``sync_start``/``sync_end`` must
carry ``sync_id`` and ``created`` (the identity rule needs both) and a ``sync_end`` its
``data.status``: without them it is refused (400, with the reason). Source:
shared reference ``fivetran.md`` §6 (live captures of ``sync_end``; ``sync_start`` has the
same envelope).

Connection events (``CONNECTION_EVENTS``) say the connection can no longer end the sync a token
waits for: ``pause_connector`` (paused), ``delete_connector`` (deleted) and ``connection_failure``
(its connection test failed). They carry ``connector_id`` and ``created`` (refused without them,
400) and, for a failure, Fivetran's reason in ``data`` (``reason`` or ``message``; the payload of
these events is the same envelope as the sync events, its ``data`` keys [unconfirmed]). Source:
``fivetran.md`` §6.2 (current event list).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.errors import WebhookPayloadError
from chalicelib.platform.timeutil import format_timestamp, parse_timestamp
from chalicelib.tokens.outcomes import SyncOutcome, reschedule_at

__all__ = [
    "CONNECTION_EVENTS",
    "SUBSCRIBED_EVENTS",
    "SYNC_EVENTS",
    "ConnectionEnd",
    "WebhookEvent",
    "parse_event",
]

SYNC_EVENTS = ("sync_start", "sync_end")
# Fivetran's event name → the status a waiting token of that connection ends with.
CONNECTION_EVENTS = {
    "pause_connector": "PAUSED",
    "delete_connector": "NOT_FOUND",
    "connection_failure": "CONNECTION_FAILURE",
}
# Every event the product acts on: what ``register-webhook`` subscribes to and ``doctor`` checks.
SUBSCRIBED_EVENTS = (*SYNC_EVENTS, *CONNECTION_EVENTS)
MAX_REASON_CHARS = 2_000
_RESCHEDULED_FOR = re.compile(r"Rescheduled for (\S+?)[,\s]")
# Past this, adding the reschedule delay or rounding up to a whole second overflows datetime.
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class ConnectionEnd:
    """A connection event: the connection's waiting tokens end with ``status``
    (``CONNECTION_EVENTS``'s value) at ``at`` (Fivetran's clock), with Fivetran's ``reason``."""

    event: str
    status: str
    at: datetime
    reason: str | None = None

    def cause(self) -> str:
        """What a person reads in the run's outcome: what happened, when, and what to do."""
        when = format_timestamp(self.at)
        if self.status == "PAUSED":
            return (
                f"the connection was paused in Fivetran while the run waited ({self.event} at {when}):"
                " Fivetran drops its running sync; resume the connection and re-run it"
            )
        if self.status == "NOT_FOUND":
            return f"the connection was deleted in Fivetran while the run waited ({self.event} at {when})"
        return (
            f"the connection failed its connection test while the run waited ({self.event} at {when}):"
            f" {self.reason or 'no reason given'}; fix the connection in Fivetran"
        )


@dataclass(frozen=True)
class WebhookEvent:
    kind: str  # "test", "sync_start", "sync_end", "connection" or "other"
    event: str
    connector_id: str | None = None
    sync: SyncRecord | None = None
    connection_end: ConnectionEnd | None = None

    @property
    def outcome(self) -> SyncOutcome | None:
        """A ``sync_end``'s outcome (what its sync's tokens are handed); None for other events."""
        if self.kind != "sync_end" or self.sync is None or self.connector_id is None:
            return None
        return SyncOutcome.from_sync(self.connector_id, self.sync, source="webhook")


def _decode(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WebhookPayloadError(f"body is not valid JSON ({type(exc).__name__})") from exc
    if not isinstance(payload, dict):
        raise WebhookPayloadError(f"body is JSON but not an object (got {type(payload).__name__})")
    return payload


def _is_test(payload: dict[str, Any]) -> bool:
    connector_id = payload.get("connector_id")
    return payload.get("event") == "test_event" or (
        isinstance(connector_id, str) and connector_id.startswith("_")
    )


def _rescheduled_for(data: dict[str, Any], created: datetime) -> datetime:
    for candidate in (data.get("rescheduledAt"), data.get("rescheduled_for")):
        try:
            parsed = parse_timestamp(candidate) if isinstance(candidate, str) else None
        except ValueError:
            parsed = None
        if parsed and parsed <= _LATEST:
            return parsed
    reason = data.get("reason")
    if isinstance(reason, str):
        match = _RESCHEDULED_FOR.search(reason + " ")
        if match:
            try:
                parsed = parse_timestamp(match.group(1))
                if parsed and parsed <= _LATEST:
                    return parsed
            except ValueError:
                pass
    return reschedule_at(None, created)


def _is_text(value: str) -> bool:
    """Encodable as UTF-8 (JSON may escape lone surrogates, which no key or attribute can hold)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


MAX_STATUS_CHARS = 64


def _id(payload: dict[str, Any], name: str, event: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS or not _is_text(value):
        raise WebhookPayloadError(
            f"{event}: '{name}' must be a non-empty string of at most {MAX_ID_CHARS} characters"
            + (" (without it the event cannot be matched to a sync)" if name == "sync_id" else "")
        )
    return value


def _created(payload: dict[str, Any], event: str) -> datetime:
    try:
        created = parse_timestamp(payload.get("created"))
    except ValueError:
        created = None
    if created is None or created > _LATEST:
        # Without Fivetran's time of the event the identity rule cannot place the sync:
        # refuse it (4xx) and leave it to the safety net, which reads the sync history.
        raise WebhookPayloadError(f"{event}: 'created' must be an ISO 8601 timestamp")
    return created


def _sync_event(payload: dict[str, Any], event: str) -> tuple[str, SyncRecord]:
    connector_id = _id(payload, "connector_id", event)
    sync_id = _id(payload, "sync_id", event)
    created = _created(payload, event)
    data = payload.get("data")
    if event == "sync_start":
        if data is not None and not isinstance(data, dict):
            raise WebhookPayloadError("sync_start: 'data' must be an object when present")
        return connector_id, SyncRecord(sync_id=sync_id, started_at=created)
    if not isinstance(data, dict):
        raise WebhookPayloadError("sync_end: 'data' must be an object")
    status = data.get("status")
    if (
        not isinstance(status, str)
        or not status.strip()
        or len(status) > MAX_STATUS_CHARS
        or not _is_text(status)
    ):
        raise WebhookPayloadError(
            f"sync_end: 'data.status' must be a non-empty string of at most {MAX_STATUS_CHARS} characters"
        )
    status = status.strip().upper()
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        reason = json.dumps(reason)
    if reason is not None and not _is_text(reason):
        reason = reason.encode("utf-8", "replace").decode("utf-8")
    return connector_id, SyncRecord(
        sync_id=sync_id,
        ended_at=created,
        status=status,
        reason=reason,
        rescheduled_for=_rescheduled_for(data, created) if status == "RESCHEDULED" else None,
    )


def _reason_text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.encode("utf-8", "replace").decode("utf-8")[:MAX_REASON_CHARS].strip()
    return text or None


def _connection_event(payload: dict[str, Any], event: str) -> tuple[str, ConnectionEnd]:
    connector_id = _id(payload, "connector_id", event)
    created = _created(payload, event)
    data = payload.get("data")
    reason = None
    if isinstance(data, dict):
        reason = _reason_text(data.get("reason")) or _reason_text(data.get("message"))
    return connector_id, ConnectionEnd(
        event=event, status=CONNECTION_EVENTS[event], at=created, reason=reason
    )


def parse_event(body: bytes) -> WebhookEvent:
    """Classify a verified webhook body. Raises ``WebhookPayloadError`` (a 400) when unusable."""
    payload = _decode(body)
    event = payload.get("event")
    if not isinstance(event, str):
        raise WebhookPayloadError("'event' must be a string")
    connector_id = payload.get("connector_id") if isinstance(payload.get("connector_id"), str) else None
    if _is_test(payload):
        return WebhookEvent(kind="test", event=event, connector_id=connector_id)
    if event in CONNECTION_EVENTS:
        connector_id, end = _connection_event(payload, event)
        return WebhookEvent(kind="connection", event=event, connector_id=connector_id, connection_end=end)
    if event not in SYNC_EVENTS:
        return WebhookEvent(kind="other", event=event, connector_id=connector_id)
    connector_id, sync = _sync_event(payload, event)
    return WebhookEvent(kind=event, event=event, connector_id=connector_id, sync=sync)
