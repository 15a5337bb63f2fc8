"""Secrets: the Fivetran API credentials and the webhook secret.

In AWS stages they live in Secrets Manager (ids in ``*_ARN`` variables) and are cached
with a max age by Powertools' parameters utility, so a warm Lambda does not call Secrets
Manager per request and a rotated secret is picked up within the max age. In the
``local`` stage they come straight from the environment.

Webhook secret rotation (``orchestrator rotate-webhook-secret``) writes the new value as
``{"secret": "...", "previous_accepted_until": "<ISO 8601 UTC>"}``: until then the route also
accepts the ``AWSPREVIOUS`` version, so deliveries Fivetran signed with the old secret (in
flight, or retried) are not refused. After that moment, or for a value without the field (a
plain string), only ``AWSCURRENT`` is accepted. A delivery that matches no cached secret makes
the route read the secret again (throttled), so a rotation newer than a Lambda's cache is seen
at once: nothing waits for the cache's max age.

The Fivetran API credentials ride through a rotation the same way: on a 401 the client reads them
again with ``fivetran_credentials(force=True)`` (bypassing the cache, at most once per
``REFRESH_INTERVAL_SECONDS`` per Lambda container) and sends the call again with the new pair.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities import parameters

from chalicelib.platform.config import Settings
from chalicelib.platform.errors import ConfigurationError, SecretUnavailable
from chalicelib.platform.timeutil import parse_iso, utcnow

__all__ = ["FivetranCredentials", "SecretSource", "WebhookSecretValue", "parse_webhook_secret"]

PREVIOUS_STAGE = "AWSPREVIOUS"
REFRESH_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class WebhookSecretValue:
    """The webhook secret as stored: the value, and until when the previous version is still accepted."""

    secret: str
    previous_accepted_until: datetime | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"WebhookSecretValue(previous_accepted_until={self.previous_accepted_until})"


def parse_webhook_secret(raw: Any, secret_id: str) -> WebhookSecretValue:
    """A plain string, or ``{"secret": "...", "previous_accepted_until": "<ISO 8601>"}``."""
    value = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    value = value.strip()
    until: datetime | None = None
    if value.startswith("{"):
        try:
            data = json.loads(value)
            secret = str(data["secret"]).strip()
            stamp = data.get("previous_accepted_until")
            until = parse_iso(str(stamp)) if stamp else None
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretUnavailable(
                f"secret {secret_id} is JSON without a 'secret' key (or a bad 'previous_accepted_until')"
            ) from exc
        value = secret
    if not value:
        raise SecretUnavailable(f"secret {secret_id} is empty")
    if until is not None and until.tzinfo is None:
        raise SecretUnavailable(f"secret {secret_id}: previous_accepted_until must carry a time zone")
    return WebhookSecretValue(value, until)


@dataclass(frozen=True)
class FivetranCredentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret half
        return f"FivetranCredentials(api_key={self.api_key[:4]}…)"


class SecretSource:
    """Resolves secrets for one stage; ``provider`` is injectable (tests pass a moto-backed one)."""

    def __init__(
        self,
        settings: Settings,
        provider: parameters.SecretsProvider | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._provider = provider
        # Powertools caches by secret id alone: the AWSPREVIOUS version needs a provider (cache) of its own.
        self._previous_provider: parameters.SecretsProvider | None = None
        self._clock = clock
        self._refreshed_at = -REFRESH_INTERVAL_SECONDS
        self._credentials_read_at = -REFRESH_INTERVAL_SECONDS

    def _secrets_provider(self) -> parameters.SecretsProvider:
        if self._provider is None:
            self._provider = parameters.SecretsProvider()
        return self._provider

    def _fetch(self, secret_id: str, *, previous: bool = False, force: bool = False) -> Any:
        max_age = self._settings.secrets_max_age_seconds
        try:
            if not previous:
                return self._secrets_provider().get(secret_id, max_age=max_age, force_fetch=force)
            if self._previous_provider is None:
                client = self._secrets_provider().client
                self._previous_provider = parameters.SecretsProvider(boto3_client=client)
            return self._previous_provider.get(
                secret_id, max_age=max_age, force_fetch=force, VersionStage=PREVIOUS_STAGE
            )
        except parameters.exceptions.GetParameterError as exc:
            # The message names the secret id (an ARN or name), never its value.
            version = f" ({PREVIOUS_STAGE})" if previous else ""
            raise SecretUnavailable(f"could not read secret {secret_id}{version}: {exc}") from exc

    def _stored_webhook_secret(self, *, force: bool = False) -> WebhookSecretValue:
        secret_id = str(self._settings.webhook_secret_arn)
        return parse_webhook_secret(self._fetch(secret_id, force=force), secret_id)

    def webhook_secret(self) -> str:
        """The current webhook secret (what Fivetran is told to sign with)."""
        if self._settings.webhook_secret_arn:
            return self._stored_webhook_secret().secret
        if self._settings.webhook_secret:
            return self._settings.webhook_secret
        raise ConfigurationError("set FIVETRAN_WEBHOOK_SECRET_ARN (AWS) or FIVETRAN_WEBHOOK_SECRET (local)")

    def webhook_secrets(self) -> Iterator[str]:
        """The secrets a delivery may be signed with, tried in order and read lazily (most deliveries
        match the first): the cached current secret; the current one read again, when the cached one
        did not match (a rotation newer than the cache; at most once per ``REFRESH_INTERVAL_SECONDS``,
        so bad signatures cannot flood Secrets Manager); the previous one while the window is open."""
        if not self._settings.webhook_secret_arn:
            yield self.webhook_secret()
            if self._settings.webhook_secret_previous:
                yield self._settings.webhook_secret_previous
            return
        stored = self._stored_webhook_secret()
        yield stored.secret
        refreshed = False
        now = time.monotonic()
        if now - self._refreshed_at >= REFRESH_INTERVAL_SECONDS:
            self._refreshed_at = now
            fresh = self._stored_webhook_secret(force=True)
            refreshed = fresh != stored
            if fresh.secret != stored.secret:
                yield fresh.secret
            stored = fresh
        until = stored.previous_accepted_until
        if until is not None and self._clock() < until:
            secret_id = str(self._settings.webhook_secret_arn)
            previous = parse_webhook_secret(self._fetch(secret_id, previous=True, force=refreshed), secret_id)
            if previous.secret != stored.secret:
                yield previous.secret

    @property
    def fivetran_credentials_name(self) -> str:
        """Where the Fivetran API credentials are kept (named in errors; never their value)."""
        if self._settings.fivetran_api_secret_arn:
            return f"the secret {self._settings.fivetran_api_secret_arn}"
        return "FIVETRAN_API_KEY and FIVETRAN_API_SECRET"

    def fivetran_credentials(self, *, force: bool = False) -> FivetranCredentials:
        """The Fivetran API key pair (cached for ``SECRETS_MAX_AGE_SECONDS``). ``force``: read it again
        from Secrets Manager, bypassing the cache (after a 401: the key may have been rotated), at most
        once per ``REFRESH_INTERVAL_SECONDS``; a forced read within that interval answers from the cache."""
        if self._settings.fivetran_api_secret_arn:
            if force:
                now = time.monotonic()
                force = now - self._credentials_read_at >= REFRESH_INTERVAL_SECONDS
                if force:
                    self._credentials_read_at = now
            raw = self._fetch(self._settings.fivetran_api_secret_arn, force=force)
            try:
                data = json.loads(raw) if isinstance(raw, str | bytes) else raw
                return FivetranCredentials(str(data["api_key"]), str(data["api_secret"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise SecretUnavailable(
                    f"secret {self._settings.fivetran_api_secret_arn} must be JSON "
                    '{"api_key": "...", "api_secret": "..."}'
                ) from exc
        if self._settings.fivetran_api_key and self._settings.fivetran_api_secret:
            return FivetranCredentials(self._settings.fivetran_api_key, self._settings.fivetran_api_secret)
        raise ConfigurationError(
            "set FIVETRAN_API_SECRET_ARN (AWS) or FIVETRAN_API_KEY and FIVETRAN_API_SECRET (local)"
        )

    def slack_webhook_url(self, secret_id: str) -> str:
        """The Slack incoming-webhook URL kept in the secret ``secret_id`` (a plain string, or JSON
        ``{"url": "..."}``), cached for ``SECRETS_MAX_AGE_SECONDS`` like the others. Raises
        ``SecretUnavailable`` naming the secret (never its value) when it cannot be read or holds no URL."""
        raw = self._fetch(secret_id)
        value = (raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)).strip()
        if value.startswith("{"):
            try:
                value = str(json.loads(value)["url"]).strip()
            except (ValueError, KeyError, TypeError) as exc:
                raise SecretUnavailable(f"secret {secret_id} is JSON without a 'url' key") from exc
        if not value.startswith("https://"):
            raise SecretUnavailable(f"secret {secret_id} does not hold an https:// webhook URL")
        return value
