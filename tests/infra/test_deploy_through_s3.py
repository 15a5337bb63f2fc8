"""The template goes to CloudFormation through S3 (issue 20): ``TemplateBody`` stops at 51,200 bytes and
the rendered stack passed 44 KB. The deploy creates a bootstrap bucket once per account and region,
puts the rendered template in it and passes ``TemplateURL``. Against moto's S3 and CloudFormation."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from chalice_double import ACCOUNT, REGION, FakeChalice

from deploy.bootstrap import bootstrap_bucket_name, ensure_bootstrap_bucket, template_url
from deploy.commands import DeployOptions, deploy
from deploy.errors import DeployError
from deploy.stack import Clients, Waiting
from deploy.template import TEMPLATE_BODY_LIMIT
from infra.template import TEMPLATE_PATH

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* but it's not supported:UserWarning")
STACK = "fivetran-orchestrator-dev-infra"
BUCKET = f"fivetran-orchestrator-deploy-{ACCOUNT}-{REGION}"


@pytest.fixture
def params_file(tmp_path: Path, network: dict[str, str]) -> Path:
    path = tmp_path / "params-dev.json"
    path.write_text(json.dumps({**network, "DbtImageTag": "2f1c9ab"}), encoding="utf-8")
    return path


def run_deploy(
    project: Path, params_file: Path, clients_factory: Callable[[str | None], Clients], **options: object
) -> str:
    out = io.StringIO()
    deploy(
        DeployOptions(
            stage="dev",
            project_dir=project,
            params_file=params_file,
            waiting=Waiting(delay=1, max_attempts=3),
            **options,  # type: ignore[arg-type]
        ),
        clients_factory=clients_factory,
        run=FakeChalice(),
        out=out,
    )
    return out.getvalue()


def test_the_first_deploy_creates_a_private_bootstrap_bucket_and_the_stack_reads_its_template_there(
    project: Path, params_file: Path, clients: Clients, clients_factory: Callable[[str | None], Clients]
) -> None:
    printed = run_deploy(project, params_file, clients_factory)

    assert f"created the bootstrap bucket {BUCKET}" in printed
    block = clients.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert set(block.values()) == {True}
    (template_object,) = clients.s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert template_object["Key"].startswith(f"templates/{STACK}/")
    sent = json.loads(clients.s3.get_object(Bucket=BUCKET, Key=template_object["Key"])["Body"].read())
    assert "StateMachine" in sent["Resources"]
    stack = clients.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_the_next_deploy_reuses_the_bucket(
    project: Path, params_file: Path, clients: Clients, clients_factory: Callable[[str | None], Clients]
) -> None:
    run_deploy(project, params_file, clients_factory)

    printed = run_deploy(project, params_file, clients_factory, skip_chalice=True)

    assert "created the bootstrap bucket" not in printed
    assert f"Stack {STACK} updated." in printed


def test_a_template_past_the_inline_limit_deploys(
    project: Path,
    params_file: Path,
    tmp_path: Path,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    big = tmp_path / "template.yaml"
    padding = json.dumps("x" * TEMPLATE_BODY_LIMIT)  # template metadata: free text, no limit of its own
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    big.write_text(text.replace("Metadata:\n", f"Metadata:\n  Padding: {padding}\n", 1), encoding="utf-8")

    printed = run_deploy(project, params_file, clients_factory, template_path=big)

    key = clients.s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["Key"]
    size = clients.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    assert size > TEMPLATE_BODY_LIMIT
    assert f"Stack {STACK} created." in printed


def test_a_bucket_of_that_name_this_account_cannot_use_is_refused_with_what_to_do() -> None:
    # AWS answers 403 when ExpectedBucketOwner is not the bucket's owner; moto ignores that parameter,
    # so botocore's Stubber gives AWS's answer.
    s3 = boto3.client("s3", REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_bucket", service_error_code="403", http_status_code=403)

        with pytest.raises(DeployError, match="belongs to another account"):
            ensure_bootstrap_bucket(s3, BUCKET, region=REGION, account=ACCOUNT)


def test_names_and_urls() -> None:
    assert bootstrap_bucket_name("fivetran-orchestrator", ACCOUNT, "eu-west-1") == (
        f"fivetran-orchestrator-deploy-{ACCOUNT}-eu-west-1"
    )
    assert template_url("b", "eu-west-1", "templates/s/x.json") == (
        "https://b.s3.eu-west-1.amazonaws.com/templates/s/x.json"
    )
    with pytest.raises(DeployError, match="63 characters"):
        bootstrap_bucket_name("a" * 40, ACCOUNT, "ap-southeast-2")
