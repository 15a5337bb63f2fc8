"""Patches to two Step Functions API actions, so they answer as AWS does.

- ``send_task_failure_cause``: moto's ``SendTaskFailure`` drops the ``cause`` it is sent; AWS
  fails the waiting task with both ``error`` and ``cause``.
- ``execution_name_default``: moto names an execution started without a ``name`` ``"None"``;
  AWS gives it a unique name: here a UUID.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["patch_execution_name_default", "patch_send_task_failure_cause"]


def patch_send_task_failure_cause() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.send_task_failure

    def send_task_failure(self: Any) -> Any:
        backend = self.stepfunction_backend
        if not hasattr(backend, "send_task_failure"):
            return original(self)
        backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return original.__globals__["EmptyResult"]()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


# -- execution_name_default -----------------------------------------------------------------


def patch_execution_name_default() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
