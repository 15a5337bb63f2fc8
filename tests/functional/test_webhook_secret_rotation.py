"""Rotating the webhook secret loses no delivery: `rotate-webhook-secret` puts the new secret in Secrets
Manager, then gives it to Fivetran (PATCH /v1/webhooks/{id}); the route accepts the old (AWSPREVIOUS) and
the new (AWSCURRENT) secret within the window, only the new one after, even from a stale cache."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import responses
from aws_lambda_powertools.utilities import parameters
from chalice.test import Client

from app import app
from chalicelib.platform.config import Settings
from chalicelib.platform.secrets import SecretSource
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies, set_dependencies
from ops.errors import OpsError
from ops.rotate_secret import rotate_webhook_secret
from ops.target import StageTarget
from tests.conftest import REGION, TABLE

ROOT = Path(__file__).resolve().parents[2]
FIVETRAN = "https://fivetran.test"
ROUTE = "https://abc.execute-api.us-east-1.amazonaws.com/api/webhooks/fivetran"
WEBHOOK_SECRET_ID = "fivetran-orchestrator/dev/webhook-secret"
API_SECRET_ID = "fivetran-orchestrator/dev/fivetran-api"
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
WINDOW = 3600
PROBE = b'{"event":"test_event","connector_id":"_connector_1","group_id":"_destination_1"}'


class Stage(StageTarget):
    """A deployed stage `dev` whose stack outputs and route URL are given (no CloudFormation here)."""

    def __init__(self) -> None:
        self.stage, self.flag, self.label = "dev", "--stage dev", "stage dev"
        self.config = {"stages": {"dev": {"environment_variables": {"FIVETRAN_API_URL": FIVETRAN}}}}
        self._session = boto3.session.Session(region_name=REGION)
        self._clients: dict[str, Any] = {}
        self.__dict__["outputs"] = {
            "WebhookSecretArn": WEBHOOK_SECRET_ID,
            "FivetranApiSecretArn": API_SECRET_ID,
        }

    def webhook_url(self) -> str:
        return ROUTE


@pytest.fixture
def secretsmanager(moto_aws, monkeypatch):
    monkeypatch.delenv("FIVETRAN_API_URL", raising=False)
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=WEBHOOK_SECRET_ID, SecretString="old-secret")
    client.create_secret(Name=API_SECRET_ID, SecretString=json.dumps({"api_key": "k", "api_secret": "s"}))
    return client


@pytest.fixture
def fivetran():
    with responses.RequestsMock() as mocked:
        hooks = [{"id": "wh_1", "type": "group", "group_id": "g", "url": ROUTE, "events": ["sync_end"]}]
        mocked.get(f"{FIVETRAN}/v1/webhooks", json={"code": "Success", "data": {"items": hooks}})
        yield mocked


def current(secretsmanager) -> dict[str, Any]:
    raw = secretsmanager.get_secret_value(SecretId=WEBHOOK_SECRET_ID)["SecretString"]
    return json.loads(raw) if raw.startswith("{") else {"secret": raw}


def deliver_at(moment: datetime, secretsmanager, secret: str) -> int:
    settings = Settings(token_table=TABLE, webhook_secret_arn=WEBHOOK_SECRET_ID)
    deps = Dependencies.from_clients(
        settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        secretsmanager=secretsmanager,
    )
    provider = parameters.SecretsProvider(boto3_client=secretsmanager)
    set_dependencies(replace(deps, secrets=SecretSource(settings, provider, clock=lambda: moment)))
    response = Client(app, stage_name="dev", project_dir=str(ROOT)).http.post(
        "/webhooks/fivetran",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(PROBE, secret)},
        body=PROBE,
    )
    return response.status_code


def test_rotation_updates_secrets_manager_then_fivetran(secretsmanager, fivetran):
    events: list[str] = []

    def patched(request: Any) -> tuple[int, dict, str]:
        # By the time Fivetran signs with the new secret, Secrets Manager has it.
        assert current(secretsmanager)["secret"] == "new-secret"
        events.append(f"patched {json.loads(request.body)}")
        return 200, {}, json.dumps({"code": "Success", "data": {"id": "wh_1"}})

    fivetran.add_callback(responses.PATCH, f"{FIVETRAN}/v1/webhooks/wh_1", callback=patched)

    rotation = rotate_webhook_secret(
        Stage(),
        window_seconds=WINDOW,
        progress=events.append,
        clock=lambda: T0,
        new_secret=lambda: "new-secret",
    )

    assert events[0].startswith("new secret is AWSCURRENT")
    assert events[1:] == [
        "patched {'secret': 'new-secret'}",
        "Fivetran webhook wh_1 signs with the new secret",
    ]
    assert rotation.webhook_id == "wh_1"
    assert rotation.previous_accepted_until == T0 + timedelta(seconds=WINDOW)
    assert current(secretsmanager) == {
        "secret": "new-secret",
        "previous_accepted_until": "2026-11-30T07:00:00.000000Z",
    }
    previous = secretsmanager.get_secret_value(SecretId=WEBHOOK_SECRET_ID, VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "old-secret"

    # Within the window both secrets are accepted; after it, only the new one.
    assert deliver_at(T0 + timedelta(seconds=10), secretsmanager, "old-secret") == 200
    assert deliver_at(T0 + timedelta(seconds=10), secretsmanager, "new-secret") == 200
    assert deliver_at(T0 + timedelta(seconds=WINDOW - 1), secretsmanager, "old-secret") == 200
    assert deliver_at(T0 + timedelta(seconds=WINDOW + 1), secretsmanager, "old-secret") == 401
    assert deliver_at(T0 + timedelta(seconds=WINDOW + 1), secretsmanager, "new-secret") == 200
    assert deliver_at(T0 + timedelta(seconds=10), secretsmanager, "some-other-secret") == 401


def test_a_rotation_fivetran_refuses_puts_the_old_secret_back(secretsmanager, fivetran):
    fivetran.patch(f"{FIVETRAN}/v1/webhooks/wh_1", status=400, json={"code": "InvalidInput", "message": "no"})

    with pytest.raises(OpsError, match="old secret is current again"):
        rotate_webhook_secret(Stage(), new_secret=lambda: "new-secret")

    assert current(secretsmanager) == {"secret": "old-secret"}
    assert deliver_at(datetime.now(UTC), secretsmanager, "old-secret") == 200
    assert deliver_at(datetime.now(UTC), secretsmanager, "new-secret") == 401


def test_without_a_registered_webhook_nothing_changes(secretsmanager):
    with responses.RequestsMock() as mocked:
        mocked.get(f"{FIVETRAN}/v1/webhooks", json={"code": "Success", "data": {"items": []}})
        with pytest.raises(OpsError, match="register-webhook"):
            rotate_webhook_secret(Stage())

    assert current(secretsmanager) == {"secret": "old-secret"}


def test_a_lambda_whose_cache_predates_the_rotation_accepts_both_secrets_at_once(secretsmanager, fivetran):
    fivetran.patch(f"{FIVETRAN}/v1/webhooks/wh_1", json={"code": "Success", "data": {"id": "wh_1"}})
    settings = Settings(token_table=TABLE, webhook_secret_arn=WEBHOOK_SECRET_ID, secrets_max_age_seconds=300)
    warm = SecretSource(settings, parameters.SecretsProvider(boto3_client=secretsmanager), clock=lambda: T0)
    assert next(warm.webhook_secrets()) == "old-secret"  # a delivery that matched: cached for 300 s

    rotate_webhook_secret(Stage(), clock=lambda: T0, new_secret=lambda: "new-secret")

    # The cached (old) secret first; the new one read again because the cached one did not match.
    assert list(warm.webhook_secrets())[:2] == ["old-secret", "new-secret"]
    # Re-reads are throttled: a burst of bad signatures costs one read per interval, not one per request.
    calls: list[str] = []
    secretsmanager.meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue", lambda params, **kw: calls.append("read")
    )
    for _ in range(5):
        list(warm.webhook_secrets())
    assert calls == []


def test_a_secret_rotated_without_a_window_accepts_only_the_current_one(secretsmanager):
    secretsmanager.put_secret_value(SecretId=WEBHOOK_SECRET_ID, SecretString="console-rotated")

    assert deliver_at(datetime.now(UTC), secretsmanager, "console-rotated") == 200
    assert deliver_at(datetime.now(UTC), secretsmanager, "old-secret") == 401


def test_the_local_stage_accepts_its_previous_secret_from_the_environment():
    secrets = SecretSource(Settings(token_table=TABLE, webhook_secret="new", webhook_secret_previous="old"))

    assert list(secrets.webhook_secrets()) == ["new", "old"]
    assert list(SecretSource(Settings(token_table=TABLE, webhook_secret="new")).webhook_secrets()) == ["new"]
