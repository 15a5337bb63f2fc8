"""Create the orchestrator's AWS resources in moto, from the same sources as the real stack:
the token table's key schema from ``infra/template.yaml``, the state machine from
``statemachine/orchestrator.asl.json`` with the same substitutions CloudFormation passes,
and Lambda functions whose ``Handler`` points at the real Chalice handlers in ``app.py``.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from infra.template import token_table_spec
from local.patches.sfn_parse_cache import repeatable_ids
from statemachine.definition import render

__all__ = ["APP_NAME", "Stack", "provision"]

APP_NAME = "fivetran-orchestrator"
LAMBDA_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SFN_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ECS_TASK_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# Chalice name -> handler in app.py (what `chalice deploy` sets as the function's Handler).
FUNCTIONS = {
    "list_connectors": "app.list_connectors",
    "start_sync": "app.start_sync",
    "collect_outcomes": "app.collect_outcomes",
    "transform_lease": "app.transform_lease",
    "notify_run": "app.notify_run",
}


@dataclass(frozen=True)
class Stack:
    stage: str
    table_name: str
    state_machine_arn: str
    function_arns: dict[str, str]
    cluster_arn: str
    task_definition_arn: str
    substitutions: dict[str, str]
    artifacts_bucket: str = ""


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "handlers run in-process (local/moto_patches.py: lambda_in_process)")
    return buffer.getvalue()


def provision(
    clients: dict[str, Any],
    *,
    stage: str = "local",
    tunables: dict[str, Any] | None = None,
) -> Stack:
    """Create table, functions, ECS cluster and task definition, and the state machine.

    Args:
        clients: boto3 clients keyed by service: dynamodb, lambda, iam, ecs, ec2, stepfunctions, s3.
        tunables: overrides of MaxConcurrency, HeartbeatSeconds, SyncTimeoutSeconds, DbtTimeoutSeconds,
            DbtRelaunchWaitSeconds.
    """
    prefix = f"{APP_NAME}-{stage}"
    table = f"{prefix}-tokens"
    clients["dynamodb"].create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **token_table_spec())

    code = _dummy_zip()
    arns = {}
    for name, handler in FUNCTIONS.items():
        # One role per function, named as Chalice names it (autogen_policy false): <app>-<stage>-<function>.
        role = clients["iam"].create_role(
            RoleName=f"{prefix}-{name}", AssumeRolePolicyDocument=json.dumps(LAMBDA_ROLE_POLICY)
        )
        created = clients["lambda"].create_function(
            FunctionName=f"{prefix}-{name}",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=60,
            Environment={"Variables": {"TOKEN_TABLE": table}},
        )
        arns[name] = created["FunctionArn"]

    # The artifacts bucket: the dbt task keeps its artifacts and summary.json there, and the state
    # machine reads a failed run's summary from it (as in infra/template.yaml).
    bucket = f"{prefix}-artifacts"
    clients["s3"].create_bucket(Bucket=bucket)
    log_group = f"/ecs/{prefix}-dbt"
    cluster = clients["ecs"].create_cluster(clusterName=prefix)["cluster"]["clusterArn"]
    task_roles = {
        purpose: clients["iam"].create_role(
            RoleName=f"{prefix}-dbt-{purpose}", AssumeRolePolicyDocument=json.dumps(ECS_TASK_ROLE_POLICY)
        )["Role"]["Arn"]
        for purpose in ("task", "execution")
    }
    task_def = clients["ecs"].register_task_definition(
        family=f"{prefix}-dbt",
        taskRoleArn=task_roles["task"],
        executionRoleArn=task_roles["execution"],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {
                "name": "dbt",
                "image": "local/dbt:latest",
                "essential": True,
                "memory": 2048,
                "environment": [
                    {"name": "DBT_TARGET", "value": "duckdb"},
                    {"name": "ARTIFACTS_BUCKET", "value": bucket},
                    {"name": "ARTIFACTS_PREFIX", "value": "dbt-runs"},
                ],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]

    ec2 = clients["ec2"]
    # The default VPC (made at the account's first EC2 call) and the group get the same ids in every
    # fresh account, so the definition is the same text and moto parses it once per process
    # (local/patches/sfn_parse_cache.py); the group's seed counts the groups already there.
    with repeatable_ids("default-vpc"):
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    groups = len(ec2.describe_security_groups()["SecurityGroups"])
    with repeatable_ids(f"security-group-{groups}"):
        group = ec2.create_security_group(
            GroupName=f"{prefix}-dbt", Description="dbt egress only", VpcId=vpc
        )["GroupId"]

    values = {
        "MaxConcurrency": 0,
        "HeartbeatSeconds": 900,
        "SyncTimeoutSeconds": 21600,
        "DbtTimeoutSeconds": 7200,
        "DbtRelaunchWaitSeconds": "30, 120",
        **(tunables or {}),
    }
    substitutions = {
        "ListConnectorsFunctionArn": arns["list_connectors"],
        "StartSyncFunctionArn": arns["start_sync"],
        "CollectOutcomesFunctionArn": arns["collect_outcomes"],
        "TransformLeaseFunctionArn": arns["transform_lease"],
        "DbtTarget": "duckdb",  # the task definition's DBT_TARGET (below): the transform lease's key
        "ClusterArn": cluster,
        "TaskDefinitionFamily": f"{prefix}-dbt",
        "ArtifactsBucket": bucket,
        "DbtLogGroupName": log_group,
        "SubnetIds": ",".join(subnets[:2]),
        "SecurityGroupIds": group,
        "AssignPublicIp": "DISABLED",
        **{k: str(v) for k, v in values.items()},
    }
    sfn_role = clients["iam"].create_role(
        RoleName=f"{prefix}-sfn", AssumeRolePolicyDocument=json.dumps(SFN_ROLE_POLICY)
    )
    machine = clients["stepfunctions"].create_state_machine(
        name=prefix, definition=render(substitutions), roleArn=sfn_role["Role"]["Arn"]
    )
    return Stack(
        stage=stage,
        table_name=table,
        state_machine_arn=machine["stateMachineArn"],
        function_arns=arns,
        cluster_arn=cluster,
        task_definition_arn=task_def,
        substitutions=substitutions,
        artifacts_bucket=bucket,
    )
