"""Secrets: the Fivetran API credentials and the webhook secret.

In AWS stages they live in Secrets Manager (ids in ``*_ARN`` variables) and are cached
with a max age by Powertools' parameters utility, so a warm Lambda does not call Secrets
Manager per request and a rotated secret is picked up within the max age. In the
``local`` stage they come straight from the environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities import parameters

from chalicelib.config import Settings
from chalicelib.errors import ConfigurationError, SecretUnavailable

__all__ = ["FivetranCredentials", "SecretSource"]


@dataclass(frozen=True)
class FivetranCredentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret half
        return f"FivetranCredentials(api_key={self.api_key[:4]}…)"


class SecretSource:
    """Resolves secrets for one stage; ``provider`` is injectable (tests pass a moto-backed one)."""

    def __init__(self, settings: Settings, provider: parameters.SecretsProvider | None = None) -> None:
        self._settings = settings
        self._provider = provider

    def _secrets_provider(self) -> parameters.SecretsProvider:
        if self._provider is None:
            self._provider = parameters.SecretsProvider()
        return self._provider

    def _fetch(self, secret_id: str) -> Any:
        try:
            return self._secrets_provider().get(secret_id, max_age=self._settings.secrets_max_age_seconds)
        except parameters.exceptions.GetParameterError as exc:
            # The message names the secret id (an ARN or name), never its value.
            raise SecretUnavailable(f"could not read secret {secret_id}: {exc}") from exc

    def webhook_secret(self) -> str:
        if self._settings.webhook_secret_arn:
            value = self._fetch(self._settings.webhook_secret_arn)
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            value = str(value).strip()
            if value.startswith("{"):
                # Also accept {"secret": "..."} for operators who store JSON.
                try:
                    value = str(json.loads(value)["secret"])
                except (ValueError, KeyError) as exc:
                    raise SecretUnavailable(
                        f"secret {self._settings.webhook_secret_arn} is JSON without a 'secret' key"
                    ) from exc
            if not value:
                raise SecretUnavailable(f"secret {self._settings.webhook_secret_arn} is empty")
            return value
        if self._settings.webhook_secret:
            return self._settings.webhook_secret
        raise ConfigurationError("set FIVETRAN_WEBHOOK_SECRET_ARN (AWS) or FIVETRAN_WEBHOOK_SECRET (local)")

    def fivetran_credentials(self) -> FivetranCredentials:
        if self._settings.fivetran_api_secret_arn:
            raw = self._fetch(self._settings.fivetran_api_secret_arn)
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
