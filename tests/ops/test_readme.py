"""The docs cannot drift: every ``orchestrator`` command the README and the guides it links for running
(``docs/local.md``, ``docs/operate.md``) show runs here, as written, in the order a reader meets them.

The ``--stage dev`` commands run against a stand-in ``dev`` stage: the local runtime's moto
holds a stack named like the real one (its outputs point at the runtime's state machine and at
secrets holding the local values), a project folder holds ``.chalice/deployed/dev.json`` with
the runtime's ``chalice local`` as the API, and ``FIVETRAN_API_URL`` is the simulator. The
``--local`` commands find the runtime through ``ORCHESTRATOR_STATE_FILE``. The webhook example
runs its ``curl`` against ``python -m local webhook`` (what ``make webhook`` starts) and must get
the answer the README prints.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from contracts.state_file import STATE_FILE_ENV
from local.chalice_local import free_port, wait_for_port
from ops.cli import cli
from ops.target import PROJECT_DIR_ENV
from tests.ops.support import (
    ROOT,
    Served,
    create_stage_stack,
    invoke,
    project_dir,
    put_stage_secrets,
    serve_environment,
    stop_serve_process,
)

SCENARIO = ROOT / "local" / "scenarios" / "all_succeed.yaml"
DOCS = ("README.md", "docs/local.md", "docs/operate.md")  # the README, then the guides it links, in order
README = "\n".join((ROOT / doc).read_text(encoding="utf-8") for doc in DOCS)
BASH_BLOCK = re.compile(r"^[ \t]*```bash\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
ENTRY_POINTS = ("orchestrator", ".venv/bin/orchestrator")
SUBSTITUTION = re.compile(r"\$\(((?:\.venv/bin/)?orchestrator [^)]*)\)")


def bash_blocks() -> list[str]:
    return [block for block in BASH_BLOCK.findall(README)]


def readme_commands() -> list[list[str]]:
    """Each `orchestrator ...` command in the README's bash blocks (a line, or within `$(...)`), as words."""
    commands = []
    for block in bash_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            substituted = SUBSTITUTION.search(line)
            words = shlex.split(substituted.group(1) if substituted else line, comments=True)
            if words and words[0] in ENTRY_POINTS:
                commands.append(["orchestrator", *words[1:]])
    return commands


def client(served: Served, service: str):
    return boto3.client(
        service,
        endpoint_url=served.state.aws_endpoint_url,
        region_name=served.state.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def environment(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment a README reader has: a deployed ``dev`` stage and a running local runtime."""
    state = served.state
    secrets = put_stage_secrets(
        client(served, "secretsmanager"),
        "dev",
        webhook=state.webhook_secret,
        api_key=state.fivetran_api_key,
        api_secret=state.fivetran_api_secret,
    )
    create_stage_stack(
        client(served, "cloudformation"), "dev", {"StateMachineArn": state.state_machine_arn, **secrets}
    )
    api_url = state.webhook_url.removesuffix("webhooks/fivetran")
    return {
        "AWS_ENDPOINT_URL": state.aws_endpoint_url,
        "AWS_DEFAULT_REGION": state.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "FIVETRAN_API_URL": state.fivetran_api_url,
        PROJECT_DIR_ENV: str(project_dir(tmp_path_factory.mktemp("checkout"), "dev", api_url)),
        STATE_FILE_ENV: str(served.state_file),
    }


def latest_run(served: Served) -> str:
    executions = client(served, "stepfunctions").list_executions(
        stateMachineArn=served.state.state_machine_arn
    )
    return max(executions["executions"], key=lambda e: e["startDate"])["name"]


def concrete(words: list[str], served: Served) -> list[str]:
    """The README's placeholders filled in: the runtime's group, the newest run."""
    values = {"<group_id>": served.state.group_id, "<run>": None}
    filled = []
    for word in words:
        if word in values:
            filled.append(values[word] or latest_run(served))
        else:
            assert not re.search(r"<[^>]+>", word), f"unknown placeholder in {shlex.join(words)}"
            filled.append(word)
    return filled


def test_the_readme_shows_commands_for_every_cli_command() -> None:
    shown = {words[1] for words in readme_commands()}

    assert shown == set(cli.commands)


def test_every_orchestrator_command_in_the_readme_runs_as_shown(
    served: Served, environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = []
    for words in readme_commands():
        if words[1] == "sign":
            continue  # its example runs with the curl below
        args = concrete(words, served)[1:]

        result = invoke(args, env=environment)

        if words[1] == "retry":  # every run here succeeds: the refusal (tests/e2e/test_retry.py retries one)
            assert result.exit_code == 2 and "has nothing to retry" in result.output, result.output
            continue
        assert result.exit_code == 0, f"{shlex.join(words)}\n{result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), shlex.join(words)
        ran.append((shlex.join(words), result.output))
        if "--html" in args:
            assert (tmp_path / args[args.index("--html") + 1]).read_text().startswith("<!doctype html>")
    outputs = dict(ran)
    registrations = [
        o for c, o in ran if c.startswith("orchestrator register-webhook") and "--dry-run" not in c
    ]
    assert [o.split(" ", 1)[0] for o in registrations] == ["created", "already"]  # one URL, registered once
    assert all("SUCCEEDED" in o for c, o in ran if "--wait" in c)
    local_run = outputs["orchestrator start-run --local --group demo_group --on-sync-failure continue --wait"]
    assert "listed 3 connection(s) to sync" in local_run and "dbt build started" in local_run


@pytest.fixture
def webhook_server(tmp_path: Path) -> tuple[int, subprocess.Popen]:
    """``python -m local webhook`` (what ``make webhook`` runs) on free ports."""
    port = free_port()
    log = (tmp_path / "webhook.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "webhook", "--port", str(port), "--moto-port", str(free_port())],
        cwd=ROOT,
        env=serve_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, 60, process)  # chalice's port opens once the token table exists
        yield port, process
    finally:
        stop_serve_process(process)
        log.close()


def test_the_readme_webhook_example_gets_the_answer_it_shows(
    webhook_server: tuple[int, subprocess.Popen],
) -> None:
    port, _ = webhook_server
    (block,) = [b for b in bash_blocks() if "curl" in b and "orchestrator sign" in b]
    shown = json.loads(re.search(r"^# (\{.*\})$", block, re.MULTILINE).group(1))
    script = block.replace(".venv/bin/orchestrator", str(Path(sys.executable).with_name("orchestrator")))
    script = script.replace("localhost:8000", f"localhost:{port}")

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "FIVETRAN_WEBHOOK_SECRET"},  # sign's default
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == shown
