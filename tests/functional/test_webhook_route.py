"""``POST /webhooks/fivetran`` through the Chalice test client, with moto's DynamoDB and Step Functions.

Tokens that must really be completed come from a one-state ``waitForTaskToken`` machine executed
by moto (the token is handed out through an SQS message), so SendTaskSuccess/Failure are the
real calls and the execution's output and history show what the webhook sent.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from app import app
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.log import logger
from chalicelib.webhook.handler import MAX_BODY_BYTES
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies, set_dependencies
from tests.conftest import REGION, WEBHOOK_SECRET
from tests.tokens import WaitingTask, park

ROOT = Path(__file__).resolve().parents[2]


# -- helpers ----------------------------------------------------------------------------------------


def sync_end_body(
    connector_id: str = "stripe_prod",
    status: str = "SUCCESSFUL",
    *,
    created: datetime | None = None,
    sync_id: str = "0f3c9a5e-2b7d-4c1e-9a8f-5d6e7f8a9b0c",
    event: str = "sync_end",
    **data: Any,
) -> bytes:
    created = created or datetime.now(UTC)
    payload = {
        "event": event,
        "created": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "connector_type": "stripe",
        "connector_id": connector_id,
        "connector_name": connector_id,
        "sync_id": sync_id,
        "destination_group_id": "projected_sickle",
        "data": {"status": status, **data},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


class Webhook:
    def __init__(self) -> None:
        self.client = Client(app, stage_name="dev", project_dir=str(ROOT))

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        response = self.client.http.post(
            "/webhooks/fivetran", headers={"Content-Type": "application/json", **(headers or {})}, body=body
        )
        text = (
            response.body.decode("utf-8", "replace")
            if isinstance(response.body, bytes)
            else str(response.body)
        )
        assert "Traceback" not in text and 'File "' not in text, text  # never a stack trace to the caller
        return response

    def deliver(self, body: bytes, *, secret: str = WEBHOOK_SECRET) -> Any:
        return self.post(body, {SIGNATURE_HEADER: sign(body, secret)})


@pytest.fixture
def webhook(deps: Dependencies) -> Webhook:
    return Webhook()


@pytest.fixture
def waiting(moto_aws: None) -> WaitingTask:
    return WaitingTask()


# -- test deliveries ------------------------------------------------------------------------------

PROBE = (
    b'{"event": "test_event", "created": "2026-01-15T10:00:00.000Z", "connector_type": "_connector_type",'
    b' "connector_id": "_connector_1", "group_id": "_destination_1"}'
)
TEST_DELIVERY = (
    b'{"event": "sync_end", "created": "2099-04-09T00:08:12.294Z", "connector_type": "_connector_type",'
    b' "connector_id": "_connector_1", "destination_group_id": "_destination_1"}'
)


@pytest.mark.parametrize("body", [PROBE, TEST_DELIVERY], ids=["probe", "test-endpoint"])
def test_a_signed_test_delivery_is_acknowledged_and_nothing_else_happens(webhook, deps, fivetran, body):
    parked = park(deps.store, "token-for-the-fake-id", "_connector_1", ago=3600)

    response = webhook.deliver(body)

    assert response.status_code == 200
    assert response.json_body == {"status": "ok", "test": True}
    assert deps.store.get(parked.connector_id, parked.token_id) == parked
    assert fivetran.triggered == []


# -- signature first ----------------------------------------------------------------------------------


def test_a_delivery_without_a_signature_is_refused_with_401(webhook, deps):
    parked = park(deps.store, "token")

    response = webhook.post(sync_end_body())

    assert response.status_code == 401
    assert response.json_body["error"] == "invalid signature"
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


@pytest.mark.parametrize(
    "signature",
    ["0" * 64, "not-hex", sign(b"another body", WEBHOOK_SECRET), sign(b"x", "wrong-secret"), ""],
    ids=["zeros", "garbage", "other-body", "other-secret", "empty"],
)
def test_a_wrong_signature_is_refused_with_401_and_completes_nothing(webhook, deps, signature):
    parked = park(deps.store, "token")

    response = webhook.post(sync_end_body(), {SIGNATURE_HEADER: signature})

    assert response.status_code == 401
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


def test_a_body_signed_under_another_secret_is_refused(webhook):
    assert webhook.deliver(sync_end_body(), secret="not-the-webhook-secret").status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b""], ids=["invalid-json", "array", "empty"])
def test_the_signature_is_checked_before_any_parsing(webhook, body):
    response = webhook.post(body, {SIGNATURE_HEADER: "ab" * 32})

    assert response.status_code == 401


def test_an_upper_case_signature_and_a_lower_case_header_name_are_accepted(webhook):
    body = sync_end_body("nothing_parked")

    upper = webhook.post(body, {SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET).upper()})
    lower_name = webhook.post(body, {SIGNATURE_HEADER.lower(): sign(body, WEBHOOK_SECRET)})

    assert upper.status_code == 200
    assert lower_name.status_code == 200


# -- malformed bodies ---------------------------------------------------------------------------------


def test_invalid_json_with_a_valid_signature_is_a_400_with_a_short_reason(webhook):
    response = webhook.deliver(b'{"event": "sync_end",')

    assert response.status_code == 400
    assert response.json_body["error"] == "invalid payload"
    assert "JSON" in response.json_body["detail"]
    assert len(response.json_body["detail"]) < 200


def test_a_json_array_with_a_valid_signature_is_a_400(webhook):
    response = webhook.deliver(b'[{"event": "sync_end"}]')

    assert response.status_code == 400
    assert "not an object" in response.json_body["detail"]


def test_a_malformed_sync_end_is_a_400_and_leaves_the_tokens_for_reconcile(webhook, deps):
    parked = park(deps.store, "token")
    body = sync_end_body().replace(b'"created":"', b'"created":"not a date ')

    response = webhook.deliver(body)

    assert response.status_code == 400
    assert "created" in response.json_body["detail"]
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


def test_a_body_over_one_mebibyte_is_a_413(webhook):
    body = b'{"event":"sync_end","pad":"' + b"x" * MAX_BODY_BYTES + b'"}'

    response = webhook.deliver(body)

    assert response.status_code == 413
    assert response.json_body["error"] == "payload too large"


def test_a_body_of_exactly_one_mebibyte_is_not_too_large(webhook):
    body = b"x" * MAX_BODY_BYTES  # signed, but not JSON: gets as far as parsing

    assert webhook.deliver(body).status_code == 400


# -- events that complete nothing -------------------------------------------------------------------


def test_the_route_notes_one_delivery_a_minute_for_the_webhook_watchdog(webhook, deps):
    first = webhook.deliver(sync_end_body("stripe_prod"))
    between = time.time()
    second = webhook.deliver(sync_end_body("hubspot_crm"))

    delivered_at, _ = deps.webhook_watch().last_delivery()
    assert (first.status_code, second.status_code) == (200, 200)
    assert delivered_at is not None and delivered_at < between  # the second, within a minute, not written


def test_a_signed_sync_end_for_a_connection_with_nothing_parked_is_a_200(webhook, deps):
    park(deps.store, "token-of-another-connection", "hubspot_crm")

    response = webhook.deliver(sync_end_body("stripe_prod"))

    assert response.status_code == 200
    assert response.json_body["status"] == "ok"
    assert response.json_body["completed"] == 0
    assert deps.store.count() == 1


@pytest.mark.parametrize("event", ["resume_connector", "status"])
def test_other_events_are_acknowledged_and_ignored(webhook, deps, event):
    parked = park(deps.store, "token")

    response = webhook.deliver(sync_end_body(event=event))

    assert response.status_code == 200
    assert response.json_body == {"status": "ignored", "event": event}
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


# -- completing real task tokens ----------------------------------------------------------------------


def test_a_successful_sync_end_completes_the_parked_token_with_the_success_payload(webhook, deps, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "stripe_prod")
    created = datetime(2099, 1, 1, 0, 0, 0, 386000, tzinfo=UTC)  # after any requested_at

    response = webhook.deliver(sync_end_body("stripe_prod", created=created, sync_id="sync-42"))

    assert response.status_code == 200
    assert response.json_body["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "connector_id": "stripe_prod",
        "status": "SUCCESSFUL",
        "sync_id": "sync-42",
        "finished_at": "2099-01-01T00:00:00.386000Z",
    }
    assert "TaskSucceeded" in waiting.event_types(arn)
    assert deps.store.count() == 0


def test_a_failed_sync_end_fails_the_task_with_sync_failed_and_a_cause_naming_connection_status_reason(
    webhook, deps, waiting
):
    arn, token = waiting.start()
    park(deps.store, token, "mystified_presiding")

    response = webhook.deliver(
        sync_end_body(
            "mystified_presiding",
            "FAILURE_WITH_TASK",
            reason="java.lang.RuntimeException: authentication failed",
            taskType="reconnect",
        )
    )

    assert response.status_code == 200
    assert response.json_body["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Fivetran.SyncFailed"
    for part in ("mystified_presiding", "FAILURE_WITH_TASK", "authentication failed"):
        assert part in described["cause"]
    failed = [
        e["taskFailedEventDetails"]
        for e in waiting.sfn.get_execution_history(executionArn=arn)["events"]
        if e["type"] == "TaskFailed"
    ]
    assert failed and failed[0]["error"] == "Fivetran.SyncFailed"
    assert deps.store.count() == 0


@pytest.mark.parametrize("status", ["FAILURE", "CANCELED", "SOMETHING_NEW"])
def test_every_non_success_status_fails_the_task(webhook, deps, waiting, status):
    arn, token = waiting.start()
    park(deps.store, token)

    assert webhook.deliver(sync_end_body(status=status, reason="why")).json_body["completed"] == 1

    described = waiting.wait_for_end(arn)
    assert (described["status"], described["error"]) == ("FAILED", "Fivetran.SyncFailed")
    assert status in described["cause"]


def test_a_rescheduled_sync_end_succeeds_with_rescheduled_for(webhook, deps, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "feeling_against")

    webhook.deliver(sync_end_body("feeling_against", "RESCHEDULED", rescheduledAt="2099-01-15T11:34:53.894Z"))

    output = json.loads(waiting.wait_for_end(arn)["output"])
    assert output["status"] == "RESCHEDULED"
    assert output["rescheduled_for"] == "2099-01-15T11:34:54Z"
    assert output["connector_id"] == "feeling_against"


def test_every_token_parked_for_the_connection_is_completed(webhook, deps, waiting):
    (arn1, token1), (arn2, token2) = waiting.start(), waiting.start()
    park(deps.store, token1)
    park(deps.store, token2)

    assert webhook.deliver(sync_end_body()).json_body["completed"] == 2

    assert waiting.wait_for_end(arn1)["status"] == "SUCCEEDED"
    assert waiting.wait_for_end(arn2)["status"] == "SUCCEEDED"


def test_a_duplicate_delivery_completes_nothing_twice(webhook, deps, waiting):
    arn, token = waiting.start()
    park(deps.store, token)
    body = sync_end_body()

    first = webhook.deliver(body)
    second = webhook.deliver(body)

    assert first.json_body["completed"] == 1
    assert second.status_code == 200
    assert second.json_body["completed"] == 0
    assert second.json_body["already_resolved"] == 0
    waiting.wait_for_end(arn)
    assert waiting.event_types(arn).count("TaskSucceeded") == 1


def test_an_event_created_before_the_token_was_parked_does_not_complete_it(webhook, deps, waiting):
    arn, token = waiting.start()
    parked = park(deps.store, token, ago=0)

    response = webhook.deliver(sync_end_body(created=parked.requested_at - timedelta(seconds=30)))

    assert response.status_code == 200
    assert response.json_body["completed"] == 0
    assert response.json_body["newer_than_event"] == 1
    assert deps.store.get(parked.connector_id, parked.token_id) == parked
    assert waiting.status(arn) == "RUNNING"


def test_an_event_created_at_the_same_instant_the_token_was_parked_does_not_complete_it(webhook, deps):
    instant = datetime(2099, 1, 15, 10, 0, 0, 386000, tzinfo=UTC)  # whole milliseconds, as Fivetran sends
    parked = park(deps.store, "token", at=instant)

    response = webhook.deliver(sync_end_body(created=instant))

    assert response.json_body["completed"] == 0
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


def test_a_token_step_functions_no_longer_knows_is_deleted_and_the_answer_is_200(webhook, deps):
    parked = park(deps.store, f"not-a-real-token-{uuid.uuid4()}")

    response = webhook.deliver(sync_end_body())

    assert response.status_code == 200
    assert response.json_body["completed"] == 0
    assert response.json_body["already_resolved"] == 1
    assert deps.store.get(parked.connector_id, parked.token_id) is None


def test_a_token_already_completed_in_step_functions_is_deleted(webhook, deps, waiting):
    arn, token = waiting.start()
    waiting.sfn.send_task_success(taskToken=token, output="{}")
    waiting.wait_for_end(arn)
    parked = park(deps.store, token)

    response = webhook.deliver(sync_end_body())

    assert response.status_code == 200
    assert response.json_body["already_resolved"] == 1
    assert deps.store.get(parked.connector_id, parked.token_id) is None


# -- failures inside: never a trace, tokens kept -------------------------------------------------------


class ThrottledStepFunctions:
    """Step Functions that refuses every callback with a transient error."""

    def __init__(self) -> None:
        self.calls = 0

    def _throttle(self, operation: str) -> None:
        self.calls += 1
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)

    def send_task_success(self, **kwargs: Any) -> None:
        self._throttle("SendTaskSuccess")

    def send_task_failure(self, **kwargs: Any) -> None:
        self._throttle("SendTaskFailure")


def test_a_transient_step_functions_error_is_a_503_and_keeps_the_token_for_a_retry(
    moto_aws, token_table, settings, fivetran, waiting
):
    throttled = ThrottledStepFunctions()
    flaky = Dependencies.from_clients(
        settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=throttled,
        fivetran_factory=lambda credentials: fivetran,
    )
    set_dependencies(flaky)
    webhook = Webhook()
    arn, token = waiting.start()
    parked = park(flaky.store, token)
    body = sync_end_body()

    refused = webhook.deliver(body)

    assert refused.status_code == 503
    assert throttled.calls == 1
    assert flaky.store.get(parked.connector_id, parked.token_id) == parked
    # Fivetran retries the delivery later; by then Step Functions answers again.
    healthy = Dependencies.from_clients(
        settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        fivetran_factory=lambda credentials: fivetran,
    )
    set_dependencies(healthy)
    retried = webhook.deliver(body)
    assert retried.status_code == 200
    assert retried.json_body["completed"] == 1
    assert waiting.wait_for_end(arn)["status"] == "SUCCEEDED"


def test_a_token_store_outage_is_a_503(moto_aws, settings, fivetran):
    set_dependencies(  # no table was created
        Dependencies.from_clients(
            settings,
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            stepfunctions=boto3.client("stepfunctions", region_name=REGION),
            fivetran_factory=lambda credentials: fivetran,
        )
    )

    response = Webhook().deliver(sync_end_body())

    assert response.status_code == 503
    assert "retry later" in response.json_body["error"]


def test_an_unexpected_error_answers_without_a_traceback(webhook, deps, monkeypatch):
    def explode():
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(deps, "resolver", explode)

    response = webhook.deliver(sync_end_body())

    assert response.status_code == 500
    assert response.json_body == {"error": "internal error"}
    assert b"internal detail" not in response.body


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the app's structured logger writes, as text."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield buffer
    logger.registered_handler.setStream(previous)


def test_logs_never_hold_the_webhook_secret_or_a_whole_task_token(webhook, deps, waiting, log_lines):
    arn, token = waiting.start()
    parked = park(deps.store, token)

    webhook.deliver(sync_end_body(status="FAILURE", reason="boom"))
    webhook.post(sync_end_body(), {SIGNATURE_HEADER: "0" * 64})
    waiting.wait_for_end(arn)

    text = log_lines.getvalue()
    assert parked.ref in text  # the short, log-safe reference is there
    assert token not in text
    assert WEBHOOK_SECRET not in text
    records = [json.loads(line) for line in text.splitlines()]  # one JSON object per line
    assert {r["message"] for r in records} >= {"task token completed", "webhook rejected"}
    completed = next(r for r in records if r["message"] == "task token completed")
    assert completed["connector_id"] == "stripe_prod"
    assert completed["token_ref"] == parked.ref


# -- connection events end the wait at once -----------------------------------------------------------


def connection_event_body(event: str, connector_id: str = "stripe_prod", **data: Any) -> bytes:
    payload = {
        "event": event,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "connector_type": "stripe",
        "connector_id": connector_id,
        "connector_name": connector_id,
        "destination_group_id": "projected_sickle",
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("event", "status", "error", "words"),
    [
        ("pause_connector", "PAUSED", "Fivetran.ConnectionPaused", "was paused in Fivetran"),
        ("delete_connector", "NOT_FOUND", "Fivetran.SyncFailed", "was deleted in Fivetran"),
        ("connection_failure", "CONNECTION_FAILURE", "Fivetran.SyncFailed", "failed its connection test"),
    ],
)
def test_a_connection_event_fails_the_waiting_task_at_once_with_its_status(
    webhook, deps, waiting, event, status, error, words
):
    arn, token = waiting.start()
    park(deps.store, token, "stripe_prod")

    response = webhook.deliver(connection_event_body(event, reason="password authentication failed"))

    assert response.status_code == 200
    assert response.json_body["status"] == "ok"
    assert response.json_body["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert (described["status"], described["error"]) == ("FAILED", error)
    assert f"stripe_prod ended with status {status}" in described["cause"]
    assert words in described["cause"]
    assert deps.store.count() == 0


def test_a_connection_failure_names_fivetrans_reason(webhook, deps, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "stripe_prod")

    webhook.deliver(connection_event_body("connection_failure", reason="password authentication failed"))

    assert "password authentication failed" in waiting.wait_for_end(arn)["cause"]


def test_a_connection_event_leaves_other_connections_and_later_triggers_waiting(webhook, deps):
    other = park(deps.store, "token-of-another-connection", "hubspot_crm")
    later = park(
        deps.store, "token-triggered-after-the-pause", "stripe_prod", at=datetime(2099, 1, 1, tzinfo=UTC)
    )

    response = webhook.deliver(connection_event_body("pause_connector"))

    assert response.status_code == 200
    assert response.json_body["completed"] == 0
    assert response.json_body["newer_than_event"] == 1
    assert deps.store.get(other.connector_id, other.token_id) == other
    assert deps.store.get(later.connector_id, later.token_id) == later


def test_a_connection_event_for_a_connection_with_nothing_parked_is_a_200(webhook, deps):
    response = webhook.deliver(connection_event_body("delete_connector"))

    assert response.status_code == 200
    assert response.json_body["completed"] == 0


def test_a_connection_event_without_a_created_time_is_a_400_and_completes_nothing(webhook, deps):
    parked = park(deps.store, "token", "stripe_prod")
    body = json.dumps({"event": "pause_connector", "connector_id": "stripe_prod"}).encode()

    response = webhook.deliver(body)

    assert response.status_code == 400
    assert "created" in response.json_body["detail"]
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


def test_a_connection_event_with_a_wrong_signature_is_refused_and_completes_nothing(webhook, deps):
    parked = park(deps.store, "token", "stripe_prod")

    response = webhook.deliver(connection_event_body("pause_connector"), secret="wrong")

    assert response.status_code == 401
    assert deps.store.get(parked.connector_id, parked.token_id) == parked


def test_a_sync_that_ended_before_the_pause_gets_its_own_outcome_from_the_history(
    webhook, deps, fivetran, waiting
):
    arn, token = waiting.start()
    parked = park(deps.store, token, "stripe_prod")
    assert parked.anchor is not None
    started = parked.anchor.at + timedelta(seconds=1)
    fivetran.history["stripe_prod"] = [
        SyncRecord(
            sync_id="sync-done",
            started_at=started,
            ended_at=started + timedelta(seconds=5),
            status="SUCCESSFUL",
        )
    ]

    response = webhook.deliver(connection_event_body("pause_connector"))

    assert response.json_body["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["sync_id"] == "sync-done"


def test_a_sync_the_history_shows_running_when_the_connection_is_deleted_ends_as_not_found(
    webhook, deps, fivetran, waiting
):
    arn, token = waiting.start()
    parked = park(deps.store, token, "stripe_prod")
    assert parked.anchor is not None
    fivetran.history["stripe_prod"] = [
        SyncRecord(sync_id="sync-running", started_at=parked.anchor.at + timedelta(seconds=1))
    ]

    webhook.deliver(connection_event_body("delete_connector"))

    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert "ended with status NOT_FOUND (sync sync-running" in described["cause"]
