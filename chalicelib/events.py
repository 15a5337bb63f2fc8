"""Fivetran webhook payloads: classify a verified body and turn a ``sync_end`` into an outcome.

Payloads still say ``connector_*`` (not ``connection_*``). Test deliveries (the creation
probe ``test_event``, ``POST /v1/webhooks/{id}/test``) carry fake ``_``-prefixed ids and
no ``sync_id``/``data``: they are acknowledged and nothing else happens.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.errors import WebhookPayloadError
from chalicelib.outcomes import SyncOutcome
from chalicelib.timeutil import parse_timestamp

__all__ = ["DEFAULT_RESCHEDULE_DELAY", "WebhookEvent", "parse_event"]

DEFAULT_RESCHEDULE_DELAY = timedelta(minutes=5)
_RESCHEDULED_FOR = re.compile(r"Rescheduled for (\S+?)[,\s]")
# Past this, adding the reschedule delay or rounding up to a whole second overflows datetime.
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class WebhookEvent:
    kind: str  # "test", "sync_end" or "other"
    event: str
    connector_id: str | None = None
    outcome: SyncOutcome | None = None


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
    return (
        payload.get("event") == "test_event"
        or (isinstance(connector_id, str) and connector_id.startswith("_"))
        or "sync_id" not in payload
        or "data" not in payload
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
    return created + DEFAULT_RESCHEDULE_DELAY


def _sync_end(payload: dict[str, Any]) -> SyncOutcome:
    connector_id = payload.get("connector_id")
    if not isinstance(connector_id, str) or not connector_id.strip():
        raise WebhookPayloadError("sync_end: 'connector_id' must be a non-empty string")
    if len(connector_id) > MAX_ID_CHARS:
        raise WebhookPayloadError(f"sync_end: 'connector_id' is longer than {MAX_ID_CHARS} characters")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise WebhookPayloadError("sync_end: 'data' must be an object")
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise WebhookPayloadError("sync_end: 'data.status' must be a non-empty string")
    sync_id = payload.get("sync_id")
    if not isinstance(sync_id, str) or len(sync_id) > MAX_ID_CHARS:
        raise WebhookPayloadError(f"sync_end: 'sync_id' must be a string of at most {MAX_ID_CHARS} chars")
    try:
        created = parse_timestamp(payload.get("created"))
    except ValueError:
        created = None
    if created is not None and created > _LATEST:
        created = None
    if created is None:
        # Without a trustworthy end time we cannot tell which parked tokens it ends:
        # refuse it (4xx) and leave them to the reconcile job.
        raise WebhookPayloadError("sync_end: 'created' must be an ISO 8601 timestamp")
    reason = data.get("reason")
    status = status.strip().upper()
    return SyncOutcome(
        connector_id=connector_id,
        status=status,
        finished_at=created,
        sync_id=sync_id,
        reason=reason if isinstance(reason, str) else (json.dumps(reason) if reason is not None else None),
        rescheduled_for=_rescheduled_for(data, created) if status == "RESCHEDULED" else None,
        source="webhook",
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
    if event != "sync_end":
        return WebhookEvent(kind="other", event=event, connector_id=connector_id)
    outcome = _sync_end(payload)
    return WebhookEvent(kind="sync_end", event=event, connector_id=outcome.connector_id, outcome=outcome)
