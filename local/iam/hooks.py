"""Where the local runtime's AWS calls are checked (``local/iam/enforce.py``), installed once per process
after ``local/moto_patches.py``; each hook does nothing while no enforcer is active.

=========================  ===================================================================
hook                       what it does
=========================  ===================================================================
task_token_owner           records, for each task token moto issues, the state machine that owns
                           it (``$$.StateMachine.Id``: a Distributed Map child's is
                           ``stateMachine:<name>/<label>``): AWS evaluates ``SendTask*`` there
lambda_principal           an in-process Lambda handler runs as its function's principal
interpreter_clients        the state machine interpreter's clients call as ``state_machine``
map_run_actions            a Distributed Map describes its own execution and starts its children
                           as ``state_machine`` (AWS's Distributed Map policy example)
server_requests            a request signed with a principal's access key (the webhook's
                           ``chalice local``, the dbt process) is checked before moto answers it
=========================  ===================================================================
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from local.iam import enforce
from local.iam.requests import Authorization
from local.iam.wire import denial_response, read_request

__all__ = ["install"]

_installed = False


class MapRunRefused(Exception):
    """The state machine role may not run the Distributed Map (its execution, its children)."""


def _patch_task_token_owner() -> None:
    from moto.stepfunctions.parser.asl.eval.states import ContextObject

    original = ContextObject.update_task_token

    @functools.wraps(original)
    def update_task_token(self: Any) -> str:
        token: str = original(self)
        machine = (self.context_object_data.get("StateMachine") or {}).get("Id")
        if machine:
            enforce.record_token(token, str(machine))
        return token

    ContextObject.update_task_token = update_task_token  # type: ignore[method-assign]


def _patch_lambda_principal() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda

    @functools.wraps(original)
    def _invoke_lambda(self: Any, *args: Any, **kwargs: Any) -> Any:
        enforcer = enforce.active()
        principal = enforcer.functions.get(self.function_name) if enforcer is not None else None
        with enforce.acting_as(principal):
            return original(self, *args, **kwargs)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


def _patch_interpreter_clients() -> None:
    attached: set[int] = set()
    wrapped: dict[int, Any] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.stepfunctions.") or not hasattr(module, "boto_client_for"):
            continue
        original = module.boto_client_for
        if id(original) not in wrapped:

            def client_for(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                client = _original(*args, **kwargs)
                if id(client) not in attached:
                    attached.add(id(client))
                    enforce.attach(client, "state_machine")
                return client

            wrapped[id(original)] = functools.wraps(original)(client_for)
        setattr(module, "boto_client_for", wrapped[id(original)])  # noqa: B010 - a module found at run time


def _patch_map_run_actions() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )

    original = component.DistributedIterationComponent._map_run

    @functools.wraps(original)
    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        enforcer = enforce.active()
        if enforcer is not None:
            context = env.states.context_object.context_object_data
            execution, machine = context["Execution"]["Id"], context["StateMachine"]["Id"]
            try:
                enforcer.authorize(
                    "state_machine",
                    [
                        Authorization("states:DescribeExecution", execution),
                        Authorization("states:StartExecution", machine),
                    ],
                )
            except enforce.AccessDenied as denied:  # the map run fails; the cause in AWS's service form
                raise MapRunRefused(
                    f"{denied.message} (Service: AWSStepFunctions; Status Code: 400; "
                    "Error Code: AccessDeniedException)"
                ) from None
        original(self, env, eval_input)

    component.DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


def _patch_server_requests() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        enforcer = enforce.active()
        request = read_request(environ) if enforcer is not None else None
        principal = enforcer.by_key.get(request[0]) if enforcer is not None and request else None
        if enforcer is not None and request is not None and principal is not None:
            _, service, operation, params = request
            try:
                enforcer.check_call(principal.name, service, operation, params)
            except enforce.AccessDenied as denied:
                status, headers, body = denial_response(service, denied.message)
                start_response(status, headers)
                return [body]
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]


def install() -> None:
    """Install every hook (idempotent); call after ``local.moto_patches.install()``."""
    global _installed
    if _installed:
        return
    _patch_task_token_owner()
    _patch_lambda_principal()
    _patch_interpreter_clients()
    _patch_map_run_actions()
    _patch_server_requests()
    _installed = True
