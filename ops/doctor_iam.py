"""Doctor's IAM check: each role of the stage may make every call its principal makes.

The calls are ``chalicelib.platform.aws_calls`` (one table, beside the code that makes them), rendered
with the stage's names (account, region, app, stage, the artifacts bucket, the dbt task's role names).
AWS's own evaluator answers for each: ``iam:SimulatePrincipalPolicy`` (IAM API reference) on the role's
identity policies, one request per resource ARN with that resource's actions. Context keys the stack's
conditions test are given their deployed values (``ecs:cluster``: the stage's cluster;
``iam:PassedToService``: ``ecs-tasks.amazonaws.com``). Resource policies are not part of a simulation
(AWS: unless passed), and none of the calls depends on one.

Roles: the Chalice functions' (as ``.chalice/deployed/<stage>.json`` records them, ``<function>_role``;
Chalice 1.34 with ``autogen_policy: false`` names each ``<app>-<stage>-<function>``), and from the stack
the state machine's (``StateMachineRole``), the dbt
task's (``TaskRole``), ECS's execution role (``TaskExecutionRole``) and, with a schedule,
``SchedulerRole``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.platform.aws_calls import (
    CHALICE_FUNCTIONS,
    PRINCIPALS,
    AwsCall,
    calls_of,
    function_name,
    render_resource,
)
from ops.doctor import Check, Services, Stage
from ops.errors import readable

__all__ = ["STACK_ROLES", "check_iam", "role_names"]

# principal -> the stack's logical id of its role
STACK_ROLES = {
    "state_machine": "StateMachineRole",
    "dbt_task": "TaskRole",
    "dbt_execution": "TaskExecutionRole",
    "scheduler": "SchedulerRole",
}
SHOWN = 3


def role_names(stage: Stage) -> dict[str, str | None]:
    """Each principal's role name (None: the stack has no such role, e.g. no schedule)."""
    names: dict[str, str | None] = {
        fn: stage.chalice_roles.get(fn) or function_name(stage.app, stage.stage, fn)
        for fn in CHALICE_FUNCTIONS
    }
    for principal, logical_id in STACK_ROLES.items():
        names[principal] = stage.resources.get(logical_id) or None
    return names


def _extra(stage: Stage) -> dict[str, str]:
    return {
        "artifacts_bucket": stage.outputs.get("ArtifactsBucket", ""),
        "task_role": stage.resources.get("TaskRole", ""),
        "task_execution_role": stage.resources.get("TaskExecutionRole", ""),
    }


def _context(stage: Stage) -> list[dict[str, Any]]:
    values = {
        "ecs:cluster": stage.outputs.get("ClusterArn", ""),
        "iam:PassedToService": "ecs-tasks.amazonaws.com",
    }
    return [
        {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
        for key, value in values.items()
        if value
    ]


def _denied(
    iam: Any, role_arn: str, stage: Stage, calls: tuple[AwsCall, ...]
) -> list[tuple[AwsCall, str, str]]:
    """The calls the role may not make: (call, rendered resource, AWS's decision)."""
    by_resource: dict[str, list[AwsCall]] = defaultdict(list)
    for call in calls:
        resource = render_resource(
            call,
            partition=stage.partition,
            region=stage.region,
            account=stage.account,
            app=stage.app,
            stage=stage.stage,
            pattern=False,
            **_extra(stage),
        )
        by_resource[resource].append(call)
    denied = []
    context = _context(stage)
    for resource, resource_calls in by_resource.items():
        actions = sorted({call.action for call in resource_calls})
        answer = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=actions, ResourceArns=[resource], ContextEntries=context
        )
        decisions = {r["EvalActionName"].lower(): r["EvalDecision"] for r in answer["EvaluationResults"]}
        for call in resource_calls:
            decision = decisions.get(call.action.lower(), "implicitDeny")
            if decision != "allowed":
                denied.append((call, resource, decision))
    return denied


def _fix(stage: Stage) -> str:
    return (
        f"deploy again (`make deploy STAGE={stage.stage}`): the policies come from .chalice/ and "
        "infra/template.yaml, which chalicelib/platform/aws_calls.py says each role needs"
    )


def check_iam(stage: Stage, services: Services) -> Iterator[Check]:
    iam = services.aws("iam")
    scheduled = any(stage.parameters.get(f"Schedule{n}Expression") for n in ("", "2", "3"))
    for principal, role in role_names(stage).items():
        if principal not in PRINCIPALS or (principal == "scheduler" and not scheduled and role is None):
            continue
        name = f"IAM {principal}"
        calls = calls_of(principal)
        if role is None:
            yield Check(name, False, f"the stack has no {STACK_ROLES[principal]}: {_fix(stage)}")
            continue
        try:
            role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
            denied = _denied(iam, role_arn, stage, calls)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchEntity":
                yield Check(name, False, f"role {role} does not exist: {_fix(stage)}")
            else:
                error = readable(exc)
                yield Check(name, False, f"could not simulate role {role}: {error.message if error else exc}")
            continue
        if not denied:
            yield Check(name, True, f"role {role} may make its {len(calls)} calls")
            continue
        shown = "; ".join(
            f"{call.action} on {resource} ({decision})" for call, resource, decision in denied[:SHOWN]
        )
        more = f"; and {len(denied) - SHOWN} more" if len(denied) > SHOWN else ""
        yield Check(name, False, f"role {role} may not make {shown}{more}: {_fix(stage)}")
