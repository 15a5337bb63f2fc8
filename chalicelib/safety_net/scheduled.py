"""One scheduled safety-net pass (``reconcile_syncs``, every minute): resolve what no webhook did
(``reconcile``), count it (``record_safety_net_pass``), then let the webhook watchdog judge the
stage's webhook when its check is due (``watch_webhook``).

The stage's settings give the pass its bounds: ``RECONCILE_AFTER_SECONDS`` (a token parked this long is
checked), ``RECONCILE_MAX_TOKENS``, ``FIVETRAN_AUTH_FAILURE_SECONDS``, ``WEBHOOK_WATCHDOG_SECONDS`` and
``FIVETRAN_WEBHOOK_URL``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from chalicelib.fivetran.client import Connection
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.config import Settings
from chalicelib.platform.errors import FivetranApiError
from chalicelib.platform.metrics import record_safety_net_pass
from chalicelib.platform.timeutil import utcnow
from chalicelib.safety_net.reconcile import ConnectionReader, reconcile
from chalicelib.safety_net.webhook_watchdog import WebhookLister, WebhookWatch, watch_webhook
from chalicelib.tokens.resolver import Resolver
from chalicelib.tokens.store import TokenStore

__all__ = ["SafetyNetFivetran", "UnavailableFivetran", "safety_net_pass"]


class UnavailableFivetran:
    """Stands in for the client when it cannot be built (the API secret is unreadable): every
    read fails as an API error, and the pass still sends every heartbeat."""

    def __init__(self, why: str) -> None:
        self._why = why

    def within(self, seconds: float | None) -> UnavailableFivetran:
        return self

    def list_group_connections(self, group_id: str, *, timeout: float | None = None) -> list[Connection]:
        raise FivetranApiError(f"cannot call Fivetran: {self._why}")

    def get_connection(self, connection_id: str, *, timeout: float | None = None) -> Connection:
        raise FivetranApiError(f"cannot call Fivetran: {self._why}")

    def sync_history(
        self, connection_id: str, start: datetime, end: datetime, *, timeout: float | None = None
    ) -> list[SyncRecord]:
        raise FivetranApiError(f"cannot call Fivetran: {self._why}")


class SafetyNetFivetran(ConnectionReader, WebhookLister, Protocol):
    """What a pass reads Fivetran with: the stage's client (``FivetranClient``)."""


def safety_net_pass(
    store: TokenStore,
    fivetran: SafetyNetFivetran | UnavailableFivetran,
    resolver: Resolver,
    watch: WebhookWatch,
    settings: Settings,
    *,
    remaining_ms: Callable[[], int],
) -> dict[str, Any]:
    """One pass; returns ``ReconcileReport.to_dict()``. ``remaining_ms``: the Lambda's milliseconds
    left (read as the pass goes). With ``UnavailableFivetran`` only the heartbeats are sent and the
    watchdog does not check."""
    report = reconcile(
        store,
        fivetran,
        resolver,
        now=utcnow(),
        older_than_seconds=settings.reconcile_after_seconds,
        max_connections=settings.reconcile_max_tokens,
        remaining_ms=remaining_ms,
        auth_failure_seconds=settings.fivetran_auth_failure_seconds,
    )
    summary = report.to_dict()
    record_safety_net_pass(summary)
    watch_webhook(
        watch,
        None if isinstance(fivetran, UnavailableFivetran) else fivetran,
        now=time.time(),
        found_ends=report.resolution.completed,
        url=settings.webhook_url,
        interval_seconds=settings.webhook_watchdog_seconds,
    )
    return summary
