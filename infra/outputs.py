"""What a deploy leaves behind for other tools: the public API the operator CLI reads a stage with.

- ``.chalice/deployed/<stage>.json``: written by ``chalice deploy``; ``parse_deployed`` picks the
  function ARNs (``infra.template.FUNCTION_PARAMETERS``) and the REST API URL out of it.
- The infra stack: ``stack_name`` (``<app>-<stage>-infra``) and ``stack_outputs``.
- ``webhook_url``: where Fivetran posts (the REST API URL plus the webhook route).

``python -m deploy`` writes these; ``ops/`` reads them. Neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import InfraError
from infra.template import FUNCTION_PARAMETERS, ROLE_PARAMETERS

__all__ = [
    "DEFAULT_APP_NAME",
    "WEBHOOK_PATH",
    "ChaliceDeployment",
    "deployed_path",
    "parse_deployed",
    "read_json",
    "stack_name",
    "stack_outputs",
    "webhook_url",
]

DEFAULT_APP_NAME = "fivetran-orchestrator"
WEBHOOK_PATH = "webhooks/fivetran"


@dataclass(frozen=True)
class ChaliceDeployment:
    """What ``chalice deploy`` recorded in .chalice/deployed/<stage>.json and the stack needs."""

    function_arns: dict[str, str]
    rest_api_url: str | None
    role_names: dict[str, str] = field(default_factory=dict)  # template parameter -> role name

    @property
    def parameters(self) -> dict[str, str]:
        """The stack parameters ``chalice deploy`` provides: function ARNs and the functions' roles."""
        return {**self.function_arns, **self.role_names}


def deployed_path(project_dir: Path, stage: str) -> Path:
    return project_dir / ".chalice" / "deployed" / f"{stage}.json"


def read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InfraError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise InfraError(f"{path} is not valid JSON: {exc}") from exc
    return data


def parse_deployed(deployed: Mapping[str, Any], stage: str) -> ChaliceDeployment:
    """Pick the function ARNs and the REST API URL out of a deployed/<stage>.json document."""
    resources = {r.get("name"): r for r in deployed.get("resources", []) if isinstance(r, dict)}
    arns: dict[str, str] = {}
    missing = []
    for parameter, name in FUNCTION_PARAMETERS.items():
        arn = resources.get(name, {}).get("lambda_arn")
        if arn:
            arns[parameter] = arn
        else:
            missing.append(name)
    if missing:
        raise InfraError(
            f".chalice/deployed/{stage}.json has no lambda_arn for {', '.join(missing)}: "
            "did `chalice deploy` finish, and are the functions still named so in app.py?"
        )
    # autogen_policy false: one role per function, recorded as "<function>_role" (Chalice 1.34
    # chalice/deploy/appgraph.py _create_role_reference); the stack grants each its own run files.
    roles: dict[str, str] = {}
    for parameter, function in ROLE_PARAMETERS.items():
        role = resources.get(f"{function}_role", {})
        if role.get("resource_type") == "iam_role" and role.get("role_name"):
            roles[parameter] = str(role["role_name"])
        else:
            missing.append(f"{function}_role")
    if missing:
        raise InfraError(
            f".chalice/deployed/{stage}.json names no IAM role {', '.join(missing)} (resource_type "
            "iam_role): did `chalice deploy` finish, with autogen_policy false (one role per function)? "
            "The stack grants those roles the run files in the artifacts bucket"
        )
    rest_api_url = resources.get("rest_api", {}).get("rest_api_url")
    return ChaliceDeployment(arns, rest_api_url, role_names=roles)


def stack_name(app_name: str, stage: str) -> str:
    """The infra stack of a stage (Chalice's own resources are not a stack: `chalice deploy` makes them)."""
    return f"{app_name}-{stage}-infra"


def webhook_url(rest_api_url: str) -> str:
    """The URL Fivetran posts to: the REST API's stage URL plus the webhook route."""
    return rest_api_url.rstrip("/") + "/" + WEBHOOK_PATH


def stack_outputs(cfn: Any, name: str) -> dict[str, str]:
    """The stack's outputs (key -> value); the ``describe_stacks`` error if there is no such stack."""
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
