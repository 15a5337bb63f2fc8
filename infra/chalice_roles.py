"""The roles Chalice itself makes for a stage, from its own deploy planner (no AWS, no packaging).

Chalice 1.34 with ``"autogen_policy": false`` and no ``iam_role_arn`` makes one role per function, named
``<app>-<stage>-<function>``, recorded as ``<function>_role`` in ``.chalice/deployed/<stage>.json``, with
the policy file the function's ``iam_policy_file`` names (``chalice/deploy/appgraph.py``
``_create_role_reference``). ``chalice_plan`` asks Chalice's ``ApplicationGraphBuilder`` for them, in the
planner's order, so the deploy's tests and the local runtime use the topology Chalice creates rather than a
hand-made one. Chalice is imported when called (a dev and deploy dependency, never in the Lambda package).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ChaliceFunction", "chalice_plan"]


@dataclass(frozen=True)
class ChaliceFunction:
    """One Lambda function of the plan and the role Chalice gives it."""

    name: str  # the function's name in app.py ("api_handler" for the REST API)
    function_name: str  # the Lambda function's name (<app>-<stage>-<name>; <app>-<stage> for the API)
    role_resource: str  # its role's name in .chalice/deployed/<stage>.json ("<name>_role")
    role_name: str  # the IAM role's name
    policy: dict[str, Any]  # the policy document Chalice attaches (the function's policy file)


def chalice_plan(project_dir: Path, stage: str) -> list[ChaliceFunction]:
    """The stage's functions and roles as Chalice's planner makes them, in its order. ``ValueError`` when a
    function's role is not one of its own (``autogen_policy`` on, or a pre-created role)."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

    config = CLIFactory(project_dir=str(project_dir)).create_config_obj(chalice_stage_name=stage)
    application = ApplicationGraphBuilder().build(config, stage)
    found = []
    for resource in DependencyBuilder().build_dependencies(application):
        if not isinstance(resource, models.LambdaFunction):
            continue
        role = resource.role
        if not isinstance(role, models.ManagedIAMRole) or not isinstance(
            role.policy, models.FileBasedIAMPolicy
        ):
            raise ValueError(
                f"{resource.resource_name}: Chalice gives it no role of its own with a policy file"
            )
        policy = json.loads(Path(role.policy.filename).read_text(encoding="utf-8"))
        found.append(
            ChaliceFunction(
                resource.resource_name, resource.function_name, role.resource_name, role.role_name, policy
            )
        )
    return found
