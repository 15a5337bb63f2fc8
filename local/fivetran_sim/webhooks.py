"""The simulator's webhook sender: each sync's signed ``sync_start``/``sync_end`` and a connection's
``pause_connector``/``delete_connector``/``connection_failure`` (only the events the account's webhook
sends), the scenario's webhook faults for triggered syncs (dropped, duplicated,
delayed, wrongly signed, failing first), and redelivery of a failed one on Fivetran's (compressed)
schedule. ``WebhookLog`` counts every delivery attempt by HTTP status, for the run report."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local.fivetran_sim.records import ConnectionState, Sync
from local.fivetran_sim.scheduler import Scheduler

# Fivetran redelivers a failed webhook after the previous wait + 5 min, for up to 24 h; here one
# minute is 0.1 s, so the retries come 0.5 s, 1.0 s, 1.5 s, ... after the previous attempt.
REDELIVERY_STEP_S = 0.5
MAX_DELIVERY_ATTEMPTS = 15
BAD_SIGNATURE_ATTEMPTS = 2  # a wrongly signed delivery keeps failing: stop early to keep runs short
# Webhook sender threads, whatever the number of connections.
DELIVERY_WORKERS = 16


@dataclass
class Delivery:
    body: bytes
    signature: str
    connector_id: str
    event: str
    sync_id: str
    bad_signature: bool
    attempts: int = 0


@dataclass
class WebhookLog:
    sent: int = 0
    by_status: Counter = field(default_factory=Counter)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        accepted = sum(n for status, n in self.by_status.items() if str(status).startswith("2"))
        return {
            "sent": self.sent,
            "accepted": accepted,
            "rejected": self.sent - accepted,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items(), key=lambda kv: str(kv[0]))},
        }


class WebhookSender:
    def __init__(
        self,
        *,
        url: str | None,
        secret: str,
        events: tuple[str, ...],
        group_id: str,
        connections: dict[str, ConnectionState],
        lock: threading.RLock,
        scheduler: Scheduler,
    ) -> None:
        self.url = url  # None: no webhook is sent
        self.active = (
            True  # False: Fivetran disabled the webhook (``fivetran.webhook_disabled``): nothing is sent
        )
        self.secret = secret
        self.events = events
        self.group_id = group_id
        self.connections = connections
        self.log = WebhookLog()
        self._lock = lock  # the simulator's: guards the connections and the log
        self._scheduler = scheduler
        self._senders = ThreadPoolExecutor(
            max_workers=DELIVERY_WORKERS, thread_name_prefix="fivetran-sim-hook"
        )

    def stop(self) -> None:
        self._senders.shutdown(wait=False, cancel_futures=True)

    def send(self, state: ConnectionState, sync: Sync, event: str, created: datetime, data: dict) -> None:
        """Post a ``sync_start``/``sync_end`` webhook (if the account's webhook sends that event)."""
        hook = state.spec.webhook
        if not self.url or not self.active or event not in self.events:
            return
        if sync.ours and hook.drop:
            return
        body = self._envelope(state, event, created, data, sync_id=sync.sync_id)
        bad = sync.ours and hook.bad_signature
        signature = sign(body, "not-the-webhook-secret" if bad else self.secret)
        copies = 1 + (hook.duplicate if sync.ours else 0)
        delay = hook.delay_s if sync.ours else 0.0
        for copy in range(copies):
            delivery = Delivery(body, signature, state.spec.id, event, sync.sync_id, bad)
            self._send_later(delay + 0.05 * copy, delivery)

    def _envelope(
        self, state: ConnectionState, event: str, created: datetime, data: dict, sync_id: str | None = None
    ) -> bytes:
        """Fivetran's webhook body: the event, when (milliseconds, Z), the connection, its sync (sync
        events only) and group, and the event's data."""
        envelope: dict = {
            "event": event,
            "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "connector_type": state.spec.service,
            "connector_id": state.spec.id,
            "connector_name": state.spec.schema,
        }
        if sync_id is not None:
            envelope["sync_id"] = sync_id
        envelope.update({"destination_group_id": self.group_id, "data": data})
        return json.dumps(envelope, separators=(",", ":")).encode()

    def send_connection_event(
        self, state: ConnectionState, event: str, created: datetime, data: dict
    ) -> None:
        """Post a connection event (``pause_connector``, ...) if the account's webhook sends it: the same
        envelope as the sync events, without ``sync_id``. The run's sync faults (drop, duplicate,
        delay, bad signature) are about sync events and do not apply; ``fail_first`` does."""
        if not self.url or not self.active or event not in self.events:
            return
        body = self._envelope(state, event, created, data)
        self._send_later(0.0, Delivery(body, sign(body, self.secret), state.spec.id, event, "", False))

    def _send_later(self, delay: float, delivery: Delivery) -> None:
        self._scheduler.later(delay, self._hand_to_sender, delivery)

    def _hand_to_sender(self, delivery: Delivery) -> None:
        with contextlib.suppress(RuntimeError):  # the pool is shut down: the simulator stopped
            self._senders.submit(self._deliver, delivery)

    def _deliver(self, delivery: Delivery) -> None:
        """One delivery attempt; a non-2xx answer or none is redelivered on Fivetran's compressed
        schedule (a wrongly signed one at most ``BAD_SIGNATURE_ATTEMPTS`` times)."""
        if self.url is None or not self.active or self._scheduler.stopped.is_set():
            return  # a disabled webhook's pending deliveries and retries are dropped, as Fivetran does
        state = self.connections[delivery.connector_id]
        with self._lock:
            state.webhook_attempts += 1
            failing = state.webhook_attempts <= state.spec.webhook.fail_first
            delivery.attempts += 1
        status: int | str
        if failing:
            status = 503  # the receiver's answer, as webhook.fail_first says
        else:
            try:
                response = requests.post(
                    self.url,
                    data=delivery.body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: delivery.signature},
                    timeout=10,
                )
                status = response.status_code
            except requests.RequestException as exc:
                status = f"error:{type(exc).__name__}"
        with self._lock:
            self.log.sent += 1
            self.log.by_status[status] += 1
            self.log.deliveries.append(
                {
                    "connector_id": delivery.connector_id,
                    "event": delivery.event,
                    "sync_id": delivery.sync_id,
                    "attempt": delivery.attempts,
                    "status": status,
                    "at": time.time(),
                }
            )
        if isinstance(status, int) and 200 <= status < 300:
            return
        limit = BAD_SIGNATURE_ATTEMPTS if delivery.bad_signature else MAX_DELIVERY_ATTEMPTS
        if delivery.attempts < limit:
            self._send_later(REDELIVERY_STEP_S * delivery.attempts, delivery)
