"""Issue 8 §3: no secret and no whole task token in any log line; Secrets Manager failures are loud.

The full local run plays a scenario with a failed sync, a webhook signed with a wrong secret, a
dropped webhook, Fivetran API errors and a duplicate delivery, with dbt running at the end. Every
line it wrote is read afterwards: the in-process handlers' log, ``chalice local``'s log, dbt's logs
(every file the run left in its work dir), this process's stdout/stderr (fd level, so threads and
child output are included) and the log records that reached Python's logging.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

import app as app_module
from chalicelib.platform.config import Settings
from chalicelib.platform.log import logger, token_ref
from chalicelib.tokens.store import TokenStore
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies, set_dependencies
from infra.template import token_table_spec
from local.report import build_report
from local.runtime import API_KEY, API_SECRET, LocalRuntime
from local.runtime import WEBHOOK_SECRET as LOCAL_WEBHOOK_SECRET
from local.scenario import parse_scenario
from tests.conftest import REGION
from tests.hardening.support import FaultyClient, Route, park, sync_end_body

SCENARIO = {
    "name": "secrets-in-logs",
    "group_id": "demo_group",
    "input": {"on_sync_failure": "continue"},
    "connectors": [
        {"id": "stripe_prod", "schema": "stripe", "sync": {"duration_s": 0.5}, "webhook": {"duplicate": 1}},
        {
            "id": "zendesk_support",
            "schema": "zendesk",
            "sync": {"duration_s": 0.5, "outcome": "failure", "reason": "ticket export refused"},
        },
        {
            "id": "postgres_app",
            "schema": "app_db",
            "sync": {"duration_s": 0.5},
            "webhook": {"bad_signature": True},
        },
        {"id": "hubspot_crm", "schema": "hubspot", "sync": {"duration_s": 0.5}, "webhook": {"drop": True}},
        {
            "id": "salesforce_crm",
            "schema": "salesforce",
            "sync": {"duration_s": 0.5},
            "api": {"rate_limit_first": 1, "server_error_first": 1},
        },
    ],
    "expect": {"status": "SUCCEEDED", "dbt_ran": True, "connectors": {"zendesk_support": "failed"}},
}


def _recording_task_tokens(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every task token the run hands out: each child execution's ``start_sync`` receives one (the
    children's events are not in the run's history), recorded as the handler passes it on."""
    tokens: set[str] = set()
    park_and_trigger = app_module.park_and_trigger

    def recording(request: Any, *args: Any, **kwargs: Any) -> Any:
        tokens.add(request.task_token)
        return park_and_trigger(request, *args, **kwargs)

    monkeypatch.setattr(app_module, "park_and_trigger", recording)
    return tokens


def _secret_values() -> dict[str, str]:
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    return {
        "webhook secret": LOCAL_WEBHOOK_SECRET,
        "Fivetran API key": API_KEY,
        "Fivetran API secret": API_SECRET,
        "Fivetran Basic credentials": basic,
    }


@pytest.mark.e2e
def test_no_log_line_of_a_full_local_run_with_failures_holds_a_secret_or_a_whole_task_token(
    tmp_path, capfd, caplog, figure, monkeypatch
):
    workdir = tmp_path / "run"
    tokens = _recording_task_tokens(monkeypatch)
    with LocalRuntime(parse_scenario(SCENARIO), workdir=workdir) as runtime:
        result = runtime.run(timeout=90)
        report = build_report(runtime, result)
    captured = capfd.readouterr()

    # The run went through the failure paths this test is about.
    assert result.described["status"] == "SUCCEEDED", result.described.get("cause")
    assert report["webhooks"]["by_status"].get("401", 0) >= 1
    assert report["dbt"]["ran"] and report["dbt"]["exit_code"] == 0
    assert report["tokens_left"] == 0
    assert len(tokens) >= len(SCENARIO["connectors"])

    sources: dict[str, str] = {
        str(path.relative_to(workdir)): path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(workdir.rglob("*"))
        if path.is_file() and ".duckdb" not in path.name
    }
    sources["stdout"] = captured.out
    sources["stderr"] = captured.err
    sources["python logging"] = caplog.text
    sources["run report"] = json.dumps(report)
    handlers, chalice = sources["handlers.log"], sources["chalice-local.log"]
    dbt_logs = [name for name in sources if name.startswith("dbt-") and name.endswith(".log")]
    assert dbt_logs and all(sources[name].strip() for name in dbt_logs)
    assert "token parked and sync triggered" in handlers
    assert "webhook rejected" in chalice and "task token completed" in chalice
    assert any(token_ref(token) in handlers + chalice for token in tokens)  # the safe reference is used

    leaks = [
        f"{what} in {name}"
        for name, text in sources.items()
        for what, value in _secret_values().items()
        if value in text
    ]
    leaks += [
        f"task token {token_ref(token)} in {name}"
        for name, text in sources.items()
        for token in tokens
        if token in text
    ]
    lines = sum(text.count("\n") for text in sources.values())
    figure(
        f"secrets in logs: {lines} lines in {len(sources)} sources ({', '.join(sources)}) checked "
        f"against {len(_secret_values())} secret values and {len(tokens)} task tokens"
    )
    assert leaks == []


# -- Secrets Manager failing at cold start -------------------------------------------------------------

DEV_TABLE = "fivetran-orchestrator-dev-tokens"  # the dev stage's config (.chalice/config.json)
DEV_WEBHOOK_SECRET_ID = "fivetran-orchestrator/dev/webhook-secret"
SECRET_VALUE = "sm-webhook-secret-value-1234"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield buffer
    logger.registered_handler.setStream(previous)


def _records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.fixture
def dev_table(moto_aws: None) -> TokenStore:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(TableName=DEV_TABLE, BillingMode="PAY_PER_REQUEST", **token_table_spec())
    return TokenStore(DEV_TABLE, client)


def test_a_webhook_secret_missing_at_cold_start_is_a_logged_error_and_a_503_until_it_exists(
    dev_table, json_log
):
    """Nothing is injected: the app builds its own clients from the dev stage's settings, as on Lambda."""
    parked = park(dev_table, "token-while-the-secret-is-missing", "stripe_prod")
    # The sync the trigger started: its sync_start inside the acceptance second, then its end.
    started = sync_end_body(
        "stripe_prod", sync_id="the-sync", created=parked.accepted_at + timedelta(milliseconds=100)
    ).replace(b'"sync_end"', b'"sync_start"')
    body = sync_end_body("stripe_prod", sync_id="the-sync")
    route = Route(SECRET_VALUE)

    refused = route.deliver(body)

    assert refused.status == 503, refused.text
    assert "retry" in refused.body["error"]
    errors = [r for r in _records(json_log) if r["level"] == "ERROR"]
    assert errors, json_log.getvalue()
    assert "secret" in errors[0]["message"] and "503" in errors[0]["message"]
    assert DEV_WEBHOOK_SECRET_ID in errors[0]["error"]  # names the secret, so an operator can fix it
    assert dev_table.get("stripe_prod", parked.token_id) == parked
    # The operator creates the secret: the next delivery (Fivetran's retry) goes through.
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=DEV_WEBHOOK_SECRET_ID, SecretString=SECRET_VALUE
    )
    assert route.deliver(started).status == 200
    retried = route.deliver(body)
    assert retried.status == 200, retried.text
    assert retried.body["already_resolved"] == 1  # the fake token is unknown to Step Functions
    assert SECRET_VALUE not in json_log.getvalue()


@pytest.mark.parametrize(
    "break_it",
    [
        lambda sm: sm.fail("get_secret_value", "ThrottlingException"),
        lambda sm: sm.fail("get_secret_value", "InternalServiceError", status=500),
        lambda sm: sm.fail("get_secret_value", "AccessDeniedException"),
        lambda sm: sm.fail_with(
            "get_secret_value", EndpointConnectionError(endpoint_url="https://secretsmanager")
        ),
        lambda sm: sm.put_secret_value(SecretId=DEV_WEBHOOK_SECRET_ID, SecretString='{"not": "it"}'),
    ],
    ids=["throttled", "internal-error", "access-denied", "unreachable", "json-without-secret-key"],
)
def test_a_secrets_manager_failure_is_a_logged_error_and_a_503_never_a_silent_accept(
    dev_table, json_log, break_it
):
    secretsmanager = FaultyClient(boto3.client("secretsmanager", region_name=REGION))
    secretsmanager.create_secret(Name=DEV_WEBHOOK_SECRET_ID, SecretString=SECRET_VALUE)
    settings = Settings(token_table=DEV_TABLE, webhook_secret_arn=DEV_WEBHOOK_SECRET_ID)
    set_dependencies(
        Dependencies.from_clients(
            settings,
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            stepfunctions=boto3.client("stepfunctions", region_name=REGION),
            secretsmanager=secretsmanager,
        )
    )
    parked = park(dev_table, "token", "stripe_prod")
    break_it(secretsmanager)
    body = sync_end_body("stripe_prod")

    answers = [
        Route(SECRET_VALUE).deliver(body).status,  # signed with the real secret
        Route(SECRET_VALUE).deliver(body, secret="anything").status,
    ]

    assert answers[0] == 503
    assert answers[1] in (401, 503)  # never 2xx: nothing is accepted without the secret
    errors = [r for r in _records(json_log) if r["level"] == "ERROR"]
    assert errors and DEV_WEBHOOK_SECRET_ID in errors[0]["error"], json_log.getvalue()
    assert dev_table.get("stripe_prod", parked.token_id) == parked
    assert SECRET_VALUE not in json_log.getvalue()


def test_an_empty_webhook_secret_in_secrets_manager_is_a_503_not_an_accept_of_an_empty_key_signature(
    dev_table, json_log
):
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=DEV_WEBHOOK_SECRET_ID, SecretString='{"secret": ""}'
    )
    parked = park(dev_table, "token", "stripe_prod")
    body = sync_end_body("stripe_prod")

    answer = Route("").post(body, {SIGNATURE_HEADER: sign(body, "")})

    assert answer.status == 503, answer.text
    assert DEV_WEBHOOK_SECRET_ID in json_log.getvalue()
    assert dev_table.get("stripe_prod", parked.token_id) == parked
