"""Structured logging: one JSON object per line (Powertools Logger), safe identifiers only.

Every module logs through ``logger`` with keyword context (``connector_id``,
``execution_id``, ``token_ref``). A task token is never logged whole: ``token_ref`` gives
a short hash that matches the token store's ``token_id`` prefix, so an operator can
still find the item.

``names_run`` makes every line a state machine's invocation logs carry its run's ``execution_id`` (the
execution's ARN), so ``orchestrator logs RUN`` finds them (CloudWatch Logs' filter on the run's name).
The keys are the thread's own (Powertools' thread-safe keys): the local runtime invokes handlers side by
side in one process.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger

__all__ = ["logger", "names_run", "token_id", "token_ref"]

Handler = TypeVar("Handler", bound=Callable[[Any, Any], Any])

logger = Logger(service="fivetran-orchestrator")


def token_id(task_token: str) -> str:
    """A task token's id: SHA-256 of the token (hex). The token table's sort key for a parked token
    (``chalicelib/tokens/records.py``); ``token_ref`` is its first 12 digits."""
    return hashlib.sha256(task_token.encode("utf-8")).hexdigest()


def token_ref(task_token: str) -> str:
    """A short, log-safe reference to a task token (the first 12 hex digits of its id)."""
    return token_id(task_token)[:12]


def names_run(handler: Handler) -> Handler:
    """Decorate a Lambda handler: while it runs, its log lines carry the event's ``execution_id`` (or
    ``execution_arn``), the run's execution ARN as the state machine passes it; an event without one
    (a manual invoke) changes nothing."""

    @functools.wraps(handler)
    def named(event: Any, context: Any) -> Any:
        execution = (
            (event.get("execution_id") or event.get("execution_arn")) if isinstance(event, dict) else None
        )
        if not execution:
            return handler(event, context)
        logger.thread_safe_append_keys(execution_id=str(execution))
        try:
            return handler(event, context)
        finally:
            logger.thread_safe_remove_keys(["execution_id"])

    return cast(Handler, named)
