"""Plain `chalice local`, as a Chalice user types it in the repository root, with nothing else running.

- ``--stage local``: the embedded token store (moto's in-process DynamoDB) serves the route, so the
  curl examples of docs/local.md get the answers it shows, with no moto server and no AWS endpoint.
- no stage (``dev``) and no AWS configuration: a 503 whose body and log line say what is missing and
  which command runs the webhook locally; never a 500 or a stack trace.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local.chalice_local import free_port, wait_for_port
from tests.ops.support import stop_serve_process

# Real servers in subprocesses (seconds each): `make test` runs them, `make check` does not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECRET = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"][
    "environment_variables"
]["FIVETRAN_WEBHOOK_SECRET"]
SAMPLES = ROOT / "examples" / "webhooks"
# The webhook by hand, with its answers (README.md links it): docs/local.md.
GUIDE = (ROOT / "docs" / "local.md").read_text(encoding="utf-8")


def no_aws_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true", PYTHONUNBUFFERED="1")
    return env


def chalice_local(tmp_path: Path, *stage: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "chalice.log"
    chalice = Path(sys.executable).with_name("chalice")
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(chalice), "local", *stage, "--no-autoreload", "--port", str(port)],
            cwd=ROOT,
            env=no_aws_environment(tmp_path),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, 60, process)
        yield f"http://127.0.0.1:{port}/webhooks/fivetran", log
    finally:
        stop_serve_process(process)


@pytest.fixture
def local_stage(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield from chalice_local(tmp_path, "--stage", "local")


@pytest.fixture
def dev_stage(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield from chalice_local(tmp_path)


def post(url: str, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return requests.post(url, data=body, headers=headers, timeout=30)


def readme_success_answer() -> dict[str, object]:
    return json.loads(re.search(r"^# (\{\"status\": \"ok\", \"completed\".*\})$", GUIDE, re.M).group(1))


def test_the_local_stage_alone_gives_the_readmes_answers(local_stage: tuple[str, Path]) -> None:
    url, log = local_stage
    success = (SAMPLES / "sync_end_success.json").read_bytes()
    probe = (SAMPLES / "test_event.json").read_bytes()

    signed = post(url, success, sign(success, SECRET))
    wrong = post(url, success, sign(success, "not-the-secret"))
    unsigned = post(url, success, None)
    test_delivery = post(url, probe, sign(probe, SECRET))

    assert (signed.status_code, signed.json()) == (200, readme_success_answer())
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid signature"
    assert unsigned.status_code == 401
    assert (test_delivery.status_code, test_delivery.json()) == (200, {"status": "ok", "test": True})
    logged = log.read_text()
    assert "embedded token store" in logged
    assert "Traceback" not in logged


def test_the_local_stage_answers_wrong_requests_as_the_readme_says(local_stage: tuple[str, Path]) -> None:
    url, _ = local_stage
    root = url.removesuffix("webhooks/fivetran")

    form = requests.post(
        url, data=b"{}", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30
    )
    get = requests.get(url, timeout=30)
    elsewhere = requests.post(root, json={}, timeout=30)
    not_json = post(url, b"nope", sign(b"nope", SECRET))
    too_big = post(url, b"a" * (1024 * 1024 + 1), "sha256=whatever")

    assert form.status_code == 415
    assert form.json()["Code"] == "UnsupportedMediaType"
    assert "send Content-Type: application/json" in form.json()["Message"]
    assert get.status_code == 405
    assert elsewhere.status_code == 403
    assert not_json.status_code == 400
    assert too_big.status_code == 413


def test_plain_chalice_local_without_aws_is_a_clear_503(dev_stage: tuple[str, Path]) -> None:
    url, log = dev_stage
    success = (SAMPLES / "sync_end_success.json").read_bytes()

    answer = post(url, success, sign(success, SECRET))

    assert answer.status_code == 503
    error = answer.json()["error"]
    assert "no AWS region configured: set AWS_DEFAULT_REGION" in error
    assert "`chalice local --stage local` or `make webhook`" in error
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (logged,) = [line for line in lines if line.get("level") == "ERROR"]  # metric lines have no level
    assert "no AWS region configured" in logged["error"] and "make webhook" in logged["error"]
    assert "Traceback" not in log.read_text()
