"""The account's group webhooks, as the operator CLI manages them (``register-webhook``,
``rotate-webhook-secret``): creating one sends a signed ``test_event`` probe first and refuses the
webhook unless the probe gets a 2xx answer; updating one changes its url, events or active flag, and
activating an inactive one probes its URL again (400 unless 2xx), as Fivetran does. Registrations do not
change where the simulator's own deliveries go (see ``webhooks``), except the account webhook of a
scenario with ``fivetran.webhook_disabled`` (``add_account``): disabled, the simulator stops delivering;
activated again (``on_change``), it delivers again."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local.fivetran_sim.records import stamp


class WebhookRegistry:
    def __init__(self, now_f: Callable[[], datetime]) -> None:
        self._now_f = now_f  # Fivetran's clock
        self.hooks: dict[str, dict[str, Any]] = {}
        self._secrets: dict[str, str] = {}
        # Told of every change to a webhook's record (the simulator follows its account webhook's state).
        self.on_change: Callable[[dict[str, Any]], None] | None = None

    def add_account(self, url: str, events: list[str], secret: str) -> dict[str, Any]:
        """The account webhook the simulator delivers through, listed (``webhook_account``), active."""
        record: dict[str, Any] = {
            "id": "webhook_account",
            "type": "account",
            "url": url,
            "events": events,
            "active": True,
            "secret": "******",
            "created_at": stamp(self._now_f()),
            "created_by": "local",
        }
        self.hooks[record["id"]] = record
        self._secrets[record["id"]] = secret
        return record

    def deactivate(self, hook_id: str) -> None:
        """Fivetran disables the webhook (after about 24 hours of failed deliveries)."""
        record = self.hooks.get(hook_id)
        if record is not None:
            record["active"] = False
            if self.on_change is not None:
                self.on_change(record)

    def create(self, group_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /v1/webhooks/group/{id}``: the answer's status and body."""
        url = body.get("url")
        if not isinstance(url, str) or not isinstance(body.get("events"), list):
            return 400, {"code": "InvalidInput", "message": "url and events are required"}
        if body.get("active", True) and not self._probe(url, str(body.get("secret") or "")):
            return 400, {
                "code": "BadRequest",
                "message": f"test delivery to {url} did not get a 2xx answer",
            }
        hook_id = f"webhook_{len(self.hooks) + 1}"
        record = {
            "id": hook_id,
            "type": "group",
            "group_id": group_id,
            "url": url,
            "events": body["events"],
            "active": body.get("active", True),
            "secret": "******",
            "created_at": stamp(self._now_f()),
            "created_by": "local",
        }
        self.hooks[hook_id] = record
        self._secrets[hook_id] = str(body.get("secret") or "")
        return 201, {"code": "Success", "message": "Webhook has been created", "data": record}

    def update(self, hook_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``PATCH /v1/webhooks/{id}``: the answer's status and body (404: no such webhook). Activating
        an inactive webhook probes its (new) URL first: 400 unless the probe gets a 2xx."""
        record = self.hooks.get(hook_id)
        if record is None:
            return 404, {"code": "NotFound", "message": f"no webhook {hook_id}"}
        if "secret" in body:
            self._secrets[hook_id] = str(body["secret"] or "")
        url = str(body.get("url", record["url"]))
        activating = body.get("active") is True and record.get("active") is False
        if activating and not self._probe(url, self._secrets.get(hook_id, "")):
            return 400, {"code": "BadRequest", "message": f"test delivery to {url} did not get a 2xx answer"}
        record.update({k: body[k] for k in ("url", "events", "active") if k in body})
        if self.on_change is not None:
            self.on_change(record)
        return 200, {"code": "Success", "message": "Webhook has been updated", "data": record}

    def _probe(self, url: str, secret: str) -> bool:
        """Fivetran's test delivery to a new webhook: did it get a 2xx answer?"""
        probe = json.dumps(
            {
                "event": "test_event",
                "created": stamp(self._now_f()),
                "connector_type": "_connector_type",
                "connector_id": "_connector_1",
                "group_id": "_destination_1",
            },
            separators=(",", ":"),
        ).encode()
        try:
            answer = requests.post(
                url,
                data=probe,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(probe, secret)},
                timeout=10,
            )
            return 200 <= answer.status_code < 300
        except requests.RequestException:
            return False
