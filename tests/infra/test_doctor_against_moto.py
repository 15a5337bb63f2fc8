"""`orchestrator doctor --stage dev` on a stage deployed by `python -m deploy` into moto: all ✔ on a
healthy stage, and each check's broken variant prints its ✘ and exits 1.

What the deploy does not create on moto is made here as a real deploy and the first-deploy steps
would: the Chalice functions' roles (`chalice deploy`, one per function, with what the table of calls
says each needs), the secrets' values and the dbt image (docs/first-deploy.md), a NAT route for the
subnets, and Fivetran's answer about webhooks (HTTP, through `responses`). moto has no
`SimulatePrincipalPolicy`: `local/patches/iam_simulate.py` gives it, with AWS's evaluation rules."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import responses
from chalice_double import REGION, ROOT, FakeChalice
from click.testing import CliRunner

from chalicelib.platform.aws_calls import CHALICE_FUNCTIONS
from chalicelib.webhook.events import CONNECTION_EVENTS
from deploy.commands import DeployOptions, deploy
from deploy.stack import Clients, Waiting
from infra.chalice_roles import chalice_plan
from local.patches.iam_simulate import patch_simulate_principal_policy
from local.patches.logs_arn import patch_log_group_cfn_arn
from ops.cli import cli

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* but it's not supported:UserWarning")
APP, STAGE = "fivetran-orchestrator", "dev"
FIVETRAN = "https://api.fivetran.com"
WEBHOOK_URL = f"https://abc123defg.execute-api.{REGION}.amazonaws.com/api/webhooks/fivetran"
TAG = "2f1c9ab"
WAREHOUSE = {
    "account": "xy12345",
    "user": "ORCHESTRATOR",
    "private_key": "-----BEGIN PRIVATE KEY-----",
    "role": "TRANSFORMER",
    "warehouse": "TRANSFORMING",
    "database": "ANALYTICS",
    "schema": "DBT",
}


@dataclass
class Deployed:
    project: Path
    outputs: dict[str, str]
    subnets: list[str]
    hooks: list[dict[str, Any]]

    def aws(self, service: str) -> Any:
        return boto3.client(service, REGION)


def private_subnets_with_nat(network: dict[str, str]) -> list[str]:
    ec2 = boto3.client("ec2", REGION)
    subnets = network["SubnetIds"].split(",")
    public = ec2.create_subnet(VpcId=network["VpcId"], CidrBlock="10.0.9.0/24")["Subnet"]["SubnetId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=network["VpcId"])
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=network["VpcId"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return subnets


def chalice_function_policies() -> None:
    """The policy Chalice attaches to each function's role (its policy file, from Chalice's own planner);
    the fake `chalice deploy` created the roles."""
    iam = boto3.client("iam", REGION)
    for function in chalice_plan(ROOT, STAGE):
        iam.put_role_policy(
            RoleName=function.role_name,
            PolicyName=function.role_name,
            PolicyDocument=json.dumps(function.policy),
        )


def fill_secrets_and_push_the_image() -> None:
    secrets = boto3.client("secretsmanager", REGION)
    prefix = f"{APP}/{STAGE}"
    secrets.create_secret(Name=f"{prefix}/fivetran-api", SecretString='{"api_key": "k", "api_secret": "s"}')
    secrets.create_secret(Name=f"{prefix}/warehouse", SecretString=json.dumps(WAREHOUSE))
    secrets.create_secret(Name=f"{prefix}/webhook-secret", SecretString="a-generated-signing-secret")
    boto3.client("ecr", REGION).put_image(
        repositoryName=f"{APP}-{STAGE}-dbt",
        imageManifest=json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        ),
        imageTag=TAG,
    )


@pytest.fixture
def deployed(
    project: Path,
    tmp_path: Path,
    network: dict[str, str],
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deployed]:
    patch_simulate_principal_policy()
    patch_log_group_cfn_arn()
    subnets = private_subnets_with_nat(network)
    params = tmp_path / "params-dev.json"
    params.write_text(json.dumps({**network, "DbtImageTag": TAG}), encoding="utf-8")
    outputs = deploy(
        DeployOptions(stage=STAGE, project_dir=project, params_file=params, waiting=Waiting(1, 3)),
        clients_factory=clients_factory,
        run=FakeChalice(),
        out=io.StringIO(),
    )
    chalice_function_policies()
    fill_secrets_and_push_the_image()
    monkeypatch.setenv("ORCHESTRATOR_PROJECT_DIR", str(project))
    monkeypatch.delenv("FIVETRAN_API_URL", raising=False)
    hooks = [
        {
            "id": "hook1",
            "type": "group",
            "group_id": "g",
            "url": WEBHOOK_URL,
            "events": ["sync_start", "sync_end"],
        }
    ]
    yield Deployed(project, outputs, subnets, hooks)


def doctor(deployed: Deployed, *, api_status: int = 200) -> tuple[int, list[str]]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fivetran:
        fivetran.add_passthru("https://")  # AWS calls go to moto
        body: dict[str, Any] = {"code": "Success", "data": {"items": deployed.hooks}}
        if api_status != 200:
            body = {"code": "AuthFailed", "message": "Invalid API key"}
        fivetran.get(f"{FIVETRAN}/v1/webhooks", json=body, status=api_status)
        result = CliRunner().invoke(cli, ["doctor", "--stage", STAGE], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def line(lines: list[str], name: str) -> str:
    (found,) = [text for text in lines if text[2:].startswith(name + ":")]
    return found


def test_a_healthy_stage_prints_every_check_with_a_tick_and_exits_0(deployed: Deployed) -> None:
    code, lines = doctor(deployed)

    checks = lines[1:]
    assert [text[0] for text in checks] == ["✔"] * len(checks), "\n".join(lines)
    assert code == 0
    names = {text[2:].split(":", 1)[0] for text in checks}
    assert names >= {
        *(f"IAM {fn}" for fn in CHALICE_FUNCTIONS),
        "IAM state_machine",
        "IAM dbt_task",
        "IAM dbt_execution",
        "secret fivetran-api",
        "secret warehouse",
        "secret webhook-secret",
        "dbt image",
        "network",
        "Fivetran API key",
        "Fivetran webhook",
        "schedule",
        "alarm topic",
        "dbt sources",
    }


def failing(deployed: Deployed, name: str, **options: Any) -> str:
    """Run doctor; it must exit 1 and print ``name``'s line with a ✘. Returns that line."""
    code, lines = doctor(deployed, **options)
    found = line(lines, name)
    assert code == 1, "\n".join(lines)
    assert found.startswith("✘ "), "\n".join(lines)
    return found


def redeploy(deployed: Deployed, **overrides: str) -> None:
    params = deployed.project / "params.json"
    network = {
        "VpcId": deployed.aws("ec2").describe_subnets(SubnetIds=deployed.subnets)["Subnets"][0]["VpcId"]
    }
    params.write_text(
        json.dumps({**network, "SubnetIds": deployed.subnets, "DbtImageTag": TAG}), encoding="utf-8"
    )
    clients = Clients(
        deployed.aws("cloudformation"),
        deployed.aws("s3"),
        REGION,
        sts=deployed.aws("sts"),
        iam=deployed.aws("iam"),
    )
    deploy(
        DeployOptions(
            stage=STAGE,
            project_dir=deployed.project,
            params_file=params,
            overrides=overrides,
            skip_chalice=True,
            waiting=Waiting(1, 3),
        ),
        clients_factory=lambda region: clients,
        run=FakeChalice(),
        out=io.StringIO(),
    )


def test_callbacks_granted_on_the_parent_state_machine_only_are_refused_for_the_map_childrens_tokens(
    deployed: Deployed,
) -> None:
    """The scoping the issue found deployed: SendTask* on stateMachine:<app>-<stage> only."""
    iam = deployed.aws("iam")
    role = f"{APP}-{STAGE}-start_sync"
    parent = f"arn:aws:states:{REGION}:123456789012:stateMachine:{APP}-{STAGE}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["states:SendTaskSuccess", "states:SendTaskFailure"],
                "Resource": parent,
            },
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["logs:*", "secretsmanager:GetSecretValue"], "Resource": "*"},
        ],
    }
    iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(policy))

    found = failing(deployed, "IAM start_sync")

    assert f"states:SendTaskSuccess on {parent}/Sync (implicitDeny)" in found
    assert "make deploy STAGE=dev" in found


def test_a_stack_role_without_its_policy_is_refused(deployed: Deployed) -> None:
    iam = deployed.aws("iam")
    resources = deployed.aws("cloudformation").list_stack_resources(StackName=f"{APP}-{STAGE}-infra")
    (role,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["LogicalResourceId"] == "TaskRole"
    ]
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)

    found = failing(deployed, "IAM dbt_task")

    assert "s3:PutObject on arn:aws:s3:::" in found


@pytest.mark.parametrize(
    ("secret", "value", "expected"),
    [
        (
            "fivetran-api",
            '{"api_key": "REPLACE_ME", "api_secret": "x"}',
            "still holds the generated placeholder in api_key",
        ),
        (
            "warehouse",
            json.dumps({**WAREHOUSE, "user": "REPLACE_ME"}),
            "still holds the generated placeholder in user",
        ),
        ("warehouse", json.dumps({"account": "xy12345"}), "has no user, private_key"),
    ],
)
def test_a_secret_that_still_holds_a_placeholder_says_how_to_fill_it(
    deployed: Deployed, secret: str, value: str, expected: str
) -> None:
    deployed.aws("secretsmanager").put_secret_value(SecretId=f"{APP}/{STAGE}/{secret}", SecretString=value)

    found = failing(deployed, f"secret {secret}")

    assert expected in found
    assert (
        f"aws secretsmanager put-secret-value --region {REGION} --secret-id {APP}/{STAGE}/{secret}" in found
    )


def test_a_missing_webhook_secret_is_refused(deployed: Deployed) -> None:
    deployed.aws("secretsmanager").delete_secret(
        SecretId=f"{APP}/{STAGE}/webhook-secret", ForceDeleteWithoutRecovery=True
    )

    assert "is missing or empty" in failing(deployed, "secret webhook-secret")


def test_an_image_tag_not_pushed_says_how_to_push_it(deployed: Deployed) -> None:
    deployed.aws("ecr").batch_delete_image(repositoryName=f"{APP}-{STAGE}-dbt", imageIds=[{"imageTag": TAG}])

    found = failing(deployed, "dbt image")

    assert f"has no image tagged {TAG}" in found
    assert f"docker push {deployed.outputs['RepositoryUri']}:{TAG}" in found


def test_subnets_without_a_route_to_the_internet_are_refused(deployed: Deployed) -> None:
    ec2 = deployed.aws("ec2")
    (table,) = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": deployed.subnets[:1]}]
    )["RouteTables"]
    ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")

    found = failing(deployed, "network")

    assert f"{deployed.subnets[0]} has no active route to 0.0.0.0/0" in found
    assert "NAT gateway" in found


def test_a_public_subnet_without_a_public_ip_is_refused(deployed: Deployed) -> None:
    ec2 = deployed.aws("ec2")
    (table,) = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": deployed.subnets[:1]}]
    )["RouteTables"]
    gateway = ec2.describe_internet_gateways()["InternetGateways"][0]["InternetGatewayId"]
    ec2.replace_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)

    found = failing(deployed, "network")

    assert f"routes to an internet gateway ({gateway}) but AssignPublicIp is DISABLED" in found


def test_an_api_key_fivetran_refuses_is_refused(deployed: Deployed) -> None:
    found = failing(deployed, "Fivetran API key", api_status=401)

    assert f"put a valid key and secret in {APP}/{STAGE}/fivetran-api" in found


@pytest.mark.parametrize(
    ("hooks", "expected"),
    [
        (
            [],
            f"no webhook posts to {WEBHOOK_URL}: orchestrator register-webhook --stage dev --group <group_id>",  # noqa: E501
        ),
        (
            [{"id": "h", "url": WEBHOOK_URL, "events": ["sync_start", "sync_end"], "active": False}],
            "h is inactive (Fivetran disables a webhook after about 24 hours of failed deliveries): run"
            " orchestrator register-webhook --stage dev --group <group_id> (it re-activates the webhook)",
        ),
        (
            [{"id": "h", "url": WEBHOOK_URL, "events": ["sync_end"], "active": True}],
            "h does not send sync_start",
        ),
        (
            [{"id": "h", "url": "https://elsewhere.example/webhooks/fivetran", "events": ["sync_end"]}],
            "no webhook posts",
        ),
    ],
)
def test_a_webhook_missing_inactive_or_short_of_events_is_refused(
    deployed: Deployed, hooks: list[dict[str, Any]], expected: str
) -> None:
    deployed.hooks = hooks

    assert expected in failing(deployed, "Fivetran webhook")


def test_the_webhook_watchdogs_last_verdict_in_the_stages_token_table_is_shown(deployed: Deployed) -> None:
    from chalicelib.safety_net.webhook_watchdog import Verdict, WebhookState, WebhookWatch

    table = deployed.outputs["TokenTableName"]
    watch = WebhookWatch(table, deployed.aws("dynamodb"))
    assert watch.claim(1_800_000_000.0, None)
    detail = "webhook h is active but no delivery reached the route since the last check"
    watch.save(Verdict(WebhookState.SILENT, detail, "h"), 0)
    try:
        found = failing(deployed, "webhook watchdog")
    finally:
        deployed.aws("dynamodb").delete_item(
            TableName=table, Key={"connector_id": {"S": "__lease__"}, "token_id": {"S": "webhook-watchdog"}}
        )

    assert found == f"✘ webhook watchdog: silent at 2027-01-15 08:00:00 UTC: {detail}"


def test_a_configured_schedule_that_does_not_exist_is_refused_and_one_that_does_passes(
    deployed: Deployed,
) -> None:
    # moto's CloudFormation does not create AWS::Scheduler::Schedule: the stage says it has one, AWS not.
    redeploy(deployed, ScheduleExpression="rate(1 day)")

    assert f"{APP}-{STAGE}-run does not exist" in failing(deployed, "schedule")

    deployed.aws("scheduler").create_schedule(
        Name=f"{APP}-{STAGE}-run",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": deployed.outputs["StateMachineArn"], "RoleArn": "arn:aws:iam::123456789012:role/x"},
    )
    _, lines = doctor(deployed)
    assert line(lines, "schedule").startswith("✔ ")


def test_an_alarm_topic_that_does_not_exist_is_refused(deployed: Deployed) -> None:
    topic = f"arn:aws:sns:{REGION}:123456789012:data-alerts"
    redeploy(deployed, AlarmTopicArn=topic)
    # moto's CloudFormation does not create AWS::CloudWatch::Alarm; create it as AWS would.
    deployed.aws("cloudwatch").put_metric_alarm(
        AlarmName=f"{APP}-{STAGE}-failed-runs",
        MetricName="ExecutionsFailed",
        Namespace="AWS/States",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic],
    )

    assert f"{topic} does not exist" in failing(deployed, "alarm topic")

    deployed.aws("sns").create_topic(Name="data-alerts")
    _, lines = doctor(deployed)
    assert line(lines, "alarm topic").startswith("✔ ")


def test_a_webhook_without_the_connection_events_passes_with_a_note_and_one_with_them_without(
    deployed: Deployed,
) -> None:
    code, lines = doctor(deployed)
    short = line(lines, "Fivetran webhook")

    deployed.hooks = [
        {**deployed.hooks[0], "events": ["sync_start", "sync_end", *CONNECTION_EVENTS]},
    ]
    code_full, lines_full = doctor(deployed)
    full = line(lines_full, "Fivetran webhook")

    assert (code, code_full) == (0, 0)
    assert short.startswith("✔ ")
    assert "not pause_connector, delete_connector, connection_failure" in short
    assert "ends at the safety net's next pass" in short
    assert full.startswith("✔ ")
    assert "sends sync_start, sync_end, pause_connector, delete_connector, connection_failure" in full
    assert "not pause_connector" not in full
