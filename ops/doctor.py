"""``orchestrator doctor --stage S``: checks a deployed stage without starting a run.

One line per check, ``✔`` or ``✘`` with what to do; any ``✘`` makes the command exit 1. The checks
(``ops.doctor_iam``, ``ops.doctor_checks``):

- **IAM, per role** (each Chalice function's role, the state machine's, the dbt task and execution
  roles, the scheduler's when a schedule is set): AWS's own evaluator, ``iam:SimulatePrincipalPolicy``,
  asked for every call of that principal in ``chalicelib.platform.aws_calls`` with the stage's ARNs;
- **secrets**: the Fivetran API key, the warehouse credentials and the webhook secret hold real values,
  not the placeholders the stack generated;
- **dbt image**: the stack's ``DbtImageTag`` is in its ECR repository;
- **network**: every subnet of the dbt task routes ``0.0.0.0/0`` to a NAT gateway (or to an internet
  gateway with ``AssignPublicIp=ENABLED``);
- **Fivetran**: the API key works; a webhook for the stage's URL is registered, active and subscribed to
  ``sync_start`` and ``sync_end`` (``ops.webhooks.REQUIRED_EVENTS``); one that does not send the
  connection events (``pause_connector``, ``delete_connector``, ``connection_failure``) passes with a note;
- **schedule** and **alarm topic**, when the stack's parameters configure them.

Every AWS client and the Fivetran client come from one place, the ``Services`` built from the target
(``ops.target.StageTarget``), and are passed in; the checks only read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.outputs import deployed_path, read_json
from ops.errors import OpsError, readable

__all__ = ["Check", "Services", "Stage", "check_stage", "failed", "render", "stage_of"]

OK, FAILED = "✔", "✘"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it holds, and the detail or the fix."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{OK if self.ok else FAILED} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Services:
    """The clients the checks use, created in one place: ``aws(service)`` and ``fivetran()``."""

    aws: Callable[[str], Any]
    fivetran: Callable[[], Any]


@dataclass(frozen=True)
class Stage:
    """What a deploy left for a stage, read once: the stack's outputs, parameters and resources
    (logical id -> physical id), the account and the webhook URL (None if it cannot be known)."""

    app: str
    stage: str
    region: str
    account: str
    stack: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: dict[str, str]
    webhook_url: str | None
    partition: str = "aws"
    problems: tuple[str, ...] = field(default=())
    chalice_roles: dict[str, str] = field(default_factory=dict)  # function -> role (deployed/<stage>.json)

    def list_parameter(self, key: str) -> list[str]:
        """A ``List<...>`` parameter's values: ``a,b`` as CloudFormation answers (moto answers the
        Python list's text, ``['a', 'b']``: read both)."""
        text = self.parameters.get(key, "").strip().strip("[]")
        return [item.strip().strip("'\"") for item in text.split(",") if item.strip().strip("'\"")]

    def secret_id(self, output: str, name: str) -> str:
        """A secret's ARN from the stack's outputs, else its name (``<app>/<stage>/<name>``)."""
        return self.outputs.get(output) or f"{self.app}/{self.stage}/{name}"


def stage_of(target: Any, services: Services) -> Stage:
    """Read the stage once: the stack (outputs, parameters, resources) and the caller's account."""
    cfn = services.aws("cloudformation")
    outputs = dict(target.outputs)  # an OpsError names the missing stack
    described = cfn.describe_stacks(StackName=target.stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    resources: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=target.stack):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    identity = services.aws("sts").get_caller_identity()
    deployed = deployed_path(target.project_dir, target.stage)
    chalice_roles = {
        str(r["name"]).removesuffix("_role"): str(r["role_name"])
        for r in (read_json(deployed).get("resources", []) if deployed.exists() else [])
        if isinstance(r, dict) and r.get("resource_type") == "iam_role" and r.get("role_name")
    }
    url: str | None = None
    problems: tuple[str, ...] = ()
    try:
        url = target.webhook_url()
    except OpsError as exc:
        problems = (exc.message,)
    return Stage(
        app=target.app_name,
        stage=target.stage,
        region=target.region,
        account=str(identity["Account"]),
        stack=target.stack,
        outputs=outputs,
        parameters=parameters,
        resources=resources,
        webhook_url=url,
        partition=str(identity["Arn"]).split(":")[1],
        problems=problems,
        chalice_roles=chalice_roles,
    )


def check_stage(
    stage: Stage | None, services: Services | None, checks: Iterable[tuple[str, Any]]
) -> list[Check]:
    """Run every check; one that raises an expected error (AWS, Fivetran) becomes its own ``✘``."""
    results: list[Check] = []
    for name, function in checks:
        try:
            results.extend(function(stage, services))
        except Exception as exc:
            error = readable(exc)
            if error is None:
                raise
            results.append(Check(name, False, f"could not check: {error.message}"))
    return results


def render(results: Iterable[Check]) -> str:
    return "\n".join(check.line() for check in results)


def failed(results: Iterable[Check]) -> bool:
    return any(not check.ok for check in results)
