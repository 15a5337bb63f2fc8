"""The token table's items, as Python records (``store`` reads and writes them in DynamoDB).

Key: partition ``connector_id`` (S), sort ``token_id`` (S). Five kinds of item, each with its own
class over the table (``table.TableItems``): parked tokens (``store.TokenStore``), syncs seen
(``syncs_seen.SyncsSeen``), each connection's trigger slot (``trigger_spacing.TriggerSpacing``), the
lease and its marks (``pass_lease.PassLease``) and the API budget (``budget_slots.BudgetSlots``):

- **parked token** (``token_id`` = SHA-256 of the task token): ``task_token``,
  ``execution_id``, ``requested_at`` (ISO 8601 UTC, AWS clock), ``expires_at`` (epoch
  seconds, the table's TTL), ``schedule_type``; once Fivetran accepted the trigger
  ``accepted_at`` (Fivetran's clock, from the answer's ``Date`` header) and ``joined``
  (the trigger joined a running sync); for a resume after ``RESCHEDULED``, ``resume_after``
  and ``exclude_sync_id`` instead; ``checked_at`` (epoch seconds, when the safety net last
  read the connection's sync history for it) and ``seen_end`` (the connection's latest sync end,
  ``max(succeeded_at, failed_at)`` on Fivetran's clock, as the group listing showed it then: a later
  one means the connection changed again); ``group_id``, the group the connection was listed in for the run (a
  connection the safety net finds in another group was moved, which drops its running sync).
- **sync seen** (``token_id`` = ``sync#<sync_id>``): ``sync_id``, ``started_at``,
  ``ended_at`` (Fivetran's clock), ``status``, ``reason``, ``rescheduled_for``,
  ``source``, ``expires_at``: what the webhooks (and the sync history) said of one sync,
  kept so an event that arrives before its token is armed (or while no token is parked)
  is not lost.
- **trigger slot** (``token_id`` = ``trigger#spacing``, in the connection's partition): ``holder``,
  ``until`` (epoch seconds, AWS clock), ``expires_at``: our triggers of one connection are accepted
  in different seconds of Fivetran's clock (``chalicelib/tokens/trigger_spacing.py``).
- **lease** (partition ``__lease__``): ``holder``, ``until``: one safety-net pass at a time; in the
  same partition, a **mark** (``since``, epoch seconds) while a condition holds (``fivetran-auth``:
  every safety-net read refused with 401 since then).
- **API budget** (partition ``__api_budget__``, ``token_id`` = ``triggers``): ``tat``, the
  token bucket's theoretical arrival time (epoch microseconds), shared by the sync triggers of
  every run (``chalicelib/tokens/api_budget.py``). One item per table, never expiring: when it
  is behind the clock the bucket is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.log import token_id
from chalicelib.platform.timeutil import format_timestamp, parse_timestamp
from chalicelib.tokens.identity import Anchor

__all__ = ["SYNC_PREFIX", "TRIGGER_ITEM", "TokenRecord", "sync_from_item", "token_id"]

SYNC_PREFIX = "sync#"
TRIGGER_ITEM = "trigger#spacing"
LEASE_PARTITION = "__lease__"
BUDGET_PARTITION = "__api_budget__"
BUDGET_ITEM = "triggers"
# What the webhook stores of one sync: its whole reason (`show` reads it from outcomes.json).
MAX_REASON_CHARS = 32_000  # Fivetran reasons reach 32,000 characters; an item holds 400 KB


@dataclass(frozen=True)
class TokenRecord:
    connector_id: str
    token_id: str
    task_token: str
    execution_id: str
    requested_at: datetime
    expires_at: int
    schedule_type: str = "auto"
    accepted_at: datetime | None = None
    joined: bool = False
    resume_after: datetime | None = None
    exclude_sync_id: str | None = None
    checked_at: float | None = None
    group_id: str | None = None
    seen_end: datetime | None = None

    @property
    def ref(self) -> str:
        return self.token_id[:12]

    @property
    def anchor(self) -> Anchor | None:
        """Where this token's sync is looked for; None until the trigger was accepted."""
        if self.accepted_at is not None:
            return Anchor(self.accepted_at, joined=self.joined)
        if self.resume_after is not None:
            exclude = frozenset({self.exclude_sync_id} if self.exclude_sync_id else ())
            return Anchor(self.resume_after, precision=timedelta(0), exclude=exclude)
        return None

    def to_item(self) -> dict[str, dict[str, str]]:
        item = {
            "connector_id": {"S": self.connector_id},
            "token_id": {"S": self.token_id},
            "task_token": {"S": self.task_token},
            "execution_id": {"S": self.execution_id},
            "requested_at": {"S": format_timestamp(self.requested_at)},
            "expires_at": {"N": str(self.expires_at)},
            "schedule_type": {"S": self.schedule_type},
        }
        if self.resume_after is not None:
            item["resume_after"] = {"S": format_timestamp(self.resume_after)}
        if self.exclude_sync_id:
            item["exclude_sync_id"] = {"S": self.exclude_sync_id}
        if self.group_id:
            item["group_id"] = {"S": self.group_id}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TokenRecord:
        requested = parse_timestamp(item["requested_at"]["S"])
        assert requested is not None
        return cls(
            connector_id=item["connector_id"]["S"],
            token_id=item["token_id"]["S"],
            task_token=item["task_token"]["S"],
            execution_id=item.get("execution_id", {}).get("S", ""),
            requested_at=requested,
            expires_at=int(item.get("expires_at", {}).get("N", "0")),
            schedule_type=item.get("schedule_type", {}).get("S", "auto"),
            accepted_at=_time(item, "accepted_at"),
            joined=item.get("joined", {}).get("BOOL", False),
            resume_after=_time(item, "resume_after"),
            exclude_sync_id=item.get("exclude_sync_id", {}).get("S"),
            checked_at=float(item["checked_at"]["N"]) if "checked_at" in item else None,
            group_id=item.get("group_id", {}).get("S"),
            seen_end=_time(item, "seen_end"),
        )


def _time(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name, {}).get("S")
    return parse_timestamp(value) if value else None


def sync_from_item(item: dict[str, Any]) -> SyncRecord:
    return SyncRecord(
        sync_id=item["sync_id"]["S"],
        started_at=_time(item, "started_at"),
        ended_at=_time(item, "ended_at"),
        status=item.get("status", {}).get("S"),
        reason=item.get("reason", {}).get("S"),
        rescheduled_for=_time(item, "rescheduled_for"),
        source=item.get("source", {}).get("S", "webhook"),
    )
