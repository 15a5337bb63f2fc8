"""``deploy/`` facing CloudFormation answers moto does not give: nothing to update, a stack left in
ROLLBACK_COMPLETE or still in progress, a failed creation, and prod's termination protection. The
CloudFormation client is a real boto3 client wrapped in botocore's Stubber (no network)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from deploy.commands import DestroyOptions, destroy
from deploy.errors import DeployError
from deploy.stack import Clients, Waiting, deploy_stack

NAME = "fivetran-orchestrator-dev-infra"
NO_WAIT = Waiting(delay=0, max_attempts=2)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def stack(status: str, outputs: dict[str, str] | None = None, name: str = NAME) -> dict[str, Any]:
    described: dict[str, Any] = {"StackName": name, "CreationTime": CREATED, "StackStatus": status}
    if outputs:
        described["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [described]}


@pytest.fixture
def cfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def no_stack(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {NAME} does not exist",
    )


def run(client: Any, *, protect: bool = False) -> str:
    return deploy_stack(
        client,
        name=NAME,
        body="{}",
        parameters={"Stage": "dev"},
        tags={"stage": "dev"},
        protect=protect,
        waiting=NO_WAIT,
    )


def test_an_update_with_nothing_to_change_reports_the_stack_unchanged(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
    stubber.add_client_error(
        "update_stack",
        service_error_code="ValidationError",
        service_message="No updates are to be performed.",
    )

    assert run(client) == "unchanged"


def test_a_stack_whose_creation_rolled_back_is_deleted_and_created_again(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    stubber.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    stubber.add_response("delete_stack", {}, {"StackName": NAME})
    no_stack(stubber)  # the delete waiter sees it gone
    stubber.add_response(
        "create_stack", {"StackId": "id"}, {**create_params(), "EnableTerminationProtection": False}
    )
    stubber.add_response("describe_stacks", stack("CREATE_COMPLETE"))

    assert run(client) == "created"


def test_prod_stacks_are_created_with_termination_protection(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    no_stack(stubber)
    stubber.add_response(
        "create_stack", {"StackId": "id"}, {**create_params(), "EnableTerminationProtection": True}
    )
    stubber.add_response("describe_stacks", stack("CREATE_COMPLETE"))

    assert run(client, protect=True) == "created"


def test_a_stack_still_changing_is_left_alone(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    stubber.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"))

    with pytest.raises(DeployError, match="is UPDATE_IN_PROGRESS; wait for it to finish"):
        run(client)


def test_a_failed_creation_reports_which_resource_failed_and_why(cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    no_stack(stubber)
    stubber.add_response(
        "create_stack", {"StackId": "id"}, {**create_params(), "EnableTerminationProtection": False}
    )
    stubber.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                event("TokenTable", "DELETE_COMPLETE", ""),
                event(
                    "Repository", "CREATE_FAILED", "Resource of type 'AWS::ECR::Repository' already exists"
                ),
            ]
        },
    )

    with pytest.raises(DeployError) as raised:
        run(client)

    assert "Repository (AWS::ECR::Repository) CREATE_FAILED: Resource of type" in str(raised.value)
    assert "TokenTable" not in str(raised.value)


def test_destroying_prod_lifts_termination_protection_first(tmp_path: Path, cfn: tuple[Any, Stubber]) -> None:
    client, stubber = cfn
    name = "fivetran-orchestrator-prod-infra"
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE", name=name), {"StackName": name})
    stubber.add_response(
        "describe_stacks",
        stack("UPDATE_COMPLETE", {"ArtifactsBucket": "bucket-1"}, name),
        {"StackName": name},
    )
    stubber.add_response(
        "update_termination_protection",
        {"StackId": "id"},
        {"StackName": name, "EnableTerminationProtection": False},
    )
    stubber.add_response("delete_stack", {}, {"StackName": name})
    no_stack(stubber)
    out = io.StringIO()

    destroy(
        DestroyOptions(stage="prod", yes=True, project_dir=tmp_path, waiting=NO_WAIT),
        clients_factory=lambda region: Clients(client, None, "us-east-1"),
        run=lambda *args: pytest.fail("no Chalice resources were recorded, so chalice must not run"),
        out=out,
    )

    assert "Kept the artifacts bucket bucket-1" in out.getvalue()


def create_params() -> dict[str, Any]:
    return {
        "StackName": NAME,
        "TemplateBody": "{}",
        "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "dev"}],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "stage", "Value": "dev"}],
        "EnableTerminationProtection": ANY,
    }


def event(logical_id: str, status: str, reason: str) -> dict[str, Any]:
    return {
        "StackId": "id",
        "EventId": f"{logical_id}-{status}",
        "StackName": NAME,
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::ECR::Repository" if logical_id == "Repository" else "AWS::DynamoDB::Table",
        "Timestamp": CREATED,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
    }
