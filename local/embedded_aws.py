"""The ``local`` stage's wiring for plain ``chalice local --stage local``: an embedded token store.

``.chalice/config.json``'s ``local`` stage names this module (``ORCHESTRATOR_LOCAL_WIRING``);
``chalicelib/wiring.py`` calls ``prepare(settings)`` before it builds the clients. With
``EMBEDDED_AWS=true`` and no ``AWS_ENDPOINT_URL`` (``make webhook`` and ``make demo`` set one: their
moto server is used instead), moto's in-process AWS starts once and the token table is created in
it, with the keys ``infra/template.yaml`` defines. Nothing persists across restarts. This module and
moto stay in the repository: neither ships to Lambda.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import boto3

from chalicelib.platform.config import Settings
from chalicelib.platform.errors import ConfigurationError
from chalicelib.platform.log import logger

__all__ = ["EMBEDDED_AWS_ENV", "embedded_requested", "prepare"]

# Set to "true" only in the `local` stage's config: no AWS endpoint then means the embedded store.
EMBEDDED_AWS_ENV = "EMBEDDED_AWS"

_lock = threading.Lock()
_mock: Any = None


def embedded_requested(env: Mapping[str, str] | None = None) -> bool:
    """The local stage asks for it and no AWS endpoint is set; never inside Lambda, whatever the config."""
    env = os.environ if env is None else env
    wanted = env.get(EMBEDDED_AWS_ENV, "").strip().lower() == "true"
    in_lambda = bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
    return wanted and not in_lambda and not env.get("AWS_ENDPOINT_URL", "").strip()


def _token_table_spec() -> dict[str, Any]:
    """The token table's keys, read from ``infra/template.yaml`` (their one definition)."""
    from infra.template import TEMPLATE_PATH, token_table_spec

    try:
        return token_table_spec()
    except Exception as exc:  # OSError, KeyError, YAML errors...
        raise ConfigurationError(
            f"embedded token store: cannot read the table's keys from {TEMPLATE_PATH}: {exc}"
        ) from exc


def prepare(settings: Settings) -> None:
    """Start moto's in-process AWS once and create the token table in it, when asked for."""
    global _mock
    if not embedded_requested():
        return
    with _lock:
        if _mock is not None:
            return
        try:
            from moto import mock_aws
        except ImportError:
            raise ConfigurationError(
                "the local stage's embedded token store needs moto (a dev dependency): run `make install`, "
                "then `.venv/bin/chalice local --stage local`, or `make webhook`"
            ) from None
        mock = mock_aws()
        mock.start()
        client = boto3.client("dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        client.create_table(
            TableName=settings.token_table, BillingMode="PAY_PER_REQUEST", **_token_table_spec()
        )
        _mock = mock
        logger.info(
            "embedded token store: moto's in-memory DynamoDB, nothing persists across restarts",
            extra={"token_table": settings.token_table},
        )
