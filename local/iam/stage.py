"""The local stage's principals and their policies, as a ``dev`` deploy would attach them, rendered for
the local account, region and resources:

- each Chalice function: the role Chalice's planner makes for it (``infra.chalice_roles.chalice_plan`` on
  the ``dev`` stage: one role per function), named for the local stage, with its policy file's document
  (``infra.policies.function_policy``, the generator of ``.chalice/policy-<stage>-<function>.json``) and
  the stack's policies attached to it by name (the run files);
- ``state_machine``, ``dbt_task``, ``dbt_execution``, ``scheduler``: the stack's roles' policies from
  ``infra/template.yaml`` (``infra.policies.template_policies``).

``stage_policies`` returns them as data; a test, or a variant of a policy to prove what it breaks, can
change them before the runtime loads them (``LocalRuntime(iam_variant=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib.platform.aws_calls import PRINCIPALS, function_name
from infra.chalice_roles import chalice_plan
from infra.policies import function_policy, template_policies
from local.iam import hooks
from local.iam.enforce import Enforcer, Principal
from local.iam.engine import shared_engine
from local.provision import APP_NAME, Stack

__all__ = ["ROOT", "Policies", "role_names", "stage_enforcer", "stage_policies", "stage_principals"]

Policies = dict[str, list[dict[str, Any]]]  # principal -> the policy documents attached to its role

ROOT = Path(__file__).resolve().parents[2]
PLAN_STAGE = "dev"  # the topology a dev deploy makes (chalice package --stage dev)


def role_names(app: str, stage: str) -> dict[str, str]:
    """principal -> the role name it has in ``stage`` (the functions' from Chalice's plan)."""
    names = {f.name: function_name(app, stage, f.name) for f in chalice_plan(ROOT, PLAN_STAGE)}
    names.update(
        state_machine=f"{app}-{stage}-sfn",
        dbt_task=f"{app}-{stage}-dbt-task",
        dbt_execution=f"{app}-{stage}-dbt-execution",
        scheduler=f"{app}-{stage}-scheduler",
    )
    missing = set(PRINCIPALS) - set(names)
    if missing:
        raise ValueError(f"no role for {', '.join(sorted(missing))}: Chalice's plan and the table disagree")
    return names


def stage_principals(app: str, stage: str, account: str) -> dict[str, Principal]:
    sessions = {"state_machine": "StepFunctions", "dbt_task": "ecs-task", "scheduler": "scheduler"}
    return {
        name: Principal(
            name,
            role,
            account,
            sessions.get(
                name, function_name(app, stage, name) if name != "api_handler" else f"{app}-{stage}"
            ),
        )
        for name, role in role_names(app, stage).items()
    }


def stage_policies(
    *,
    app: str,
    stage: str,
    account: str,
    region: str,
    function_arns: dict[str, str],
    state_machine_arn: str,
    artifacts_bucket: str,
    cluster_arn: str,
) -> dict[str, list[dict[str, Any]]]:
    """principal -> the policy documents attached to its role."""
    roles = role_names(app, stage)
    iam = f"arn:aws:iam::{account}:role/"
    refs = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AppName": app,
        "Stage": stage,
        "ListConnectorsFunctionArn": function_arns["list_connectors"],
        "StartSyncFunctionArn": function_arns["start_sync"],
        "CollectOutcomesFunctionArn": function_arns["collect_outcomes"],
        "TransformLeaseFunctionArn": function_arns["transform_lease"],
        "ListConnectorsRoleName": roles["list_connectors"],
        "CollectOutcomesRoleName": roles["collect_outcomes"],
        "NotifyRunRoleName": roles["notify_run"],
        "NotifyRunFunctionArn": function_arns["notify_run"],
        "ArtifactsBucket": artifacts_bucket,
        "StateMachine": state_machine_arn,
        "WarehouseSecret": f"arn:aws:secretsmanager:{region}:{account}:secret:{app}/{stage}/warehouse-local",
    }
    attrs = {
        "ArtifactsBucket.Arn": f"arn:aws:s3:::{artifacts_bucket}",
        "TaskRole.Arn": iam + roles["dbt_task"],
        "TaskExecutionRole.Arn": iam + roles["dbt_execution"],
        "Cluster.Arn": cluster_arn,
        "Repository.Arn": f"arn:aws:ecr:{region}:{account}:repository/{app}-{stage}-dbt",
        "DbtLogGroup.Arn": f"arn:aws:logs:{region}:{account}:log-group:/ecs/{app}-{stage}-dbt:*",
    }
    policies: dict[str, list[dict[str, Any]]] = {
        f.name: [function_policy(f.name, app=app, stage=stage, region=region, account=account)]
        for f in chalice_plan(ROOT, PLAN_STAGE)
    }
    for principal, documents in template_policies(refs, attrs).items():
        policies.setdefault(principal, []).extend(documents)
    return policies


def stage_enforcer(
    stack: Stack, *, region: str, variant: Callable[[Policies], None] | None = None
) -> Enforcer:
    """An enforcer for the provisioned local ``stack`` (its hooks installed); ``variant`` may change the
    policies first."""
    account = stack.state_machine_arn.split(":")[4]
    policies = stage_policies(
        app=APP_NAME,
        stage=stack.stage,
        account=account,
        region=region,
        function_arns=stack.function_arns,
        state_machine_arn=stack.state_machine_arn,
        artifacts_bucket=stack.artifacts_bucket,
        cluster_arn=stack.cluster_arn,
    )
    if variant is not None:
        variant(policies)
    hooks.install()
    return Enforcer(
        shared_engine(),
        account=account,
        region=region,
        principals=stage_principals(APP_NAME, stack.stage, account),
        policies=policies,
        functions={arn.rsplit(":", 1)[-1]: name for name, arn in stack.function_arns.items()},
    )
