"""Webhook payloads (fivetran.md §6.4/§6.5) → kind and outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.platform.errors import WebhookPayloadError
from chalicelib.tokens.outcomes import DEFAULT_RESCHEDULE_DELAY, SYNC_FAILED_ERROR
from chalicelib.webhook.events import SUBSCRIBED_EVENTS, parse_event

# -- the samples, byte for byte as in fivetran.md ---------------------------------------------

SUCCESS = (
    b'{"event":"sync_end","created":"2026-01-15T10:30:00.386Z","connector_type":"postgres",'
    b'"connector_id":"decent_dropsy","connector_name":"pg_prod",'
    b'"sync_id":"0f3c9a5e-2b7d-4c1e-9a8f-5d6e7f8a9b0c","destination_group_id":"projected_sickle",'
    b'"data":{"status":"SUCCESSFUL"}}'
)
FAILURE_WITH_TASK = (
    b'{"event":"sync_end","created":"2026-01-15T10:31:12.004Z","connector_type":"salesforce",'
    b'"connector_id":"mystified_presiding","connector_name":"salesforce",'
    b'"sync_id":"6a1f0c2e-3d4b-4e5f-8a9b-0c1d2e3f4a5b","destination_group_id":"projected_sickle",'
    b'"data":{"status":"FAILURE_WITH_TASK","reason":"java.lang.RuntimeException: authentication failed",'
    b'"taskType":"reconnect"}}'
)
RESCHEDULED = (
    b'{"event":"sync_end","created":"2026-01-15T10:40:00.000Z","connector_type":"hubspot",'
    b'"connector_id":"feeling_against","connector_name":"hubspot",'
    b'"sync_id":"c316efc5-92a6-46a9-b759-60dbe5972b27","destination_group_id":"projected_sickle",'
    b'"data":{"status":"RESCHEDULED","reason":"Rescheduled for 2026-01-15T11:34:53.894Z, reason: '
    b'Rescheduled the sync due to server error","rescheduledAt":"2026-01-15T11:34:53.894Z"}}'
)
PROBE = (
    b'{"event": "test_event", "created": "<timestamp>", "connector_type": "_connector_type",\n'
    b' "connector_id": "_connector_1", "group_id": "_destination_1"}'
)
TEST_DELIVERY = (
    b'{"event": "sync_end", "created": "2022-04-09T00:08:12.294Z", "connector_type": "_connector_type",\n'
    b' "connector_id": "_connector_1", "destination_group_id": "_destination_1"}'
)


def sync_end(status: str | None = "SUCCESSFUL", **overrides) -> bytes:
    payload = {
        "event": "sync_end",
        "created": "2026-01-15T10:40:00.000Z",
        "connector_type": "hubspot",
        "connector_id": "feeling_against",
        "connector_name": "hubspot",
        "sync_id": "c316efc5-92a6-46a9-b759-60dbe5972b27",
        "destination_group_id": "projected_sickle",
        "data": {} if status is None else {"status": status},
    }
    payload.update(overrides)
    return json.dumps(payload, separators=(",", ":")).encode()


CREATED = datetime(2026, 1, 15, 10, 40, tzinfo=UTC)


# -- the documented samples ---------------------------------------------------------------------


def test_the_success_sample_is_a_successful_sync_end():
    event = parse_event(SUCCESS)

    assert event.kind == "sync_end"
    assert event.event == "sync_end"
    assert event.connector_id == "decent_dropsy"
    outcome = event.outcome
    assert outcome.is_success
    assert outcome.status == "SUCCESSFUL"
    assert outcome.sync_id == "0f3c9a5e-2b7d-4c1e-9a8f-5d6e7f8a9b0c"
    assert outcome.finished_at == datetime(2026, 1, 15, 10, 30, 0, 386000, tzinfo=UTC)
    assert outcome.rescheduled_for is None
    assert outcome.success_output() == {
        "connector_id": "decent_dropsy",
        "status": "SUCCESSFUL",
        "sync_id": "0f3c9a5e-2b7d-4c1e-9a8f-5d6e7f8a9b0c",
        "finished_at": "2026-01-15T10:30:00.386000Z",
    }


def test_the_failure_with_task_sample_is_a_failure_whose_cause_names_connection_status_and_reason():
    outcome = parse_event(FAILURE_WITH_TASK).outcome

    assert not outcome.is_success
    assert outcome.status == "FAILURE_WITH_TASK"
    assert outcome.reason == "java.lang.RuntimeException: authentication failed"
    cause = outcome.failure_cause()
    assert "mystified_presiding" in cause
    assert "FAILURE_WITH_TASK" in cause
    assert "authentication failed" in cause
    assert SYNC_FAILED_ERROR == "Fivetran.SyncFailed"


def test_the_rescheduled_sample_is_a_success_carrying_rescheduled_at():
    outcome = parse_event(RESCHEDULED).outcome

    assert outcome.is_success
    assert outcome.status == "RESCHEDULED"
    assert outcome.rescheduled_for == datetime(2026, 1, 15, 11, 34, 53, 894000, tzinfo=UTC)
    output = outcome.success_output()
    assert output["status"] == "RESCHEDULED"
    # whole seconds, rounded up, so a Wait never ends before Fivetran's time
    assert output["rescheduled_for"] == "2026-01-15T11:34:54Z"
    assert output["connector_id"] == "feeling_against"
    # Fivetran's reason travels with it: the run notes it with the connection's wait
    assert output["reason"].startswith("Rescheduled for 2026-01-15T11:34:53.894Z, reason: ")


def test_the_creation_probe_is_a_test_delivery():
    event = parse_event(PROBE)

    assert event.kind == "test"
    assert event.event == "test_event"
    assert event.outcome is None


def test_the_test_endpoint_delivery_without_sync_id_or_data_is_a_test_delivery():
    event = parse_event(TEST_DELIVERY)

    assert event.kind == "test"
    assert event.event == "sync_end"
    assert event.outcome is None


@pytest.mark.parametrize("fake_id", ["_connector_1", "_connection_1"])
def test_an_underscore_connection_id_marks_a_test_delivery_even_with_sync_id_and_data(fake_id):
    event = parse_event(sync_end("FAILURE", connector_id=fake_id))

    assert event.kind == "test"
    assert event.outcome is None


def test_the_current_openapi_test_id_without_sync_id_is_a_test_delivery():
    body = TEST_DELIVERY.replace(b"_connector_1", b"_connection_1")
    assert parse_event(body).kind == "test"


@pytest.mark.parametrize(
    ("event", "missing"), [("sync_end", "sync_id"), ("sync_end", "data"), ("sync_start", "sync_id")]
)
def test_a_real_connections_event_missing_what_the_identity_rule_needs_is_refused_not_a_test(event, missing):
    payload = json.loads(SUCCESS)
    payload["event"] = event
    del payload[missing]

    with pytest.raises(WebhookPayloadError, match=f"'{missing}'"):
        parse_event(json.dumps(payload).encode())


def test_a_sync_start_is_the_start_of_its_sync_on_fivetrans_clock():
    event = parse_event(sync_end(None, event="sync_start"))

    assert event.kind == "sync_start"
    assert event.connector_id == "feeling_against"
    assert event.sync.sync_id == "c316efc5-92a6-46a9-b759-60dbe5972b27"
    assert event.sync.started_at == CREATED
    assert event.sync.ended_at is None and event.sync.status is None
    assert event.outcome is None


def test_a_sync_end_is_the_end_of_its_sync_on_fivetrans_clock():
    event = parse_event(SUCCESS)

    assert event.sync.sync_id == "0f3c9a5e-2b7d-4c1e-9a8f-5d6e7f8a9b0c"
    assert event.sync.started_at is None
    assert event.sync.ended_at == datetime(2026, 1, 15, 10, 30, 0, 386000, tzinfo=UTC)
    assert event.sync.status == "SUCCESSFUL"


# -- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["FAILURE", "FAILURE_WITH_TASK", "CANCELED", "FAILED", "SOMETHING_NEW"])
def test_every_status_but_successful_and_rescheduled_is_a_failure(status):
    outcome = parse_event(sync_end(status)).outcome

    assert not outcome.is_success
    assert outcome.status == status
    assert status in outcome.failure_cause()
    assert "feeling_against" in outcome.failure_cause()


def test_a_failure_without_a_reason_says_so_in_the_cause():
    assert "no reason given" in parse_event(sync_end("CANCELED")).outcome.failure_cause()


def test_status_case_is_normalised():
    assert parse_event(sync_end("successful")).outcome.status == "SUCCESSFUL"


def test_rescheduled_without_rescheduled_at_takes_the_time_from_the_reason():
    body = sync_end(
        None,
        data={
            "status": "RESCHEDULED",
            "reason": (
                "Rescheduled for 2026-01-15T11:34:53.894Z, reason: Rescheduled the sync due to server error"
            ),
        },
    )

    outcome = parse_event(body).outcome

    assert outcome.status == "RESCHEDULED"
    assert outcome.rescheduled_for == datetime(2026, 1, 15, 11, 34, 53, 894000, tzinfo=UTC)


def test_rescheduled_with_a_reason_that_is_only_the_time_parses_it():
    body = sync_end(None, data={"status": "RESCHEDULED", "reason": "Rescheduled for 2026-01-15T12:00:00Z"})
    assert parse_event(body).outcome.rescheduled_for == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "data",
    [
        {"status": "RESCHEDULED"},
        {"status": "RESCHEDULED", "reason": "quota exhausted"},
        {"status": "RESCHEDULED", "reason": "Rescheduled for soon, reason: x", "rescheduledAt": "later"},
        {"status": "RESCHEDULED", "rescheduledAt": 12345},
    ],
    ids=["no-reason", "reason-without-time", "unparseable", "not-a-string"],
)
def test_rescheduled_without_a_usable_time_is_created_plus_five_minutes(data):
    outcome = parse_event(sync_end(None, data=data)).outcome

    assert outcome.status == "RESCHEDULED"
    assert outcome.rescheduled_for == CREATED + timedelta(minutes=5)
    assert timedelta(minutes=5) == DEFAULT_RESCHEDULE_DELAY


def test_a_non_rescheduled_outcome_has_no_rescheduled_for():
    assert parse_event(sync_end("FAILURE")).outcome.rescheduled_for is None


# -- other events ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resume_connector", "edit_connector", "dbt_run_succeeded"])
def test_other_events_are_kind_other(name):
    event = parse_event(sync_end(None, event=name))

    assert event.kind == "other"
    assert event.event == name
    assert event.connector_id == "feeling_against"
    assert event.outcome is None


# -- malformed bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"event": "sync_end",', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'[{"event": "sync_end"}]', "not an object"),
        (b'"sync_end"', "not an object"),
        (b"null", "not an object"),
        (b"42", "not an object"),
        (b"{}", "event"),
        (b'{"event": 5, "connector_id": "x"}', "event"),
    ],
    ids=[
        "text",
        "truncated",
        "not-utf8",
        "empty",
        "list",
        "string",
        "null",
        "number",
        "empty-object",
        "event-num",
    ],
)
def test_bodies_that_are_not_json_objects_raise_webhook_payload_error(body, reason):
    with pytest.raises(WebhookPayloadError, match=reason):
        parse_event(body)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"created": "yesterday"}, "created"),
        ({"created": "2026-13-45T10:40:00Z"}, "created"),
        ({"created": 1768473600}, "created"),
        ({"created": None}, "created"),
        ({"data": ["SUCCESSFUL"]}, "data"),
        ({"data": "SUCCESSFUL"}, "data"),
        ({"connector_id": 12345}, "connector_id"),
        ({"connector_id": "   "}, "connector_id"),
        ({"data": {}}, "status"),
        ({"data": {"status": ""}}, "status"),
        ({"data": {"status": 1}}, "status"),
        ({"sync_id": 7}, "sync_id"),
    ],
    ids=[
        "created-word",
        "created-impossible",
        "created-epoch",
        "created-null",
        "data-list",
        "data-string",
        "connector-id-number",
        "connector-id-blank",
        "status-missing",
        "status-empty",
        "status-number",
        "sync-id-number",
    ],
)
def test_a_malformed_sync_end_raises_webhook_payload_error_naming_the_field(overrides, field):
    with pytest.raises(WebhookPayloadError, match=field):
        parse_event(sync_end(**overrides))


def test_a_sync_end_without_created_is_refused():
    payload = json.loads(SUCCESS)
    del payload["created"]
    with pytest.raises(WebhookPayloadError, match="created"):
        parse_event(json.dumps(payload).encode())


def test_webhook_payload_error_has_its_asl_name():
    assert WebhookPayloadError.__name__ == "Webhook.InvalidPayload"


# -- connection events: the wait cannot end -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("pause_connector", "PAUSED"),
        ("delete_connector", "NOT_FOUND"),
        ("connection_failure", "CONNECTION_FAILURE"),
    ],
)
def test_a_connection_event_ends_the_connections_wait_with_its_status(name, status):
    event = parse_event(sync_end(None, event=name))

    assert event.kind == "connection"
    assert event.connector_id == "feeling_against"
    assert event.connection_end is not None
    assert event.connection_end.status == status
    assert event.connection_end.at == datetime(2026, 1, 15, 10, 40, tzinfo=UTC)
    assert event.outcome is None


def test_a_connection_failure_keeps_fivetrans_reason_in_its_cause():
    body = sync_end(None, event="connection_failure", data={"reason": "password authentication failed"})

    end = parse_event(body).connection_end

    assert end is not None and end.reason == "password authentication failed"
    assert "password authentication failed" in end.cause()
    assert "connection_failure at 2026-01-15T10:40:00" in end.cause()


def test_a_connection_event_needs_no_sync_id():
    payload = json.loads(sync_end(None, event="pause_connector"))
    del payload["sync_id"], payload["data"]

    end = parse_event(json.dumps(payload).encode()).connection_end

    assert end is not None and end.status == "PAUSED" and end.reason is None
    assert "paused" in end.cause()


@pytest.mark.parametrize("missing", ["connector_id", "created"])
def test_a_connection_event_without_its_connection_or_time_is_refused(missing):
    payload = json.loads(sync_end(None, event="delete_connector"))
    del payload[missing]

    with pytest.raises(WebhookPayloadError, match=missing):
        parse_event(json.dumps(payload).encode())


def test_a_test_delivery_of_a_connection_event_is_a_test():
    assert parse_event(sync_end(None, event="pause_connector", connector_id="_connector_1")).kind == "test"


def test_the_subscribed_events_are_the_sync_and_connection_events():
    assert SUBSCRIBED_EVENTS == (
        "sync_start",
        "sync_end",
        "pause_connector",
        "delete_connector",
        "connection_failure",
    )
