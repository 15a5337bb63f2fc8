"""The safety net: heartbeats for every parked token, and the exact sync read from Fivetran.

Each pass (``reconcile_syncs``, every minute; one pass at a time through a lease in the token table
that lapses before the pass's Lambda times out, ``lease_seconds_for``; a pass with no parked token
returns after one scan of the table):

1. **Heartbeats never depend on Fivetran's API.** Every parked token gets
   ``SendTaskHeartbeat``, whatever Fivetran answers: ``HeartbeatSeconds`` fires only
   when the safety net itself has stopped. A token Step Functions no longer knows is
   deleted.
2. **Each waiting group is read once; only changed connections further.** Armed tokens parked longer
   than ``older_than_seconds`` (60 s on AWS) are grouped by connection; each of their groups is listed
   once (``GET /v1/groups/{id}/connections``, ``chalicelib/safety_net/group_screen.py``), and only the
   connections it shows may have changed since their tokens were armed (a sync ended, paused, broken,
   gone, rescheduled, or no read for an hour) are read further, least recently checked first, at most
   ``max_connections`` per pass, with bounded concurrency and a per-request timeout:
   ``GET /v1/connections/{id}/sync-history`` (and ``GET /v1/connections/{id}`` for a connection not in
   its group's listing or parked without a group).
3. **The exact sync decides.** The sync history is complete, so the identity rule
   (``chalicelib/tokens/identity.py``) names each token's sync for certain and a token completes
   only from that sync's end; a later scheduled sync is never credited to a run.
4. **A dropped sync fails at once**, in the same pass, as ``DROPPED`` (``NOT_FOUND`` for a deleted
   connection): a token whose sync the history still shows running while a later sync of the
   connection has started (paused and resumed, or moved: Fivetran drops the running sync without a
   ``sync_end`` and a new one follows; syncs of one connection never overlap), or whose sync has not
   ended while the connection is paused, its setup broken, deleted, or found in another group than
   the run's (moved).

A Fivetran error (outage, 429, timeout) only skips that connection's read (or that group's, for a
listing) this pass. These reads are not taken from the triggers' API budget
(``chalicelib/tokens/api_budget.py``): they live in the account quota's other share. A refused
API key (401, persisting after the client read the credentials again) that refuses every read of
the passes for ``auth_failure_seconds`` (``FIVETRAN_AUTH_FAILURE_SECONDS``, 15 minutes) ends every
waiting token with ``AUTH_FAILED`` and a cause that says the key was refused and which secret to
rotate, instead of letting them time out after ``sync_timeout_seconds``; one pass with a read that
Fivetran answered resets the clock (a ``fivetran-auth`` mark in the token table).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from threading import Lock
from typing import Protocol

from chalicelib.fivetran.client import Connection
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.errors import (
    CallbackError,
    FivetranAuthError,
    FivetranError,
    FivetranNotFound,
    TokenStoreError,
)
from chalicelib.platform.log import logger
from chalicelib.safety_net.dropped import Drop, dropped_reason
from chalicelib.safety_net.group_screen import ToRead, refused, screen
from chalicelib.tokens.callbacks import CallbackResult
from chalicelib.tokens.outcomes import SyncOutcome
from chalicelib.tokens.records import TokenRecord
from chalicelib.tokens.resolver import HISTORY_WINDOW, Resolution, Resolver
from chalicelib.tokens.store import TokenStore

__all__ = [
    "LEASE_MARGIN_SECONDS",
    "LEASE_NAME",
    "MAX_LEASE_SECONDS",
    "Drop",
    "ReconcileReport",
    "dropped_reason",
    "lease_seconds_for",
    "reconcile",
]

TIME_RESERVE_MS = 5_000
LEASE_NAME = "reconcile"
AUTH_MARK = "fivetran-auth"
AUTH_FAILED = "AUTH_FAILED"
# The lease ends this long before the invocation's own deadline, so a pass killed at its Lambda
# timeout has already let go and the next scheduled pass runs (never skipped: issue 20).
LEASE_MARGIN_SECONDS = 5.0
# Outside Lambda (no deadline): shorter than the 1-minute schedule, for the same reason.
MAX_LEASE_SECONDS = 50.0
# A sync's end in the group listing and in the sync history may differ by their precision.
SAME_END = timedelta(seconds=1)
# Fivetran's clock may run ahead of ours: ask the history a little into our future.
CLOCK_SLACK = timedelta(hours=1)


class ConnectionReader(Protocol):
    def within(self, seconds: float | None) -> ConnectionReader: ...

    def list_group_connections(self, group_id: str, *, timeout: float | None = None) -> list[Connection]: ...

    def get_connection(self, connection_id: str, *, timeout: float | None = None) -> Connection: ...

    def sync_history(
        self, connection_id: str, start: datetime, end: datetime, *, timeout: float | None = None
    ) -> list[SyncRecord]: ...


@dataclass
class ReconcileReport:
    examined: int = 0
    groups_listed: int = 0
    unchanged: int = 0
    connections_checked: int = 0
    heartbeats: int = 0
    dropped: int = 0
    resolution: Resolution = field(default_factory=Resolution)
    api_errors: int = 0
    auth_errors: int = 0
    stopped_early: str | None = None
    _lock: Lock = field(default_factory=Lock, repr=False)
    _auth_error: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, object]:
        """The pass's counts and ``stopped_early``, then its resolution's counts (one flat dict)."""
        own = {
            f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith(("resolution", "_"))
        }
        return {**own, **self.resolution.to_dict()}


def lease_seconds_for(remaining_ms: int) -> float:
    """How long a pass holds the lease: until ``LEASE_MARGIN_SECONDS`` before the invocation's deadline
    (``remaining_ms``, Lambda's ``get_remaining_time_in_millis()`` at the start of the pass), at most
    ``MAX_LEASE_SECONDS``, at least 1 s. A pass killed at its timeout therefore never holds the lease
    into the next scheduled pass, and the worst heartbeat gap stays the schedule's interval plus the
    function's timeout (``HeartbeatSeconds`` in infra/template.yaml has that as its floor)."""
    return max(1.0, min(MAX_LEASE_SECONDS, remaining_ms / 1000 - LEASE_MARGIN_SECONDS))


def reconcile(
    store: TokenStore,
    fivetran: ConnectionReader,
    resolver: Resolver,
    *,
    now: datetime,
    older_than_seconds: int,
    max_connections: int,
    remaining_ms: Callable[[], int] = lambda: 10**9,
    read_timeout: float = 10.0,
    workers: int = 8,
    lease_seconds: float | None = None,
    auth_failure_seconds: float = 900.0,
) -> ReconcileReport:
    """One pass. ``lease_seconds`` None: ``lease_seconds_for(remaining_ms())``."""
    report = ReconcileReport()
    holder = uuid.uuid4().hex
    if lease_seconds is None:
        lease_seconds = lease_seconds_for(remaining_ms())
    if not store.lease.acquire(LEASE_NAME, holder, time.time(), lease_seconds):
        report.stopped_early = "another pass holds the lease"
        logger.info("reconcile skipped: another pass is running", extra=report.to_dict())
        return report
    try:
        tokens = list(store.all_parked())
        report.examined = len(tokens)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda record: _heartbeat(record, resolver, report), tokens))
            due = _due_connections(tokens, now - timedelta(seconds=older_than_seconds))
            screened = pool.submit(_screen, due, fivetran, now, read_timeout, remaining_ms, report)
            to_read = screened.result()[:max_connections]
            work = [
                pool.submit(_check, read, store, fivetran, resolver, now, read_timeout, remaining_ms, report)
                for read in to_read
            ]
            for future in work:
                future.result()
        _refused_key(tokens, store, resolver, now, auth_failure_seconds, report)
    finally:
        store.lease.release(LEASE_NAME, holder)
    logger.info("reconcile finished", extra=report.to_dict())
    return report


def _due_connections(tokens: Iterable[TokenRecord], cutoff: datetime) -> list[tuple[str, list[TokenRecord]]]:
    """Connections with armed tokens parked before ``cutoff``, least recently checked first."""
    by_connection: dict[str, list[TokenRecord]] = defaultdict(list)
    for record in tokens:
        if record.anchor is not None and record.requested_at < cutoff:
            by_connection[record.connector_id].append(record)
    return sorted(by_connection.items(), key=lambda kv: min(r.checked_at or 0.0 for r in kv[1]))


def _within_the_pass(fivetran: ConnectionReader, remaining_ms: Callable[[], int]) -> ConnectionReader:
    """The client a worker reads with: its reads (retries and backoff too) end before the pass must."""
    return fivetran.within((remaining_ms() - TIME_RESERVE_MS) / 1000)


def _screen(
    due: list[tuple[str, list[TokenRecord]]],
    fivetran: ConnectionReader,
    now: datetime,
    read_timeout: float,
    remaining_ms: Callable[[], int],
    report: ReconcileReport,
) -> list[ToRead]:
    """The due connections to read this pass (their groups listed once each); listing errors count as
    read errors (a refused key too)."""
    if not due:
        return []
    fivetran = _within_the_pass(fivetran, remaining_ms)
    found = screen(
        due, fivetran, now=now, read_timeout=read_timeout, time_left=lambda: remaining_ms() >= TIME_RESERVE_MS
    )
    if found.out_of_time:
        report.stopped_early = "lambda time"
    auth = refused(found.errors)
    with report._lock:
        report.groups_listed += found.groups_listed
        report.unchanged += found.unchanged
        report.api_errors += len(found.errors)
        if auth is not None:
            report.auth_errors += sum(1 for e in found.errors if isinstance(e, FivetranAuthError))
            report._auth_error = str(auth)
    return found.to_read


def _heartbeat(record: TokenRecord, resolver: Resolver, report: ReconcileReport) -> None:
    try:
        sent = resolver.heartbeat(record)
    except (CallbackError, TokenStoreError) as exc:
        with report._lock:
            report.resolution.errors.append(str(exc))
        logger.warning(
            "heartbeat failed",
            extra={"connector_id": record.connector_id, "token_ref": record.ref, "error": str(exc)},
        )
        return
    with report._lock:
        if sent is CallbackResult.SENT:
            report.heartbeats += 1
        else:  # Step Functions no longer knows the task: already resolved, and now deleted
            report.resolution.already_resolved += 1


def _check(
    read: ToRead,
    store: TokenStore,
    fivetran: ConnectionReader,
    resolver: Resolver,
    now: datetime,
    read_timeout: float,
    remaining_ms: Callable[[], int],
    report: ReconcileReport,
) -> None:
    if remaining_ms() < TIME_RESERVE_MS:
        with report._lock:
            report.stopped_early = "lambda time"
        return
    connector_id, parked = read.connector_id, read.parked
    ctx = {"connector_id": connector_id, "tokens": len(parked), "why": read.why}
    fivetran = _within_the_pass(fivetran, remaining_ms)
    try:
        conn: Connection | None = read.listed
        if conn is None:
            try:
                conn = fivetran.get_connection(connector_id, timeout=read_timeout)
            except FivetranNotFound:
                conn = None
        history: list[SyncRecord] = []
        if conn is not None:
            start = min(r.anchor.at for r in parked if r.anchor is not None) - timedelta(seconds=1)
            end = now + CLOCK_SLACK
            history = fivetran.sync_history(
                connector_id, max(start, end - HISTORY_WINDOW), end, timeout=read_timeout
            )
    except FivetranError as exc:
        with report._lock:
            report.api_errors += 1
            if isinstance(exc, FivetranAuthError):
                report.auth_errors += 1
                report._auth_error = str(exc)
        logger.warning("reconcile could not read Fivetran", extra={**ctx, "error": str(exc)[:300]})
        _mark_checked(store, parked)
        return
    try:
        resolution = resolver.settle(connector_id, history=history, source="reconcile")
        due = {r.token_id for r in parked}
        for record, binding in resolution.pending:
            drop = dropped_reason(conn, record, binding) if record.token_id in due else None
            if drop is not None:
                _fail_dropped(record, now, binding.sync, drop, resolver, resolution, report)
    except (CallbackError, TokenStoreError) as exc:
        resolution = Resolution(errors=[str(exc)])
        logger.warning("reconcile could not act on a connection", extra={**ctx, "error": str(exc)})
    _mark_checked(store, parked, _seen_end(conn, history))
    with report._lock:
        report.connections_checked += 1
        report.resolution.add(resolution)


def _fail_dropped(
    record: TokenRecord,
    now: datetime,
    sync: SyncRecord | None,
    drop: Drop,
    resolver: Resolver,
    resolution: Resolution,
    report: ReconcileReport,
) -> None:
    outcome = SyncOutcome(
        record.connector_id,
        drop.status,
        now,
        sync_id=sync.sync_id if sync else None,
        reason=drop.reason,
        source="reconcile",
    )
    logger.warning(
        "a dropped sync fails its token",
        extra={"connector_id": record.connector_id, "token_ref": record.ref, "status": drop.status},
    )
    resolution.newer_than_event -= 1
    resolver.resolve_token(record, outcome, resolution)
    with report._lock:
        report.dropped += 1


def _refused_key(
    tokens: list[TokenRecord],
    store: TokenStore,
    resolver: Resolver,
    now: datetime,
    bound_seconds: float,
    report: ReconcileReport,
) -> None:
    """Track how long Fivetran has refused every read (401); past ``bound_seconds`` the waiting
    tokens end with ``AUTH_FAILED``. A pass that read a connection clears the mark."""
    try:
        if report.connections_checked or report.groups_listed:  # Fivetran answered a read
            store.lease.clear_mark(AUTH_MARK)
            return
        if not report.auth_errors:
            return
        since = store.lease.mark_since(AUTH_MARK, now.timestamp())
        refused_for = now.timestamp() - since
        logger.error(
            "Fivetran refuses the API key on every read",
            extra={"refused_for_s": round(refused_for), "bound_s": bound_seconds},
        )
        if refused_for < bound_seconds:
            return
        reason = (
            f"the safety net could not read Fivetran for {refused_for / 60:.0f} minutes: {report._auth_error}"
        )
        for record in tokens:
            outcome = SyncOutcome(record.connector_id, AUTH_FAILED, now, reason=reason, source="reconcile")
            resolver.resolve_token(record, outcome, report.resolution)
    except (CallbackError, TokenStoreError) as exc:
        report.resolution.errors.append(str(exc))
        logger.warning("could not act on a refused API key", extra={"error": str(exc)})


def _seen_end(conn: Connection | None, history: list[SyncRecord]) -> datetime | None:
    """The connection's latest end the group screen may take as read: only once the sync history shows
    a sync ended by then (Fivetran's listing may show an end before its history does; then the next
    pass reads again)."""
    last = conn.last_completed_at if conn is not None else None
    if last is None:
        return None
    caught_up = any(s.ended_at is not None and s.ended_at >= last - SAME_END for s in history)
    return last if caught_up else None


def _mark_checked(store: TokenStore, parked: list[TokenRecord], seen_end: datetime | None = None) -> None:
    now = time.time()
    for record in parked:
        try:
            store.mark_checked(record, now, seen_end=seen_end)
        except TokenStoreError as exc:
            logger.warning(
                "could not mark a token checked", extra={"token_ref": record.ref, "error": str(exc)}
            )
