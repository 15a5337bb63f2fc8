"""``start_sync``: park the task token first, then ask Fivetran to sync.

Parking first means a webhook can never arrive for a token we have not stored. If the
trigger fails, the token is removed again and the typed Fivetran error is raised for the
state machine's Retry/Catch. A Lambda retry with the same token finds it already parked
(conditional put) and just triggers again, which is harmless: ``force: false`` joins a
running sync instead of restarting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.errors import FivetranError, InvalidInput
from chalicelib.log import logger
from chalicelib.timeutil import format_timestamp
from chalicelib.token_store import TokenStore

__all__ = ["SyncRequest", "start_sync"]


class SyncTrigger(Protocol):
    def trigger_sync(self, connection_id: str) -> str: ...


class SyncRequest:
    """The ``start_sync`` payload the state machine sends."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        if not isinstance(payload, Mapping):
            raise InvalidInput("start_sync expects a JSON object")
        connector = payload.get("connector")
        connector = connector if isinstance(connector, Mapping) else {}
        self.connector_id = str(connector.get("connector_id") or payload.get("connector_id") or "").strip()
        self.schedule_type = str(connector.get("schedule_type") or payload.get("schedule_type") or "auto")
        self.task_token = str(payload.get("task_token") or payload.get("TaskToken") or "")
        self.execution_id = str(payload.get("execution_id") or "")
        self.resume = payload.get("resume") is True
        timeout = payload.get("sync_timeout_seconds", 21_600)
        if not self.connector_id:
            raise InvalidInput("start_sync: 'connector.connector_id' is missing")
        if not self.task_token:
            raise InvalidInput("start_sync: 'task_token' is missing")
        try:
            self.sync_timeout_seconds = int(timeout)
        except (TypeError, ValueError):
            raise InvalidInput(f"start_sync: 'sync_timeout_seconds' is not an integer: {timeout!r}") from None


def start_sync(
    request: SyncRequest,
    store: TokenStore,
    fivetran: SyncTrigger,
    *,
    now: datetime,
    ttl_margin_seconds: int,
) -> dict[str, Any]:
    expires = now + timedelta(seconds=request.sync_timeout_seconds + ttl_margin_seconds)
    record = store.new_record(
        connector_id=request.connector_id,
        task_token=request.task_token,
        execution_id=request.execution_id,
        requested_at=now,
        expires_at=int(expires.timestamp()),
        schedule_type=request.schedule_type,
    )
    record, created = store.park(record)
    ctx = {
        "connector_id": record.connector_id,
        "execution_id": record.execution_id,
        "token_ref": record.ref,
        "resume": request.resume,
        "first_delivery": created,
    }
    result = {
        "connector_id": record.connector_id,
        "token_ref": record.ref,
        "requested_at": format_timestamp(record.requested_at),
        "triggered": False,
    }
    if request.resume and request.schedule_type != "manual":
        # Fivetran resumes a rescheduled sync of an auto-schedule connection by itself.
        logger.info("token parked; auto-schedule connection resumes by itself", extra=ctx)
        return result
    try:
        fivetran.trigger_sync(record.connector_id)
    except FivetranError as exc:
        store.remove(record.connector_id, record.token_id)
        logger.warning(
            "sync trigger failed; token removed",
            extra={**ctx, "error": type(exc).__name__, "detail": str(exc)},
        )
        raise
    logger.info("token parked and sync triggered", extra=ctx)
    return {**result, "triggered": True}
