"""The runtime's ``chalice local`` (``make webhook``, the demo) keeps botocore's INFO lines out of its log:
a webhook answered with the token table's client built leaves no "Found credentials ..." line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local.chalice_local import ChaliceLocal

# A real server in a subprocess (seconds): `make test` runs it, `make check` does not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECRET = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"][
    "environment_variables"
]["FIVETRAN_WEBHOOK_SECRET"]


def test_a_webhook_answered_locally_leaves_no_botocore_credential_line(tmp_path: Path) -> None:
    body = (ROOT / "examples" / "webhooks" / "sync_end_success.json").read_bytes()
    log_path = tmp_path / "chalice-local.log"
    with log_path.open("w") as log:
        server = ChaliceLocal({}, log=log)
        try:
            url = server.start() + "/webhooks/fivetran"
            answer = requests.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, SECRET)},
                timeout=30,
            )
        finally:
            server.stop()
    assert answer.status_code == 200, answer.text
    logged = log_path.read_text()
    assert "Serving on" in logged
    assert "Found credentials" not in logged
