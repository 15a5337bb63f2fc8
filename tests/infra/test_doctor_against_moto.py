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
    }
