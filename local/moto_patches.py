"""Every patch this project applies to moto's internals, and ``install()``, which applies them all.

moto is pinned (5.2.6). Its Step Functions executor (the ASL interpreter ported from LocalStack)
runs our real ``statemachine/orchestrator.asl.json``; these small patches make the parts it needs
work without Docker, and behave as AWS does where moto differs. Each is named after what it fixes
and lives in ``local/patches/<module>.py``, whose docstring states the AWS fact it restores;
``tests/functional/test_moto_patches.py`` (``_ecs.py``, ``_dmap.py``: the ECS and Distributed Map
ones) fails if a moto upgrade breaks one. The runtime they serve: ``local/README.md``. A new
patch: a ``patch_<name>()`` in the module of its service or behaviour, a row below, an entry in
``_PATCHES``, and a test.

=====================================  ===================================================================
patch                                  fixes (in ``local/patches/``)
=====================================  ===================================================================
lambda_in_process                      ``lambda_invoke``: Lambda invokes need Docker: run the handler named
                                       by the function's ``Handler`` (e.g. ``app.start_sync``) in-process
ecs_parameter_casing                   ``ecs_parameters``: ``ecs:runTask`` passes PascalCase parameters
                                       unconverted
send_task_failure_cause                ``sfn_api``: ``SendTaskFailure`` drops ``cause``
execution_name_default                 ``sfn_api``: ``StartExecution`` without a name is named ``"None"``
stop_execution_aborts_at_once          ``sfn_api``: a stopped execution shows ``RUNNING`` until moto's
                                       interpreter thread notices (seconds under load), then may end
                                       ``FAILED``: it is ``ABORTED`` from the moment the stop answers;
                                       a stop before the thread has set up raised (a 500), now kept
                                       and applied once it has
callback_before_heartbeat              ``sfn_callbacks``: an outcome sent before the heartbeat endpoint
                                       exists is lost
heartbeat_before_endpoint              ``sfn_callbacks``: a heartbeat sent while the Lambda invoke is still
                                       running gets ``InvalidToken`` (AWS accepts it: the token is live)
ecs_container_memory                   ``ecs_task_definitions``: a Fargate container without
                                       container-level memory crashes RunTask
ecs_local_task_runner                  ``ecs_task_runner``: an ECS task runs a local process; the first
                                       ``DescribeTasks`` that says STOPPED carries its real exit code (never
                                       moto's default 0: each answer is one moment, moto's own RUNNING ->
                                       STOPPED progression off), and ``.sync`` fails with
                                       ``States.TaskFailed`` (cause: the task JSON) when it is non-zero, as
                                       AWS does; ``StopTask`` SIGTERMs the process, STOPPED when it exits
wait_until_timestamp                   ``sfn_wait``: a ``Wait`` with ``Timestamp``/``TimestampPath`` ends up
                                       to 1 s early (fraction dropped, whole seconds, naive local clock):
                                       it now never ends before its timestamp, as on AWS
ecs_active_task_definition             ``ecs_task_definitions``: ``RunTask`` with a family starts its newest
                                       revision even when it is INACTIVE, and an INACTIVE revision starts
                                       tasks: AWS takes the latest ACTIVE revision and refuses an INACTIVE
                                       one
ecs_overrides_limit                    ``ecs_overrides``: ``RunTask`` started a task whatever the size of its
                                       overrides: AWS refuses more than 8,192 characters of them
                                       (``InvalidParameterException``)
aws_sdk_streaming_body                 ``sfn_aws_sdk``: an ``aws-sdk:s3:getObject`` task's ``Body`` stays a
                                       stream, where AWS hands the state the object's content as a string
dynamodb_query_one_partition           ``dynamodb_query``: a base-table ``Query`` walks and sorts every item
                                       of every partition (slower with every connection) and iterates the
                                       table while other threads add partitions, answering 500
                                       ("dictionary changed size during iteration"), which DynamoDB never
                                       does: it now reads the one partition it names
dynamodb_item_atomicity                ``dynamodb_atomic``: item requests run unlocked on the caller's
                                       thread: two conditional ``UpdateItem`` calls could both pass their
                                       condition (one API-budget slot for two callers), a ``Scan`` could
                                       fail while another thread wrote: each request is now applied whole
distributed_map_child_records          ``dmap_children``: no per-child record (ARN, input, output, status,
                                       error, cause); ``DescribeMapRun`` counts wrong (a failed child stays
                                       running, no pending, total grows as children start)
distributed_map_child_context          ``dmap_children``: a child's ``$$.Execution``/``$$.StateMachine``
                                       are the parent's: now the child execution's (the ItemSelector keeps
                                       the parent's)
distributed_map_result_writer          ``dmap_result_writer``: the S3 ResultWriter writes only a manifest
                                       with empty ``ResultFiles``: now also ``SUCCEEDED_0``/``FAILED_0``/
                                       ``PENDING_0.json`` with AWS's child records
distributed_map_concurrency            ``dmap_concurrency``: MaxConcurrency 0 started one worker per item
                                       (AWS: at most 10,000); two threads per child; a worker recursed per
                                       job
jsonpath_parse_cache                   ``sfn_jsonpath``: every JSONPath use re-parses it (~10 ms each): 2,500
                                       children took minutes; parsed paths are now cached
sdk_client_cache                       ``pace``: the interpreter builds a new boto3 client for every Lambda,
                                       ECS and S3 task (~40 ms of CPU each): one client per region,
                                       service and target now serves them all, calling moto's backends
                                       in-process (``in_process_client``; the runtime's clients too)
server_backend_lookup_cache            ``pace`` (opt-in, below): moto's server matches every request's
                                       ``Host`` against hundreds of URL patterns: the answer for a host
                                       is now kept
lambda_local_concurrency               ``pace`` (opt-in, below): thousands of in-process Lambda
                                       invocations at once share one interpreter lock until calls time
                                       out (AWS never does): at most ``LOCAL_LAMBDA_CONCURRENCY`` (16)
                                       run at once, the rest wait
iam_simulate_principal_policy          ``iam_simulate``: ``SimulatePrincipalPolicy`` is not implemented:
                                       now evaluates the role's or user's identity policies (actions,
                                       resources, conditions on the context given), as ``orchestrator
                                       doctor`` and the deploy's preflight ask AWS to
log_group_cfn_arn                      ``logs_arn``: ``Fn::GetAtt`` of a log group's ``Arn`` lacks AWS's
                                       trailing ``:*``, so policies on it match no log stream
asl_parse_cache                        ``sfn_parse_cache``: moto lexes and parses the whole definition with
                                       ANTLR when the state machine is created and again at every
                                       execution's start (~0.3 s of CPU each): the parse tree is now kept
                                       by definition, each execution still building its own program
billing_counts                         ``billing`` (a measurement, not a fix): the state transitions,
                                       Lambda invocations, budget deferrals and DynamoDB/S3 requests AWS
                                       would bill a run for, counted as they happen (the run report)
=====================================  ===================================================================

``install(pace=True)`` adds the two opt-in ``pace`` patches (``server_backend_lookup_cache``,
``lambda_local_concurrency``): a scenario's ``settings.pace`` (the scale scenarios set it) or
``LocalRuntime(pace=True)`` (the benchmarks) asks for them. ``sdk_client_cache`` stays on for every
run: without it each Lambda, ECS and S3 task of every run builds a boto3 client (~40 ms of CPU) and
calls moto's server over HTTP, which slows every e2e test, and the IAM hook ``interpreter_clients``
(``local/iam/hooks.py``) would meet a new client per task (it attaches the state machine's principal
once per client, by its ``id()``, which a discarded client's successor can reuse).

The Distributed Map patches (``dmap_*``) share what they know of a map run in ``dmap_runs``.
Not emulated: a Distributed Map's ``ToleratedFailureCount``/``ToleratedFailurePercentage`` (moto
ignores them). The orchestrator's definition tolerates ``100.0`` %, which moto parses (an integer
``100`` it would refuse) and with which AWS, like moto, never fails the map run for its children.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from local.patches import (
    billing,
    dmap_children,
    dmap_concurrency,
    dmap_result_writer,
    dynamodb_atomic,
    dynamodb_query,
    ecs_overrides,
    ecs_parameters,
    ecs_task_definitions,
    ecs_task_runner,
    iam_simulate,
    lambda_invoke,
    logs_arn,
    pace,
    sfn_api,
    sfn_aws_sdk,
    sfn_callbacks,
    sfn_jsonpath,
    sfn_parse_cache,
    sfn_wait,
)
from local.patches.ecs_task_runner import TaskHandle, TaskRunner, set_ecs_task_runner
from local.patches.lambda_invoke import register_handler

__all__ = [
    "TaskHandle",
    "TaskRunner",
    "install",
    "installed_patches",
    "register_handler",
    "set_ecs_task_runner",
]

_lock = threading.Lock()
# moto's switch for its public AMI catalogue in each new EC2 backend (``install``).
LOAD_DEFAULT_AMIS_ENV = "MOTO_EC2_LOAD_DEFAULT_AMIS"
_installed: list[str] = []

# Applied in this order: ecs_active_task_definition wraps the RunTask of ecs_local_task_runner.
_PATCHES: dict[str, Callable[[], None]] = {
    "lambda_in_process": lambda_invoke.patch_lambda_in_process,
    "ecs_parameter_casing": ecs_parameters.patch_ecs_parameter_casing,
    "send_task_failure_cause": sfn_api.patch_send_task_failure_cause,
    "execution_name_default": sfn_api.patch_execution_name_default,
    "stop_execution_aborts_at_once": sfn_api.patch_stop_execution_aborts_at_once,
    "callback_before_heartbeat": sfn_callbacks.patch_callback_before_heartbeat,
    "heartbeat_before_endpoint": sfn_callbacks.patch_heartbeat_before_endpoint,
    "ecs_container_memory": ecs_task_definitions.patch_ecs_container_memory,
    "ecs_local_task_runner": ecs_task_runner.patch_ecs_local_task_runner,
    "wait_until_timestamp": sfn_wait.patch_wait_until_timestamp,
    "ecs_active_task_definition": ecs_task_definitions.patch_ecs_active_task_definition,
    "ecs_overrides_limit": ecs_overrides.patch_ecs_overrides_limit,
    "aws_sdk_streaming_body": sfn_aws_sdk.patch_aws_sdk_streaming_body,
    "dynamodb_query_one_partition": dynamodb_query.patch_dynamodb_query_one_partition,
    "dynamodb_item_atomicity": dynamodb_atomic.patch_dynamodb_item_atomicity,
    "distributed_map_child_records": dmap_children.patch_distributed_map_child_records,
    "distributed_map_child_context": dmap_children.patch_distributed_map_child_context,
    "distributed_map_result_writer": dmap_result_writer.patch_distributed_map_result_writer,
    "distributed_map_concurrency": dmap_concurrency.patch_distributed_map_concurrency,
    "jsonpath_parse_cache": sfn_jsonpath.patch_jsonpath_parse_cache,
    "sdk_client_cache": pace.patch_sdk_client_cache,
    "iam_simulate_principal_policy": iam_simulate.patch_simulate_principal_policy,
    "log_group_cfn_arn": logs_arn.patch_log_group_cfn_arn,
    # After tolerated_failure_percentage_integer, which it wraps: keyed by the definition as created.
    "asl_parse_cache": sfn_parse_cache.patch_asl_parse_cache,
    "billing_counts": billing.patch_billing_counts,
}
# Opt-in (``install(pace=True)``: the scale scenarios' ``settings.pace``, the benchmarks): they serve
# only runs of hundreds or thousands of connections.
_PACE_PATCHES: dict[str, Callable[[], None]] = {
    "server_backend_lookup_cache": pace.patch_server_backend_lookup_cache,
    "lambda_local_concurrency": pace.patch_lambda_local_concurrency,
}


def installed_patches() -> list[str]:
    return list(_installed)


def install(*, pace: bool = False) -> list[str]:
    """Apply every patch once per process (idempotent, thread-safe); with ``pace``, the opt-in pace
    patches too (once applied, they stay for the process). Returns the names of those applied.

    Also tells moto not to load its catalogue of public AMIs into each new EC2 backend (every reset
    of the account, every test's ``mock_aws``): about 0.25 s of CPU each, and nothing here runs an
    instance (the stack uses the default VPC's subnets and a security group only). A value already in
    ``MOTO_EC2_LOAD_DEFAULT_AMIS`` is kept."""
    os.environ.setdefault(LOAD_DEFAULT_AMIS_ENV, "false")
    with _lock:
        for name, apply in (_PATCHES | _PACE_PATCHES if pace else _PATCHES).items():
            if name not in _installed:
                apply()
                _installed.append(name)
    return list(_installed)
