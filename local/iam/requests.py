"""What AWS authorizes for an API call: the IAM action(s), the resource ARN(s) as AWS forms them, and
the request's context keys, for the calls the orchestrator's principals make
(``chalicelib/platform/aws_calls.py``).

``authorizations(service, operation, params, lookup)`` takes botocore's service name, the operation and its
API parameters (a client's, or a request parsed by ``local/iam/wire.py``); ``lookup`` answers what only the
account knows (a task token's state machine, a task definition's latest revision and roles, a secret's full
ARN). An operation with no rule here raises ``UnmappedCall``: the local runtime refuses it rather than let it
through unchecked, and the fix is a rule here and a row in the table.

Sources: the Service Authorization Reference (action names and ARN formats per service); for S3, the
"Amazon S3 actions" mapping of API operations to permissions (``HeadObject`` -> ``s3:GetObject``, multipart
upload parts -> ``s3:PutObject``, ``ListParts`` -> ``s3:ListMultipartUploadParts``, ``ListObjectsV2`` ->
``s3:ListBucket`` on the bucket); for ``ecs:runTask.sync``, the Step Functions guide's ECS policy (the
``ecs:cluster`` condition key, ``iam:PassRole`` of the task's roles to ``ecs-tasks.amazonaws.com``, the
managed EventBridge rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Authorization", "Lookup", "UnmappedCall", "authorizations"]

PREFIX = {"stepfunctions": "states"}
S3_PERMISSION = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
}
DYNAMODB_TABLE_OPS = frozenset(
    {"PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable", "ConditionCheckItem"}
)
SFN_BY_PARAM = {
    "StartExecution": "stateMachineArn",
    "DescribeStateMachine": "stateMachineArn",
    "ListExecutions": "stateMachineArn",
    "DescribeExecution": "executionArn",
    "StopExecution": "executionArn",
    "GetExecutionHistory": "executionArn",
    "RedriveExecution": "executionArn",
    "DescribeMapRun": "mapRunArn",
}
SEND_TASK = frozenset({"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"})
ECS_SYNC_RULE = "rule/StepFunctionsGetEventsForECSTaskRule"


class UnmappedCall(Exception):
    """No rule says which action and resource AWS authorizes for this call."""


@dataclass(frozen=True)
class Authorization:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


class Lookup(Protocol):
    region: str
    account: str

    def token_owner(self, token: str) -> str: ...  # the ARN of the state machine that owns the token

    def task_definition(self, family_or_arn: str) -> tuple[str, list[str]]: ...  # ARN, its roles' ARNs

    def secret_arn(self, secret_id: str) -> str: ...


def _s3(operation: str, params: dict[str, Any]) -> list[Authorization]:
    bucket = params.get("Bucket", "")
    if operation in ("ListObjectsV2", "ListObjects"):
        return [Authorization("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
    if operation == "CopyObject":
        source = str(params.get("CopySource", "")).lstrip("/").split("?")[0]
        return [
            Authorization("s3:GetObject", f"arn:aws:s3:::{source}"),
            Authorization("s3:PutObject", f"arn:aws:s3:::{bucket}/{params.get('Key', '')}"),
        ]
    if operation in S3_PERMISSION:
        return [Authorization(S3_PERMISSION[operation], f"arn:aws:s3:::{bucket}/{params.get('Key', '')}")]
    raise UnmappedCall(f"s3:{operation}")


def _ecs(operation: str, params: dict[str, Any], lookup: Lookup) -> list[Authorization]:
    base = f"arn:aws:ecs:{lookup.region}:{lookup.account}"
    cluster = str(params.get("cluster") or "default")
    cluster_arn = cluster if cluster.startswith("arn:") else f"{base}:cluster/{cluster}"
    context = {"ecs:cluster": cluster_arn}
    if operation == "RunTask":
        definition, roles = lookup.task_definition(str(params.get("taskDefinition", "")))
        return [
            Authorization("ecs:RunTask", definition, context),
            *(
                Authorization("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
                for role in roles
            ),
            *(
                Authorization(
                    f"events:{action}", f"arn:aws:events:{lookup.region}:{lookup.account}:{ECS_SYNC_RULE}"
                )
                for action in ("PutTargets", "PutRule", "DescribeRule")
            ),
        ]
    if operation in ("DescribeTasks", "StopTask"):
        tasks = params.get("tasks") or [params.get("task", "")]
        name = cluster_arn.rsplit("/", 1)[-1]
        return [
            Authorization(
                f"ecs:{operation}", task if task.startswith("arn:") else f"{base}:task/{name}/{task}", context
            )
            for task in tasks
        ]
    raise UnmappedCall(f"ecs:{operation}")


def _function_arn(name: str, lookup: Lookup) -> str:
    return (
        name
        if name.startswith("arn:")
        else f"arn:aws:lambda:{lookup.region}:{lookup.account}:function:{name}"
    )


def authorizations(
    service: str, operation: str, params: dict[str, Any], lookup: Lookup
) -> list[Authorization]:
    """Each (action, resource, context) AWS authorizes for the call; ``UnmappedCall`` if no rule knows it."""
    prefix = PREFIX.get(service, service)
    if service == "s3":
        return _s3(operation, params)
    if service == "dynamodb" and operation in DYNAMODB_TABLE_OPS:
        table = f"arn:aws:dynamodb:{lookup.region}:{lookup.account}:table/{params.get('TableName', '')}"
        return [Authorization(f"dynamodb:{operation}", table)]
    if service == "dynamodb" and operation in ("BatchWriteItem", "BatchGetItem"):
        action = "dynamodb:" + operation
        tables = params.get("RequestItems") or {}
        return [
            Authorization(action, f"arn:aws:dynamodb:{lookup.region}:{lookup.account}:table/{t}")
            for t in tables
        ]
    if service == "stepfunctions" and operation in SEND_TASK:
        return [Authorization(f"states:{operation}", lookup.token_owner(str(params.get("taskToken", ""))))]
    if service == "stepfunctions" and operation in SFN_BY_PARAM:
        return [Authorization(f"states:{operation}", str(params.get(SFN_BY_PARAM[operation], "")))]
    if service == "lambda" and operation == "Invoke":
        return [
            Authorization("lambda:InvokeFunction", _function_arn(str(params.get("FunctionName", "")), lookup))
        ]
    if service == "ecs":
        return _ecs(operation, params, lookup)
    if service == "secretsmanager" and operation in ("GetSecretValue", "DescribeSecret"):
        return [
            Authorization(f"secretsmanager:{operation}", lookup.secret_arn(str(params.get("SecretId", ""))))
        ]
    raise UnmappedCall(f"{prefix}:{operation}")
