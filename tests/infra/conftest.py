"""Fixtures for the infra stack and deploy script tests: the real template and definition, a sample
``.chalice/deployed/<stage>.json``, a fake `chalice`, and a moto-backed AWS account with a VPC."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice_double import REGION, FakeChalice, chalice_deployed
from moto import mock_aws

from deploy.stack import Clients
from deploy.template import DEFINITION_PATH
from infra.template import TEMPLATE_PATH, load_template


@pytest.fixture
def deployed_document() -> Callable[..., dict[str, Any]]:
    """Builds a sample .chalice/deployed/<stage>.json document: ``deployed_document(stage, region)``."""
    return chalice_deployed


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="session")
def definition_text() -> str:
    return DEFINITION_PATH.read_text(encoding="utf-8")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto account: fake credentials, a fixed region, no profile from the developer's machine."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # moto's configuration is process-wide: a local runtime earlier in this worker turned on executing
    # state machines (local/runtime.py), whose backend does not see a state machine CloudFormation made.
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        yield


@pytest.fixture
def clients(aws: None) -> Clients:
    return Clients(
        boto3.client("cloudformation", REGION),
        boto3.client("s3", REGION),
        REGION,
        sts=boto3.client("sts", REGION),
        iam=boto3.client("iam", REGION),
    )


@pytest.fixture
def network(aws: None) -> dict[str, str]:
    """A VPC with two subnets, as the stack's network parameters."""
    ec2 = boto3.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    return {"VpcId": vpc, "SubnetIds": ",".join(subnets)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory with the Chalice config's app name; deployed/<stage>.json is written by the
    fake `chalice deploy` (see ``fake_chalice``)."""
    chalice_dir = tmp_path / ".chalice"
    chalice_dir.mkdir()
    (chalice_dir / "config.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "app_name": "fivetran-orchestrator",
                "stages": {
                    "dev": {"environment_variables": {"TOKEN_TABLE": "fivetran-orchestrator-dev-tokens"}}
                },
            }
        ),
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def fake_chalice() -> FakeChalice:
    return FakeChalice()


@pytest.fixture
def clients_factory(clients: Clients) -> Callable[[str | None], Clients]:
    def factory(region: str | None) -> Clients:
        return clients

    return factory
