"""How a sync ended, and what Step Functions is told about it.

One ``SyncOutcome`` type serves both resolvers: the webhook (from a ``sync_end`` event)
and the reconcile job (from the connection's state in the API).

- ``SUCCESSFUL`` → ``SendTaskSuccess`` ``{"connector_id", "status", "sync_id", "finished_at"}``
- ``RESCHEDULED`` → ``SendTaskSuccess`` with ``status: RESCHEDULED``, ``rescheduled_for`` and
  ``reason`` (Fivetran's, when it gave one), so the state machine notes the wait, waits (for free)
  and starts again
- ``PAUSED`` (the connection was paused while the run waited) → ``SendTaskFailure`` with error
  ``Fivetran.ConnectionPaused``: the connection's outcome is ``paused``, and the run's ``paused`` policy
  decides (``skip``: skipped with reason ``paused``; ``fail``: failed; ``chalicelib.run.collect``)
- anything else → ``SendTaskFailure`` with error ``Fivetran.SyncFailed`` and a cause naming
  the connection, the status and Fivetran's reason
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.timeutil import format_asl_timestamp, format_timestamp

__all__ = [
    "CONNECTION_PAUSED_ERROR",
    "DEFAULT_RESCHEDULE_DELAY",
    "SUCCESS_STATUSES",
    "SYNC_FAILED_ERROR",
    "SyncOutcome",
    "reschedule_at",
    "success_payload",
    "sync_id_of_cause",
]

# When Fivetran says RESCHEDULED without saying until when.
DEFAULT_RESCHEDULE_DELAY = timedelta(minutes=5)

SYNC_FAILED_ERROR = "Fivetran.SyncFailed"
CONNECTION_PAUSED_ERROR = "Fivetran.ConnectionPaused"  # the state machine records outcome "paused"
SUCCESS_STATUSES = frozenset({"SUCCESSFUL", "RESCHEDULED"})
MAX_CAUSE_CHARS = 32_000  # Step Functions allows 32,768
# The sync a failure cause names (``SyncOutcome.failure_cause``'s "(sync <id>, reported by ...)").
_CAUSE_SYNC = re.compile(r"\(sync (?P<sync_id>[^\s,()]+), reported by ")
# A reschedule's reason travels in the child's state (``$.waits``): kept short.
MAX_RESCHEDULE_REASON_CHARS = 300


def reschedule_at(told: datetime | None, ended: datetime) -> datetime:
    """When a ``RESCHEDULED`` sync resumes: the time Fivetran told (``told``), else
    ``DEFAULT_RESCHEDULE_DELAY`` after it ended (``ended``, Fivetran's clock)."""
    return told or ended + DEFAULT_RESCHEDULE_DELAY


def success_payload(
    connector_id: str,
    status: str,
    *,
    finished_at: datetime,
    sync_id: str | None = None,
    rescheduled_for: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The ``SendTaskSuccess`` output a ``StartSyncAndWait`` task ends with: ``{"connector_id", "status",
    "sync_id", "finished_at"}`` (microseconds, UTC), then ``rescheduled_for`` when given (whole seconds,
    rounded up: the state machine Waits until it) and ``fields`` as they are (``reason``, ``budget_slot``).
    ``status``: ``SUCCESSFUL``, ``RESCHEDULED`` or ``RATE_LIMITED`` (``chalicelib/run/rate_limit.py``)."""
    output: dict[str, Any] = {
        "connector_id": connector_id,
        "status": status,
        "sync_id": sync_id,
        "finished_at": format_timestamp(finished_at),
    }
    if rescheduled_for is not None:
        output["rescheduled_for"] = format_asl_timestamp(rescheduled_for, round_up=True)
    return {**output, **fields}


@dataclass(frozen=True)
class SyncOutcome:
    connector_id: str
    status: str
    finished_at: datetime
    sync_id: str | None = None
    reason: str | None = None
    rescheduled_for: datetime | None = None
    source: str = "webhook"

    @classmethod
    def from_sync(cls, connector_id: str, sync: SyncRecord, *, source: str) -> SyncOutcome:
        """The outcome of an ended sync (``sync.ended`` must be true)."""
        assert sync.ended_at is not None and sync.status is not None
        rescheduled_for = None
        if sync.status == "RESCHEDULED":
            rescheduled_for = reschedule_at(sync.rescheduled_for, sync.ended_at)
        return cls(
            connector_id=connector_id,
            status=sync.status,
            finished_at=sync.ended_at,
            sync_id=sync.sync_id,
            reason=sync.reason,
            rescheduled_for=rescheduled_for,
            source=source,
        )

    @property
    def is_success(self) -> bool:
        return self.status in SUCCESS_STATUSES

    def success_output(self) -> dict[str, Any]:
        """``success_payload``; a ``RESCHEDULED`` one adds when to start again and Fivetran's reason."""
        if self.status != "RESCHEDULED":
            return success_payload(
                self.connector_id, self.status, finished_at=self.finished_at, sync_id=self.sync_id
            )
        reason = (self.reason or "").strip()[:MAX_RESCHEDULE_REASON_CHARS]
        return success_payload(
            self.connector_id,
            self.status,
            finished_at=self.finished_at,
            sync_id=self.sync_id,
            rescheduled_for=self.rescheduled_for or self.finished_at,
            **({"reason": reason} if reason else {}),
        )

    @property
    def failure_error(self) -> str:
        """The error ``SendTaskFailure`` carries: ``Fivetran.ConnectionPaused`` for a paused connection."""
        return CONNECTION_PAUSED_ERROR if self.status == "PAUSED" else SYNC_FAILED_ERROR

    def failure_cause(self) -> str:
        reason = (self.reason or "no reason given").strip()
        cause = (
            f"Fivetran sync of connection {self.connector_id} ended with status {self.status}"
            f" (sync {self.sync_id or 'unknown'}, reported by {self.source}): {reason}"
        )
        return cause[:MAX_CAUSE_CHARS]


def sync_id_of_cause(cause: str | None) -> str | None:
    """The sync id a ``SyncOutcome.failure_cause`` names, or None (another cause, or ``sync unknown``).

    The state machine records a failed connection from its ``SendTaskFailure`` (error and cause only),
    so the run's outcome gets the failed sync's id back from the cause this module wrote."""
    found = _CAUSE_SYNC.search(cause or "")
    if found is None or found["sync_id"] == "unknown":
        return None
    return found["sync_id"]
