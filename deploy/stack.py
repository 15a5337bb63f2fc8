"""The deploy's I/O: boto3 clients, the `chalice` command, and the CloudFormation stack (create,
update, wait, delete). Every function takes its clients and command runner as arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from deploy.errors import DeployError
from deploy.template import to_cfn_parameters

__all__ = [
    "Clients",
    "Runner",
    "Waiting",
    "chalice_executable",
    "deploy_stack",
    "empty_and_delete_bucket",
    "failure_reasons",
    "make_clients",
    "resolved_region",
    "run_command",
    "stack_status",
    "wait_for",
]

STACK_GONE = {"DELETE_COMPLETE"}

Runner = Callable[[Sequence[str], Path, Mapping[str, str]], None]


class Clients(NamedTuple):
    """The boto3 clients a command uses, created once (``make_clients``) and passed in."""

    cloudformation: Any
    s3: Any
    region: str
    sts: Any = None
    iam: Any = None


def make_clients(region: str | None) -> Clients:
    """boto3 clients for the region given, else the one configured for the environment or profile.

    Raises ``DeployError`` naming every missing piece at once (region, credentials), one per line."""
    import boto3  # deferred: `--help`, `render` and `--dry-run` need no AWS SDK session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        raise DeployError(f"AWS configuration: {exc}") from exc
    problems = []
    if not session.region_name:
        problems.append("no AWS region: pass --region, set AWS_DEFAULT_REGION or give the profile a region")
    if credentials is None:
        problems.append(
            "no AWS credentials: set AWS_PROFILE (see `aws configure`) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; nothing was created"
        )
    if problems:
        raise DeployError("\n".join(problems))
    # The preflight's first call: fail fast (seconds, not minutes of retries) when AWS is unreachable.
    quick = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"})
    return Clients(
        session.client("cloudformation"),
        session.client("s3"),
        session.region_name,
        sts=session.client("sts", config=quick),
        iam=session.client("iam", config=quick),
    )


def resolved_region(region: str | None) -> str | None:
    """The region a deploy would use (``--region``, else the environment's or profile's), no AWS call."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(region_name=region).region_name
    except BotoCoreError:
        return region


def chalice_executable() -> str:
    """The `chalice` of the running interpreter's environment (the project venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("chalice")
    if beside.exists():
        return str(beside)
    found = shutil.which("chalice")
    if found is None:
        raise DeployError("chalice is not installed: run `make install`")
    return found


def run_command(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    """Run a command in cwd with extra environment variables. Its output goes to the terminal, except
    when it fails: then its error output (a Python traceback, maybe) goes to ``.chalice/last-<verb>.log``
    and the ``DeployError`` carries its last line."""
    completed = subprocess.run(  # noqa: S603
        list(command), cwd=cwd, env={**os.environ, **env}, check=False, stderr=subprocess.PIPE, text=True
    )
    if completed.returncode == 0:
        sys.stderr.write(completed.stderr or "")
        return
    verb = command[1] if len(command) > 1 else "command"
    log = cwd / ".chalice" / f"last-{verb}.log"
    lines = [line.strip() for line in (completed.stderr or "").splitlines() if line.strip()]
    reason = lines[-1] if lines else "no error output"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(completed.stderr or "", encoding="utf-8")
        where = f" (its full output: {log})"
    except OSError:
        where = ""
    raise DeployError(f"`{' '.join(command)}` failed with exit code {completed.returncode}: {reason}{where}")


def stack_status(cfn: Any, name: str) -> str | None:
    """The stack's status, or None when there is no live stack of that name."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status in STACK_GONE else status


def failure_reasons(cfn: Any, name: str, limit: int = 10) -> list[str]:
    """The newest FAILED events of a stack: which resource failed and CloudFormation's reason."""
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    return [
        f"{e['LogicalResourceId']} ({e.get('ResourceType', '?')}) {e['ResourceStatus']}: "
        f"{e.get('ResourceStatusReason', '')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ][:limit]


@dataclass(frozen=True)
class Waiting:
    """How often and how long to poll CloudFormation (tests poll without delay)."""

    delay: int = 10
    max_attempts: int = 360

    def config(self) -> dict[str, int]:
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}


def wait_for(cfn: Any, waiter_name: str, name: str, waiting: Waiting) -> None:
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter(waiter_name).wait(StackName=name, WaiterConfig=waiting.config())
    except WaiterError as exc:
        reasons = "\n  ".join(failure_reasons(cfn, name)) or "(no failed events)"
        raise DeployError(f"stack {name}: {exc}\n  {reasons}") from exc


def deploy_stack(
    cfn: Any,
    *,
    name: str,
    body: str | None = None,
    template_url: str | None = None,
    parameters: Mapping[str, str],
    tags: Mapping[str, str],
    protect: bool,
    waiting: Waiting,
) -> str:
    """Create or update the stack and wait for it. Returns "created", "updated" or "unchanged".

    The template comes from ``template_url`` (S3, what the deploy uses) or inline ``body``."""
    from botocore.exceptions import ClientError

    source = {"TemplateURL": template_url} if template_url else {"TemplateBody": body}
    common = {
        "StackName": name,
        **source,
        "Parameters": to_cfn_parameters(parameters),
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    status = stack_status(cfn, name)
    if status == "ROLLBACK_COMPLETE":
        # A stack whose creation failed cannot be updated; it holds nothing (the retained artifacts
        # bucket, if it was created, stays and is simply not reused).
        cfn.delete_stack(StackName=name)
        wait_for(cfn, "stack_delete_complete", name, waiting)
        status = None
    if status is not None and status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {name} is {status}; wait for it to finish, then deploy again")
    if status is None:
        cfn.create_stack(**common, EnableTerminationProtection=protect)
        wait_for(cfn, "stack_create_complete", name, waiting)
        return "created"
    try:
        cfn.update_stack(**common)
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            return "unchanged"
        raise
    wait_for(cfn, "stack_update_complete", name, waiting)
    return "updated"


def empty_and_delete_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of a bucket, then the bucket. Returns the count."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    s3.delete_bucket(Bucket=bucket)
    return deleted
