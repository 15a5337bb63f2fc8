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

Two syncs that both start within one acceptance second cannot be told apart (the first must
then have ended within that second). ``start_sync`` makes sure no two of *our* triggers of one
connection are accepted in one second (``chalicelib/tokens/trigger_spacing.py``), so the rule's
one limit is a sync started by someone else (Fivetran's schedule, the dashboard) that starts and
ends inside our trigger's acceptance second, before our trigger, whether or not its webhooks
arrive (it must be shorter than a second).

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.fivetran.syncs import SyncRecord

__all__ = ["ACCEPTANCE_PRECISION", "Anchor", "Binding", "Decision", "SyncRecord", "bind", "merge"]

# The HTTP Date header has whole seconds: Fivetran accepted the trigger within [at, at + 1 s).
ACCEPTANCE_PRECISION = timedelta(seconds=1)


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

    The rules of the module's table are tried in order (``_RULES``, one per row); the first that
    names a sync decides, and none naming one means ``WAITING``.

    A ``BOUND`` sync that has not ended, while (``complete`` only) a later sync of the connection
    has started, comes back with ``superseded_by`` (``Binding.dropped``): syncs of one connection
    never overlap, so the token's sync is over and will never get an end. Webhooks alone never
    decide this: the token's ``sync_end`` may simply not have arrived yet.
    """
    merged = list(merge(syncs).values())
    candidates = [s for s in merged if s.sync_id not in anchor.exclude]
    binding = next(
        (found for rule in _RULES if (found := rule(anchor, candidates, complete)) is not None),
        Binding(Decision.WAITING),
    )
    if complete and binding.decision is Decision.BOUND:
        return _with_successor(binding, merged)
    return binding


def _spanning(anchor: Anchor, candidates: list[SyncRecord], complete: bool) -> Binding | None:
    """Row 1: a sync started before the acceptance second and not ended before its end."""
    spanning = [
        s
        for s in candidates
        if s.started_at is not None
        and s.started_at < anchor.at
        and (s.ended_at is None or s.ended_at >= anchor.until)
    ]
    return Binding(Decision.BOUND, max(spanning, key=_start)) if spanning else None


def _joined_running(anchor: Anchor, candidates: list[SyncRecord], complete: bool) -> Binding | None:
    """Row 2 (409, joined): the latest sync that started before the end of the acceptance second
    and ran into it."""
    if not anchor.joined:
        return None
    running = [
        s
        for s in candidates
        if s.started_at is not None
        and s.started_at < anchor.until
        and (s.ended_at is None or s.ended_at >= anchor.at)
    ]
    if not running:
        return None
    latest = max(running, key=_start)
    # One that ended inside the acceptance second may have ended before the trigger:
    # only the complete history shows whether another started after it.
    ambiguous = latest.ended_at is not None and latest.ended_at < anchor.until and not complete
    return Binding(Decision.UNSURE if ambiguous else Decision.BOUND, latest)


def _started_in_window(anchor: Anchor, candidates: list[SyncRecord], complete: bool) -> Binding | None:
    """Row 3 (200, a sync started): the first sync that starts within the acceptance second."""
    if anchor.joined or anchor.until <= anchor.at:
        return None
    in_window = [
        s for s in candidates if s.started_at is not None and anchor.at <= s.started_at < anchor.until
    ]
    return Binding(Decision.BOUND, min(in_window, key=_start)) if in_window else None


def _unplaced_end_in_window(anchor: Anchor, candidates: list[SyncRecord], complete: bool) -> Binding | None:
    """Rows 2 and 3, start unknown: an end inside the acceptance second of a sync whose start is unknown
    (an account that sends ``sync_end`` only, or a lost ``sync_start``) may be the sync the trigger
    joined or started; only the history (which has its start) can tell, so it is ``UNSURE``."""
    if complete or not (anchor.joined or anchor.until > anchor.at):
        return None
    unplaced = [
        s
        for s in candidates
        if s.started_at is None and s.ended_at is not None and anchor.at <= s.ended_at < anchor.until
    ]
    return (
        Binding(Decision.UNSURE, min(unplaced, key=lambda s: s.ended_at or anchor.at)) if unplaced else None
    )


def _first_later(anchor: Anchor, candidates: list[SyncRecord], complete: bool) -> Binding | None:
    """Rows 3 and 4 (a later start, or the resume after ``RESCHEDULED``): the first sync that starts at or
    after the window; only the complete history proves that no other started in between."""
    later = [
        s
        for s in candidates
        if (s.started_at is not None and s.started_at >= anchor.at)
        or (s.started_at is None and s.ended_at is not None and s.ended_at >= anchor.until)
    ]
    if not later:
        return None
    first = min(later, key=lambda s: s.started_at or s.ended_at or anchor.at)
    return Binding(Decision.BOUND if complete else Decision.UNSURE, first)


_Rule = Callable[[Anchor, list[SyncRecord], bool], Binding | None]

# The table's rows, in the order they are tried.
_RULES: tuple[_Rule, ...] = (
    _spanning,
    _joined_running,
    _started_in_window,
    _unplaced_end_in_window,
    _first_later,
)


def _with_successor(binding: Binding, merged: list[SyncRecord]) -> Binding:
    """A bound sync that has not ended, while a later sync has started: Fivetran dropped it."""
    sync = binding.sync
    if sync is None or sync.ended or sync.started_at is None:
        return binding
    started = sync.started_at
    later = [
        s for s in merged if s.sync_id != sync.sync_id and s.started_at is not None and s.started_at > started
    ]
    return replace(binding, superseded_by=min(later, key=_start)) if later else binding


def _start(record: SyncRecord) -> datetime:
    assert record.started_at is not None
    return record.started_at
