"""``register-webhook``: a Fivetran group webhook for the events the product acts on (``EVENTS``, owned
by ``chalicelib.webhook.events.SUBSCRIBED_EVENTS``) pointing at our route, once: ``sync_start`` and
``sync_end`` (the identity rule needs both: ``chalicelib/tokens/identity.py``), and
``pause_connector``, ``delete_connector``, ``connection_failure`` (a wait that cannot end ends at once
instead of at the safety net's next pass). ``doctor`` reads the same list.

Idempotent: ``GET /v1/webhooks`` first; a webhook of this group (or an account webhook) with
the same URL is reported and nothing is created. Otherwise ``POST /v1/webhooks/group/{id}``
with the secret; Fivetran then sends a test event to the URL and refuses the webhook unless
our route answers 2xx, so a created webhook is a route that verified Fivetran's signature.

Re-activation, never a duplicate: a webhook Fivetran disabled (``active: false``, after about 24 hours of
failed deliveries; the safety net's watchdog reports it) is ``PATCH``ed back to ``active: true``, and an
inactive group webhook of this group that posts to another ``.../webhooks/fivetran`` URL (the stage's
URL changed) gets the stage's URL too. Fivetran probes the URL on activation as on creation (400 unless
2xx). An active webhook posting elsewhere may be another stage's: it is left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from chalicelib.platform.errors import FivetranApiError, FivetranNotFound
from chalicelib.safety_net.webhook_watchdog import ROUTE_PATH
from chalicelib.webhook.events import CONNECTION_EVENTS, SUBSCRIBED_EVENTS, SYNC_EVENTS
from ops.errors import OpsError
from ops.target import Target

__all__ = [
    "CONNECTION_EVENTS_NOTE",
    "EVENTS",
    "REQUIRED_EVENTS",
    "Registration",
    "dry_run_request",
    "find_existing",
    "find_inactive",
    "missing_connection_events",
    "register_webhook",
]

EVENTS = list(SUBSCRIBED_EVENTS)
# Without these a run cannot tell its own sync's end; without the others it is only slower.
REQUIRED_EVENTS = list(SYNC_EVENTS)
CONNECTION_EVENTS_NOTE = (
    "a wait on a connection paused, deleted or broken mid-run then ends at the safety net's next pass,"
    " not at once"
)
MASK = "********"


@dataclass(frozen=True)
class Registration:
    """What ``register_webhook`` did: ``created`` False means it found ``webhook`` already there."""

    created: bool
    webhook: dict[str, Any]
    warnings: tuple[str, ...] = ()
    reactivated: bool = False  # an inactive webhook was made active again (and pointed at the URL)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def find_existing(hooks: list[dict[str, Any]], url: str, group_id: str) -> dict[str, Any] | None:
    """The webhook that already delivers this group's events to ``url`` (group first, then account)."""
    same_url = [h for h in hooks if _same_url(str(h.get("url", "")), url)]
    for hook in same_url:
        if hook.get("type", "group") == "group" and hook.get("group_id") == group_id:
            return hook
    return next((h for h in same_url if h.get("type") == "account"), None)


def find_inactive(hooks: list[dict[str, Any]], url: str, group_id: str) -> dict[str, Any] | None:
    """An inactive group webhook of this group that posts to our route at another URL (``ROUTE_PATH``)."""
    for hook in hooks:
        other = str(hook.get("url", ""))
        if (
            hook.get("type", "group") == "group"
            and hook.get("group_id") == group_id
            and hook.get("active", True) is False
            and urlparse(other).path.rstrip("/").endswith(ROUTE_PATH)
            and not _same_url(other, url)
        ):
            return hook
    return None


def missing_connection_events(hook: dict[str, Any]) -> list[str]:
    """The connection events (``pause_connector``, ...) this webhook does not send."""
    return [event for event in CONNECTION_EVENTS if event not in (hook.get("events") or [])]


def _warnings(hook: dict[str, Any]) -> tuple[str, ...]:
    found = []
    missing = [event for event in REQUIRED_EVENTS if event not in (hook.get("events") or [])]
    if "sync_end" in missing:
        found.append(
            f"webhook {hook.get('id')} does not send sync_end: add it in Fivetran, or delete the webhook"
        )
    elif missing:
        found.append(
            f"webhook {hook.get('id')} does not send sync_start: runs still get their own sync's outcome, "
            "but each sync then costs one sync-history read; add sync_start in Fivetran"
        )
    connection = missing_connection_events(hook)
    if connection:
        found.append(
            f"webhook {hook.get('id')} does not send {', '.join(connection)}: {CONNECTION_EVENTS_NOTE};"
            " add them in Fivetran"
        )
    if hook.get("active") is False:
        found.append(f"webhook {hook.get('id')} is inactive: run register-webhook again to re-activate it")
    return tuple(found)


def dry_run_request(target: Target, group_id: str) -> str:
    """The request ``register-webhook`` would send, with the secret masked."""
    body = {"url": target.webhook_url(), "events": EVENTS, "active": True, "secret": MASK}
    return "\n".join(
        [
            f"POST {target.fivetran_url().rstrip('/')}/v1/webhooks/group/{group_id}",
            "Accept: application/json",
            "Content-Type: application/json",
            "",
            json.dumps(body, indent=2),
        ]
    )


def _refused(exc: FivetranApiError, url: str, target: Target) -> OpsError:
    return OpsError(
        f"Fivetran refused the webhook: {exc}. Fivetran posts a test event to {url} and needs a 2xx: "
        f"check that the API answers there and that its webhook secret is the one of {target.label}"
    )


def register_webhook(target: Target, group_id: str) -> Registration:
    url = target.webhook_url()
    client = target.fivetran()
    hooks = client.list_webhooks()
    existing = find_existing(hooks, url, group_id)
    stale = existing if existing is not None and existing.get("active", True) is False else None
    if existing is not None and stale is None:
        return Registration(created=False, webhook=existing, warnings=_warnings(existing))
    stale = stale or find_inactive(hooks, url, group_id)
    try:
        if stale is not None:
            activated = client.activate_webhook(str(stale.get("id")), url=url)
            return Registration(False, activated, _warnings(activated), reactivated=True)
        created = client.create_group_webhook(
            group_id, url=url, events=EVENTS, secret=target.webhook_secret()
        )
    except FivetranNotFound:
        raise OpsError(f"Fivetran has no group {group_id!r} (or the API key cannot see it)") from None
    except FivetranApiError as exc:
        if exc.status == 400:
            raise _refused(exc, url, target) from None
        raise
    return Registration(created=True, webhook=created)
