"""Patch ``billing_counts`` (a measurement, not a fix): count what AWS bills a run for, as it runs.

AWS facts (/work/shared/reference/aws-facts.md, "Quotas and billing"; AWS Step Functions pricing,
"state transitions"): a Standard workflow is billed one state transition for every state the
parent and each child execution enter, **retries included**, plus **one for each child execution
a Distributed Map starts**. Lambda bills each invocation; DynamoDB and S3 each request.

Counted here, in the interpreter and the backends every caller goes through:

- ``CommonStateField._eval_body`` (a state entered) and ``ExecutionState._handle_retry`` (a retry
  granted): one transition each, to the parent execution, or to its children when the thread is
  running a child execution (``child_execution``, entered by ``dmap_children``; a child runs in
  one worker thread);
- ``child_execution``: the child's start, one more transition to the children;
- ``lambda_invoke``'s in-process invoke calls ``lambda_invoked``: invocations per function name
  (the stage prefix dropped), and the ``start_sync`` answers the API budget deferred
  (``"budget": true``), per connection;
- ``BaseResponse.setup_class`` (every request moto's DynamoDB and S3 backends answer, from this
  process or over HTTP from ``chalice local`` and dbt): requests per service.

Shapes: ``execution_counts(arn) -> {"parent", "children", "child_starts"}``, ``lambda_counts() ->
{function: n}``, ``deferrals(arn) -> {connector_id: n}``, ``request_counts() -> {service: n}``;
``reset()`` starts over (the runtime calls it once the stack is provisioned).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

__all__ = [
    "child_execution",
    "deferrals",
    "execution_counts",
    "lambda_counts",
    "lambda_invoked",
    "patch_billing_counts",
    "request_counts",
    "reset",
]

SERVICES = ("dynamodb", "s3")

_lock = threading.Lock()
_local = threading.local()
_transitions: Counter[tuple[str, str]] = Counter()  # (parent execution ARN, "parent"|"children")
_child_starts: Counter[str] = Counter()
_lambdas: Counter[str] = Counter()
_deferrals: dict[str, Counter[str]] = {}
_requests: Counter[str] = Counter()


def reset() -> None:
    with _lock:
        for counter in (_transitions, _child_starts, _lambdas, _requests):
            counter.clear()
        _deferrals.clear()


def _owner(env: Any) -> str | None:
    """The parent execution this thread is billing: the child's parent, or the env's execution."""
    parent = getattr(_local, "child_of", None)
    if parent is not None:
        return str(parent)
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (KeyError, TypeError, AttributeError):
        return None


def _count_transition(env: Any) -> None:
    owner = _owner(env)
    if owner is None:
        return
    role = "children" if getattr(_local, "child_of", None) is not None else "parent"
    with _lock:
        _transitions[(owner, role)] += 1


@contextlib.contextmanager
def child_execution(parent_arn: str) -> Iterator[None]:
    """This thread runs one child execution of ``parent_arn``'s Distributed Map (its start billed)."""
    with _lock:
        _transitions[(parent_arn, "children")] += 1
        _child_starts[parent_arn] += 1
    previous = getattr(_local, "child_of", None)
    _local.child_of = parent_arn
    try:
        yield
    finally:
        _local.child_of = previous


def lambda_invoked(function_name: str, payload: Any, result: Any) -> None:
    """One invocation of ``function_name`` (``<app>-<stage>-<name>``) that answered ``result``; a
    ``start_sync`` payload names its run (``execution_id``, the parent's ARN)."""
    name = function_name.rsplit("-", 1)[-1]
    owner = payload.get("execution_id") if isinstance(payload, dict) else None
    with _lock:
        _lambdas[name] += 1
        if name == "start_sync" and isinstance(result, dict) and result.get("budget") is True:
            _deferrals.setdefault(owner or "", Counter())[str(result.get("connector_id"))] += 1


def execution_counts(arn: str) -> dict[str, int]:
    with _lock:
        return {
            "parent": _transitions[(arn, "parent")],
            "children": _transitions[(arn, "children")],
            "child_starts": _child_starts[arn],
        }


def lambda_counts() -> dict[str, int]:
    with _lock:
        return dict(sorted(_lambdas.items()))


def deferrals(arn: str | None = None) -> dict[str, int]:
    """Budget deferrals per connection: of one execution's children, or of every run."""
    with _lock:
        if arn is not None:
            return dict(_deferrals.get(arn, {}))
        total: Counter[str] = Counter()
        for counts in _deferrals.values():
            total.update(counts)
        return dict(total)


def request_counts() -> dict[str, int]:
    with _lock:
        return {service: _requests[service] for service in SERVICES}


def patch_billing_counts() -> None:
    from moto.core.responses import BaseResponse
    from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    entered = CommonStateField._eval_body

    @functools.wraps(entered)
    def _eval_body(self: Any, env: Any) -> None:
        _count_transition(env)
        entered(self, env)

    retried = ExecutionState._handle_retry

    @functools.wraps(retried)
    def _handle_retry(self: Any, env: Any, failure_event: Any) -> Any:
        outcome = retried(self, env, failure_event)
        if outcome == RetryOutcome.CanRetry:
            _count_transition(env)
        return outcome

    setup = BaseResponse.setup_class

    @functools.wraps(setup)
    def setup_class(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = getattr(self, "service_name", None)
        if service in SERVICES:
            with _lock:
                _requests[service] += 1
        return setup(self, *args, **kwargs)

    CommonStateField._eval_body = _eval_body  # type: ignore[method-assign]
    ExecutionState._handle_retry = _handle_retry  # type: ignore[method-assign]
    BaseResponse.setup_class = setup_class  # type: ignore[method-assign]
