"""The Fivetran calls only the operator CLI makes: managing webhooks (``register-webhook``,
``rotate-webhook-secret``). The Lambda client (``chalicelib/fivetran/client.py``) keeps the calls a run needs;
this subclass adds the rest on the same transport (auth, retries, time budget, paging, typed errors).

- ``POST /v1/webhooks/group/{id}``: create a group webhook
- ``GET /v1/webhooks``: every webhook of the account (cursor paging; inherited: the safety net's
  watchdog reads it too)
- ``PATCH /v1/webhooks/{id}``: a new signing secret; ``active: true`` and the stage's ``url`` for a
  webhook Fivetran disabled (``register-webhook``; Fivetran probes the URL again on activation)

These endpoints want ``Accept: application/json``, not the connection endpoints' ``version=2``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalicelib.fivetran.client import ACCEPT_JSON, FivetranClient

__all__ = ["ACCEPT_JSON", "FivetranAdmin"]


class FivetranAdmin(FivetranClient):
    """``FivetranClient`` plus the webhook-management calls of the operator CLI."""

    def create_group_webhook(
        self, group_id: str, *, url: str, events: list[str], secret: str, active: bool = True
    ) -> dict[str, Any]:
        """Create a group webhook. Fivetran first POSTs a test event to ``url`` and answers 400
        unless that gets a 2xx. Returns the webhook (``id``, ``url``, ``events``, ``active``...)."""
        path = f"/v1/webhooks/group/{quote(group_id, safe='')}"
        body = {"url": url, "events": list(events), "active": active, "secret": secret}
        return self._request("POST", path, json=body, accept=ACCEPT_JSON)

    def update_webhook_secret(self, webhook_id: str, secret: str) -> dict[str, Any]:
        """``PATCH /v1/webhooks/{id}`` with a new signing secret (the operator CLI's rotation)."""
        path = f"/v1/webhooks/{quote(webhook_id, safe='')}"
        return self._request("PATCH", path, json={"secret": secret}, accept=ACCEPT_JSON)

    def activate_webhook(self, webhook_id: str, *, url: str) -> dict[str, Any]:
        """``PATCH /v1/webhooks/{id}`` with ``{"url": url, "active": true}``: Fivetran POSTs a test
        event to ``url`` first and answers 400 unless it gets a 2xx (Fivetran's webhooks page, "URL").
        Returns the updated webhook."""
        path = f"/v1/webhooks/{quote(webhook_id, safe='')}"
        return self._request("PATCH", path, json={"url": url, "active": True}, accept=ACCEPT_JSON)
