"""The deploy's preflight: everything a deploy needs, checked in one pass before anything is created,
every problem reported at once (one line each), never a traceback.

In order, each independent of the ones before where it can be:

1. the stack parameters (the params file, ``--parameter``, the template's own constraints);
2. a region (``--region``, else the environment's or the profile's);
3. credentials, and that AWS accepts them: ``sts:GetCallerIdentity`` (fake, expired or revoked keys,
   and an unreachable endpoint, are refused here, in one line, rather than by botocore deep inside
   `chalice deploy`);
4. the account: Chalice's functions already deployed for the stage are in this account and region;
5. the deployer's own permissions: ``iam:SimulatePrincipalPolicy`` for every action of
   ``deploy/deployer-policy.json`` on the stage's resources, where the caller may simulate itself (a
   caller that may not is told so, once, and the deploy goes on);
6. the stack is not in the middle of another operation.

Docker is not needed to deploy (only to build the dbt image: ``next steps`` says where), so it is not
checked here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.errors import DeployError

__all__ = [
    "DEPLOYER_POLICY_PATH",
    "Preflight",
    "PreflightFailed",
    "caller_principal_arn",
    "deployer_actions",
    "example_resource",
]

DEPLOYER_POLICY_PATH = Path(__file__).resolve().parent / "deployer-policy.json"
# botocore's error codes for credentials AWS does not accept.
REJECTED = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "AccessDenied",
    "InvalidAccessKeyId",
}
SHOWN = 5


class PreflightFailed(DeployError):
    """Every problem the preflight found, one per line; nothing was created."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Preflight:
    """The problems found so far, and what the checks learned (the account, the caller)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    account: str | None = None
    caller: str | None = None

    def add(self, problem: str) -> None:
        self.problems.extend(line.strip() for line in problem.splitlines() if line.strip())

    def raise_if_any(self) -> None:
        if self.problems:
            said = any("nothing was created" in problem for problem in self.problems)
            raise PreflightFailed(self.problems if said else [*self.problems, "nothing was created"])


def _code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def check_identity(sts: Any, result: Preflight) -> None:
    """``sts:GetCallerIdentity``: the credentials are real and AWS can be reached."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        identity = sts.get_caller_identity()
    except ClientError as exc:
        code = _code(exc)
        if code in REJECTED:
            result.add(
                f"AWS rejected the credentials ({code}): check AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY (expired session? run `aws sso login` or refresh them)"
            )
        else:
            result.add(
                f"sts:GetCallerIdentity failed ({code}): {exc.response.get('Error', {}).get('Message', '')}"
            )
        return
    except EndpointConnectionError as exc:
        result.add(
            f"cannot reach AWS at {exc.kwargs.get('endpoint_url', 'its endpoint')}: no network, or a proxy?"
        )
        return
    except BotoCoreError as exc:
        result.add(f"cannot call AWS: {exc}")
        return
    result.account = str(identity["Account"])
    result.caller = str(identity["Arn"])


def check_account(result: Preflight, function_arns: dict[str, str], region: str) -> None:
    """Functions already deployed for the stage must be in the caller's account and this region."""
    for arn in function_arns.values():
        parts = arn.split(":")
        if len(parts) > 4 and result.account and parts[4] != result.account:
            result.add(
                f"the stage's functions are in account {parts[4]} (.chalice/deployed) but the credentials "
                f"are for {result.account}: use the stage's account, or delete the stale deployed file"
            )
            return
        if len(parts) > 3 and parts[3] != region:
            result.add(f"the stage's functions are in {parts[3]}, not {region}: pass --region {parts[3]}")
            return


def caller_principal_arn(caller: str) -> str | None:
    """The IAM principal a caller ARN stands for (an assumed role's session -> its role); None for
    principals ``SimulatePrincipalPolicy`` cannot take (the root user, federated users)."""
    parts = caller.split(":", 5)
    if len(parts) < 6:
        return None
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource.startswith(("user/", "role/")):
        return caller
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return f"arn:{partition}:iam::{account}:role/{role}"
    return None


def deployer_actions(path: Path = DEPLOYER_POLICY_PATH) -> list[tuple[str, str]]:
    """(action, resource pattern) for every Allow statement of the deployer policy file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    pairs = []
    for statement in document["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        pairs += [(action, resource) for action in actions for resource in resources]
    return pairs


def example_resource(pattern: str, *, account: str, region: str) -> str:
    """A concrete ARN the pattern matches, in this account and region (``*`` elsewhere -> ``x``)."""
    if pattern == "*":
        return "*"
    parts = pattern.split(":", 5)
    if len(parts) == 6:
        parts[3] = region if parts[3] == "*" else parts[3]
        parts[4] = account if parts[4] == "*" else parts[4]
    return ":".join(parts).replace("*", "x")


def check_permissions(iam: Any, result: Preflight, region: str, path: Path = DEPLOYER_POLICY_PATH) -> None:
    """Ask AWS whether the caller may make the deploy's calls (``deploy/deployer-policy.json``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    principal = caller_principal_arn(result.caller or "")
    if principal is None or result.account is None:
        result.notes.append(f"the deployer's permissions were not simulated ({result.caller} cannot be)")
        return
    by_resource: dict[str, list[str]] = {}
    for action, pattern in deployer_actions(path):
        resource = example_resource(pattern, account=result.account, region=region)
        by_resource.setdefault(resource, []).append(action)
    denied: list[str] = []
    try:
        for resource, actions in by_resource.items():
            answer = iam.simulate_principal_policy(
                PolicySourceArn=principal, ActionNames=sorted(set(actions)), ResourceArns=[resource]
            )
            denied += [
                f"{r['EvalActionName']} on {resource}"
                for r in answer["EvaluationResults"]
                if r["EvalDecision"] != "allowed"
            ]
    except (ClientError, BotoCoreError) as exc:
        result.notes.append(
            "the deployer's permissions were not simulated "
            f"(iam:SimulatePrincipalPolicy: {_code(exc) or exc})"
        )
        return
    if denied:
        more = f" and {len(denied) - SHOWN} more" if len(denied) > SHOWN else ""
        result.add(
            f"{principal} may not {', '.join(denied[:SHOWN])}{more}: attach deploy/deployer-policy.json "
            "(docs/first-deploy.md)"
        )


def check_stack(cfn: Any, result: Preflight, stack: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            result.add(f"cloudformation:DescribeStacks {stack} failed ({_code(exc)})")
        return
    except BotoCoreError as exc:
        result.add(f"cannot call CloudFormation: {exc}")
        return
    status = stacks[0]["StackStatus"] if stacks else ""
    if status.endswith("_IN_PROGRESS"):
        result.add(f"stack {stack} is {status}: wait for it to finish, then deploy again")


def run_checks(
    result: Preflight,
    clients: Any,
    *,
    stack: str,
    function_arns: dict[str, str],
    policy_path: Path = DEPLOYER_POLICY_PATH,
    say: Callable[[str], None] = print,
) -> None:
    """Checks 3-6 with the clients made; adds to ``result`` and raises ``PreflightFailed`` if any."""
    check_identity(clients.sts, result)
    if result.account is not None:
        check_account(result, function_arns, clients.region)
        check_permissions(clients.iam, result, clients.region, policy_path)
        check_stack(clients.cloudformation, result, stack)
    for note in result.notes:
        say(f"note: {note}")
    result.raise_if_any()
