"""One Fivetran sync of a connection, as a webhook or the sync history reports it.

The record the Fivetran client reads (``client.sync_history``), the webhook parses
(``chalicelib/webhook/events.py``) and the identity rule (``chalicelib/tokens/identity.py``)
matches against a parked token's anchor. Times are Fivetran's clock, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["SyncRecord"]


@dataclass(frozen=True)
class SyncRecord:
    """What is known of one Fivetran sync of a connection (times on Fivetran's clock).

    ``status`` is the end status (``SUCCESSFUL``, ``FAILURE``, ``FAILURE_WITH_TASK``,
    ``RESCHEDULED``, ``CANCELED``) or None while it runs.
    """

    sync_id: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    status: str | None = None
    reason: str | None = None
    rescheduled_for: datetime | None = None
    source: str = "webhook"

    @property
    def ended(self) -> bool:
        return self.ended_at is not None and self.status is not None
