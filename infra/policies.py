"""IAM policies as a deploy attaches them, from the one table of calls (``chalicelib/platform/aws_calls.py``).

Two owners, one per place a policy can live:

- **Chalice's per-function policy files** (``.chalice/policy-<stage>-<function>.json``): Chalice 1.34 with
  ``autogen_policy: false`` makes one role per function and attaches the file that
  ``stages.<stage>.lambda_functions.<function>.iam_policy_file`` names (``chalice/config.py``
  ``iam_policy_file`` varies per function; ``chalice/deploy/appgraph.py`` ``_create_role_reference``).
  ``function_policy`` renders a function's file from the table: every call whose resource Chalice can name
  (the token table, the secrets, the state machine, the log group), in any region and account. ``python -m
  infra.policies`` writes the files; ``--check`` exits 1 when one differs (a test runs it).
- **The stack** (``infra/template.yaml``): what only the stack can name (the artifacts bucket it
  generates, the task's roles). Each function's run-files policy is attached to that function's role by
  name (``ListConnectorsRoleName``, ``CollectOutcomesRoleName``); the state machine's, the dbt task's and
  the scheduler's roles are the stack's own. ``template_policies`` renders them for given parameter
  values (the local runtime, the tests); tests/infra checks them against the table.

Why files and not one template policy per role: the files need no stack (``chalice deploy`` comes first)
and keep each role's policy next to its function's config; the table is their one source, and a test
proves the files equal its rendering.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalicelib.platform.aws_calls import CHALICE_FUNCTIONS, AwsCall, calls_of, placeholders, render_resource
from infra.template import ROLE_PARAMETERS as ROLE_NAME_PARAMETERS
from infra.template import TEMPLATE_PATH, load_template

__all__ = [
    "DEPLOYED_STAGES",
    "DEPLOY_TIME",
    "ROLE_NAME_PARAMETERS",
    "TEMPLATE_PRINCIPALS",
    "function_policy",
    "policy_file",
    "template_policies",
]

ROOT = Path(__file__).resolve().parents[1]
DEPLOYED_STAGES = ("dev", "prod")
APP_NAME = "fivetran-orchestrator"
# Names the stack generates: a call on such a resource is granted by the stack, not by Chalice's file.
DEPLOY_TIME = ("artifacts_bucket", "task_role", "task_execution_role")
# The stack's own roles -> the principal of the table that uses them.
TEMPLATE_PRINCIPALS = {
    "StateMachineRole": "state_machine",
    "TaskRole": "dbt_task",
    "TaskExecutionRole": "dbt_execution",
    "SchedulerRole": "scheduler",
}


def in_chalice_file(call: AwsCall) -> bool:
    """Whether Chalice's policy file grants ``call`` (else the stack does: it names a generated resource)."""
    return not any(name in DEPLOY_TIME for name in placeholders(call.resource))


def function_policy(
    function: str,
    *,
    app: str = APP_NAME,
    stage: str,
    partition: str = "aws",
    region: str = "*",
    account: str = "*",
) -> dict[str, Any]:
    """The policy document of ``function``'s role as Chalice attaches it: one statement per set of
    resources, its actions sorted; resources use ``*`` for what varies per call."""
    by_resource: dict[str, set[str]] = {}
    for call in calls_of(function):
        if in_chalice_file(call):
            arn = render_resource(
                call, partition=partition, region=region, account=account, app=app, stage=stage, pattern=True
            )
            by_resource.setdefault(arn, set()).add(call.action)
    by_actions: dict[tuple[str, ...], list[str]] = {}
    for arn, granted in by_resource.items():
        by_actions.setdefault(tuple(sorted(granted)), []).append(arn)
    statements: list[dict[str, Any]] = []
    for actions, resources in sorted(by_actions.items(), key=lambda item: (item[0][0], item[1])):
        sid = "".join(part.title() for part in re.split(r"[^a-z0-9]+", actions[0].split(":")[0]))
        statements.append(
            {
                "Sid": f"{sid}{len(statements) + 1}",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": sorted(resources) if len(resources) > 1 else resources[0],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_file(stage: str, function: str) -> str:
    """The file name ``.chalice/config.json`` gives ``function``'s ``iam_policy_file`` in ``stage``."""
    return f"policy-{stage}-{function}.json"


def _render_files(project_dir: Path) -> dict[Path, str]:
    return {
        project_dir / ".chalice" / policy_file(stage, function): json.dumps(
            function_policy(function, stage=stage), indent=2
        )
        + "\n"
        for stage in DEPLOYED_STAGES
        for function in CHALICE_FUNCTIONS
    }


# -- the template's policies, rendered -----------------------------------------------------------


def _resolve(value: Any, refs: Mapping[str, str], attrs: Mapping[str, str]) -> Any:
    """``value`` with ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` replaced; ``KeyError`` names what is unknown."""
    if isinstance(value, list):
        return [_resolve(item, refs, attrs) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    if "Fn::GetAtt" in value:
        return attrs[".".join(value["Fn::GetAtt"])]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            return attrs[name] if "." in name else refs[name]

        return re.sub(r"\$\{([\w:.]+)\}", sub, text)
    return {key: _resolve(item, refs, attrs) for key, item in value.items()}


def template_policies(
    refs: Mapping[str, str], attrs: Mapping[str, str], path: Path = TEMPLATE_PATH
) -> dict[str, list[dict[str, Any]]]:
    """principal -> the policy documents the stack gives it, resolved with ``refs`` (parameters, pseudo
    parameters, resources' ``Ref``) and ``attrs`` (``Resource.Attribute`` for ``GetAtt``)."""
    resources = load_template(path)["Resources"]
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, principal in TEMPLATE_PRINCIPALS.items():
        for policy in resources[logical_id]["Properties"].get("Policies", []):
            found.setdefault(principal, []).append(_resolve(policy["PolicyDocument"], refs, attrs))
    for resource in resources.values():
        if resource.get("Type") != "AWS::IAM::Policy":
            continue
        document = _resolve(resource["Properties"]["PolicyDocument"], refs, attrs)
        for role in resource["Properties"]["Roles"]:
            parameter = role.get("Ref") if isinstance(role, dict) else None
            if parameter not in ROLE_NAME_PARAMETERS:
                raise KeyError(f"a stack policy is attached to {role!r}, not to a function's role parameter")
            found.setdefault(ROLE_NAME_PARAMETERS[parameter], []).append(document)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.policies",
        description="Write each Chalice function's policy file (.chalice/policy-<stage>-<function>.json) "
        "from chalicelib/platform/aws_calls.py.",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    parser.add_argument("--project-dir", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    stale = []
    for path, text in _render_files(args.project_dir).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'differs from the table' if args.check else 'wrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
