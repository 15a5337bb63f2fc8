"""Secrets from moto's Secrets Manager: values, caching, failures that name the id (never the value)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from chalice.test import Client

from app import app
from chalicelib.platform.config import Settings
from chalicelib.platform.errors import ConfigurationError, SecretUnavailable
from chalicelib.platform.secrets import FivetranCredentials, SecretSource
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies, set_dependencies
from tests.conftest import REGION, TABLE

ROOT = Path(__file__).resolve().parents[2]
API_SECRET_ID = "fivetran-orchestrator/test/fivetran-api"
WEBHOOK_SECRET_ID = "fivetran-orchestrator/test/webhook-secret"
WEBHOOK_SECRET_VALUE = "sm-webhook-secret-value"
API_VALUE = {"api_key": "sm-api-key", "api_secret": "sm-api-secret-value"}


@pytest.fixture
def secretsmanager(moto_aws):
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def get_secret_calls(secretsmanager) -> list[str]:
    calls: list[str] = []

    def record(params, **kwargs):
        calls.append(params["SecretId"])

    secretsmanager.meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", record)
    return calls


@pytest.fixture
def aws_settings() -> Settings:
    return Settings(
        token_table=TABLE,
        fivetran_api_secret_arn=API_SECRET_ID,
        webhook_secret_arn=WEBHOOK_SECRET_ID,
        secrets_max_age_seconds=300,
    )


@pytest.fixture
def stored(secretsmanager) -> None:
    secretsmanager.create_secret(Name=API_SECRET_ID, SecretString=json.dumps(API_VALUE))
    secretsmanager.create_secret(Name=WEBHOOK_SECRET_ID, SecretString=WEBHOOK_SECRET_VALUE)


def source(settings: Settings, client) -> SecretSource:
    return SecretSource(settings, parameters.SecretsProvider(boto3_client=client))


def test_the_secret_source_reads_both_secrets_from_secrets_manager(aws_settings, secretsmanager, stored):
    secrets = source(aws_settings, secretsmanager)

    assert secrets.webhook_secret() == WEBHOOK_SECRET_VALUE
    assert secrets.fivetran_credentials() == FivetranCredentials("sm-api-key", "sm-api-secret-value")


def test_secrets_are_cached_a_second_read_makes_no_call(
    aws_settings, secretsmanager, stored, get_secret_calls
):
    secrets = source(aws_settings, secretsmanager)

    secrets.webhook_secret()
    secrets.fivetran_credentials()
    assert sorted(get_secret_calls) == sorted([WEBHOOK_SECRET_ID, API_SECRET_ID])

    for _ in range(3):
        assert secrets.webhook_secret() == WEBHOOK_SECRET_VALUE
        assert secrets.fivetran_credentials().api_key == "sm-api-key"
    assert len(get_secret_calls) == 2


def test_a_cached_secret_survives_its_deletion_within_the_max_age(aws_settings, secretsmanager, stored):
    secrets = source(aws_settings, secretsmanager)
    secrets.webhook_secret()

    secretsmanager.delete_secret(SecretId=WEBHOOK_SECRET_ID, ForceDeleteWithoutRecovery=True)

    assert secrets.webhook_secret() == WEBHOOK_SECRET_VALUE


def test_a_rotated_secret_is_read_again_once_the_max_age_has_passed(aws_settings, secretsmanager, stored):
    secrets = source(replace(aws_settings, secrets_max_age_seconds=0), secretsmanager)
    assert secrets.webhook_secret() == WEBHOOK_SECRET_VALUE

    secretsmanager.put_secret_value(SecretId=WEBHOOK_SECRET_ID, SecretString="rotated-value")

    assert secrets.webhook_secret() == "rotated-value"


def test_a_webhook_secret_stored_as_json_is_accepted(aws_settings, secretsmanager):
    secretsmanager.create_secret(Name=WEBHOOK_SECRET_ID, SecretString=json.dumps({"secret": "from-json"}))

    assert source(aws_settings, secretsmanager).webhook_secret() == "from-json"


@pytest.mark.parametrize("which", ["webhook", "api"])
def test_a_missing_secret_raises_secret_unavailable_naming_the_secret_id(aws_settings, secretsmanager, which):
    secrets = source(aws_settings, secretsmanager)
    read = secrets.webhook_secret if which == "webhook" else secrets.fivetran_credentials
    secret_id = WEBHOOK_SECRET_ID if which == "webhook" else API_SECRET_ID

    with pytest.raises(SecretUnavailable) as caught:
        read()

    assert secret_id in str(caught.value)
    assert type(caught.value).__name__ == "Orchestrator.SecretUnavailable"


def test_an_api_secret_without_the_expected_keys_names_the_id_but_not_the_value(aws_settings, secretsmanager):
    secretsmanager.create_secret(
        Name=API_SECRET_ID, SecretString=json.dumps({"api_key": "visible-key", "token": "hunter2-value"})
    )

    with pytest.raises(SecretUnavailable) as caught:
        source(aws_settings, secretsmanager).fivetran_credentials()

    message = str(caught.value)
    assert API_SECRET_ID in message
    assert "hunter2-value" not in message
    assert "visible-key" not in message


def test_an_api_secret_that_is_not_json_names_the_id_but_not_the_value(aws_settings, secretsmanager):
    secretsmanager.create_secret(Name=API_SECRET_ID, SecretString="plain-text-credential")

    with pytest.raises(SecretUnavailable) as caught:
        source(aws_settings, secretsmanager).fivetran_credentials()

    assert API_SECRET_ID in str(caught.value)
    assert "plain-text-credential" not in str(caught.value)


def test_credentials_never_print_their_secret_half():
    assert "sm-api-secret-value" not in repr(FivetranCredentials("sm-api-key", "sm-api-secret-value"))


def test_local_settings_come_from_the_environment_values():
    secrets = SecretSource(
        Settings(token_table=TABLE, fivetran_api_key="k", fivetran_api_secret="s", webhook_secret="w")
    )
    assert secrets.webhook_secret() == "w"
    assert secrets.fivetran_credentials() == FivetranCredentials("k", "s")


def test_no_secret_configured_at_all_is_a_configuration_error():
    secrets = SecretSource(Settings(token_table=TABLE))
    with pytest.raises(ConfigurationError):
        secrets.webhook_secret()
    with pytest.raises(ConfigurationError):
        secrets.fivetran_credentials()


def test_the_fivetran_client_is_built_from_the_secrets_manager_credentials(
    aws_settings, secretsmanager, stored
):
    built: list[FivetranCredentials] = []
    deps = Dependencies.from_clients(
        aws_settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        secretsmanager=secretsmanager,
        fivetran_factory=lambda credentials: built.append(credentials) or object(),
    )

    first = deps.fivetran()
    second = deps.fivetran()

    assert built == [FivetranCredentials("sm-api-key", "sm-api-secret-value")]
    assert first is second


def test_after_a_401_the_api_credentials_are_read_again_bypassing_the_cache_at_most_once_per_interval(
    aws_settings, secretsmanager, stored, get_secret_calls
):
    secrets = source(aws_settings, secretsmanager)
    assert secrets.fivetran_credentials().api_key == "sm-api-key"
    rotated = {"api_key": "rotated-key", "api_secret": "rotated-secret"}
    secretsmanager.put_secret_value(SecretId=API_SECRET_ID, SecretString=json.dumps(rotated))

    assert secrets.fivetran_credentials().api_key == "sm-api-key"  # cached: max age 300 s
    assert secrets.fivetran_credentials(force=True).api_key == "rotated-key"
    assert secrets.fivetran_credentials().api_key == "rotated-key"  # the cache holds the new pair
    assert secrets.fivetran_credentials(force=True).api_key == "rotated-key"  # throttled: from the cache
    assert get_secret_calls == [API_SECRET_ID, API_SECRET_ID]
    assert secrets.fivetran_credentials_name == f"the secret {API_SECRET_ID}"


def test_the_built_client_reads_the_rotated_pair_on_a_401_and_names_the_secret(
    aws_settings, secretsmanager, stored
):
    deps = Dependencies.from_clients(
        aws_settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        secretsmanager=secretsmanager,
    )
    client = deps.fivetran()
    rotated = {"api_key": "rotated-key", "api_secret": "rotated-secret"}
    secretsmanager.put_secret_value(SecretId=API_SECRET_ID, SecretString=json.dumps(rotated))

    assert client.credentials_name == f"the secret {API_SECRET_ID}"
    assert client._refresh is not None and client._refresh() == ("rotated-key", "rotated-secret")
    assert deps.fivetran() is not client  # rebuilt with the rotated pair


# -- the webhook route when the secret cannot be read ------------------------------------------------


def deliver(body: bytes, signature: str) -> object:
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    return client.http.post(
        "/webhooks/fivetran",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
        body=body,
    )


def install(settings: Settings, secretsmanager) -> None:
    set_dependencies(
        Dependencies.from_clients(
            settings,
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            stepfunctions=boto3.client("stepfunctions", region_name=REGION),
            secretsmanager=secretsmanager,
        )
    )


BODY = (
    b'{"event":"sync_end","created":"2026-01-15T10:30:00.386Z","connector_type":"postgres",'
    b'"connector_id":"decent_dropsy","connector_name":"pg_prod","sync_id":"s","destination_group_id":"g",'
    b'"data":{"status":"SUCCESSFUL"}}'
)


def test_the_webhook_answers_503_when_its_secret_cannot_be_read(aws_settings, secretsmanager):
    install(aws_settings, secretsmanager)  # no secret stored

    response = deliver(BODY, sign(BODY, "whatever"))

    assert response.status_code == 503
    assert "retry" in response.json_body["error"]
    assert b"Traceback" not in response.body


def test_the_webhook_verifies_against_the_secret_from_secrets_manager(aws_settings, secretsmanager, stored):
    install(aws_settings, secretsmanager)
    probe = b'{"event":"test_event","connector_id":"_connector_1","group_id":"_destination_1"}'

    assert deliver(probe, sign(probe, WEBHOOK_SECRET_VALUE)).status_code == 200
    assert deliver(probe, sign(probe, "local-webhook-secret")).status_code == 401
