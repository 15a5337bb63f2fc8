"""Who calls what: every AWS call each principal of a deployed stage makes, with the IAM action and the
resource ARN as AWS forms it for that call. The one owner of that knowledge: the functions' policy files
(``python -m infra.policies``), the state machine's and the dbt task's policies in ``infra/template.yaml``
(checked against this table by tests/infra), the local runtime's IAM enforcement (``local/iam``) and
``orchestrator doctor`` all read it. A call that is not here is a call no policy allows: add the row with
the code that makes the call (tests/infra/test_aws_calls*.py catch a role that lacks one).

Pure data, importing nothing of ours: it ships with the Lambda code and costs nothing at import.

Principals: the Chalice functions (one role each, ``<app>-<stage>-<function>``: Chalice 1.34 with
``autogen_policy: false``), ``state_machine`` (its role runs the integrations of the parent execution and
of every Distributed Map child), ``dbt_task`` (the dbt container's task role), ``dbt_execution`` (ECS's task
execution role: image pull, logs, the warehouse secret), ``scheduler`` (EventBridge Scheduler's role).

Resource templates use ``str.format`` placeholders:

- stage-wide: ``{partition}`` ``{region}`` ``{account}`` ``{app}`` ``{stage}``;
- deploy-time names CloudFormation generates: ``{artifacts_bucket}``, ``{task_role}``,
  ``{task_execution_role}`` (role names, not ARNs);
- per call (``VARIABLE``): ``{key}`` (an S3 key below a prefix), ``{execution_id}`` (a parent execution's
  name), ``{map_label}`` (a Distributed Map's run label: ``Sync`` in orchestrator.asl.json),
  ``{child_id}`` (a child execution's name), ``{task_id}`` (an ECS task id), ``{revision}`` (a task
  definition revision), ``{log_stream}``, ``{secret_suffix}`` (the 6 characters Secrets Manager appends to
  a secret's name in its ARN). ``render_resource`` fills them with an example value (``EXAMPLES``);
  ``render_resource(..., pattern=True)`` with ``*``, the form a policy grants.

AWS facts used (see /work/shared/reference/aws-facts.md, "IAM as deployed"):

- a Distributed Map's children belong to the state machine ``stateMachine:<name>/<label>``; their ARNs
  are ``execution:<name>/<label>:<id>`` (AWS "Examining Map Runs"; StartExecution API reference);
- ``states:SendTask*`` take no resource type in the Service Authorization Reference, yet AWS evaluates
  them against the state machine that owns the token (aws/aws-cdk#8486; NOAA-OWP/hydrovis#837): the
  table names that state machine;
- AWS's Distributed Map policy example (``iam-policies-eg-dist-map``): ``StartExecution`` on the state
  machine, ``DescribeExecution`` on ``execution:<name>:*``, ``RedriveExecution`` on the children;
  ItemReader ``s3:GetObject``, ResultWriter ``s3:PutObject``, ``GetObject``, ``ListMultipartUploadParts``,
  ``AbortMultipartUpload``;
- ``ecs:runTask.sync`` needs ``events:PutTargets``/``PutRule``/``DescribeRule`` on the managed rule
  ``StepFunctionsGetEventsForECSTaskRule`` and ``iam:PassRole`` on the task's roles (AWS "IAM policies
  for Amazon ECS" in the Step Functions guide).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

__all__ = [
    "AWS_CALLS",
    "CHALICE_FUNCTIONS",
    "EXAMPLES",
    "PRINCIPALS",
    "VARIABLE",
    "AwsCall",
    "calls_of",
    "function_name",
    "placeholders",
    "render_resource",
]

# The Chalice functions (app.py), each with its own role.
CHALICE_FUNCTIONS = (
    "list_connectors",
    "start_sync",
    "collect_outcomes",
    "transform_lease",
    "api_handler",
    "reconcile_syncs",
    "notify_run",
)
PRINCIPALS = (*CHALICE_FUNCTIONS, "state_machine", "dbt_task", "dbt_execution", "scheduler")

# Placeholders that vary per call, with an example value (a concrete ARN for simulations).
EXAMPLES: dict[str, str] = {
    "key": "example-run/connections.json",
    "execution_id": "example-run",
    "map_label": "Sync",
    "child_id": "example-child",
    "task_id": "0123456789abcdef0123456789abcdef",
    "revision": "1",
    "log_stream": "example-stream",
    "secret_suffix": "AbCdEf",
}
VARIABLE = tuple(EXAMPLES)


@dataclass(frozen=True)
class AwsCall:
    """One call: ``principal`` makes ``action`` (IAM's name) on ``resource`` (an ARN template)."""

    principal: str
    action: str
    resource: str
    why: str


_ARN = "arn:{partition}"
_TABLE = _ARN + ":dynamodb:{region}:{account}:table/{app}-{stage}-tokens"
_SECRET = _ARN + ":secretsmanager:{region}:{account}:secret:{app}/{stage}/"
_FIVETRAN_SECRET = _SECRET + "fivetran-api-{secret_suffix}"
_WEBHOOK_SECRET = _SECRET + "webhook-secret-{secret_suffix}"
_WAREHOUSE_SECRET = _SECRET + "warehouse-{secret_suffix}"
_SLACK_SECRET = _SECRET + "slack-webhook-{secret_suffix}"
_NOTIFY_TOPIC = _ARN + ":sns:{region}:{account}:{app}-{stage}-runs"
_BUCKET = _ARN + ":s3:::{artifacts_bucket}"
_RUNS = _BUCKET + "/runs/{key}"
_MAP_RUNS = _BUCKET + "/map-runs/{key}"
_DBT_RUNS = _BUCKET + "/dbt-runs/{key}"
_DBT_STATE = _BUCKET + "/dbt-state/{key}"
_STATES = _ARN + ":states:{region}:{account}"
_STATE_MACHINE = _STATES + ":stateMachine:{app}-{stage}"
_CHILD_STATE_MACHINE = _STATE_MACHINE + "/{map_label}"
_EXECUTION = _STATES + ":execution:{app}-{stage}:{execution_id}"
_CHILD_EXECUTION = _STATES + ":execution:{app}-{stage}/{map_label}:{child_id}"
_FUNCTION = _ARN + ":lambda:{region}:{account}:function:{app}-{stage}-"
_ECS = _ARN + ":ecs:{region}:{account}"
_ROLE = _ARN + ":iam::{account}:role/"


def _logs(function: str) -> tuple[AwsCall, ...]:
    # Chalice names a function ``<app>-<stage>-<name>``, but the REST API's handler ``<app>-<stage>``
    # (chalice/deploy/appgraph.py, 1.34): its log group is ``/aws/lambda/<app>-<stage>``.
    name = "{app}-{stage}" if function == "api_handler" else "{app}-{stage}-" + function
    group = _ARN + ":logs:{region}:{account}:log-group:/aws/lambda/" + name
    why = "the Lambda runtime writes the function's logs (CloudWatch Logs)"
    return (
        AwsCall(function, "logs:CreateLogGroup", group + ":*", why),
        AwsCall(function, "logs:CreateLogStream", group + ":log-stream:{log_stream}", why),
        AwsCall(function, "logs:PutLogEvents", group + ":log-stream:{log_stream}", why),
    )


def _calls(principal: str, actions: tuple[str, ...], resource: str, why: str) -> tuple[AwsCall, ...]:
    return tuple(AwsCall(principal, action, resource, why) for action in actions)


def _callbacks(principal: str, actions: tuple[str, ...], why: str) -> tuple[AwsCall, ...]:
    """``SendTask*`` on the state machine that owns the token: a Distributed Map child's (every token
    today), and the parent's own (a ``waitForTaskToken`` state outside the Map)."""
    return (
        *_calls(principal, actions, _CHILD_STATE_MACHINE, why),
        *_calls(principal, actions, _STATE_MACHINE, why.replace("a child execution's", "the parent's")),
    )


_FIVETRAN_KEY = "chalicelib/platform/secrets.py: the Fivetran API key and secret (FIVETRAN_API_SECRET_ARN)"
_SETTLE = "chalicelib/tokens/callbacks.py via resolver.py: completes a child execution's task token"
_STORE = "chalicelib/tokens/store.py: the token table"
_LEASE = "chalicelib/run/transform_lease.py: the lease item (transform#<target>)"
_NEW_DATA = "dbt_container/task/new_data_run.py: selection by new data's dbt-state/<target>/build_state.json"
_DBT_ARTIFACTS = (
    "dbt_container/task/artifacts.py, entrypoint.py: the run's artifacts, summary.json (Put); "
    "retry_state.py: a retried run's run_results.json, manifest.json as dbt --state (Get)"
)
_TOKEN_READ_WRITE = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query")
_CALLBACKS = ("states:SendTaskSuccess", "states:SendTaskFailure")
_NOTIFY = "chalicelib/notify/notifier.py and delivery.py: "

AWS_CALLS: tuple[AwsCall, ...] = (
    # -- list_connectors: the run's first state ------------------------------------------------
    AwsCall("list_connectors", "secretsmanager:GetSecretValue", _FIVETRAN_SECRET, _FIVETRAN_KEY),
    AwsCall(
        "list_connectors",
        "s3:PutObject",
        _RUNS,
        "chalicelib/run/fanout.py write_items: runs/<execution>/connections.json and skipped.json; "
        "chalicelib/run/retries.py note_retry: runs/<run>/retry_of.json and retried_by.json",
    ),
    *_logs("list_connectors"),
    # -- start_sync: one per child execution ---------------------------------------------------
    AwsCall("start_sync", "secretsmanager:GetSecretValue", _FIVETRAN_SECRET, _FIVETRAN_KEY),
    *_calls(
        "start_sync",
        ("dynamodb:PutItem", *_TOKEN_READ_WRITE),
        _TABLE,
        _STORE + ": park, arm, the API budget's counter, the connection's state, remove",
    ),
    *_callbacks(
        "start_sync",
        ("states:SendTaskSuccess", "states:SendTaskFailure"),
        _SETTLE + " at once (sync already over, trigger refused)",
    ),
    *_logs("start_sync"),
    # -- collect_outcomes: after the Map -------------------------------------------------------
    AwsCall(
        "collect_outcomes",
        "s3:GetObject",
        _RUNS,
        "chalicelib/run/fanout.py collect_run: runs/<execution>/connections.json and skipped.json",
    ),
    AwsCall(
        "collect_outcomes",
        "s3:GetObject",
        _MAP_RUNS,
        "chalicelib/run/collect.py: the ResultWriter's manifest.json and SUCCEEDED/FAILED/PENDING_n.json",
    ),
    AwsCall(
        "collect_outcomes",
        "s3:PutObject",
        _RUNS,
        "chalicelib/run/fanout.py collect_run: runs/<execution>/outcomes.json and exclude_sources.json",
    ),
    *_logs("collect_outcomes"),
    # -- transform_lease: before and after RunDbt ----------------------------------------------
    *_calls(
        "transform_lease", ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"), _TABLE, _LEASE
    ),
    AwsCall("transform_lease", "states:DescribeExecution", _EXECUTION, _LEASE + ": is its holder RUNNING?"),
    *_logs("transform_lease"),
    # -- api_handler: POST /webhooks/fivetran --------------------------------------------------
    AwsCall(
        "api_handler",
        "secretsmanager:GetSecretValue",
        _WEBHOOK_SECRET,
        "chalicelib/platform/secrets.py: the webhook secret (FIVETRAN_WEBHOOK_SECRET_ARN), current, previous",
    ),
    AwsCall("api_handler", "secretsmanager:GetSecretValue", _FIVETRAN_SECRET, _FIVETRAN_KEY),
    *_calls(
        "api_handler",
        _TOKEN_READ_WRITE,
        _TABLE,
        _STORE + ": the connection's state, the sync seen, claim and remove a token",
    ),
    *_callbacks("api_handler", ("states:SendTaskSuccess", "states:SendTaskFailure"), _SETTLE),
    *_logs("api_handler"),
    # -- reconcile_syncs: the safety net -------------------------------------------------------
    AwsCall("reconcile_syncs", "secretsmanager:GetSecretValue", _FIVETRAN_SECRET, _FIVETRAN_KEY),
    *_calls(
        "reconcile_syncs",
        ("dynamodb:PutItem", *_TOKEN_READ_WRITE, "dynamodb:Scan"),
        _TABLE,
        _STORE + ": the pass's lease, every parked token (scan), the connection's state, claim and remove",
    ),
    *_callbacks(
        "reconcile_syncs",
        ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"),
        _SETTLE + "; chalicelib/safety_net/reconcile.py: a heartbeat for every parked token",
    ),
    *_logs("reconcile_syncs"),
    # -- notify_run: a run's end (EventBridge) -------------------------------------------------
    AwsCall("notify_run", "states:DescribeExecution", _EXECUTION, _NOTIFY + "the run's dates, error, cause"),
    AwsCall("notify_run", "s3:GetObject", _RUNS, _NOTIFY + "runs/<execution>/outcomes.json"),
    AwsCall("notify_run", "s3:GetObject", _DBT_RUNS, _NOTIFY + "dbt-runs/<execution>/summary.json"),
    AwsCall("notify_run", "secretsmanager:GetSecretValue", _SLACK_SECRET, _NOTIFY + "the Slack webhook URL"),
    AwsCall("notify_run", "sns:Publish", _NOTIFY_TOPIC, _NOTIFY + "the run's message (email subscribers)"),
    *_logs("notify_run"),
    # -- state_machine: statemachine/orchestrator.asl.json, parent and children -----------------
    *(
        AwsCall(
            "state_machine", "lambda:InvokeFunction", _FUNCTION + function, f"lambda:invoke of {function}"
        )
        for function in ("list_connectors", "start_sync", "collect_outcomes", "transform_lease")
    ),
    AwsCall(
        "state_machine",
        "states:StartExecution",
        _STATE_MACHINE,
        "SyncConnectors (Distributed Map) starts each child execution",
    ),
    AwsCall(
        "state_machine",
        "states:DescribeExecution",
        _EXECUTION,
        "SyncConnectors (Distributed Map) describes its own execution (AWS's Distributed Map policy example)",
    ),
    *_calls(
        "state_machine",
        ("states:DescribeExecution", "states:StopExecution"),
        _CHILD_EXECUTION,
        "SyncConnectors (Distributed Map) watches its children and stops them when the map run fails",
    ),
    AwsCall(
        "state_machine",
        "states:RedriveExecution",
        _CHILD_EXECUTION,
        "a redriven run redrives its map run's failed children",
    ),
    AwsCall(
        "state_machine",
        "s3:GetObject",
        _RUNS,
        "SyncConnectors ItemReader: runs/<execution>/connections.json",
    ),
    *_calls(
        "state_machine",
        ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"),
        _MAP_RUNS,
        "SyncConnectors ResultWriter: map-runs/<map run id>/manifest.json and the result files",
    ),
    AwsCall(
        "state_machine",
        "ecs:RunTask",
        _ECS + ":task-definition/{app}-{stage}-dbt:{revision}",
        "RunDbt (ecs:runTask.sync) on the family's latest ACTIVE revision",
    ),
    *_calls(
        "state_machine",
        ("ecs:DescribeTasks", "ecs:StopTask"),
        _ECS + ":task/{app}-{stage}/{task_id}",
        "RunDbt (ecs:runTask.sync) watches the task, stops it when the state times out",
    ),
    *_calls(
        "state_machine",
        ("events:PutTargets", "events:PutRule", "events:DescribeRule"),
        _ARN + ":events:{region}:{account}:rule/StepFunctionsGetEventsForECSTaskRule",
        "RunDbt (ecs:runTask.sync) learns that the task stopped through this managed rule",
    ),
    AwsCall("state_machine", "iam:PassRole", _ROLE + "{task_role}", "RunDbt: the task's role"),
    AwsCall(
        "state_machine", "iam:PassRole", _ROLE + "{task_execution_role}", "RunDbt: the task's execution role"
    ),
    AwsCall(
        "state_machine",
        "s3:GetObject",
        _DBT_RUNS,
        "ReadDbtSummary (aws-sdk:s3:getObject): dbt-runs/<execution>/summary.json",
    ),
    # -- dbt_task: dbt_container/ (the container's own code) -----------------------------------
    AwsCall(
        "dbt_task",
        "s3:GetObject",
        _RUNS,
        "dbt_container/task/: runs/<execution>/exclude_sources.json, outcomes.json, connections.json, "
        "retry_of.json",
    ),
    *_calls("dbt_task", ("s3:GetObject", "s3:PutObject"), _DBT_RUNS, _DBT_ARTIFACTS),
    *_calls("dbt_task", ("s3:GetObject", "s3:PutObject"), _DBT_STATE, _NEW_DATA),
    # -- dbt_execution: ECS itself, before the container starts ---------------------------------
    AwsCall("dbt_execution", "ecr:GetAuthorizationToken", "*", "ECS logs in to ECR (no resource type)"),
    *_calls(
        "dbt_execution",
        ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"),
        _ARN + ":ecr:{region}:{account}:repository/{app}-{stage}-dbt",
        "ECS pulls the dbt image",
    ),
    *_calls(
        "dbt_execution",
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        _ARN + ":logs:{region}:{account}:log-group:/ecs/{app}-{stage}-dbt:log-stream:{log_stream}",
        "the awslogs driver writes the container's output",
    ),
    AwsCall(
        "dbt_execution",
        "secretsmanager:GetSecretValue",
        _WAREHOUSE_SECRET,
        "ECS reads the warehouse secret into the container's environment",
    ),
    # -- scheduler: EventBridge Scheduler ------------------------------------------------------
    AwsCall("scheduler", "states:StartExecution", _STATE_MACHINE, "the stage's schedule starts a run"),
)


def calls_of(principal: str) -> tuple[AwsCall, ...]:
    """Every call of ``principal`` (one of ``PRINCIPALS``); ``KeyError`` for an unknown principal."""
    if principal not in PRINCIPALS:
        raise KeyError(f"unknown principal {principal!r}: one of {', '.join(PRINCIPALS)}")
    return tuple(call for call in AWS_CALLS if call.principal == principal)


def placeholders(template: str) -> tuple[str, ...]:
    """The ``{names}`` a resource template uses, in order."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def render_resource(
    call: AwsCall,
    *,
    partition: str = "aws",
    region: str,
    account: str,
    app: str,
    stage: str,
    pattern: bool = False,
    **extra: str,
) -> str:
    """The call's resource ARN. Per-call placeholders (``VARIABLE``) take ``extra``'s value, else an
    example (``EXAMPLES``), or ``*`` when ``pattern`` (what a policy grants). ``KeyError`` names a
    deploy-time placeholder (``artifacts_bucket``, ``task_role``, ``task_execution_role``) not given."""
    values = {"partition": partition, "region": region, "account": account, "app": app, "stage": stage}
    values.update({name: "*" if pattern else example for name, example in EXAMPLES.items()})
    values.update(extra)
    missing = [name for name in placeholders(call.resource) if name not in values]
    if missing:
        raise KeyError(f"{call.principal} {call.action}: give {', '.join(missing)} to render {call.resource}")
    return call.resource.format(**values)


def function_name(app: str, stage: str, function: str) -> str:
    """The Lambda function (and, with ``autogen_policy: false``, its role) Chalice names for ``function``."""
    return f"{app}-{stage}-{function}"
