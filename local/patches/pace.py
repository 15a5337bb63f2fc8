"""Patches that let moto keep AWS's pace at thousands of connections (moto 5.2.6).

AWS answers a run's calls in milliseconds whatever their number; moto, one Python process,
spent most of a large run's CPU redoing work whose result never changes. Each patch below
keeps such a result, or bounds how much runs at once, and changes no answer;
``tests/functional/test_moto_patches_pace.py`` checks both (the same answer, the work done once).
Applied by ``local/moto_patches.py``: ``sdk_client_cache`` with the others, always (every run's
tasks use it); ``server_backend_lookup_cache`` and ``lambda_local_concurrency`` only when asked
(``install(pace=True)``: a scenario's ``settings.pace``, as the scale scenarios set it, or
``LocalRuntime(pace=True)``, as the benchmarks do).

=============================  ==============================================================
patch                          what moto redid
=============================  ==============================================================
sdk_client_cache               the Step Functions interpreter built a new boto3 client for
                               every Lambda, ECS and S3 task (~40 ms of CPU each: 2,500
                               children spent over a minute creating clients); one client per
                               region, service and target now serves them all (boto3 clients
                               are thread-safe), and inside moto's server it is an
                               ``in_process_client`` (no HTTP round trip to itself)
server_backend_lookup_cache    moto's server matched each request's ``Host`` against every
                               service's URL patterns (hundreds of regular expressions) on
                               every request; the answer for a host is now kept
in_process_clients             (not a patch: ``in_process_client``) this process's own clients
                               (the handlers', the runtime's, the interpreter's) went through
                               HTTP to moto's server in the same process; they now hand each
                               request to moto's backends directly, as ``mock_aws`` does, and
                               get the same answers (other processes still use the server)
lambda_local_concurrency       the handlers run in this process, and 2,500 children invoked
                               theirs at once: thousands of runnable threads shared one
                               interpreter lock until calls took over a minute and timed out
                               (webhooks answered 503), which AWS never does. At most
                               ``LOCAL_LAMBDA_CONCURRENCY`` invocations now run at once and
                               the rest wait for a slot: later, never a different answer
=============================  ==============================================================
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import boto3

__all__ = [
    "LOCAL_LAMBDA_CONCURRENCY",
    "in_process_client",
    "patch_lambda_local_concurrency",
    "patch_sdk_client_cache",
    "patch_server_backend_lookup_cache",
]

# In-process Lambda invocations running at once. AWS runs up to the account's concurrency
# (1,000 by default) in parallel; this machine has a few cores, and more runnable threads only
# slow each other down.
LOCAL_LAMBDA_CONCURRENCY = 16


# -- sdk_client_cache -------------------------------------------------------------------------

# moto's modules that import ``boto_client_for`` by name, for the tasks our definition runs
# (each keeps its own reference, so each is patched).
_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
_CLIENT_USERS = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    _SERVICE + "state_task_service_ecs",
    _SERVICE + "state_task_service_aws_sdk",
    _SERVICE + "state_task_service_sfn",
    _SERVICE + "state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
)


def _cached_client_factory(build: Callable[..., Any]) -> Callable[..., Any]:
    """``build(region, service, state_credentials)`` once per region, service and target.

    The target is what ``boto_client_for`` reads at call time: whether moto intercepts boto3
    in-process (``mock_aws``) or the client must call moto's server (and on which port), so a
    client made for one is never handed to the other."""
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    lock = threading.Lock()
    clients: dict[tuple[str, str, bool, str], Any] = {}

    @functools.wraps(build)
    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, bool(botocore_stubber.enabled), str(moto_server_port()))
        with lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = _build(region, service, state_credentials)
        return client

    def _build(region: str, service: str, state_credentials: Any) -> Any:
        if botocore_stubber.enabled:  # mock_aws: boto3 calls never leave the process anyway
            return build(region, service, state_credentials)
        # The interpreter runs inside moto's server, whose backends are in this process: the same
        # client moto builds (its credentials and config), minus the HTTP round trip to itself.
        template = build(region, service, state_credentials)
        return in_process_client(
            boto3.session.Session(),
            service,
            region_name=region,
            aws_access_key_id="ak",
            aws_secret_access_key="sk",  # noqa: S106 - moto's own placeholder credentials
            config=template.meta.config,
        )

    return client_for


# -- in_process_client ------------------------------------------------------------------------

_direct: Any = None


def _dispatcher() -> Any:
    """moto's own request dispatcher (what ``mock_aws`` hooks into botocore), always on."""
    global _direct
    if _direct is None:
        from moto.core.botocore_stubber import BotocoreStubber

        _direct = BotocoreStubber()
        _direct.enabled = True
    return _direct


def in_process_client(session: Any, service: str, **kwargs: Any) -> Any:
    """A boto3 client of ``session`` whose requests moto's backends in this process answer
    directly, without HTTP. Its endpoint is AWS's own (no ``endpoint_url``): a request moto does
    not know fails to reach AWS rather than going anywhere unexpected."""
    client = session.client(service, **kwargs)
    client.meta.events.register_first("before-send", _dispatcher())
    return client


def patch_sdk_client_cache() -> None:
    import importlib
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    cached = _cached_client_factory(original)
    for name in _CLIENT_USERS:
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = cached  # type: ignore[attr-defined]


# -- server_backend_lookup_cache --------------------------------------------------------------


def patch_server_backend_lookup_cache() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    @functools.wraps(original)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in found:
            found[host] = original(self, host)
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


# -- lambda_local_concurrency -----------------------------------------------------------------


def patch_lambda_local_concurrency() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.invoke
    slots = threading.BoundedSemaphore(LOCAL_LAMBDA_CONCURRENCY)

    @functools.wraps(original)
    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        with slots:
            return original(self, *args, **kwargs)

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
