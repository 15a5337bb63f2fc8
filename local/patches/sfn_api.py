"""Patches to three Step Functions API actions, so they answer as AWS does.

- ``send_task_failure_cause``: moto's ``SendTaskFailure`` drops the ``cause`` it is sent; AWS
  fails the waiting task with both ``error`` and ``cause``.
- ``execution_name_default``: moto names an execution started without a ``name`` ``"None"``;
  AWS gives it a unique name: here a UUID.
- ``stop_execution_aborts_at_once``: after moto's ``StopExecution`` the execution still shows
  ``RUNNING`` until the interpreter's thread next looks at its stop flag (seconds on a loaded
  machine), and an error met meanwhile turns it ``FAILED``. On AWS a stopped execution is
  ``ABORTED`` from the moment ``StopExecution`` answers ("StopExecution", Step Functions API
  reference), and stays so.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

__all__ = [
    "patch_execution_name_default",
    "patch_send_task_failure_cause",
    "patch_stop_execution_aborts_at_once",
]


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


# -- stop_execution_aborts_at_once ----------------------------------------------------------------


def patch_stop_execution_aborts_at_once() -> None:
    """A running execution is ``ABORTED`` (with its stop date) as soon as it is stopped, and
    whatever its interpreter thread meets afterwards does not change that. A stop that comes before
    the interpreter's thread has set up its environment (right after ``StartExecution``) is kept and
    applied when it has: moto answered it with a 500 (``'NoneType' object has no attribute
    'set_stop'``), where AWS aborts the execution."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_stop = Execution.stop
    original_reflect = BaseExecutionWorkerCommunication._reflect_execution_status
    original_worker_stop = ExecutionWorker.stop
    original_environment = ExecutionWorker._get_evaluation_environment
    setting_up = threading.Lock()  # a stop and the environment's creation, one at a time

    def worker_stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        with setting_up:
            if self.env is None:  # not set up yet: the stop waits for the environment
                self._pending_stop = {"stop_date": stop_date, "error": error, "cause": cause}
                return
        original_worker_stop(self, stop_date=stop_date, error=error, cause=cause)

    def environment(self: Any) -> Any:
        with setting_up:
            env = original_environment(self)
            self.env = env  # set here, under the lock (moto sets it again once this returns)
            pending = getattr(self, "_pending_stop", None)
            if pending is not None:
                env.set_stop(**pending)
            return env

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date=stop_date, error=error, cause=cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date

    def reflect(self: Any) -> None:
        if self.execution.exec_status == ExecutionStatus.ABORTED:
            return
        original_reflect(self)

    Execution.stop = stop  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication._reflect_execution_status = reflect  # type: ignore[method-assign]
    ExecutionWorker.stop = worker_stop  # type: ignore[method-assign]
    ExecutionWorker._get_evaluation_environment = environment  # type: ignore[method-assign]
