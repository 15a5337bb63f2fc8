"""Patch ``lambda_in_process``: a Lambda invoke runs its handler in this process, without Docker.

moto runs a Lambda function in a Docker container. Here the handler named by the function's
``Handler`` (e.g. ``app.start_sync``) is imported and called in-process, or the one registered
for the function's name (``register_handler``), with a context like Lambda's (name, ARN, memory,
request id, remaining time from the function's ``Timeout``). Each invocation is counted
(``billing.lambda_invoked``). A handler's exception is reported
as Lambda reports it: ``errorType`` (its class name), ``errorMessage``, ``stackTrace``.
"""

from __future__ import annotations

import importlib
import json
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from local.patches import billing

__all__ = ["patch_lambda_in_process", "register_handler"]

_handlers: dict[str, Callable[[Any, Any], Any]] = {}


def register_handler(function_name: str, handler: Callable[[Any, Any], Any]) -> None:
    """Run ``handler(event, context)`` for invokes of ``function_name`` (else its Handler is imported)."""
    _handlers[function_name] = handler


class _LambdaContext:
    def __init__(self, fn: Any) -> None:
        self.function_name = fn.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = int(fn.memory_size or 128)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = self.aws_request_id
        self.environment = dict(fn.environment_vars or {})
        self._deadline = time.monotonic() + float(fn.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _resolve_handler(fn: Any) -> Callable[[Any, Any], Any]:
    if fn.function_name in _handlers:
        return _handlers[fn.function_name]
    module_name, _, attr = str(fn.handler).rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    payload = json.loads(event) if isinstance(event, str | bytes) and event else (event or {})
    try:
        result = _resolve_handler(self)(payload, _LambdaContext(self))
        billing.lambda_invoked(self.function_name, payload, result)
        return json.dumps(result), False, ""
    except Exception as exc:  # reported to the state machine like Lambda does
        billing.lambda_invoked(self.function_name, payload, None)
        stack = traceback.format_exception(exc)
        body = {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": stack}
        return json.dumps(body), True, "".join(stack)


def patch_lambda_in_process() -> None:
    from moto.awslambda.models import LambdaFunction

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
