"""``POST /webhooks/fivetran``: one delivery, from its raw body to the answer, with the stage it runs in.

``receive`` verifies and settles the delivery (``handler.handle_webhook``) and, when it was accepted,
notes it as the webhook watchdog's proof of life (``chalicelib/safety_net/webhook_watchdog.py``): at
most one DynamoDB write a minute per container (``note_every``), so most answers wait for none.
The webhook answers Fivetran within seconds: its one sync-history read has ``HISTORY_SECONDS``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.tokens.resolver import Resolver
from chalicelib.webhook.handler import WebhookResponse, handle_webhook

__all__ = ["HISTORY_SECONDS", "Delivery", "WebhookStage", "receive"]

# The whole sync-history read of one delivery, retries and backoff included.
HISTORY_SECONDS = 3.0


class SyncHistory(Protocol):
    def sync_history(self, connection_id: str, start: datetime, end: datetime) -> list[SyncRecord]: ...


class DeliveryLog(Protocol):
    def note_delivery(self, now: float, url: str | None) -> None: ...


class WebhookStage(Protocol):
    """What the route needs of its stage (``chalicelib.wiring.Dependencies``)."""

    def webhook_secrets(self) -> Iterable[str]: ...
    def resolver(self) -> Resolver: ...
    def stage_fivetran(
        self, budget_seconds: float | None, request_timeout: float | None = None
    ) -> SyncHistory: ...
    def webhook_watch(self) -> DeliveryLog: ...


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: Mapping[str, str]
    reached_at: str | None = None  # the URL API Gateway was called at (None outside API Gateway)


def receive(delivery: Delivery, stage: WebhookStage) -> WebhookResponse:
    """The answer to one delivery (``handle_webhook``'s statuses and bodies)."""
    fivetran = stage.stage_fivetran(HISTORY_SECONDS, HISTORY_SECONDS)
    result = handle_webhook(
        delivery.body,
        delivery.headers,
        secret=stage.webhook_secrets,
        resolver=stage.resolver,
        history_reader=fivetran.sync_history,
    )
    if result.status < 300:  # a delivery reached us: the webhook watchdog's proof of life
        stage.webhook_watch().note_delivery(time.time(), delivery.reached_at)
    return result
