"""Where AWS comes from (chalicelib/wiring.py): the embedded store stays local (local/embedded_aws.py, named
by the local stage's config), AWS stages say what is missing, and moto is never imported on the AWS path
(chalicelib/ ships to Lambda without it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.platform.config import Settings
from chalicelib.platform.errors import ConfigurationError
from chalicelib.wiring import LOCAL_WIRING_ENV, _local_wiring
from local.embedded_aws import EMBEDDED_AWS_ENV, embedded_requested

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))

PROBE = """
import sys
from chalicelib.platform.errors import AwsNotConfigured
from chalicelib.wiring import build_dependencies
try:
    build_dependencies()
    print("built")
except AwsNotConfigured as exc:
    print("refused:", exc)
print("moto imported:", any(name == "moto" or name.startswith("moto.") for name in sys.modules))
"""


def probe(tmp_path: Path, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update({"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", "TOKEN_TABLE": "tokens", **env})
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if not line.startswith("{")]  # not the JSON logs


def test_only_the_local_stage_may_embed_its_token_table() -> None:
    stages = {name: stage.get("environment_variables", {}) for name, stage in CONFIG["stages"].items()}

    assert stages["local"].get(EMBEDDED_AWS_ENV) == "true"
    assert stages["local"].get(LOCAL_WIRING_ENV) == "local.embedded_aws"
    assert "AWS_ENDPOINT_URL" not in stages["local"]
    assert [name for name, env in stages.items() if EMBEDDED_AWS_ENV in env] == ["local"]
    assert [name for name, env in stages.items() if LOCAL_WIRING_ENV in env] == ["local"]
    assert EMBEDDED_AWS_ENV not in CONFIG.get("environment_variables", {})
    assert LOCAL_WIRING_ENV not in CONFIG.get("environment_variables", {})


@pytest.mark.parametrize(
    ("env", "embedded"),
    [
        ({EMBEDDED_AWS_ENV: "true"}, True),
        ({EMBEDDED_AWS_ENV: "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:5055"}, False),
        ({}, False),
        ({EMBEDDED_AWS_ENV: "false"}, False),
        ({EMBEDDED_AWS_ENV: "true", "AWS_LAMBDA_FUNCTION_NAME": "fivetran-orchestrator-local"}, False),
    ],
)
def test_the_embedded_store_is_used_only_when_asked_and_no_endpoint_is_set(
    env: dict[str, str], embedded: bool
) -> None:
    assert embedded_requested(env) is embedded


def test_a_local_wiring_is_never_run_inside_lambda() -> None:
    env = {LOCAL_WIRING_ENV: "no.such.module", "AWS_LAMBDA_FUNCTION_NAME": "fivetran-orchestrator-local"}

    _local_wiring(Settings(token_table="tokens"), env)  # not imported, so no error


def test_a_local_wiring_that_cannot_be_imported_says_where_it_lives() -> None:
    with pytest.raises(ConfigurationError, match=r"no\.such\.module.*not in the Lambda package"):
        _local_wiring(Settings(token_table="tokens"), {LOCAL_WIRING_ENV: "no.such.module"})


@pytest.mark.slow
def test_an_aws_stage_without_a_region_is_refused_in_one_line_and_never_loads_moto(tmp_path: Path) -> None:
    refused, imported = probe(tmp_path, FIVETRAN_WEBHOOK_SECRET_ARN="arn")

    assert refused == (
        "refused: no AWS region configured: set AWS_DEFAULT_REGION (or a profile with a region) and "
        "credentials to use this stage's AWS resources; to try the webhook on this machine run "
        "`chalice local --stage local` or `make webhook`"
    )
    assert imported == "moto imported: False"


@pytest.mark.slow
def test_an_aws_stage_without_credentials_is_refused_naming_them(tmp_path: Path) -> None:
    refused, imported = probe(tmp_path, AWS_DEFAULT_REGION="eu-west-1")

    assert refused.startswith("refused: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID")
    assert imported == "moto imported: False"


@pytest.mark.slow
def test_an_aws_stage_with_region_and_credentials_builds_without_moto(tmp_path: Path) -> None:
    built, imported = probe(
        tmp_path, AWS_DEFAULT_REGION="eu-west-1", AWS_ACCESS_KEY_ID="AKIA", AWS_SECRET_ACCESS_KEY="x"
    )

    assert (built, imported) == ("built", "moto imported: False")


@pytest.mark.slow
def test_the_local_stage_without_an_endpoint_embeds_its_table(tmp_path: Path) -> None:
    stage = CONFIG["stages"]["local"]["environment_variables"]

    built, imported = probe(tmp_path, **stage)

    assert (built, imported) == ("built", "moto imported: True")
    assert "AWS_ENDPOINT_URL" not in stage
