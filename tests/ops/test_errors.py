"""Expected failures are one readable line and an exit code, never a traceback (no runtime needed).

AWS stages are played by moto in-process (``mock_aws``); the local runtime by state files.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from contracts.state_file import STATE_FILE_ENV, LocalState, write_state
from ops.cli import cli
from ops.target import PROJECT_DIR_ENV
from tests.ops.support import (
    assert_readable_error,
    create_stage_stack,
    invoke,
    project_dir,
    put_stage_secrets,
)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def state(pid: int) -> LocalState:
    return LocalState(
        aws_endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:fivetran-orchestrator-local",
        token_table="t",
        fivetran_api_url="http://127.0.0.1:9",
        fivetran_api_key="k",
        fivetran_api_secret="s",
        webhook_url="http://127.0.0.1:9/webhooks/fivetran",
        webhook_secret="w",
        group_id="g",
        pid=pid,
    )


def test_an_unknown_stage_is_named_with_the_stages_that_exist() -> None:
    message = assert_readable_error(invoke(["runs", "--stage", "staging"]))

    assert message.startswith("unknown stage 'staging': ")
    assert message.endswith("has dev, prod (use --local for the local runtime)")


def test_stage_local_points_at_the_local_flag() -> None:
    message = assert_readable_error(invoke(["runs", "--stage", "local"]))

    assert "use --local" in message


def test_neither_stage_nor_local_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_STAGE", raising=False)

    message = assert_readable_error(invoke(["runs"]), code=2)

    assert message == "say where: --stage S for a deployed stage, or --local for `python -m local serve`"


def test_stage_and_local_together_are_a_usage_error() -> None:
    assert "not both" in assert_readable_error(invoke(["runs", "--stage", "dev", "--local"]), code=2)


def test_a_missing_state_file_says_how_to_start_the_local_runtime(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"

    message = assert_readable_error(invoke(["runs", "--local"], env={STATE_FILE_ENV: str(missing)}))

    assert message == (
        f"no local runtime: {missing} does not exist "
        "(start one with `python -m local serve` in another shell)"
    )


def test_a_state_file_whose_runtime_is_gone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    pid = dead_pid()
    write_state(path, state(pid))

    message = assert_readable_error(invoke(["show", "x", "--state-file", str(path)]))

    assert message.startswith(f"the local runtime that wrote {path} (pid {pid}) is no longer running")


def test_a_state_file_that_is_not_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"pid": 1}')

    message = assert_readable_error(invoke(["runs", "--state-file", str(path)]))

    assert message.startswith(f"{path} lacks aws_endpoint_url, fivetran_api_key")


def test_invalid_run_input_exits_2_before_any_target_is_read(tmp_path: Path) -> None:
    result = invoke(
        ["start-run", "--state-file", str(tmp_path / "none.json"), "--group", "g", "--connector", "c"]
    )

    message = assert_readable_error(result, code=2)
    assert message == (
        "invalid execution input: give either 'group_id' or 'connector_ids', not both (nothing was started)"
    )


def test_a_run_input_naming_nothing_exits_2() -> None:
    message = assert_readable_error(invoke(["start-run", "--stage", "dev", "--wait"]), code=2)

    assert "give 'group_id'" in message


def test_missing_aws_credentials_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    message = assert_readable_error(invoke(["runs", "--stage", "dev"]))

    assert message.startswith("no usable AWS credentials")
    assert "set AWS_PROFILE" in message


def test_a_missing_region_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)

    message = assert_readable_error(invoke(["runs", "--stage", "dev"]))

    assert message.startswith("no AWS region: pass --region")


def test_a_stage_that_is_not_deployed_says_how_to_deploy_it(aws: None) -> None:
    message = assert_readable_error(invoke(["runs", "--stage", "dev"]))

    assert message == (
        "stage dev is not deployed in us-east-1: there is no stack fivetran-orchestrator-dev-infra "
        "(deploy it with `make deploy STAGE=dev`, or pass --region)"
    )


def test_a_stage_without_a_recorded_api_url_says_to_deploy_from_this_checkout(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_stage_stack(boto3.client("cloudformation"), "dev", {"StateMachineArn": "arn:x"})
    monkeypatch.setenv(PROJECT_DIR_ENV, str(project_dir(tmp_path, "dev", rest_api_url=None)))

    message = assert_readable_error(invoke(["register-webhook", "--stage", "dev", "--group", "g"]))

    assert message.startswith(f"no {tmp_path}/.chalice/deployed/dev.json: run `make deploy STAGE=dev`")


def test_a_fivetran_secret_still_holding_the_stack_placeholder_is_refused(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = put_stage_secrets(
        boto3.client("secretsmanager"), "dev", webhook="w" * 64, api_key="REPLACE_ME", api_secret="x" * 32
    )
    create_stage_stack(boto3.client("cloudformation"), "dev", {"StateMachineArn": "arn:x", **secrets})
    monkeypatch.setenv(
        PROJECT_DIR_ENV, str(project_dir(tmp_path, "dev", "https://abc.execute-api.test/api/"))
    )

    message = assert_readable_error(invoke(["register-webhook", "--stage", "dev", "--group", "g"]))

    assert "still holds the placeholder the stack generated" in message


def test_a_dry_run_on_a_stage_prints_the_deployed_webhook_url_without_any_secret(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_stage_stack(boto3.client("cloudformation"), "dev", {"StateMachineArn": "arn:x"})
    monkeypatch.setenv(
        PROJECT_DIR_ENV, str(project_dir(tmp_path, "dev", "https://abc.execute-api.test/api/"))
    )

    result = invoke(["register-webhook", "--stage", "dev", "--group", "g", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("POST https://api.fivetran.com/v1/webhooks/group/g\n")
    assert '"url": "https://abc.execute-api.test/api/webhooks/fivetran"' in result.stdout
    assert '"secret": "********"' in result.stdout


def test_the_installed_entry_point_prints_errors_without_a_traceback(tmp_path: Path) -> None:
    entry_point = Path(sys.executable).with_name("orchestrator")
    done = subprocess.run(
        [str(entry_point), "runs", "--state-file", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stderr.startswith("Error: no local runtime: ")
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_explains_itself_with_help(command: str) -> None:
    result = invoke([command, "--help"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: orchestrator {command}")
    if command != "sign":
        assert "--stage S" in result.output and "--local" in result.output
