"""Helpers of the operator CLI's tests.

- start and stop `python -m local serve`; run the CLI in-process; check a readable error;
- a stand-in deployed stage (stack outputs, secrets, `.chalice/deployed/<stage>.json`);
- `Elements`, a small HTML parser for the timeline page.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from contracts.state_file import STATE_FILE_ENV, LocalState, read_state
from ops.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).with_name("scenarios")
START_TIMEOUT_S = 90


@dataclass
class Served:
    """A running ``python -m local serve``."""

    state: LocalState
    state_file: Path
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def serve_environment() -> dict[str, str]:
    """This environment without AWS settings (the runtime needs none), and dbt's stand-in: the
    operator CLI is the subject here, not dbt (local/dbt_standin.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != STATE_FILE_ENV}
    return {**env, "LOCAL_DBT": "stand-in"}


def start_serve(scenario: Path, workdir: Path, state_file: Path | None = None) -> Served:
    state_file = state_file or workdir / "local-runtime.json"
    log = workdir / "serve.log"
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local",
                "serve",
                "--scenario",
                str(scenario),
                "--state-file",
                str(state_file),
            ],
            cwd=ROOT,
            env=serve_environment(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_serve_process(process)
            raise RuntimeError(f"python -m local serve did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return Served(read_state(state_file), state_file, process, log)


def stop_serve_process(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=10)


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    """Run ``orchestrator ARGS`` in-process (click's runner); exceptions stay on ``result.exception``."""
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=True)


def assert_readable_error(result: Result, code: int = 1) -> str:
    """An expected failure: the exit code, one ``Error:`` line, no traceback. Returns the message."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    return errors[0].removeprefix("Error: ")


def create_stage_stack(cloudformation: Any, stage: str, outputs: dict[str, str]) -> str:
    """A stand-in for the stage's infra stack: the real name, the outputs the CLI reads, nothing else."""
    name = f"fivetran-orchestrator-{stage}-infra"
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def put_stage_secrets(
    secretsmanager: Any, stage: str, *, webhook: str, api_key: str, api_secret: str
) -> dict[str, str]:
    """The stage's two secrets as the stack names them; returns the outputs that point at them."""
    prefix = f"fivetran-orchestrator/{stage}"
    hook = secretsmanager.create_secret(Name=f"{prefix}/webhook-secret", SecretString=webhook)
    api = secretsmanager.create_secret(
        Name=f"{prefix}/fivetran-api", SecretString=json.dumps({"api_key": api_key, "api_secret": api_secret})
    )
    return {"WebhookSecretArn": hook["ARN"], "FivetranApiSecretArn": api["ARN"]}


def project_dir(directory: Path, stage: str, rest_api_url: str | None) -> Path:
    """A checkout's `.chalice/` (the real config.json), with `deployed/<stage>.json` when a URL is given."""
    chalice = directory / ".chalice"
    (chalice / "deployed").mkdir(parents=True, exist_ok=True)
    (chalice / "config.json").write_text((ROOT / ".chalice" / "config.json").read_text(), encoding="utf-8")
    if rest_api_url is not None:
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:fivetran-orchestrator-{stage}"
        deployed = {
            "resources": [
                {
                    "name": "list_connectors",
                    "resource_type": "lambda_function",
                    "lambda_arn": f"{arn}-list_connectors",
                },
                {"name": "start_sync", "resource_type": "lambda_function", "lambda_arn": f"{arn}-start_sync"},
                {
                    "name": "collect_outcomes",
                    "resource_type": "lambda_function",
                    "lambda_arn": f"{arn}-collect_outcomes",
                },
                {
                    "name": "transform_lease",
                    "resource_type": "lambda_function",
                    "lambda_arn": f"{arn}-transform_lease",
                },
                {"name": "notify_run", "resource_type": "lambda_function", "lambda_arn": f"{arn}-notify_run"},
                *(
                    {
                        "name": f"{function}_role",
                        "resource_type": "iam_role",
                        "role_name": f"fivetran-orchestrator-{stage}-{function}",
                    }
                    for function in ("list_connectors", "collect_outcomes", "notify_run")
                ),
                {"name": "rest_api", "resource_type": "rest_api", "rest_api_url": rest_api_url},
            ]
        }
        (chalice / "deployed" / f"{stage}.json").write_text(json.dumps(deployed), encoding="utf-8")
    return directory


class Elements(HTMLParser):
    """Every start tag of a page with its attributes; ``with_class`` finds elements by their classes."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def with_class(self, *wanted: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if set(wanted) <= set(a.get("class", "").split())]
