"""Sync identity: which Fivetran sync a parked task token waits for.

Fivetran gives no sync id when a sync is triggered (``POST /v1/connections/{id}/sync``
answers only a message). It gives one in every ``sync_start``/``sync_end`` webhook and
in the connection's sync history. So each token carries an **anchor**, the moment
Fivetran accepted its trigger *on Fivetran's own clock* (the HTTP ``Date`` header of the
trigger's answer, whole seconds), and whether the trigger **joined** a running sync
(HTTP 409, "a sync already in progress", with ``force: false``). The token's sync is:

=========================================  ===============================================
what Fivetran shows                        the token's sync
=========================================  ===============================================
a sync started before the acceptance       that sync (``force: false`` joins it)
second and not ended before its end
trigger answered 409 (joined)              the latest sync that started before the end of
                                           the acceptance second
trigger answered 200 (a sync started)      the first sync that starts at or after the
                                           start of the acceptance second
resumed after ``RESCHEDULED`` (auto        the first sync, other than the rescheduled one,
schedule: Fivetran resumes by itself)      that starts at or after the rescheduled sync's end
=========================================  ===============================================

Every time compared here is Fivetran's (``Date`` header, webhook ``created``, sync-history
``start_time``/``end_time``): the AWS clock is never compared with Fivetran's, so clock
differences between them cannot change the answer. Syncs of one connection do not
overlap (``force: false`` never starts a second one).

What the webhooks alone can prove: a sync that spans the acceptance second, or one that
starts within it. A sync that starts later is the token's only if no other sync started
in between; a webhook cannot prove that (deliveries are retried, reordered, lost), so
such a decision is **unsure** until the sync history (complete, authoritative) confirms
it. Decisions made from the sync history are never unsure.

The rule is a pure function (``bind``) so the webhook, ``start_sync`` and the safety net
decide alike; ``tests/unit/test_identity.py`` checks it over random interleavings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

__all__ = ["ACCEPTANCE_PRECISION", "Anchor", "Binding", "Decision", "SyncRecord", "bind", "merge"]

# The HTTP Date header has whole seconds: Fivetran accepted the trigger within [at, at + 1 s).
ACCEPTANCE_PRECISION = timedelta(seconds=1)


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


@dataclass(frozen=True)
class Anchor:
    """Where a token's sync is looked for.

    ``at``: start of the acceptance window (Fivetran's clock). ``precision``: its width
    (1 s for a ``Date`` header, 0 for a resume after a known end). ``exclude``: sync ids
    that are never the token's (the rescheduled sync a resume follows).
    """

    at: datetime
    joined: bool = False
    precision: timedelta = ACCEPTANCE_PRECISION
    exclude: frozenset[str] = field(default_factory=frozenset)

    @property
    def until(self) -> datetime:
        return self.at + self.precision


class Decision(enum.Enum):
    BOUND = "bound"  # the token's sync is known (it may still be running)
    UNSURE = "unsure"  # a candidate exists, but only the sync history can confirm it
    WAITING = "waiting"  # no sync seen yet that could be the token's


@dataclass(frozen=True)
class Binding:
    """The token's sync, and ``superseded_by``: a later sync of the connection that had started while
    the complete history still shows the token's sync running (so Fivetran dropped it: syncs of one
    connection never overlap, and a paused/resumed or moved connection's sync gets no end)."""

    decision: Decision
    sync: SyncRecord | None = None
    superseded_by: SyncRecord | None = None

    @property
    def dropped(self) -> bool:
        """The token's sync will never end: a later sync started while it showed no end."""
        return self.superseded_by is not None and self.sync is not None and not self.sync.ended


def merge(records: Iterable[SyncRecord]) -> dict[str, SyncRecord]:
    """Fold several partial records of one sync (a ``sync_start``, a ``sync_end``, a history
    row) into one per sync id. The first known value of each field wins: a duplicate or
    replayed ``sync_end`` with another status never changes an end already recorded."""
    merged: dict[str, SyncRecord] = {}
    for record in records:
        known = merged.get(record.sync_id)
        if known is None:
            merged[record.sync_id] = record
            continue
        merged[record.sync_id] = replace(
            known,
            started_at=known.started_at or record.started_at,
            ended_at=known.ended_at or record.ended_at,
            status=known.status or record.status,
            reason=known.reason if known.status else record.reason,
            rescheduled_for=known.rescheduled_for or record.rescheduled_for,
        )
    return merged


def bind(anchor: Anchor, syncs: Iterable[SyncRecord], *, complete: bool) -> Binding:
    """Apply the identity rule to what is known of the connection's syncs.

    Args:
        anchor: the token's acceptance window.
        syncs: records of the connection's syncs (any order, duplicates allowed).
        complete: True when ``syncs`` is the sync history over the whole window from
            ``anchor.at`` on (then the answer is never ``UNSURE``).

    A ``BOUND`` sync that has not ended, while (``complete`` only) a later sync of the connection
    has started, comes back with ``superseded_by`` (``Binding.dropped``): syncs of one connection
    never overlap, so the token's sync is over and will never get an end. Webhooks alone never
    decide this: the token's ``sync_end`` may simply not have arrived yet.
    """
    merged = merge(syncs)
    binding = _bind(anchor, list(merged.values()), complete=complete)
    sync = binding.sync
    if not complete or binding.decision is not Decision.BOUND or sync is None or sync.ended:
        return binding
    started = sync.started_at
    later = [
        s
        for s in merged.values()
        if started is not None
        and s.sync_id != sync.sync_id
        and s.started_at is not None
        and s.started_at > started
    ]
    if not later:
        return binding
    return replace(binding, superseded_by=min(later, key=_start))


def _bind(anchor: Anchor, merged: list[SyncRecord], *, complete: bool) -> Binding:
    candidates = [s for s in merged if s.sync_id not in anchor.exclude]
    lo, hi = anchor.at, anchor.until

    spanning = [
        s
        for s in candidates
        if s.started_at is not None and s.started_at < lo and (s.ended_at is None or s.ended_at >= hi)
    ]
    if spanning:
        return Binding(Decision.BOUND, max(spanning, key=_start))

    if anchor.joined:
        running = [
            s
            for s in candidates
            if s.started_at is not None and s.started_at < hi and (s.ended_at is None or s.ended_at >= lo)
        ]
        if running:
            latest = max(running, key=_start)
            # One that ended inside the acceptance second may have ended before the trigger:
            # only the complete history shows whether another started after it.
            ambiguous = latest.ended_at is not None and latest.ended_at < hi and not complete
            return Binding(Decision.UNSURE if ambiguous else Decision.BOUND, latest)
        # An end inside the acceptance second of a sync whose start is unknown (an account that sends
        # sync_end only): it may be the sync the trigger joined; only the history can tell.
        unplaced = [
            s for s in candidates if s.started_at is None and s.ended_at is not None and lo <= s.ended_at < hi
        ]
        if unplaced and not complete:
            return Binding(Decision.UNSURE, min(unplaced, key=lambda s: s.ended_at or lo))
    elif hi > lo:
        in_window = [s for s in candidates if s.started_at is not None and lo <= s.started_at < hi]
        if in_window:
            return Binding(Decision.BOUND, min(in_window, key=_start))
        # An end inside the acceptance second of a sync whose start is unknown (no sync_start):
        # it may be a short sync the trigger started; the history has its start.
        unplaced = [
            s for s in candidates if s.started_at is None and s.ended_at is not None and lo <= s.ended_at < hi
        ]
        if unplaced and not complete:
            return Binding(Decision.UNSURE, min(unplaced, key=lambda s: s.ended_at or lo))

    later = [
        s
        for s in candidates
        if (s.started_at is not None and s.started_at >= lo)
        or (s.started_at is None and s.ended_at is not None and s.ended_at >= hi)
    ]
    if not later:
        return Binding(Decision.WAITING)
    first = min(later, key=lambda s: s.started_at or s.ended_at or lo)
    return Binding(Decision.BOUND if complete else Decision.UNSURE, first)


def _start(record: SyncRecord) -> datetime:
    assert record.started_at is not None
    return record.started_at
