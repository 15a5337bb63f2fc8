"""Handing outcomes back to Step Functions: SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat.

A token Step Functions no longer knows (``TaskTimedOut``, ``InvalidToken``,
``TaskDoesNotExist``) means the task is already resolved: that is reported as
``CallbackResult.GONE``, never raised. Anything else (throttling, 5xx) raises
``CallbackError`` so the caller keeps the token for a later try.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import CallbackError

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_stepfunctions import SFNClient

__all__ = ["CallbackResult", "StepFunctionsCallbacks"]

GONE_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768


class CallbackResult(enum.Enum):
    SENT = "sent"
    GONE = "gone"


class StepFunctionsCallbacks:
    def __init__(self, sfn_client: SFNClient) -> None:
        self._sfn = sfn_client

    def succeed(self, task_token: str, output: dict[str, Any]) -> CallbackResult:
        return self._call("send_task_success", taskToken=task_token, output=json.dumps(output))

    def fail(self, task_token: str, error: str, cause: str) -> CallbackResult:
        return self._call(
            "send_task_failure",
            taskToken=task_token,
            error=error[:MAX_ERROR_CHARS],
            cause=cause[:MAX_CAUSE_CHARS],
        )

    def heartbeat(self, task_token: str) -> CallbackResult:
        return self._call("send_task_heartbeat", taskToken=task_token)

    def _call(self, method: str, **kwargs: Any) -> CallbackResult:
        try:
            getattr(self._sfn, method)(**kwargs)
            return CallbackResult.SENT
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in GONE_CODES:
                return CallbackResult.GONE
            raise CallbackError(f"Step Functions refused {method}: {code}") from exc
        except BotoCoreError as exc:
            raise CallbackError(f"could not reach Step Functions for {method}: {type(exc).__name__}") from exc
