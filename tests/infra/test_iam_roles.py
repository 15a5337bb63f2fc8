"""Every role a dev deploy creates holds what its own calls need (chalicelib/platform/aws_calls.py), judged
by an evaluator built on AWS's Service Authorization Reference (local/iam/engine.py), and no role holds a
``"*"`` action. The five function roles come from `chalice package --stage dev` itself: the roles Chalice
creates, with the policies Chalice attaches, plus the stack's policies attached to them by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.platform.aws_call_context import render_context
from chalicelib.platform.aws_calls import (
    AWS_CALLS,
    CHALICE_FUNCTIONS,
    AwsCall,
    calls_of,
    render_resource,
)
from infra import policies
from infra.policies import ROLE_NAME_PARAMETERS, template_policies
from local.iam.engine import PolicyEngine

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).with_name("chalice")
STAGE = {"region": "eu-west-1", "account": "123456789012", "app": "fivetran-orchestrator", "stage": "dev"}
DEPLOY = {
    "artifacts_bucket": "fivetran-orchestrator-dev-infra-artifactsbucket-1a2b3c",
    "task_role": "fivetran-orchestrator-dev-infra-TaskRole-AbC",
    "task_execution_role": "fivetran-orchestrator-dev-infra-TaskExecutionRole-DeF",
}
# SAM's logical id of each function's role, as `chalice package` names it.
SAM_ROLES = {
    "list_connectors": "ListConnectorsRole",
    "start_sync": "StartSyncRole",
    "collect_outcomes": "CollectOutcomesRole",
    "transform_lease": "TransformLeaseRole",
    "reconcile_syncs": "ReconcileSyncsRole",
    "api_handler": "ApiHandlerRole",
    "notify_run": "NotifyRunRole",
}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`chalice package --stage dev` of a copy of the project (its build cache stays out of the tree)."""
    work = tmp_path_factory.mktemp("chalice-package")
    project = work / "project"
    (project / ".chalice").mkdir(parents=True)
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    for source in (ROOT / ".chalice").glob("*.json"):
        shutil.copy(source, project / ".chalice" / source.name)
    env = {**os.environ, "AWS_DEFAULT_REGION": STAGE["region"]}
    subprocess.run(
        [str(CHALICE), "package", "--stage", "dev", str(work / "out")],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    document: dict[str, Any] = json.loads((work / "out" / "sam.json").read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def engine() -> Any:
    found = PolicyEngine()
    yield found
    found.close()


def stack_policies() -> dict[str, list[dict[str, Any]]]:
    """The stack's policies, rendered for the dev stage: principal -> documents."""
    region, account, app, stage = STAGE["region"], STAGE["account"], STAGE["app"], STAGE["stage"]
    prefix = f"arn:aws:lambda:{region}:{account}:function:{app}-{stage}-"
    refs = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AppName": app,
        "Stage": stage,
        "ListConnectorsFunctionArn": prefix + "list_connectors",
        "StartSyncFunctionArn": prefix + "start_sync",
        "CollectOutcomesFunctionArn": prefix + "collect_outcomes",
        "TransformLeaseFunctionArn": prefix + "transform_lease",
        **{parameter: f"{app}-{stage}-{fn}" for parameter, fn in ROLE_NAME_PARAMETERS.items()},
        "ArtifactsBucket": DEPLOY["artifacts_bucket"],
        "StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{app}-{stage}",
        "WarehouseSecret": f"arn:aws:secretsmanager:{region}:{account}:secret:{app}/{stage}/warehouse-AbCdEf",
    }
    attrs = {
        "ArtifactsBucket.Arn": f"arn:aws:s3:::{DEPLOY['artifacts_bucket']}",
        "TaskRole.Arn": f"arn:aws:iam::{account}:role/{DEPLOY['task_role']}",
        "TaskExecutionRole.Arn": f"arn:aws:iam::{account}:role/{DEPLOY['task_execution_role']}",
        "Cluster.Arn": f"arn:aws:ecs:{region}:{account}:cluster/{app}-{stage}",
        "Repository.Arn": f"arn:aws:ecr:{region}:{account}:repository/{app}-{stage}-dbt",
        "DbtLogGroup.Arn": f"arn:aws:logs:{region}:{account}:log-group:/ecs/{app}-{stage}-dbt:*",
    }
    return template_policies(refs, attrs)


def refused(
    engine: PolicyEngine, role: str, documents: list[dict[str, Any]], calls: tuple[AwsCall, ...]
) -> list[str]:
    """Each call of ``calls`` the role's policies do not allow, as 'action on resource: decision'."""
    arn = f"arn:aws:iam::{STAGE['account']}:role/{role}"
    engine.set_policies(arn, [{"name": f"p{i}", "policy": doc} for i, doc in enumerate(documents)])
    found = []
    for call in calls:
        resource = render_resource(call, **STAGE, **DEPLOY)
        decision = engine.decide(arn, STAGE["account"], call.action, resource, render_context(call, **STAGE))
        if decision != "Allowed":
            found.append(f"{call.action} on {resource}: {decision}")
    return found


def actions_of(documents: list[dict[str, Any]]) -> list[str]:
    return [
        action
        for document in documents
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]


def test_chalice_package_creates_one_role_per_function_and_no_other(packaged: dict[str, Any]) -> None:
    roles = sorted(k for k, v in packaged["Resources"].items() if v["Type"] == "AWS::IAM::Role")
    functions = {
        v["Properties"]["Role"]["Fn::GetAtt"][0]
        for v in packaged["Resources"].values()
        if v["Type"] == "AWS::Serverless::Function"
    }

    assert roles == sorted(SAM_ROLES.values())
    assert functions == set(SAM_ROLES.values())
    assert set(SAM_ROLES) == set(CHALICE_FUNCTIONS)


@pytest.mark.parametrize("function", sorted(SAM_ROLES))
def test_each_function_role_from_chalice_package_holds_every_permission_its_calls_need(
    packaged: dict[str, Any], engine: PolicyEngine, function: str
) -> None:
    role = packaged["Resources"][SAM_ROLES[function]]["Properties"]
    documents = [policy["PolicyDocument"] for policy in role["Policies"]]
    documents += stack_policies().get(function, [])

    assert refused(engine, f"fivetran-orchestrator-dev-{function}", documents, calls_of(function)) == []
    assert "*" not in actions_of(documents) and not any(a.endswith(":*") for a in actions_of(documents))


@pytest.mark.parametrize("principal", ["state_machine", "dbt_task", "dbt_execution", "scheduler"])
def test_each_stack_role_holds_every_permission_its_calls_need(engine: PolicyEngine, principal: str) -> None:
    documents = stack_policies()[principal]

    assert refused(engine, f"stack-{principal}", documents, calls_of(principal)) == []
    assert "*" not in actions_of(documents) and not any(a.endswith(":*") for a in actions_of(documents))


def test_the_old_callback_scope_refuses_a_child_executions_token(engine: PolicyEngine) -> None:
    """The check can fail: the statement as it was (stateMachine:<name>, execution:<name>:*) misses the
    token of a Distributed Map child, whose state machine is stateMachine:<name>/Sync."""
    old = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                "Resource": [
                    "arn:aws:states:*:*:stateMachine:fivetran-orchestrator-dev",
                    "arn:aws:states:*:*:execution:fivetran-orchestrator-dev:*",
                ],
            }
        ],
    }
    callbacks = tuple(
        c for c in calls_of("reconcile_syncs") if c.action.startswith("states:") and "/" in c.resource
    )

    assert len(refused(engine, "old-callbacks", [old], callbacks)) == 3


def test_the_policy_files_are_what_the_table_renders(tmp_path: Path) -> None:
    assert policies.main(["--check"]) == 0
    project = tmp_path / "project"
    shutil.copytree(
        ROOT / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployments", "deployed")
    )
    stale = project / ".chalice" / "policy-dev-start_sync.json"
    stale.write_text(stale.read_text().replace("dynamodb:PutItem", "dynamodb:BatchWriteItem"))

    assert policies.main(["--check", "--project-dir", str(project)]) == 1


def test_every_function_names_its_own_policy_file_in_every_deployed_stage() -> None:
    from chalice.config import Config

    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for stage in policies.DEPLOYED_STAGES:
        for function in CHALICE_FUNCTIONS:
            scoped = Config(chalice_stage=stage, config_from_disk=config).scope(stage, function)
            assert scoped.iam_policy_file == policies.policy_file(stage, function)


def test_every_principal_of_the_table_has_a_role_with_policies() -> None:
    principals = {call.principal for call in AWS_CALLS}

    assert principals - set(CHALICE_FUNCTIONS) == set(stack_policies()) - {
        "list_connectors",
        "collect_outcomes",
        "notify_run",
    }


def test_each_function_may_write_the_log_group_of_the_lambda_chalice_names_for_it() -> None:
    from infra.chalice_roles import chalice_plan

    for planned in chalice_plan(ROOT, "dev"):
        groups = {
            statement["Resource"].split("log-group:", 1)[1].split(":", 1)[0]
            for statement in planned.policy["Statement"]
            if statement["Action"] == ["logs:CreateLogGroup"]
        }
        assert groups == {f"/aws/lambda/{planned.function_name}"}, planned.name
