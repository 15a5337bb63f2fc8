"""The safety net: resolve syncs whose webhook never came (or was refused).

For tokens parked longer than a threshold it asks Fivetran for the connection, once per
connection per invocation:

- the latest sync ended after the token was parked → complete it as the webhook would
  (success iff ``succeeded_at >= failed_at``)
- ``sync_state == rescheduled`` → complete with ``RESCHEDULED`` and ``rescheduled_for``
- paused while we waited, or the connection is gone → failure with that reason
- still running → ``SendTaskHeartbeat`` (keeps ``HeartbeatSeconds`` from firing)

Work is bounded: at most ``max_tokens`` tokens, and it stops early when the Lambda is
about to run out of time or Fivetran rate-limits it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.callbacks import CallbackError, CallbackResult
from chalicelib.errors import FivetranError, FivetranNotFound, FivetranRateLimited, TokenStoreError
from chalicelib.events import DEFAULT_RESCHEDULE_DELAY
from chalicelib.fivetran import Connection
from chalicelib.log import logger
from chalicelib.outcomes import SyncOutcome
from chalicelib.resolver import Resolution, Resolver
from chalicelib.token_store import TokenRecord, TokenStore

__all__ = ["ReconcileReport", "reconcile"]

TIME_RESERVE_MS = 5_000


class ConnectionReader(Protocol):
    def get_connection(self, connection_id: str) -> Connection: ...


@dataclass
class ReconcileReport:
    examined: int = 0
    connections_checked: int = 0
    heartbeats: int = 0
    resolution: Resolution = field(default_factory=Resolution)
    api_errors: int = 0
    stopped_early: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "examined": self.examined,
            "connections_checked": self.connections_checked,
            "heartbeats": self.heartbeats,
            "api_errors": self.api_errors,
            "stopped_early": self.stopped_early,
            **self.resolution.to_dict(),
        }


def outcome_from_connection(conn: Connection, record: TokenRecord, now: datetime) -> SyncOutcome | None:
    """What the API says about the sync behind ``record``; None while it is still running."""
    ended = conn.last_completed_at
    if ended is not None and ended > record.requested_at:
        if conn.last_sync_succeeded:
            return SyncOutcome(conn.id, "SUCCESSFUL", ended, source="reconcile")
        return SyncOutcome(
            conn.id,
            "FAILURE",
            ended,
            reason=f"Fivetran reports the sync failed at {ended.isoformat()}; see the connection's logs",
            source="reconcile",
        )
    if conn.sync_state == "rescheduled":
        return SyncOutcome(
            conn.id,
            "RESCHEDULED",
            now,
            rescheduled_for=conn.rescheduled_for or now + DEFAULT_RESCHEDULE_DELAY,
            reason="rescheduled by Fivetran (source quota); found by reconcile",
            source="reconcile",
        )
    if conn.paused:
        return SyncOutcome(
            conn.id,
            "PAUSED",
            now,
            reason="the connection was paused while the run waited",
            source="reconcile",
        )
    return None


def reconcile(
    store: TokenStore,
    fivetran: ConnectionReader,
    resolver: Resolver,
    *,
    now: datetime,
    older_than_seconds: int,
    max_tokens: int,
    remaining_ms: Callable[[], int] = lambda: 10**9,
) -> ReconcileReport:
    report = ReconcileReport()
    records = store.parked_before(now - timedelta(seconds=older_than_seconds), max_tokens)
    report.examined = len(records)
    by_connection: dict[str, list[TokenRecord]] = defaultdict(list)
    for record in records:
        by_connection[record.connector_id].append(record)
    for connector_id, parked in by_connection.items():
        if remaining_ms() < TIME_RESERVE_MS:
            report.stopped_early = "lambda time"
            break
        try:
            conn = fivetran.get_connection(connector_id)
        except FivetranNotFound:
            gone = SyncOutcome(
                connector_id, "NOT_FOUND", now, reason="the connection no longer exists", source="reconcile"
            )
            for record in parked:
                _resolve(record, gone, resolver, report)
            continue
        except FivetranRateLimited:
            report.stopped_early = "fivetran rate limit"
            break
        except FivetranError as exc:
            report.api_errors += 1
            logger.warning(
                "reconcile could not read connection", extra={"connector_id": connector_id, "error": str(exc)}
            )
            continue
        report.connections_checked += 1
        for record in parked:
            _reconcile_token(record, conn, resolver, now, report)
    logger.info("reconcile finished", extra=report.to_dict())
    return report


def _reconcile_token(
    record: TokenRecord, conn: Connection, resolver: Resolver, now: datetime, report: ReconcileReport
) -> None:
    outcome = outcome_from_connection(conn, record, now)
    if outcome is not None:
        _resolve(record, outcome, resolver, report)
        return
    try:
        if resolver.heartbeat(record) is CallbackResult.SENT:
            report.heartbeats += 1
    except (CallbackError, TokenStoreError) as exc:
        report.resolution.errors.append(str(exc))
        logger.warning(
            "reconcile could not act on a token",
            extra={"connector_id": record.connector_id, "token_ref": record.ref, "error": str(exc)},
        )


def _resolve(record: TokenRecord, outcome: SyncOutcome, resolver: Resolver, report: ReconcileReport) -> None:
    """One token's outcome; a store or callback failure is recorded, and the other tokens go on."""
    try:
        resolver.resolve_token(record, outcome, report.resolution)
    except (CallbackError, TokenStoreError) as exc:
        report.resolution.errors.append(str(exc))
        logger.warning(
            "reconcile could not resolve a token",
            extra={"connector_id": record.connector_id, "token_ref": record.ref, "error": str(exc)},
        )
