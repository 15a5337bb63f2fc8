"""The deploy (``deploy/``) against moto's CloudFormation: the deploy order, the stack it creates and updates,
and destroy. `chalice` is a fake that writes deployed/<stage>.json as `chalice deploy` does.

moto creates the stack's DynamoDB, ECS, ECR, IAM, logs, S3 and Step Functions resources; it skips
secrets, the alarm, the bucket policy and the schedule (no CloudFormation support), ignores
DefinitionSubstitutions and the definition object, and does not enforce parameter patterns. So these
tests check what moto can show: the order of steps, the stack, its parameters and outputs, the
resources it created, updates and deletion."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice_double import REGION, FakeChalice

from deploy.commands import DeployOptions, DestroyOptions, deploy, destroy
from deploy.errors import DeployError
from deploy.stack import Clients, Waiting

STACK = "fivetran-orchestrator-dev-infra"
# moto has no CloudFormation support for these (see the module docstring); it says so once per resource.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* but it's not supported:UserWarning")
NO_WAIT = Waiting(delay=1, max_attempts=3)


@pytest.fixture
def params_file(tmp_path: Path, network: dict[str, str]) -> Path:
    path = tmp_path / "params-dev.json"
    path.write_text(json.dumps({**network, "DbtImageTag": "2f1c9ab", "MaxConcurrency": 5}), encoding="utf-8")
    return path


def run_deploy(
    project: Path,
    params_file: Path,
    chalice: FakeChalice,
    clients_factory: Callable[[str | None], Clients],
    **options: Any,
) -> tuple[dict[str, str], str]:
    out = io.StringIO()
    outputs = deploy(
        DeployOptions(stage="dev", project_dir=project, params_file=params_file, waiting=NO_WAIT, **options),
        clients_factory=clients_factory,
        run=chalice,
        out=out,
    )
    return outputs, out.getvalue()


def stack_parameters(clients: Clients) -> dict[str, str]:
    stack = clients.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def test_deploy_runs_chalice_first_then_creates_the_stack_with_its_function_arns(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    outputs, printed = run_deploy(project, params_file, fake_chalice, clients_factory)

    assert fake_chalice.verbs == [["deploy", "--stage", "dev"]]
    assert fake_chalice.calls[0][1] == project
    assert fake_chalice.calls[0][2] == {"AWS_DEFAULT_REGION": REGION}
    stack = clients.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"app": "fivetran-orchestrator", "stage": "dev"}
    parameters = stack_parameters(clients)
    assert parameters["ListConnectorsFunctionArn"].endswith(
        ":function:fivetran-orchestrator-dev-list_connectors"
    )
    assert parameters["StartSyncFunctionArn"].endswith(":function:fivetran-orchestrator-dev-start_sync")
    assert parameters["Stage"] == "dev"
    assert parameters["MaxConcurrency"] == "5"
    assert (
        outputs["StateMachineArn"]
        == f"arn:aws:states:{REGION}:123456789012:stateMachine:fivetran-orchestrator-dev"
    )
    assert outputs["TokenTableName"] == "fivetran-orchestrator-dev-tokens"
    assert outputs["ClusterArn"].endswith(":cluster/fivetran-orchestrator-dev")
    assert outputs["TaskDefinitionArn"].endswith(":task-definition/fivetran-orchestrator-dev-dbt:1")
    assert outputs["RepositoryUri"].endswith("/fivetran-orchestrator-dev-dbt")
    assert "Stack fivetran-orchestrator-dev-infra created." in printed
    assert (
        f"Webhook URL: https://abc123defg.execute-api.{REGION}.amazonaws.com/api/webhooks/fivetran" in printed
    )
    assert "orchestrator register-webhook --stage dev" in printed
    assert "WARNING" not in printed  # the project's TOKEN_TABLE matches the stack


def test_the_stack_creates_the_table_with_the_designed_key_the_dbt_task_and_the_state_machine(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    outputs, _ = run_deploy(project, params_file, fake_chalice, clients_factory)

    table = boto3.client("dynamodb", REGION).describe_table(TableName="fivetran-orchestrator-dev-tokens")[
        "Table"
    ]
    assert table["KeySchema"] == [
        {"AttributeName": "connector_id", "KeyType": "HASH"},
        {"AttributeName": "token_id", "KeyType": "RANGE"},
    ]
    task = boto3.client("ecs", REGION).describe_task_definition(taskDefinition=outputs["TaskDefinitionArn"])
    (container,) = task["taskDefinition"]["containerDefinitions"]
    assert container["name"] == "dbt"
    assert container["image"] == f"{outputs['RepositoryUri']}:2f1c9ab"
    # Read back through the stack: once another test switches moto to executing state machines, the
    # Step Functions API no longer lists machines that CloudFormation created (local-aws-with-moto.md §6).
    summaries = boto3.client("cloudformation", REGION).list_stack_resources(StackName=STACK)
    by_id = {r["LogicalResourceId"]: r for r in summaries["StackResourceSummaries"]}
    assert by_id["StateMachine"]["ResourceType"] == "AWS::StepFunctions::StateMachine"
    assert by_id["StateMachine"]["PhysicalResourceId"] == outputs["StateMachineArn"]


def test_deploying_again_updates_the_same_stack_in_place(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    # moto compares typed parameters with the strings sent, so it never answers "No updates are to be
    # performed"; that answer is covered with a stubbed client in test_deploy_stack_states.py.
    first, _ = run_deploy(project, params_file, fake_chalice, clients_factory)
    second, printed = run_deploy(project, params_file, fake_chalice, clients_factory)

    assert "Stack fivetran-orchestrator-dev-infra updated." in printed
    assert second == first
    assert len(clients.cloudformation.describe_stacks()["Stacks"]) == 1
    assert fake_chalice.verbs == [["deploy", "--stage", "dev"]] * 2


def test_a_changed_parameter_updates_the_stack(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    run_deploy(project, params_file, fake_chalice, clients_factory)
    _, printed = run_deploy(
        project,
        params_file,
        fake_chalice,
        clients_factory,
        overrides={"HeartbeatSeconds": "1200"},
        skip_chalice=True,
    )

    assert "Stack fivetran-orchestrator-dev-infra updated." in printed
    assert stack_parameters(clients)["HeartbeatSeconds"] == "1200"
    assert fake_chalice.verbs == [["deploy", "--stage", "dev"]]


def test_a_missing_required_parameter_stops_the_deploy_before_chalice_runs(
    project: Path,
    tmp_path: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    with pytest.raises(DeployError, match="DbtImageTag is required"):
        run_deploy(project, tmp_path / "absent.json", fake_chalice, clients_factory)

    assert fake_chalice.calls == []
    assert clients.cloudformation.list_stacks()["StackSummaries"] == []


def test_a_failed_chalice_deploy_stops_before_the_stack(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    fake_chalice.fail = True

    with pytest.raises(DeployError, match=r"chalice.* deploy --stage dev` failed"):
        run_deploy(project, params_file, fake_chalice, clients_factory)

    assert clients.cloudformation.list_stacks()["StackSummaries"] == []


def test_functions_deployed_to_another_region_are_refused(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    fake_chalice.region = "eu-west-1"

    with pytest.raises(DeployError, match="is not in us-east-1"):
        run_deploy(project, params_file, fake_chalice, clients_factory)

    assert clients.cloudformation.list_stacks()["StackSummaries"] == []


def test_a_config_that_points_at_another_table_is_reported_after_the_deploy(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    config = project / ".chalice" / "config.json"
    config.write_text(
        json.dumps(
            {
                "app_name": "fivetran-orchestrator",
                "stages": {"dev": {"environment_variables": {"TOKEN_TABLE": "t"}}},
            }
        ),
        encoding="utf-8",
    )

    _, printed = run_deploy(project, params_file, fake_chalice, clients_factory)

    assert "WARNING .chalice/config.json: TOKEN_TABLE is 't'" in printed


def test_destroy_deletes_the_stack_keeps_the_artifacts_bucket_then_deletes_the_chalice_app(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    outputs, _ = run_deploy(project, params_file, fake_chalice, clients_factory)
    out = io.StringIO()

    destroy(
        DestroyOptions(stage="dev", yes=True, project_dir=project, waiting=NO_WAIT),
        clients_factory=clients_factory,
        run=fake_chalice,
        out=out,
    )

    live = [
        s
        for s in clients.cloudformation.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert live == []
    assert fake_chalice.verbs == [["deploy", "--stage", "dev"], ["delete", "--stage", "dev"]]
    assert (
        clients.s3.head_bucket(Bucket=outputs["ArtifactsBucket"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    )
    assert f"Kept the artifacts bucket {outputs['ArtifactsBucket']}" in out.getvalue()


def test_destroy_with_delete_artifacts_removes_every_version_and_the_bucket(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    outputs, _ = run_deploy(project, params_file, fake_chalice, clients_factory)
    bucket = outputs["ArtifactsBucket"]
    # moto's CloudFormation ignores VersioningConfiguration; turn it on as AWS would have.
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"first", b"second"):
        clients.s3.put_object(Bucket=bucket, Key="dbt-runs/run-1/run_results.json", Body=body)
    clients.s3.delete_object(Bucket=bucket, Key="dbt-runs/run-1/run_results.json")  # leaves a delete marker
    out = io.StringIO()

    destroy(
        DestroyOptions(stage="dev", yes=True, delete_artifacts=True, project_dir=project, waiting=NO_WAIT),
        clients_factory=clients_factory,
        run=fake_chalice,
        out=out,
    )

    assert bucket not in [b["Name"] for b in clients.s3.list_buckets()["Buckets"]]
    assert f"deleted the artifacts bucket {bucket} (3 object versions)" in out.getvalue()


def test_destroy_without_confirmation_deletes_nothing(
    project: Path,
    params_file: Path,
    fake_chalice: FakeChalice,
    clients: Clients,
    clients_factory: Callable[[str | None], Clients],
) -> None:
    run_deploy(project, params_file, fake_chalice, clients_factory)
    prompts: list[str] = []

    def answer_wrong(prompt: str) -> str:
        prompts.append(prompt)
        return "prod"

    with pytest.raises(DeployError, match="not confirmed"):
        destroy(
            DestroyOptions(stage="dev", project_dir=project, waiting=NO_WAIT),
            clients_factory=clients_factory,
            run=fake_chalice,
            read=answer_wrong,
            out=io.StringIO(),
        )

    assert prompts == ["Type the stage name (dev) to confirm: "]
    assert (
        clients.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
        == "CREATE_COMPLETE"
    )
    assert fake_chalice.verbs == [["deploy", "--stage", "dev"]]


def test_destroy_of_a_stage_never_deployed_only_says_so(
    project: Path, fake_chalice: FakeChalice, clients_factory: Callable[[str | None], Clients]
) -> None:
    out = io.StringIO()

    destroy(
        DestroyOptions(stage="dev", yes=True, project_dir=project, waiting=NO_WAIT),
        clients_factory=clients_factory,
        run=fake_chalice,
        out=out,
    )

    assert fake_chalice.calls == []
    assert "stack fivetran-orchestrator-dev-infra does not exist" in out.getvalue()
    assert "no .chalice/deployed/dev.json" in out.getvalue()
