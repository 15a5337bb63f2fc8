"""A stand-in for the `chalice` CLI and the file `chalice deploy` writes, for the deploy script tests.

Named uniquely (not conftest) so test modules can import it without clashing with other test folders.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from deploy.errors import DeployError
from infra.chalice_roles import chalice_plan

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
ROOT = Path(__file__).resolve().parents[2]


def chalice_deployed(stage: str = "dev", region: str = REGION) -> dict[str, Any]:
    """What `chalice deploy --stage <stage>` writes to .chalice/deployed/<stage>.json (chalice.md §4), with
    the roles and functions Chalice's own planner makes (infra.chalice_roles: one role per function), in
    its order."""
    resources: list[dict[str, Any]] = []
    for function in chalice_plan(ROOT, stage):
        resources.append(
            {
                "name": function.role_resource,
                "resource_type": "iam_role",
                "role_arn": f"arn:aws:iam::{ACCOUNT}:role/{function.role_name}",
                "role_name": function.role_name,
            }
        )
        resources.append(
            {
                "name": function.name,
                "resource_type": "lambda_function",
                "lambda_arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function.function_name}",
            }
        )
        if function.name == "reconcile_syncs":
            resources.append(
                {
                    "name": "reconcile_syncs-event",
                    "resource_type": "cloudwatch_event",
                    "rule_name": f"fivetran-orchestrator-{stage}-reconcile_syncs-event",
                }
            )
    resources.append(
        {
            "name": "rest_api",
            "resource_type": "rest_api",
            "rest_api_id": "abc123defg",
            "rest_api_url": f"https://abc123defg.execute-api.{region}.amazonaws.com/api/",
        }
    )
    return {"resources": resources, "schema_version": "2.0", "backend": "api"}


class FakeChalice:
    """Stands in for the `chalice` CLI: records each call; `deploy` writes deployed/<stage>.json,
    `delete` removes it. ``fail`` makes the next call fail like a non-zero exit."""

    def __init__(self, region: str = REGION) -> None:
        self.calls: list[tuple[list[str], Path, dict[str, str]]] = []
        self.region = region
        self.fail = False

    def __call__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        args = list(command)
        self.calls.append((args, cwd, dict(env)))
        if self.fail:
            raise DeployError(f"`{' '.join(args)}` failed with exit code 2")
        verb, stage = args[1], args[args.index("--stage") + 1]
        deployed = cwd / ".chalice" / "deployed" / f"{stage}.json"
        if verb == "deploy":
            deployed.parent.mkdir(parents=True, exist_ok=True)
            document = chalice_deployed(stage, self.region)
            deployed.write_text(json.dumps(document), encoding="utf-8")
            self._create_role(document)
        elif verb == "delete":
            deployed.unlink()

    def _create_role(self, document: dict[str, Any]) -> None:
        """Chalice creates one role per function; the stack attaches the run-files policies to two of them."""
        iam = boto3.client("iam", region_name=self.region)
        for resource in document["resources"]:
            if resource["resource_type"] == "iam_role":
                with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
                    iam.create_role(
                        RoleName=resource["role_name"],
                        AssumeRolePolicyDocument=json.dumps(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"Service": "lambda.amazonaws.com"},
                                        "Action": "sts:AssumeRole",
                                    }
                                ],
                            }
                        ),
                    )

    @property
    def verbs(self) -> list[list[str]]:
        return [call[0][1:] for call in self.calls]
