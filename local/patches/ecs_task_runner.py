"""Patch ``ecs_local_task_runner``: an ECS task runs a local process and fails ``.sync`` as on AWS.

moto's ``RunTask`` starts nothing. With a runner set (``set_ecs_task_runner``; the local runtime
runs dbt, tests run fakes), each task started runs ``runner(task, environment)`` (the containers'
environment with the overrides applied), and the task stays RUNNING, its containers without an
exit code, until the handle's ``poll()`` gives one. The first ``DescribeTasks`` answer that says
STOPPED carries the containers' real exit codes, as on AWS; a handle with a ``stopped_reason``
never started its container (a network interface, the image pull or capacity failed on AWS): no
exit code then.

Each answer is one moment of the task. The task is settled once, under a lock, by ``DescribeTasks``
before its answer is built, and nothing else moves it: moto's own progression (RUNNING,
DEACTIVATING, ..., STOPPED, one step per read) is off for these tasks, and reading ``lastStatus``
while the answer is serialised does not poll again. It did: a process that exited between the
settle and the serialisation of ``lastStatus`` (after ``containers``) gave an answer saying STOPPED
with moto's default exit code 0, and a run whose dbt exited 1 ended SUCCEEDED.

An ``ecs:runTask.sync`` task whose essential container exits non-zero, or never starts, fails on
AWS with ``States.TaskFailed``, its cause the stopped task's description (JSON), and a Retry or
Catch matches it by that name; moto did not fail it so, and builds only custom error names
(which must not start with "States.").

``StopTask`` on such a task stops its process (the handle's ``stop()``, if it has one), as ECS
stops the container (SIGTERM, then SIGKILL after 30 s; "StopTask", ECS API reference): the answer
says desiredStatus STOPPED with the reason, and the task is STOPPED, with the process's real exit
code and the reason kept, once the process has ended. moto marked the task STOPPED at once, exit
code 0, and left the work running.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["TaskHandle", "TaskRunner", "patch_ecs_local_task_runner", "set_ecs_task_runner"]


class TaskHandle(Protocol):
    def poll(self) -> int | None: ...


TaskRunner = Callable[[Any, dict[str, str]], TaskHandle]
_ecs_runner: TaskRunner | None = None
_ecs_handles: dict[str, TaskHandle] = {}
_settling = threading.Lock()  # one settle at a time: concurrent DescribeTasks see one order


def set_ecs_task_runner(runner: TaskRunner | None) -> None:
    """``runner(task, environment)`` starts the task's work and returns a handle with ``poll()``."""
    global _ecs_runner
    _ecs_runner = runner
    if runner is None:
        _ecs_handles.clear()


def _task_environment(task: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for container in task.containers:
        for item in container.environment or []:
            env[str(item.get("name"))] = str(item.get("value", ""))
    for override in (task.overrides or {}).get("containerOverrides", []):
        for item in override.get("environment", []) or []:
            env[str(item.get("name"))] = str(item.get("value", ""))
    return env


def _set_containers(task: Any, status: str, exit_code: int | None) -> None:
    for container in task.containers:
        container.exitCode = container.exit_code = exit_code
        container.last_status = status


def _settle(task: Any) -> None:
    """Give a task run by the local runner its real end state, before its answer is built.

    Called by ``DescribeTasks`` for the tasks it answers, before the answer is built, under
    ``_settling``; reads and writes the task's raw status (``_status``), never moto's progressing
    ``status``.
    """
    handle = _ecs_handles.get(task.task_arn)
    if handle is None:
        return
    with _settling:
        if task._status == "STOPPED":
            return
        code = handle.poll()
        if code is None:
            return
        # A handle may say its container never started (``stopped_reason``): no exit code then, as
        # on AWS when a network interface, the image pull or capacity fails.
        never_started = getattr(handle, "stopped_reason", None)
        _set_containers(task, "STOPPED", None if never_started else code)
        task.desired_status = "STOPPED"
        # A reason already there is StopTask's (``_stop_handled``): kept, as ECS keeps it.
        task.stopped_reason = task.stopped_reason or never_started or "Essential container in task exited"
        task._status = "STOPPED"


def _stop_handled(backend: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    """``StopTask`` of a task run by the local runner: SIGTERM to its process (the handle's
    ``stop()``), desiredStatus STOPPED with ``reason``; STOPPED once the process has ended. None
    for any other task (moto's own ``StopTask`` then)."""
    cluster = backend._get_cluster(cluster_str)
    task_id = task_str.split("/")[-1]
    for arn, task in (backend.tasks.get(cluster.name) or {}).items():
        if arn.endswith(task_id) and task.task_arn in _ecs_handles:
            break
    else:
        return None
    with _settling:
        if task._status != "STOPPED":
            task.desired_status = "STOPPED"
            task.stopped_reason = reason
    stop = getattr(_ecs_handles[task.task_arn], "stop", None)
    if callable(stop):
        stop()
    _settle(task)
    return task


def _states_failure_event(self: Any, env: Any, ex: Any) -> Any:
    """moto builds only custom error names, which must not start with "States.": build the
    ``States.TaskFailed`` event AWS records (a Retry or Catch then matches it by that name)."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    failure = ex.callback_outcome_failure
    error = failure.error or ""
    name = StatesErrorName.from_name(error) if error.startswith("States.") else CustomErrorName(error)
    return FailureEvent(
        env=env,
        error_name=name,
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict: every key required
            taskFailedEventDetails=TaskFailedEventDetails(
                resourceType=self._get_sfn_resource_type(),
                resource=self._get_sfn_resource(),
                error=failure.error,
                cause=failure.cause,
            )
        ),
    )


def _failing_sync_resolver(original_resolver: Callable[..., Any]) -> Callable[..., Any]:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeFailure

    def _build_sync_resolver(self: Any, *args: Any, **kwargs: Any) -> Any:
        resolve = original_resolver(self, *args, **kwargs)

        def resolver() -> Any:
            task = resolve()
            if not task:
                return task
            codes = [c.get("ExitCode") for c in task.get("Containers", [])]
            if any(code not in (0, None) for code in codes) or all(code is None for code in codes):
                # AWS fails a .sync RunTask whose essential container exits non-zero, or never
                # starts, with States.TaskFailed, the cause the stopped task's description (JSON).
                return CallbackOutcomeFailure(
                    callback_id="ecs", error="States.TaskFailed", cause=json.dumps(task, default=str)
                )
            return task

        return resolver

    return _build_sync_resolver


def patch_ecs_local_task_runner() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend, Task
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as mod,
    )

    original_run_task = EC2ContainerServiceBackend.run_task
    original_describe_tasks = EC2ContainerServiceBackend.describe_tasks
    original_status: Any = Task.last_status  # a property
    original_stop_task = EC2ContainerServiceBackend.stop_task
    original_advance = Task.advance

    def run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        tasks = original_run_task(self, *args, **kwargs)
        if _ecs_runner is not None:
            for task in tasks:
                _set_containers(task, "RUNNING", None)  # no exit code before the container stops
                _ecs_handles[task.task_arn] = _ecs_runner(task, _task_environment(task))
        return tasks

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> Any:
        described = original_describe_tasks(self, cluster_str, tasks)
        for task in described:  # before the answer is serialised: one moment per answer
            _settle(task)
        return described

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        return _stop_handled(self, cluster_str, task_str, reason) or original_stop_task(
            self, cluster_str, task_str, reason
        )

    def advance(self: Any) -> None:
        if self.task_arn not in _ecs_handles:  # the runner, not moto's clock, ends these tasks
            original_advance(self)

    def last_status(self: Any) -> str:
        if self.task_arn not in _ecs_handles:
            return original_status.fget(self)
        return self._status  # settled when the call began; never polled mid-answer

    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
    EC2ContainerServiceBackend.describe_tasks = describe_tasks  # type: ignore[method-assign]
    EC2ContainerServiceBackend.stop_task = stop_task  # type: ignore[method-assign]
    Task.advance = advance  # type: ignore[method-assign]
    Task.last_status = property(last_status, original_status.fset)  # type: ignore[assignment]
    mod.StateTaskServiceEcs._build_sync_resolver = _failing_sync_resolver(  # type: ignore[method-assign]
        mod.StateTaskServiceEcs._build_sync_resolver
    )
    mod.StateTaskServiceEcs._get_callback_outcome_failure_event = _states_failure_event  # type: ignore[method-assign]
