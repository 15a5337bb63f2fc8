"""Every patch this project applies to moto's internals, in one module (moto is pinned: 5.2.5).

moto's Step Functions executor (the ASL interpreter ported from LocalStack) runs our real
``statemachine/orchestrator.asl.json``; these small patches make the parts it needs work
without Docker. Each is named after what it fixes; ``tests/functional/test_moto_patches.py``
fails if a moto upgrade breaks one. The runtime they serve: ``local/README.md``.

=============================  ==============================================================
patch                          fixes
=============================  ==============================================================
lambda_in_process              Lambda invokes need Docker: run the handler named by the
                               function's ``Handler`` (e.g. ``app.start_sync``) in-process
ecs_parameter_casing           ``ecs:runTask`` passes PascalCase parameters unconverted
send_task_failure_cause        ``SendTaskFailure`` drops ``cause``
execution_name_default         ``StartExecution`` without a name is named ``"None"``
callback_before_heartbeat      an outcome sent before the heartbeat endpoint exists is lost
heartbeat_before_endpoint      a heartbeat sent while the Lambda invoke is still running gets
                               ``InvalidToken`` (AWS accepts it: the token is live)
ecs_container_memory           a Fargate container without container-level memory crashes RunTask
ecs_local_task_runner          an ECS task runs a local process; the first ``DescribeTasks`` that
                               says STOPPED carries its real exit code, and ``.sync`` fails
                               with ``States.TaskFailed`` (cause: the task JSON) when it is
                               non-zero, as AWS does
ecs_active_task_definition     ``RunTask`` with a family starts its newest revision even when it
                               is INACTIVE, and an INACTIVE revision starts tasks: AWS takes the
                               latest ACTIVE revision and refuses an INACTIVE one
aws_sdk_streaming_body         an ``aws-sdk:s3:getObject`` task's ``Body`` stays a stream, where
                               AWS hands the state the object's content as a string
wait_until_timestamp           a ``Wait`` with ``Timestamp``/``TimestampPath`` ends up to 1 s
                               early (fraction dropped, whole seconds, naive local clock): it
                               now never ends before its timestamp, as on AWS
dynamodb_query_one_partition   a base-table ``Query`` walks and sorts every item of every
                               partition (slower with every connection) and iterates the
                               table while other threads add partitions, answering 500
                               ("dictionary changed size during iteration"), which DynamoDB
                               never does: it now reads the one partition it names
--- in ``moto_dmap.py`` (Distributed Map; AWS facts in that module's docstrings) ---
distributed_map_child_records  no per-child record (ARN, input, output, status, error, cause);
                               ``DescribeMapRun`` counts wrong (a failed child stays running,
                               no pending, total grows as children start)
distributed_map_child_context  a child's ``$$.Execution``/``$$.StateMachine`` are the parent's:
                               now the child execution's (the ItemSelector keeps the parent's)
distributed_map_result_writer  the S3 ResultWriter writes only a manifest with empty
                               ``ResultFiles``: now also ``SUCCEEDED_0``/``FAILED_0``/
                               ``PENDING_0.json`` with AWS's child records
distributed_map_tolerated_     ``ToleratedFailureCount/Percentage`` ignored (all children failed,
failures                       map succeeded): now ``States.ExceedToleratedFailureThreshold``,
                               after the results are written
distributed_map_concurrency    MaxConcurrency 0 started one worker per item (AWS: at most
                               10,000); two threads per child; a worker recursed per job
tolerated_failure_percentage_  ``"ToleratedFailurePercentage": 100`` (an integer, valid on AWS)
integer                        fails to parse: only ``100.0`` did
jsonpath_parse_cache           every JSONPath use re-parses it (~10 ms each): 2,500 children
                               took minutes; parsed paths are now cached
=============================  ==============================================================
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from local import moto_dmap, moto_speed

__all__ = ["install", "installed_patches", "register_handler", "set_ecs_task_runner"]

_lock = threading.Lock()
_installed: list[str] = []
_handlers: dict[str, Callable[[Any, Any], Any]] = {}


class TaskHandle(Protocol):
    def poll(self) -> int | None: ...


TaskRunner = Callable[[Any, dict[str, str]], TaskHandle]
_ecs_runner: TaskRunner | None = None
_ecs_handles: dict[str, TaskHandle] = {}


def register_handler(function_name: str, handler: Callable[[Any, Any], Any]) -> None:
    """Run ``handler(event, context)`` for invokes of ``function_name`` (else its Handler is imported)."""
    _handlers[function_name] = handler


def set_ecs_task_runner(runner: TaskRunner | None) -> None:
    """``runner(task, environment)`` starts the task's work and returns a handle with ``poll()``."""
    global _ecs_runner
    _ecs_runner = runner
    if runner is None:
        _ecs_handles.clear()


def installed_patches() -> list[str]:
    return list(_installed)


# -- lambda_in_process -------------------------------------------------------------------


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
        return json.dumps(result), False, ""
    except Exception as exc:  # reported to the state machine like Lambda does
        stack = traceback.format_exception(exc)
        body = {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": stack}
        return json.dumps(body), True, "".join(stack)


def _patch_lambda_in_process() -> None:
    from moto.awslambda.models import LambdaFunction

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


# -- ecs_parameter_casing ----------------------------------------------------------------


def _recase(value: Any, first: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        value.clear()
        for key, inner in items:
            value[first(key[:1]) + key[1:] if isinstance(key, str) else key] = _recase(inner, first)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            value[i] = _recase(inner, first)
    return value


def _patch_ecs_parameter_casing() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as mod,
    )

    def _normalise_parameters(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
        _recase(parameters, str.lower)

    def _normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            _recase(response, str.upper)

    mod.StateTaskServiceEcs._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    mod.StateTaskServiceEcs._normalise_response = _normalise_response  # type: ignore[method-assign]


# -- send_task_failure_cause -------------------------------------------------------------


def _patch_send_task_failure_cause() -> None:
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


# -- execution_name_default --------------------------------------------------------------


def _patch_execution_name_default() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


# -- callback_before_heartbeat -----------------------------------------------------------


def _patch_callback_before_heartbeat() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as mod,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimedOut

    def _wait_for_task_token_heartbeat(
        self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        outcome = callback_endpoint.get_outcome()
        while env.is_running() and outcome is None:
            received = heartbeat_endpoint.clear_and_wait()
            outcome = callback_endpoint.get_outcome()
            if outcome is None and not received and env.is_running():
                return HeartbeatTimedOut()
        return outcome

    mod.StateTaskServiceCallback._wait_for_task_token_heartbeat = _wait_for_task_token_heartbeat  # type: ignore[method-assign]


# -- heartbeat_before_endpoint ---------------------------------------------------------


def _patch_heartbeat_before_endpoint() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    def notify_heartbeat(self: Any) -> bool:
        if self._heartbeat_endpoint is not None:
            self._heartbeat_endpoint.notify()
        return True  # the token is known: the task is scheduled, its heartbeat timer not started yet

    CallbackEndpoint.notify_heartbeat = notify_heartbeat  # type: ignore[method-assign]


# -- ecs_container_memory ----------------------------------------------------------------


def _patch_ecs_container_memory() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition: Any) -> Any:
        defs = task_definition.container_definitions
        missing = [
            d
            for d in defs
            if not any(d.get(k) for k in ("memory", "Memory", "memoryReservation", "MemoryReservation"))
        ]
        for d in missing:
            d["memory"] = 0
        try:
            return original(task_definition)
        finally:
            for d in missing:
                d.pop("memory", None)

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(calculate)  # type: ignore[method-assign]


# -- ecs_local_task_runner ---------------------------------------------------------------


def _task_environment(task: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for container in task.containers:
        for item in container.environment or []:
            env[str(item.get("name"))] = str(item.get("value", ""))
    for override in (task.overrides or {}).get("containerOverrides", []):
        for item in override.get("environment", []) or []:
            env[str(item.get("name"))] = str(item.get("value", ""))
    return env


def _settle(task: Any) -> None:
    """Give a task run by the local runner its real end state, before anything reads the task.

    Called at the start of ``DescribeTasks`` (and by ``lastStatus``), so the one answer that first
    says STOPPED already carries the containers' exit codes, as on AWS.
    """
    handle = _ecs_handles.get(task.task_arn)
    if handle is None or task.status == "STOPPED":
        return
    code = handle.poll()
    if code is None:
        task.status = "RUNNING"
        return
    # A handle may say its container never started (``stopped_reason``): no exit code then, as
    # on AWS when a network interface, the image pull or capacity fails.
    never_started = getattr(handle, "stopped_reason", None)
    for container in task.containers:
        container.exitCode = None if never_started else code
        container.exit_code = container.exitCode
        container.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = never_started or "Essential container in task exited"
    task.status = "STOPPED"


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
        event_details=EventDetails(
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


def _patch_ecs_local_task_runner() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend, Task
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as mod,
    )

    original_run_task = EC2ContainerServiceBackend.run_task
    original_describe_tasks = EC2ContainerServiceBackend.describe_tasks
    original_status = Task.last_status

    def run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        tasks = original_run_task(self, *args, **kwargs)
        if _ecs_runner is not None:
            for task in tasks:
                _ecs_handles[task.task_arn] = _ecs_runner(task, _task_environment(task))
        return tasks

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> Any:
        for task in (t for cluster_tasks in self.tasks.values() for t in cluster_tasks.values()):
            _settle(task)
        return original_describe_tasks(self, cluster_str, tasks)

    def last_status(self: Any) -> str:
        if self.task_arn not in _ecs_handles:
            return original_status.fget(self)
        _settle(self)
        return self.status

    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
    EC2ContainerServiceBackend.describe_tasks = describe_tasks  # type: ignore[method-assign]
    Task.last_status = property(last_status, original_status.fset)  # type: ignore[assignment]
    mod.StateTaskServiceEcs._build_sync_resolver = _failing_sync_resolver(
        mod.StateTaskServiceEcs._build_sync_resolver
    )  # type: ignore[method-assign]
    mod.StateTaskServiceEcs._get_callback_outcome_failure_event = _states_failure_event  # type: ignore[method-assign]


# -- ecs_active_task_definition -----------------------------------------------------------


def _patch_ecs_active_task_definition() -> None:
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_task_definition

    def latest_active(self: Any, family: str) -> int | None:
        revisions = self.task_definitions.get(family) or {}
        active = [rev for rev, definition in revisions.items() if definition.status == "ACTIVE"]
        return max(active) if active else None

    def run_task(self: Any, cluster_str: str, task_definition_str: str, *args: Any, **kwargs: Any) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" not in name:
            revision = latest_active(self, name)
            if revision is None:
                raise InvalidParameterException(f"TaskDefinition not found or inactive: {name}")
            task_definition_str = f"{name}:{revision}"
        elif original(self, task_definition_str).status != "ACTIVE":
            raise InvalidParameterException(f"TaskDefinition is inactive: {name}")
        return original_run_task(self, cluster_str, task_definition_str, *args, **kwargs)

    original_run_task = EC2ContainerServiceBackend.run_task
    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]


# -- aws_sdk_streaming_body ---------------------------------------------------------------


def _patch_aws_sdk_streaming_body() -> None:
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


# -- wait_until_timestamp ----------------------------------------------------------------


def _timestamp_target(text: str) -> float | None:
    """The instant a ``Wait`` timestamp names (epoch seconds, fraction kept), or None if invalid."""
    from datetime import UTC, datetime

    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        return None
    return moment.astimezone(UTC).timestamp()


def _patch_wait_until_timestamp() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    def _eval_body(self: Any, env: Any) -> None:
        self.string.eval(env=env)
        text = env.stack.pop()
        target = _timestamp_target(text) if self._is_valid_timestamp_pattern(text) else None
        if target is None:
            raise FailureEventException(self._create_failure_event(env, text))
        while env.is_running():
            left = target - time.time()
            if left <= 0:
                return
            env.program_state_event.wait(left)

    Timestamp._eval_body = _eval_body  # type: ignore[method-assign]  # TimestampPath inherits it


def _patch_dynamodb_query_one_partition() -> None:
    """A Query on the base table reads only the partition of its hash key, as DynamoDB does (a
    Query "finds items based on primary key values": one partition; DynamoDB developer guide,
    "Querying tables"). Same items, same order: moto's own filters and sort still run on them."""
    from moto.dynamodb.models.table import Table

    partition = threading.local()
    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition.key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    def all_items(self: Any) -> Any:
        key = getattr(partition, "key", None)
        if key is None:
            return original_all_items(self)
        found = self.items.get(key)
        if found is None:
            return []
        items = list(found.values()) if self.range_key_attr else [found]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


_PATCHES: dict[str, Callable[[], None]] = {
    "lambda_in_process": _patch_lambda_in_process,
    "ecs_parameter_casing": _patch_ecs_parameter_casing,
    "send_task_failure_cause": _patch_send_task_failure_cause,
    "execution_name_default": _patch_execution_name_default,
    "callback_before_heartbeat": _patch_callback_before_heartbeat,
    "heartbeat_before_endpoint": _patch_heartbeat_before_endpoint,
    "ecs_container_memory": _patch_ecs_container_memory,
    "ecs_local_task_runner": _patch_ecs_local_task_runner,
    "wait_until_timestamp": _patch_wait_until_timestamp,
    "ecs_active_task_definition": _patch_ecs_active_task_definition,
    "aws_sdk_streaming_body": _patch_aws_sdk_streaming_body,
    "dynamodb_query_one_partition": _patch_dynamodb_query_one_partition,
    **moto_dmap.PATCHES,
    **moto_speed.PATCHES,
}


def install() -> list[str]:
    """Apply every patch once per process (idempotent, thread-safe). Returns their names."""
    with _lock:
        for name, apply in _PATCHES.items():
            if name not in _installed:
                apply()
                _installed.append(name)
    return list(_installed)
