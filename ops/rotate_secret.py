"""``rotate-webhook-secret``: a new webhook secret in Secrets Manager and in Fivetran, no delivery lost.

The order matters: Fivetran may deliver (or retry) events signed with the old secret after it has the
new one, and the webhook Lambdas cache the secret:

1. Find the Fivetran webhook that delivers to this stage's route (this also proves the API key works
   before anything changes).
2. ``PutSecretValue``: the new secret becomes ``AWSCURRENT`` and the old one ``AWSPREVIOUS``; the value
   says until when the route still accepts the previous one (``previous_accepted_until``, the window).
   A Lambda whose cache still holds the old value accepts old-signed deliveries from its cache and reads
   the secret again on the first new-signed one (``chalicelib.platform.secrets``), so nothing waits for
   caches.
3. ``PATCH /v1/webhooks/{id}`` with the new secret: Fivetran signs with it from now on; deliveries
   already signed with the old one are accepted until the window closes.

If Fivetran refuses the change, the old secret is put back as ``AWSCURRENT`` (Fivetran still signs with
it), so a failed rotation leaves the stage as it was.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.platform.errors import FivetranError
from chalicelib.platform.secrets import parse_webhook_secret
from chalicelib.platform.timeutil import format_timestamp, utcnow
from ops.errors import OpsError
from ops.target import StageTarget, Target
from ops.webhooks import find_existing

__all__ = ["DEFAULT_WINDOW_SECONDS", "Rotation", "rotate_webhook_secret"]

DEFAULT_WINDOW_SECONDS = 3600
SECRET_BYTES = 32  # 64 hex characters, as long as the stack's generated secret


@dataclass(frozen=True)
class Rotation:
    webhook_id: str
    previous_accepted_until: datetime


def _find_webhook(target: Target, group_id: str | None) -> dict[str, Any]:
    url = target.webhook_url()
    hooks = target.fivetran().list_webhooks()
    if group_id:
        hook = find_existing(hooks, url, group_id)
    else:
        hook = next((h for h in hooks if str(h.get("url", "")).rstrip("/") == url.rstrip("/")), None)
    if hook is None or not hook.get("id"):
        raise OpsError(
            f"no Fivetran webhook delivers to {url}: register one first "
            f"(`orchestrator register-webhook {target.flag} --group G`)"
        )
    return hook


def rotate_webhook_secret(
    target: Target,
    *,
    group_id: str | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    progress: Callable[[str], None] = lambda line: None,
    clock: Callable[[], datetime] = utcnow,
    new_secret: Callable[[], str] = lambda: secrets.token_hex(SECRET_BYTES),
) -> Rotation:
    if not isinstance(target, StageTarget):
        raise OpsError(
            "rotate-webhook-secret acts on a deployed stage (--stage S). The local stage's secret is its "
            "environment: set FIVETRAN_WEBHOOK_SECRET to the new one and FIVETRAN_WEBHOOK_SECRET_PREVIOUS "
            "to the old one"
        )
    hook = _find_webhook(target, group_id)
    hook_id = str(hook["id"])
    arn = target._output("WebhookSecretArn")
    sm = target.client("secretsmanager")
    old_raw = sm.get_secret_value(SecretId=arn)["SecretString"]
    old = parse_webhook_secret(old_raw, arn).secret
    fresh = new_secret()
    until = clock() + timedelta(seconds=window_seconds)
    value = {"secret": fresh, "previous_accepted_until": format_timestamp(until)}
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps(value))
    progress(
        f"new secret is AWSCURRENT in {arn}; the previous one is accepted until {format_timestamp(until)}"
    )
    try:
        target.fivetran().update_webhook_secret(hook_id, fresh)
    except FivetranError as exc:
        # Fivetran still signs with the old secret: make it current again (the new one becomes AWSPREVIOUS).
        sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"secret": old}))
        raise OpsError(
            f"Fivetran refused the new secret for webhook {hook_id} ({exc}); the old secret is current again "
            "in Secrets Manager, nothing changed"
        ) from None
    progress(f"Fivetran webhook {hook_id} signs with the new secret")
    return Rotation(webhook_id=hook_id, previous_accepted_until=until)
