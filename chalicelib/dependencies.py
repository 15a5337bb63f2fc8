"""The one place where AWS clients and the Fivetran client are built.

``get_dependencies()`` builds them lazily on first use (never at import) and caches them
for the life of the Lambda container. Tests and the local runtime hand in their own with
``set_dependencies(...)`` (moto-backed clients, a Fivetran client pointed at the
simulator) and call ``reset_dependencies()`` between cases.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.callbacks import StepFunctionsCallbacks
from chalicelib.config import Settings
from chalicelib.fivetran import FivetranClient
from chalicelib.resolver import Resolver
from chalicelib.secrets import FivetranCredentials, SecretSource
from chalicelib.token_store import TokenStore

__all__ = ["Dependencies", "get_dependencies", "reset_dependencies", "set_dependencies"]

# Short, bounded AWS calls: the webhook must answer Fivetran within seconds.
AWS_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@dataclass
class Dependencies:
    settings: Settings
    secrets: SecretSource
    store: TokenStore
    callbacks: StepFunctionsCallbacks
    fivetran_factory: Any = None  # (credentials) -> FivetranClient; default builds a real one
    _fivetran: FivetranClient | None = field(default=None, repr=False)
    _credentials: FivetranCredentials | None = field(default=None, repr=False)

    def fivetran(self) -> FivetranClient:
        """The Fivetran client; rebuilt when the (cached, rotating) credentials change."""
        credentials = self.secrets.fivetran_credentials()
        if self._fivetran is None or credentials != self._credentials:
            factory = self.fivetran_factory or self._default_client
            self._fivetran = factory(credentials)
            self._credentials = credentials
        return self._fivetran

    def _default_client(self, credentials: FivetranCredentials) -> FivetranClient:
        return FivetranClient(
            self.settings.fivetran_api_url,
            credentials.api_key,
            credentials.api_secret,
            timeout=self.settings.http_timeout_seconds,
            max_retries=self.settings.http_max_retries,
        )

    def resolver(self) -> Resolver:
        return Resolver(self.store, self.callbacks)

    @classmethod
    def from_clients(
        cls,
        settings: Settings,
        *,
        dynamodb: Any,
        stepfunctions: Any,
        secretsmanager: Any = None,
        fivetran_factory: Any = None,
    ) -> Dependencies:
        from aws_lambda_powertools.utilities import parameters

        provider = (
            parameters.SecretsProvider(boto3_client=secretsmanager) if secretsmanager is not None else None
        )
        return cls(
            settings=settings,
            secrets=SecretSource(settings, provider),
            store=TokenStore(settings.token_table, dynamodb),
            callbacks=StepFunctionsCallbacks(stepfunctions),
            fivetran_factory=fivetran_factory,
        )


def build_dependencies(settings: Settings | None = None) -> Dependencies:
    """Real clients for the current environment (``AWS_ENDPOINT_URL`` is honoured by boto3)."""
    settings = settings or Settings.from_env()
    session = boto3.session.Session()
    return Dependencies.from_clients(
        settings,
        dynamodb=session.client("dynamodb", config=AWS_CONFIG),
        stepfunctions=session.client("stepfunctions", config=AWS_CONFIG),
        secretsmanager=session.client("secretsmanager", config=AWS_CONFIG)
        if settings.fivetran_api_secret_arn or settings.webhook_secret_arn
        else None,
    )


_lock = threading.Lock()
_current: Dependencies | None = None


def get_dependencies() -> Dependencies:
    global _current
    with _lock:
        if _current is None:
            _current = build_dependencies()
        return _current


def set_dependencies(deps: Dependencies | None) -> None:
    global _current
    with _lock:
        _current = deps


def reset_dependencies() -> None:
    set_dependencies(None)
