"""Which waiting connections may have changed: one read of each waiting group per safety-net pass.

The safety net (``chalicelib/safety_net/reconcile.py``) reads each group that has waiting tokens once per pass
(``GET /v1/groups/{group_id}/connections``, cursor pages of up to 1,000 connections: Fivetran API
reference, "List All Connections within Group"; ``../shared/reference/fivetran.md`` §2.3-2.4) and reads
the sync history only for the connections the listing shows may have changed since their tokens were
armed. A connection is **read** (its sync history, so the identity rule decides as before) when:

- its latest sync end, ``max(succeeded_at, failed_at)``, is at or after its token's acceptance (or its
  resume point) and later than the end the last read saw (``TokenRecord.seen_end``, recorded once the
  sync history showed that end): a sync has ended since (Fivetran sets these when a sync ends;
  ``rescheduled`` moves neither, fivetran.md §4);
- it is paused, its setup is not ``connected``, or it is not in the listing (deleted or moved): its
  running sync was dropped (``reconcile.dropped_reason`` decides);
- its ``status.sync_state`` is ``rescheduled`` (the sync ended as ``RESCHEDULED``), at most once every
  ``RESCHEDULED_RECHECK_SECONDS`` for a token;
- its tokens have had no sync-history read for ``FULL_CHECK_SECONDS`` (a slow sweep for what the
  listing does not show: a sync dropped by a pause and resume between two passes, or canceled);
- the token has no group (tokens parked before groups were recorded) or its group could not be
  listed as a group (404): the connection is read alone, as before (``GET /v1/connections/{id}``).

Every time compared with Fivetran's is Fivetran's (the trigger's ``Date`` header, the listing's
timestamps); ``checked_at`` (this side's clock) is only compared with this side's clock.

Cost, per pass: one call per 1,000 connections of each waiting group, plus one sync-history read per
connection whose sync ended. At 100 waiting connections of one group and a pass a minute that is
0.6 listing calls per connection-hour, plus one read per sync end. A group that cannot be read (outage,
429, refused key) skips its connections this pass; the error is counted as a read's would be.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chalicelib.fivetran.client import Connection
from chalicelib.platform.errors import FivetranAuthError, FivetranError, FivetranNotFound
from chalicelib.platform.log import logger
from chalicelib.tokens.records import TokenRecord

__all__ = [
    "FULL_CHECK_SECONDS",
    "RESCHEDULED_RECHECK_SECONDS",
    "GroupLister",
    "Screen",
    "ToRead",
    "may_have_changed",
    "screen",
]

# A token's connection is read at least this often even when its group's listing shows no change.
FULL_CHECK_SECONDS = 3_600
# A connection left ``rescheduled`` is read again at most this often for one token.
RESCHEDULED_RECHECK_SECONDS = 300


class GroupLister(Protocol):
    def list_group_connections(self, group_id: str, *, timeout: float | None = None) -> list[Connection]: ...


@dataclass(frozen=True)
class ToRead:
    """A connection whose sync history the pass reads: ``listed`` is the connection as its group's
    listing showed it (None: not listed, or no group: the pass reads it alone) and ``why`` names the
    change (for the log)."""

    connector_id: str
    parked: list[TokenRecord]
    listed: Connection | None
    why: str


@dataclass
class Screen:
    to_read: list[ToRead] = field(default_factory=list)
    unchanged: int = 0
    groups_listed: int = 0
    errors: list[FivetranError] = field(default_factory=list)
    out_of_time: bool = False  # some groups were not listed: the pass had no time left


def _group_of(parked: list[TokenRecord]) -> str | None:
    return next((r.group_id for r in parked if r.group_id), None)


def _last_read(record: TokenRecord) -> float:
    return record.checked_at if record.checked_at is not None else record.requested_at.timestamp()


def may_have_changed(conn: Connection, parked: list[TokenRecord], now: float) -> str | None:
    """Why ``conn`` (as its group's listing shows it) may have changed for one of its ``parked`` tokens,
    None if it cannot have: a read would decide nothing new."""
    if conn.paused:
        return "paused"
    if not conn.is_connected:
        return f"setup {conn.setup_state}"
    ended = conn.last_completed_at
    for record in parked:
        anchor = record.anchor
        if anchor is None:
            continue
        if ended is not None and ended >= anchor.at and (record.seen_end is None or ended > record.seen_end):
            return "a sync ended"
        recently = record.checked_at is not None and now - record.checked_at < RESCHEDULED_RECHECK_SECONDS
        if conn.sync_state == "rescheduled" and record.resume_after is None and not recently:
            return "rescheduled"
        if now - _last_read(record) >= FULL_CHECK_SECONDS:
            return "full check"
    return None


def screen(
    due: list[tuple[str, list[TokenRecord]]],
    lister: GroupLister,
    *,
    now: datetime,
    read_timeout: float,
    time_left: Callable[[], bool] = lambda: True,
) -> Screen:
    """Read each group of the ``due`` connections once, one after another (an account has a few
    destinations), while ``time_left()``; return the connections to read, in ``due``'s order (least
    recently checked first). Groups not listed for lack of time skip their connections this pass."""
    result = Screen()
    by_group: dict[str | None, list[tuple[str, list[TokenRecord]]]] = defaultdict(list)
    for connector_id, parked in due:
        by_group[_group_of(parked)].append((connector_id, parked))
    listed: dict[str, Connection] = {}
    alone: set[str] = set()  # read as before: no group, or a group Fivetran does not know
    skipped: set[str] = set()
    for group_id, members in by_group.items():
        ids = {cid for cid, _ in members}
        if group_id is None:
            alone |= ids
            continue
        if not time_left():
            result.out_of_time = True
            skipped |= ids
            continue
        try:
            connections = lister.list_group_connections(group_id, timeout=read_timeout)
        except FivetranNotFound:
            alone |= ids
            continue
        except FivetranError as exc:
            result.errors.append(exc)
            skipped |= ids
            logger.warning(
                "safety net could not list a waiting group",
                extra={"group_id": group_id, "connections": len(ids), "error": str(exc)[:300]},
            )
            continue
        result.groups_listed += 1
        listed.update((c.id, c) for c in connections if c.id in ids)
    stamp = now.timestamp()
    for connector_id, parked in due:
        if connector_id in skipped:
            continue
        conn = listed.get(connector_id)
        if connector_id in alone:
            result.to_read.append(ToRead(connector_id, parked, None, "read alone"))
        elif conn is None:
            result.to_read.append(ToRead(connector_id, parked, None, "not in its group's listing"))
        elif why := may_have_changed(conn, parked, stamp):
            result.to_read.append(ToRead(connector_id, parked, conn, why))
        else:
            result.unchanged += 1
    return result


def refused(errors: list[FivetranError]) -> FivetranAuthError | None:
    """The first refused-key error among a screen's errors (None: none was refused)."""
    return next((e for e in errors if isinstance(e, FivetranAuthError)), None)
