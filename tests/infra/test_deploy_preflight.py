"""`make deploy` / `make destroy` refuse to start, in one line, when AWS or the parameters are missing.

Each check runs before `chalice deploy` or any AWS call: the runner and the client factory
record what would have run, so "nothing created" is asserted, not assumed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.commands import DeployOptions, deploy
from deploy.errors import DeployError
from deploy.stack import make_clients

ROOT = Path(__file__).resolve().parents[2]
MAKE_ERROR = re.compile(r"make(\[\d+\])?: \*\*\* ")  # make's own line about the failed recipe
NETWORK = {"VpcId": "vpc-0123abcd", "SubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b", "DbtImageTag": "2f1c9ab"}


def no_aws_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a machine with no AWS configuration at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(tmp_path),
    )
    env.update(extra)
    return env


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in no_aws_environment(tmp_path).items():
        if name.startswith("AWS_") or name == "HOME":
            monkeypatch.setenv(name, value)


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params-dev.json"
    path.write_text(json.dumps(NETWORK), encoding="utf-8")
    return path


def refused(options: DeployOptions) -> tuple[str, list[object]]:
    ran: list[object] = []
    with pytest.raises(DeployError) as error:
        deploy(options, run=lambda *args: ran.append(args), out=open(os.devnull, "w"))  # noqa: SIM115
    return str(error.value), ran


def test_no_region_and_no_credentials_are_one_line_each_and_nothing_runs(
    no_aws: None, params_file: Path
) -> None:
    message, ran = refused(DeployOptions(stage="dev", params_file=params_file))

    lines = message.splitlines()
    assert lines[0].startswith("no AWS region: pass --region, set AWS_DEFAULT_REGION")
    assert lines[1].startswith("no AWS credentials: set AWS_PROFILE")
    assert len(lines) == 2
    assert ran == []


def test_no_credentials_is_one_line_and_nothing_runs(
    no_aws: None, params_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    message, ran = refused(DeployOptions(stage="dev", params_file=params_file))

    assert message.startswith("no AWS credentials: set AWS_PROFILE")
    assert "\n" not in message
    assert ran == []


def test_a_profile_that_does_not_exist_is_one_line(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody")

    with pytest.raises(DeployError) as error:
        make_clients("eu-west-1")

    assert str(error.value) == "AWS configuration: The config profile (nobody) could not be found"


def test_a_missing_parameters_file_and_missing_credentials_are_reported_together(tmp_path: Path) -> None:
    ran: list[object] = []

    def no_credentials(region: str | None) -> Any:
        raise DeployError("no AWS credentials: set AWS_PROFILE; nothing was created")

    with pytest.raises(DeployError) as error:
        deploy(
            DeployOptions(stage="dev", params_file=tmp_path / "params-dev.json"),
            clients_factory=no_credentials,
            run=lambda *args: ran.append(args),
        )

    assert str(error.value).splitlines() == [
        f"no parameters file {tmp_path / 'params-dev.json'}: VpcId is required, SubnetIds is required, "
        "DbtImageTag is required; create the file (infra/README.md) or pass --parameter KEY=VALUE",
        "no AWS credentials: set AWS_PROFILE; nothing was created",
    ]
    assert ran == []


@pytest.mark.parametrize(("target", "args"), [("deploy", "--params-file {params}"), ("destroy", "--yes")])
def test_make_without_credentials_prints_one_line_and_fails(tmp_path: Path, target: str, args: str) -> None:
    """What a new user types: `make deploy` on a machine with a region but no AWS credentials."""
    params = tmp_path / "params.json"
    params.write_text(json.dumps(NETWORK), encoding="utf-8")
    env = no_aws_environment(tmp_path, AWS_DEFAULT_REGION="us-east-1")
    arguments = f"ARGS={args.format(params=params)}"
    command = ["make", "--no-print-directory", "-s", target, "STAGE=dev", arguments]

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert [line for line in done.stderr.splitlines() if not MAKE_ERROR.match(line)] == [
        "error: no AWS credentials: set AWS_PROFILE (see `aws configure`) or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY; nothing was created"
    ]
    assert "Traceback" not in done.stdout
    assert "==> chalice deploy" not in done.stdout  # stopped before chalice (nothing created)


def test_make_deploy_without_a_parameters_file_names_it(tmp_path: Path) -> None:
    env = no_aws_environment(tmp_path)
    missing = tmp_path / "params-dev.json"

    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "deploy", "STAGE=dev", f"ARGS=--params-file {missing}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if not MAKE_ERROR.match(line)]
    # Every problem at once, one line each: the file, then the region and credentials this machine lacks.
    assert lines[0].startswith(f"error: no parameters file {missing}: VpcId is required")
    assert lines[1:] == [
        "error: no AWS region: pass --region, set AWS_DEFAULT_REGION or give the profile a region",
        "error: no AWS credentials: set AWS_PROFILE (see `aws configure`) or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY; nothing was created",
    ]
    assert "Traceback" not in done.stderr
