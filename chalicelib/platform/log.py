"""Structured logging: one JSON object per line (Powertools Logger), safe identifiers only.

Every module logs through ``logger`` with keyword context (``connector_id``,
``execution_id``, ``token_ref``). A task token is never logged whole: ``token_ref`` gives
a short hash that matches the token store's ``token_id`` prefix, so an operator can
still find the item.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from chalicelib.tokens.records import token_id

__all__ = ["logger", "token_ref"]

logger = Logger(service="fivetran-orchestrator")


def token_ref(task_token: str) -> str:
    """A short, log-safe reference to a task token (the first 12 hex digits of its id)."""
    return token_id(task_token)[:12]
