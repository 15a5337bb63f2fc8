"""The preflight asks AWS before anything is created (issue 20): credentials AWS rejects, an endpoint
that cannot be reached, a deployer without the permissions `deploy/deployer-policy.json` grants, each
told in one line with every other problem, no traceback, and nothing created. A command that fails
(`chalice deploy`) is one line too; its full output goes to a log file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from chalice_double import REGION
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from deploy.cli import main
from deploy.errors import DeployError
from deploy.stack import run_command
from deploy.template import parameter_value
from infra.template import FUNCTION_PARAMETERS, ROLE_PARAMETERS, load_template
from local.patches.iam_simulate import patch_simulate_principal_policy

ROOT = Path(__file__).resolve().parents[2]
NETWORK = {"VpcId": "vpc-0123abcd", "SubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b", "DbtImageTag": "2f1c9ab"}


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params-dev.json"
    path.write_text(json.dumps(NETWORK), encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_python_m_deploy_with_fake_keys_and_no_reachable_aws_prints_each_problem_once_and_no_traceback(
    tmp_path: Path, params_file: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIAFAKEFAKEFAKEFAKE",
        AWS_SECRET_ACCESS_KEY="fake",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}",  # no network: nothing answers
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        HOME=str(tmp_path),
    )
    command = [sys.executable, "-m", "deploy", "deploy", "--stage", "dev", "--params-file", str(params_file)]

    done = subprocess.run(
        [*command, "--parameter", "MaxConcurrency=-1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines), done.stderr
    assert any("MaxConcurrency=-1 is below the minimum 0" in line for line in lines)
    assert any(line.startswith("error: cannot reach AWS at http://127.0.0.1:") for line in lines)
    assert lines[-1] == "error: nothing was created"
    assert "==> chalice deploy" not in done.stdout


def test_keys_aws_rejects_are_one_line_and_stop_the_deploy(
    params_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    @set_initial_no_auth_action_count(0)  # moto checks credentials as AWS does: these keys do not exist
    @mock_aws
    def deploy_with_rejected_keys() -> int:
        return main(["deploy", "--stage", "dev", "--params-file", str(params_file)])

    code = deploy_with_rejected_keys()

    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.splitlines() == [
        "error: AWS rejected the credentials (InvalidClientTokenId): check AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (expired session? run `aws sso login` or refresh them)",
        "error: nothing was created",
    ]


def test_a_deployer_without_the_deployer_policy_is_told_what_it_may_not_do_before_anything_is_created(
    params_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    patch_simulate_principal_policy()
    with mock_aws():
        iam = boto3.client("iam", REGION, aws_access_key_id="admin", aws_secret_access_key="admin")
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader",
            PolicyName="read-only",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "cloudformation:Describe*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])

        code = main(["deploy", "--stage", "dev", "--params-file", str(params_file)])

        assert boto3.client("s3", REGION).list_buckets()["Buckets"] == []
    err = capsys.readouterr().err
    assert code == 1
    (problem, last) = err.splitlines()
    assert problem.startswith("error: arn:aws:iam::123456789012:user/reader may not ")
    assert "ecr:GetAuthorizationToken on *" in problem
    assert re.search(r" and \d+ more: ", problem)
    assert problem.endswith("attach deploy/deployer-policy.json (docs/first-deploy.md)")
    assert last == "error: nothing was created"


def test_a_failed_command_is_one_line_with_its_last_error_line_and_its_output_in_a_log(
    tmp_path: Path,
) -> None:
    script = tmp_path / "chalice"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stderr.write('Traceback (most recent call last):\\n  File x\\n"
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling CreateRole\\n')\n"
        "sys.exit(2)\n",
        encoding="utf-8",
    )
    script.chmod(0o755)

    with pytest.raises(DeployError) as error:
        run_command([str(script), "deploy", "--stage", "dev"], tmp_path, {})

    message = str(error.value)
    assert "\n" not in message
    assert (
        "failed with exit code 2: botocore.exceptions.ClientError: An error occurred (AccessDenied)"
        in message
    )
    assert "Traceback" not in message
    log = tmp_path / ".chalice" / "last-deploy.log"
    assert f"(its full output: {log})" in message
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")


def test_a_dry_run_shows_the_region_it_would_use_and_every_default(
    params_file: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    code = main(["deploy", "--stage", "dev", "--dry-run", "--params-file", str(params_file)])

    printed = capfd.readouterr().out
    assert code == 0
    assert "  region: eu-west-1" in printed
    assert "HeartbeatSeconds=900   (default)" in printed
    assert "RunFilesRetentionDays=30   (default)" in printed
    assert "DbtImageTag=2f1c9ab\n" in printed  # given, so not marked


def dry_run_parameters(printed: str) -> list[tuple[str, str, bool]]:
    """The dry run's parameter lines: (name, value, marked as the template's default)."""
    lines = re.findall(r"^       (\w+)=(.*?)(   \(default\))?$", printed, re.MULTILINE)
    return [(name, value, bool(marked)) for name, value, marked in lines]


def test_a_dry_run_shows_every_parameter_the_template_declares_once_with_its_value(
    params_file: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    declared = load_template()["Parameters"]

    args = ["--dry-run", "--params-file", str(params_file), "--parameter", "MaxConcurrency=50"]

    code = main(["deploy", "--stage", "dev", *args])

    shown = dry_run_parameters(capfd.readouterr().out)
    assert code == 0
    assert sorted(name for name, _, _ in shown) == sorted(declared)  # each one, once
    given = {name: value for name, value, marked in shown if not marked}
    defaults = {name: value for name, value, marked in shown if marked}
    from_chalice = {*FUNCTION_PARAMETERS, *ROLE_PARAMETERS}
    assert set(given) == {*NETWORK, "MaxConcurrency", "AppName", "Stage", *from_chalice}
    assert defaults == {name: parameter_value(declared[name]["Default"]) for name in declared.keys() - given}
    assert given["MaxConcurrency"] == "50" and given["VpcId"] == NETWORK["VpcId"]
    assert given["StartSyncFunctionArn"].startswith("arn:aws:lambda:eu-west-1:")  # stand-ins in the region


def test_a_dry_run_without_a_region_given_uses_the_profiles_and_says_so(
    params_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = ap-southeast-2\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    code = main(["deploy", "--stage", "dev", "--dry-run", "--params-file", str(params_file)])

    printed = capfd.readouterr().out
    assert code == 0
    assert "  region: ap-southeast-2" in printed
    assert "bootstrap bucket fivetran-orchestrator-deploy-<account>-ap-southeast-2" in printed
    config.write_text("[default]\n", encoding="utf-8")  # no region anywhere: the dry run says how to give one

    assert main(["deploy", "--stage", "dev", "--dry-run", "--params-file", str(params_file)]) == 0
    assert "  region: (none: pass --region or set AWS_DEFAULT_REGION)" in capfd.readouterr().out
