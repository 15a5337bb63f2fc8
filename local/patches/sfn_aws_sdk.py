"""Patch ``aws_sdk_streaming_body``: an ``aws-sdk`` task hands the state a body as a string.

In moto an ``aws-sdk:s3:getObject`` task's ``Body`` stays a botocore ``StreamingBody``; AWS hands
the state the object's content as a string. Every streaming value of the response is read
(UTF-8) into the state's input.
"""

from __future__ import annotations

from typing import Any

__all__ = ["patch_aws_sdk_streaming_body"]


def patch_aws_sdk_streaming_body() -> None:
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as mod,
    )

    original = mod.StateTaskServiceAwsSdk._eval_service_task

    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)
        response = env.stack[-1]
        if isinstance(response, dict):
            for key, value in list(response.items()):
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8")

    mod.StateTaskServiceAwsSdk._eval_service_task = _eval_service_task  # type: ignore[method-assign]
