"""`deploy/deployer-policy.json`, the IAM policy the person (or CI role) running `python -m deploy` needs,
allows what the deploy does (issue 20 item 7):

1. every AWS call `python -m deploy` makes in a moto deploy, update and destroy, recorded with a botocore
   event hook, as the IAM action and resource AWS authorizes it on (the S3 API's operation -> action
   table is below);
2. what CloudFormation does with the deployer's credentials for each resource type of infra/template.yaml:
   the type's handler permissions (CloudFormation's resource schemas, as cfn-lint ships them), in the
   type's own service, plus the roles it passes;
3. what `chalice deploy` calls to create functions, their roles, the REST API and the schedule.

Each is evaluated by the same evaluator that answers `iam:SimulatePrincipalPolicy` locally
(`local/patches/iam_simulate.py`: actions, resources with wildcards, conditions on the context given).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chalice_double import ACCOUNT, REGION, FakeChalice

from deploy.commands import DeployOptions, DestroyOptions, deploy, destroy
from deploy.preflight import DEPLOYER_POLICY_PATH
from deploy.stack import Clients, Waiting
from infra.template import TEMPLATE_PATH, load_template
from local.patches.iam_simulate import evaluate

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* but it's not supported:UserWarning")
POLICY = json.loads(DEPLOYER_POLICY_PATH.read_text(encoding="utf-8"))
APP = "fivetran-orchestrator"
ARN = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
# The S3 API's operations and the IAM action each needs (S3 user guide, "Required permissions for
# Amazon S3 API operations"); a new S3 call must be added here.
S3_ACTIONS = {
    "HeadBucket": ["s3:ListBucket"],
    "CreateBucket": ["s3:CreateBucket", "s3:PutBucketOwnershipControls"],
    "PutPublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
    "PutBucketEncryption": ["s3:PutEncryptionConfiguration"],
    "PutBucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration"],
    "PutObject": ["s3:PutObject"],
    "GetObject": ["s3:GetObject"],
    "ListObjectVersions": ["s3:ListBucketVersions"],
    "DeleteObjects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    "DeleteBucket": ["s3:DeleteBucket"],
}


def allowed(action: str, resource: str, **context: str) -> bool:
    return evaluate([POLICY], action, resource, {k: [v] for k, v in context.items()}) == "allowed"


def iam_requests(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, resource) AWS authorizes one API call on."""
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        resource = f"{bucket}/{params['Key']}" if "Key" in params else bucket
        if operation == "DeleteObjects":
            resource = f"{bucket}/*"
        assert operation in S3_ACTIONS, f"add the IAM action of s3 {operation} to S3_ACTIONS"
        return [(action, resource) for action in S3_ACTIONS[operation]]
    if service == "cloudformation":
        return [
            (f"cloudformation:{operation}", ARN.format("cloudformation", f"stack/{params['StackName']}/id"))
        ]
    if service == "iam" and operation == "SimulatePrincipalPolicy":
        return [("iam:SimulatePrincipalPolicy", params["PolicySourceArn"])]
    if service == "sts":
        return [(f"sts:{operation}", "*")]
    raise AssertionError(
        f"the deploy calls {service} {operation}: say which IAM action and resource it needs"
    )


@pytest.fixture
def recorded(
    project: Path, tmp_path: Path, network: dict[str, str], clients: Clients
) -> list[tuple[str, str, dict[str, Any]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.service_model.service_name, model.name, dict(params)))

    for client in (clients.cloudformation, clients.s3, clients.sts, clients.iam):
        client.meta.events.register(
            "provide-client-params.*.*", lambda params, model, **kw: record(model, params)
        )
    params_file = tmp_path / "params-dev.json"
    params_file.write_text(json.dumps({**network, "DbtImageTag": "2f1c9ab"}), encoding="utf-8")
    factory: Callable[[str | None], Clients] = lambda region: clients  # noqa: E731
    options = DeployOptions(stage="dev", project_dir=project, params_file=params_file, waiting=Waiting(1, 3))
    deploy(options, clients_factory=factory, run=FakeChalice(), out=io.StringIO())
    deploy(options, clients_factory=factory, run=FakeChalice(), out=io.StringIO())
    destroy(
        DestroyOptions(
            stage="dev", yes=True, delete_artifacts=True, project_dir=project, waiting=Waiting(1, 3)
        ),
        clients_factory=factory,
        run=FakeChalice(),
        out=io.StringIO(),
    )
    return calls


def test_the_policy_allows_every_call_a_deploy_an_update_and_a_destroy_make(
    recorded: list[tuple[str, str, dict[str, Any]]],
) -> None:
    requests = {request for service, op, params in recorded for request in iam_requests(service, op, params)}
    template_urls = [p["TemplateURL"] for _, op, p in recorded if op in {"CreateStack", "UpdateStack"}]
    for url in template_urls:  # CloudFormation reads the template with the caller's credentials
        bucket, key = url.removeprefix("https://").split(".s3.", 1)[0], url.split(".amazonaws.com/", 1)[1]
        requests.add(("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"))

    refused = sorted(request for request in requests if not allowed(*request))

    assert {op for _, op, _ in recorded} >= {"GetCallerIdentity", "CreateStack", "UpdateStack", "DeleteStack"}
    assert refused == []


# Resource type -> (its service's action prefix, an ARN of the stage's resource of that type).
RESOURCE_ARNS = {
    "AWS::DynamoDB::Table": ("dynamodb", ARN.format("dynamodb", f"table/{APP}-dev-tokens")),
    "AWS::SecretsManager::Secret": (
        "secretsmanager",
        ARN.format("secretsmanager", f"secret:{APP}/dev/warehouse-AbCdEf"),
    ),
    "AWS::S3::Bucket": ("s3", f"arn:aws:s3:::{APP}-dev-infra-artifactsbucket-1a2b3c"),
    "AWS::S3::BucketPolicy": ("s3", f"arn:aws:s3:::{APP}-dev-infra-artifactsbucket-1a2b3c"),
    "AWS::ECR::Repository": ("ecr", ARN.format("ecr", f"repository/{APP}-dev-dbt")),
    "AWS::ECS::Cluster": ("ecs", ARN.format("ecs", f"cluster/{APP}-dev")),
    "AWS::ECS::TaskDefinition": ("ecs", ARN.format("ecs", f"task-definition/{APP}-dev-dbt:1")),
    "AWS::Logs::LogGroup": ("logs", ARN.format("logs", f"log-group:/ecs/{APP}-dev-dbt")),
    "AWS::IAM::Role": ("iam", f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-infra-TaskRole-1A2B3C"),
    "AWS::IAM::Policy": ("iam:.*Role.*", f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-list_connectors"),
    "AWS::StepFunctions::StateMachine": ("states", ARN.format("states", f"stateMachine:{APP}-dev")),
    "AWS::CloudWatch::Alarm": ("cloudwatch", ARN.format("cloudwatch", f"alarm:{APP}-dev-failed-runs")),
    "AWS::CloudWatch::Dashboard": ("cloudwatch", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{APP}-dev"),
    "AWS::Scheduler::Schedule": ("scheduler", ARN.format("scheduler", f"schedule/default/{APP}-dev-run")),
    "AWS::EC2::SecurityGroup": ("ec2", ARN.format("ec2", "security-group/sg-0123456789abcdef0")),
    "AWS::Events::Rule": ("events", ARN.format("events", f"rule/{APP}-dev-run-ended")),
    "AWS::Lambda::Permission": ("lambda", ARN.format("lambda", f"function:{APP}-dev-notify_run")),
    "AWS::SNS::Topic": ("sns", ARN.format("sns", f"{APP}-dev-runs")),
    "AWS::SNS::Subscription": ("sns", ARN.format("sns", f"{APP}-dev-runs:0123abcd-4567-89ef")),
}


# Handler permissions for properties the template does not use (checked: it declares them nowhere), so the
# policy does not grant them.
NOT_USED = {
    "ec2:AuthorizeSecurityGroupIngress": "SecurityGroup declares no ingress",
    "ec2:RevokeSecurityGroupIngress": "SecurityGroup declares no ingress",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress": "SecurityGroup declares no ingress",
    "ec2:DescribeInstances": "only for a security group in use by instances",
    "iam:AttachRolePolicy": "no role has ManagedPolicyArns",
    "iam:DetachRolePolicy": "no role has ManagedPolicyArns",
    "iam:PutRolePermissionsBoundary": "no role has a PermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary": "no role has a PermissionsBoundary",
}


def test_the_unused_properties_are_unused() -> None:
    text = TEMPLATE_PATH.read_text(encoding="utf-8")

    assert "SecurityGroupIngress" not in text
    assert "ManagedPolicyArns" not in text
    assert "PermissionsBoundary" not in text


def handler_permissions() -> dict[str, set[str]]:
    """Each template resource type's create/read/update/delete handler permissions (CloudFormation's
    resource provider schemas, as cfn-lint ships them)."""
    import cfnlint

    types = {resource["Type"] for resource in load_template(TEMPLATE_PATH)["Resources"].values()}
    found: dict[str, set[str]] = {}
    for path in (Path(cfnlint.__file__).parent / "data" / "schemas" / "resources").glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if schema.get("typeName") in types:
            handlers = schema.get("handlers", {})
            found[schema["typeName"]] = {
                p
                for h in ("create", "read", "update", "delete")
                for p in handlers.get(h, {}).get("permissions", [])
            }
    assert set(found) == types
    return found


def test_cloudformation_may_create_update_and_delete_every_resource_of_the_template_as_the_deployer() -> None:
    import re

    refused = []
    for resource_type, permissions in sorted(handler_permissions().items()):
        prefix, arn = RESOURCE_ARNS[resource_type]
        own = [
            p
            for p in permissions
            if re.fullmatch(rf"{prefix.split(':')[0]}:{prefix.partition(':')[2] or '.*'}", p)
        ]
        own = [p for p in own if p not in NOT_USED]
        assert own, resource_type
        refused += [f"{resource_type}: {p} on {arn}" for p in own if not allowed(p, arn)]

    assert refused == []


@pytest.mark.parametrize(
    ("service", "role"),
    [
        ("ecs-tasks.amazonaws.com", "TaskRole"),
        ("states.amazonaws.com", "StateMachineRole"),
        ("scheduler.amazonaws.com", "SchedulerRole"),
        ("lambda.amazonaws.com", "list_connectors"),
    ],
)
def test_roles_are_passed_only_to_the_service_that_uses_them(service: str, role: str) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-infra-{role}-1A2B3C"

    assert allowed("iam:PassRole", arn, **{"iam:PassedToService": service})
    assert not allowed("iam:PassRole", arn, **{"iam:PassedToService": "ec2.amazonaws.com"})
    assert not allowed(
        "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", **{"iam:PassedToService": service}
    )


def test_ecs_may_create_its_service_linked_role_on_a_new_account() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"

    assert allowed("iam:CreateServiceLinkedRole", arn, **{"iam:AWSServiceName": "ecs.amazonaws.com"})


# What `chalice deploy` calls for this app (chalice/awsclient.py, Chalice 1.34): functions, their
# roles and policies, the REST API (API Gateway's actions are HTTP verbs on paths), the schedule.
CHALICE_CALLS = [
    ("lambda:CreateFunction", ARN.format("lambda", f"function:{APP}-dev-start_sync")),
    ("lambda:UpdateFunctionCode", ARN.format("lambda", f"function:{APP}-dev-start_sync")),
    ("lambda:UpdateFunctionConfiguration", ARN.format("lambda", f"function:{APP}-dev-start_sync")),
    ("lambda:GetFunctionConfiguration", ARN.format("lambda", f"function:{APP}-dev")),
    ("lambda:AddPermission", ARN.format("lambda", f"function:{APP}-dev")),
    ("lambda:DeleteFunction", ARN.format("lambda", f"function:{APP}-dev-reconcile_syncs")),
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-start_sync"),
    ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-start_sync"),
    ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-api_handler"),
    ("iam:DeleteRole", f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-api_handler"),
    ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis"),
    ("apigateway:PUT", f"arn:aws:apigateway:{REGION}::/restapis/abc123defg"),
    ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis/abc123defg/deployments"),
    ("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/restapis/abc123defg"),
    ("events:PutRule", ARN.format("events", f"rule/{APP}-dev-reconcile_syncs-event")),
    ("events:PutTargets", ARN.format("events", f"rule/{APP}-dev-reconcile_syncs-event")),
]


def test_chalice_may_deploy_the_functions_their_roles_the_rest_api_and_the_schedule() -> None:
    assert [call for call in CHALICE_CALLS if not allowed(*call)] == []


def test_the_policy_names_only_this_apps_resources_where_the_action_takes_one() -> None:
    unscoped = {
        action
        for statement in POLICY["Statement"]
        if statement["Resource"] == "*"
        for action in statement["Action"]
    }
    # Actions without resource-level permissions (Service Authorization Reference), and reads.
    assert unscoped == {
        "sts:GetCallerIdentity",
        "iam:SimulatePrincipalPolicy",
        "iam:GetContextKeysForPrincipalPolicy",
        "secretsmanager:GetRandomPassword",
        "ecr:GetAuthorizationToken",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeClusters",
        "logs:DescribeLogGroups",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ec2:DescribeRouteTables",
        "sns:GetTopicAttributes",
    }
    assert not allowed("dynamodb:DeleteTable", ARN.format("dynamodb", "table/someone-elses-table"))
    assert not allowed("s3:DeleteBucket", "arn:aws:s3:::someone-elses-bucket")


def test_the_policy_fits_a_managed_policy() -> None:
    # IAM: a managed policy document holds at most 6,144 characters, whitespace excluded.
    assert len(json.dumps(POLICY, separators=(",", ":"))) < 6_144
