"""``list_connectors`` and ``start_sync`` through the Chalice test client's ``lambda_.invoke``."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib.platform.errors import (
    FivetranApiError,
    FivetranAuthError,
    FivetranNotFound,
    FivetranRateLimited,
    InvalidInput,
    PausedConnections,
)
from chalicelib.platform.log import logger
from chalicelib.run.rate_limit import BUDGET_REASON
from chalicelib.tokens.records import token_id
from tests.fakes import FakeFivetran, connection

ROOT = Path(__file__).resolve().parents[2]
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:orchestrator:run-1"


@pytest.fixture
def fivetran() -> FakeFivetran:
    return FakeFivetran(
        connection("stripe_prod", service="stripe", schema="stripe"),
        connection("hubspot_crm", service="hubspot", schema="hubspot", schedule_type="manual"),
        connection("old_crm", paused=True),
        connection("legacy_db", setup_state="broken"),
    )


@pytest.fixture
def client(deps) -> Client:
    return Client(app, stage_name="dev", project_dir=str(ROOT))


def start_sync_payload(connector_id: str = "stripe_prod", task: str = "task-token-1", **extra) -> dict:
    """What the state machine's StartSyncAndWait state sends."""
    return {
        "connector": {
            "connector_id": connector_id,
            "service": "stripe",
            "schema": "stripe",
            "schedule_type": extra.pop("schedule_type", "auto"),
        },
        "task_token": task,
        "execution_id": EXECUTION,
        "sync_timeout_seconds": extra.pop("sync_timeout_seconds", 3600),
        "resume": extra.pop("resume", False),
        **extra,
    }


# -- list_connectors ---------------------------------------------------------------------------------


BUCKET = "orchestrator-artifacts"


@pytest.fixture
def s3(deps):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def read_json(s3, key: str):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_list_connectors_takes_the_state_machines_wrapped_payload_and_writes_the_maps_items(client, s3):
    payload = {
        "input": {"group_id": "projected_sickle", "dbt": {"select": "tag:daily"}},
        "execution_id": EXECUTION,
        "execution_start": "2026-01-15T10:00:00.123Z",
        "execution_name": "run-1",
        "artifacts_bucket": BUCKET,
        "defaults": {
            "max_concurrency": "5",
            "heartbeat_seconds": "300",
            "sync_timeout_seconds": "7200",
            "dbt_timeout_seconds": "1800",
        },
    }

    result = client.lambda_.invoke("list_connectors", payload).payload

    # The Map reads its items from S3; the state keeps where they are and how many.
    assert result["items"] == {"bucket": BUCKET, "key": "runs/run-1/connections.json", "count": 2}
    assert read_json(s3, "runs/run-1/connections.json") == [
        {"connector_id": "stripe_prod", "service": "stripe", "schema": "stripe", "schedule_type": "auto"},
        {"connector_id": "hubspot_crm", "service": "hubspot", "schema": "hubspot", "schedule_type": "manual"},
    ]
    assert read_json(s3, "runs/run-1/skipped.json") == result["skipped"]
    assert result["skipped_count"] == 2
    assert "connectors" not in result
    assert result["skipped"] == [
        {"connector_id": "old_crm", "reason": "paused"},
        {"connector_id": "legacy_db", "reason": "broken"},
    ]
    options = result["options"]
    assert options["max_concurrency"] == 5
    assert options["heartbeat_seconds"] == 300
    assert options["sync_timeout_seconds"] == 7200
    assert options["dbt_timeout_seconds"] == 1800
    assert options["deadline"] == "2026-01-15T12:00:00Z"
    assert options["dbt"] == {
        "command": "build",
        "select": "tag:daily",
        "exclude": "",
        "mode": "new_data",
        "vars": "",
        "full_refresh": "false",
        "steps": "",
    }


def test_list_connectors_takes_a_bare_execution_input(client):
    before = datetime.now(UTC).replace(microsecond=0)

    result = client.lambda_.invoke("list_connectors", {"connector_ids": ["stripe_prod", "gone_away"]}).payload

    assert [c["connector_id"] for c in result["connectors"]] == ["stripe_prod"]
    assert result["skipped"] == [{"connector_id": "gone_away", "reason": "not_found"}]
    assert result["options"]["connector_ids_count"] == 2  # the options carry the count, never the ids
    assert result["options"]["sync_timeout_seconds"] == 21_600
    deadline = datetime.strptime(result["options"]["deadline"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert deadline >= before + timedelta(seconds=21_600)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"group_id": "g", "colour": "red"}, "colour"),
        ({"input": {"group_id": "g", "paused": "maybe"}, "defaults": {}}, "paused"),
        ({"input": ["g"], "defaults": {}}, "JSON object"),
        ({}, "group_id"),
    ],
    ids=["bare-unknown-key", "wrapped-bad-choice", "wrapped-not-object", "empty"],
)
def test_list_connectors_raises_invalid_input_naming_the_field(client, fivetran, payload, named):
    with pytest.raises(InvalidInput) as caught:
        client.lambda_.invoke("list_connectors", payload)

    assert type(caught.value).__name__ == "Orchestrator.InvalidInput"
    assert named in str(caught.value)


def test_list_connectors_with_paused_fail_raises_paused_connections(client):
    with pytest.raises(PausedConnections, match="old_crm"):
        client.lambda_.invoke("list_connectors", {"group_id": "g", "paused": "fail"})


def test_list_connectors_lets_fivetran_errors_through_with_their_asl_names(client, fivetran, monkeypatch):
    def unreachable(group_id):
        raise FivetranApiError("Fivetran kept failing", status=503)

    monkeypatch.setattr(fivetran, "list_group_connections", unreachable)

    with pytest.raises(FivetranApiError) as caught:
        client.lambda_.invoke("list_connectors", {"group_id": "g"})
    assert type(caught.value).__name__ == "Fivetran.ApiError"


def test_a_rate_limited_listing_hands_the_wait_back_to_the_state_machine_without_the_run_input(
    client, fivetran, monkeypatch
):
    def rate_limited(group_id):
        raise FivetranRateLimited("slow down", retry_after=3600, status=429)

    monkeypatch.setattr(fivetran, "list_group_connections", rate_limited)
    before = datetime.now(UTC)

    result = client.lambda_.invoke("list_connectors", {"group_id": "g"}).payload

    assert result["items"] is None and result["skipped"] == []
    assert result["input"] is None  # the state machine lists again from $$.Execution.Input
    retry_at = datetime.fromisoformat(result["retry_at"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=3599) <= retry_at <= datetime.now(UTC) + timedelta(seconds=3601)


def test_a_rate_limit_past_the_run_deadline_fails_the_listing(client, fivetran, monkeypatch):
    def rate_limited(group_id):
        raise FivetranRateLimited("slow down", retry_after=7200, status=429)

    monkeypatch.setattr(fivetran, "list_group_connections", rate_limited)
    payload = {
        "input": {"group_id": "g", "sync_timeout_seconds": 600},
        "execution_start": datetime.now(UTC).isoformat(),
        "defaults": {},
    }

    with pytest.raises(FivetranRateLimited):
        client.lambda_.invoke("list_connectors", payload)


# -- start_sync --------------------------------------------------------------------------------------


def test_start_sync_parks_the_token_then_triggers_the_sync(client, deps, fivetran):
    order: list[str] = []
    original_trigger = fivetran.trigger_sync

    def trigger_and_look(connection_id):
        # the token must already be parked when Fivetran is asked to sync
        order.append(f"trigger:{deps.store.count()}")
        return original_trigger(connection_id)

    fivetran.trigger_sync = trigger_and_look
    before = datetime.now(UTC)

    result = client.lambda_.invoke("start_sync", start_sync_payload()).payload

    after = datetime.now(UTC)
    assert order == ["trigger:1"]
    assert fivetran.triggered == ["stripe_prod"]
    assert result["triggered"] is True
    assert result["connector_id"] == "stripe_prod"
    assert result["token_ref"] == token_id("task-token-1")[:12]
    record = deps.store.get("stripe_prod", token_id("task-token-1"))
    assert record is not None
    assert record.task_token == "task-token-1"
    assert record.execution_id == EXECUTION
    assert record.schedule_type == "auto"
    assert before <= record.requested_at <= after
    margin = deps.settings.token_ttl_margin_seconds
    assert (
        int(before.timestamp()) + 3600 + margin <= record.expires_at <= int(after.timestamp()) + 3600 + margin
    )


def test_the_result_never_carries_the_whole_token(client):
    result = client.lambda_.invoke("start_sync", start_sync_payload(task="secret-looking-task-token")).payload
    assert "secret-looking-task-token" not in repr(result)


@pytest.mark.parametrize(
    "error",
    [
        FivetranApiError("boom", status=500),
        FivetranNotFound("no such connection", status=404),
        FivetranAuthError("key revoked", status=401),
    ],
    ids=["api-error", "not-found", "auth"],
)
def test_a_failed_trigger_removes_the_token_and_raises_the_typed_error(client, deps, fivetran, error):
    fivetran.trigger_errors["stripe_prod"] = error

    with pytest.raises(type(error)) as caught:
        client.lambda_.invoke("start_sync", start_sync_payload())

    assert caught.value is error
    assert type(caught.value).__name__.startswith("Fivetran.")
    assert fivetran.triggered == ["stripe_prod"]
    assert deps.store.count() == 0


def test_a_trigger_for_a_connection_fivetran_does_not_know_raises_not_found(client, deps):
    with pytest.raises(FivetranNotFound) as caught:
        client.lambda_.invoke("start_sync", start_sync_payload("vanished"))

    assert type(caught.value).__name__ == "Fivetran.NotFound"
    assert deps.store.count() == 0


def test_a_lambda_retry_with_the_same_token_keeps_one_item_and_its_first_requested_at(client, deps, fivetran):
    first = client.lambda_.invoke("start_sync", start_sync_payload()).payload
    second = client.lambda_.invoke("start_sync", start_sync_payload()).payload

    assert deps.store.count() == 1
    assert second["requested_at"] == first["requested_at"]
    assert second["token_ref"] == first["token_ref"]
    assert fivetran.triggered == ["stripe_prod", "stripe_prod"]  # force=false joins, harmless


def test_two_runs_syncing_one_connection_park_two_tokens(client, deps):
    client.lambda_.invoke("start_sync", start_sync_payload(task="run-1-token"))
    client.lambda_.invoke("start_sync", start_sync_payload(task="run-2-token"))

    assert {r.task_token for r in deps.store.parked_for("stripe_prod")} == {"run-1-token", "run-2-token"}


def test_a_rate_limit_longer_than_the_lambda_can_wait_is_handed_to_the_state_machine(client, deps, fivetran):
    fivetran.trigger_errors["stripe_prod"] = FivetranRateLimited("slow down", retry_after=3600, status=429)

    result = client.lambda_.invoke("start_sync", start_sync_payload()).payload

    # the token was completed with RATE_LIMITED (the run Waits), not failed, and is gone
    assert result["rate_limited"] is True
    assert deps.store.count() == 0


def test_resume_of_an_auto_schedule_connection_parks_but_does_not_trigger(client, deps, fivetran):
    after = {"sync_id": "rescheduled-sync", "finished_at": "2026-01-15T10:40:00.000Z"}

    result = client.lambda_.invoke(
        "start_sync", start_sync_payload(resume=True, schedule_type="auto", after=after)
    ).payload

    assert result["triggered"] is False
    assert fivetran.triggered == []
    [parked] = deps.store.parked_for("stripe_prod")
    assert parked.anchor.at == datetime(2026, 1, 15, 10, 40, tzinfo=UTC)
    assert parked.anchor.exclude == {"rescheduled-sync"}


def test_start_sync_arms_the_token_with_fivetrans_acceptance_time_and_join(client, deps, fivetran):
    fivetran.running.add("stripe_prod")

    result = client.lambda_.invoke("start_sync", start_sync_payload()).payload

    assert result["joined"] is True
    [parked] = deps.store.parked_for("stripe_prod")
    assert parked.accepted_at is not None and parked.accepted_at.microsecond == 0
    assert parked.joined is True


def test_resume_of_a_manual_schedule_connection_triggers_again(client, deps, fivetran):
    result = client.lambda_.invoke(
        "start_sync", start_sync_payload("hubspot_crm", resume=True, schedule_type="manual")
    ).payload

    assert result["triggered"] is True
    assert fivetran.triggered == ["hubspot_crm"]
    assert deps.store.count() == 1


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"task_token": "t", "execution_id": EXECUTION}, "connector_id"),
        ({"connector": {"connector_id": "stripe_prod"}, "execution_id": EXECUTION}, "task_token"),
        (
            {"connector": {"connector_id": "stripe_prod"}, "task_token": "t", "sync_timeout_seconds": "soon"},
            "sync_timeout_seconds",
        ),
    ],
    ids=["no-connector", "no-token", "bad-timeout"],
)
def test_start_sync_with_an_unusable_payload_raises_invalid_input_and_parks_nothing(
    client, deps, fivetran, payload, named
):
    with pytest.raises(InvalidInput, match=named):
        client.lambda_.invoke("start_sync", payload)

    assert deps.store.count() == 0
    assert fivetran.triggered == []


def test_start_sync_logs_a_token_ref_never_the_token(client, deps):
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    try:
        result = client.lambda_.invoke(
            "start_sync", start_sync_payload(task="whole-task-token-value")
        ).payload
    finally:
        logger.registered_handler.setStream(previous)

    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    parked = next(r for r in records if r["message"] == "token parked and sync triggered")
    assert parked["token_ref"] == result["token_ref"]
    assert parked["connector_id"] == "stripe_prod"
    assert parked["execution_id"] == EXECUTION
    assert "whole-task-token-value" not in buffer.getvalue()


# -- the API budget ----------------------------------------------------------------------------------


def test_a_trigger_over_the_api_budget_waits_for_its_turn_instead_of_calling_fivetran(client, deps, fivetran):
    deps.settings = replace(deps.settings, triggers_per_minute=2)

    answers = [
        client.lambda_.invoke("start_sync", start_sync_payload(task=f"run-{n}-token")).payload
        for n in range(3)
    ]

    # Two triggers fit the budget's burst; the third is handed back to the run as RATE_LIMITED
    # (a free Wait until its slot), and Fivetran never hears of it.
    assert [a["triggered"] for a in answers] == [True, True, False]
    assert answers[2]["rate_limited"] is True and answers[2]["budget"] is True
    assert fivetran.triggered == ["stripe_prod", "stripe_prod"]
    assert {r.task_token for r in deps.store.parked_for("stripe_prod")} == {"run-0-token", "run-1-token"}


def test_a_trigger_that_comes_back_with_its_budget_slot_triggers_without_asking_the_budget_again(
    client, deps, fivetran, monkeypatch
):
    deps.settings = replace(deps.settings, triggers_per_minute=1)
    sent: list[dict] = []
    monkeypatch.setattr(deps.callbacks, "succeed", lambda token, output: sent.append(output))
    client.lambda_.invoke("start_sync", start_sync_payload(task="first-token"))
    client.lambda_.invoke("start_sync", start_sync_payload("hubspot_crm", task="deferred-token"))
    [deferred] = sent
    assert deferred["status"] == "RATE_LIMITED" and deferred["budget_slot"] is not None
    assert deferred["reason"] == BUDGET_REASON  # noted in the connection's waits by the state machine

    # TriggerAgain hands the RATE_LIMITED answer back as `after`: the slot is this trigger's own,
    # even though the budget is still spent for everyone else.
    answer = client.lambda_.invoke(
        "start_sync", start_sync_payload("hubspot_crm", task="again-token", after=deferred)
    ).payload
    newcomer = client.lambda_.invoke("start_sync", start_sync_payload("old_crm", task="new-token")).payload

    assert answer["triggered"] is True
    assert newcomer["triggered"] is False and newcomer["budget"] is True
    assert fivetran.triggered == ["stripe_prod", "hubspot_crm"]


def test_a_trigger_sent_back_by_fivetrans_429_takes_a_new_place_in_the_budget(
    client, deps, fivetran, monkeypatch
):
    deps.settings = replace(deps.settings, triggers_per_minute=1)
    sent: list[dict] = []
    monkeypatch.setattr(deps.callbacks, "succeed", lambda token, output: sent.append(output))
    fivetran.trigger_errors["stripe_prod"] = FivetranRateLimited("slow down", retry_after=3600, status=429)
    client.lambda_.invoke("start_sync", start_sync_payload(task="first-token"))
    [limited] = sent
    assert limited["status"] == "RATE_LIMITED" and limited["budget_slot"] is None
    assert (
        limited["reason"]
        == "Fivetran's API answered 429 Too Many Requests (Retry-After 3600 s): the trigger waits 3600 s"
    )
    del fivetran.trigger_errors["stripe_prod"]

    # Its retry is another API call: the budget (one a minute, spent) defers it to a slot.
    answer = client.lambda_.invoke(
        "start_sync", start_sync_payload(task="again-token", after=limited)
    ).payload

    assert answer["triggered"] is False and answer["budget"] is True


# -- collect_outcomes --------------------------------------------------------------------------------


def write_map_results(s3, records_by_status: dict[str, list[dict]]) -> dict:
    """What the Distributed Map's ResultWriter leaves: result files and a manifest naming them."""
    files = {}
    for status, records in records_by_status.items():
        key = f"map-runs/abc/{status}_0.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(records).encode())
        files[status] = [{"Key": key, "Size": 1}]
    manifest = {"DestinationBucket": BUCKET, "MapRunArn": "arn:map-run", "ResultFiles": files}
    s3.put_object(Bucket=BUCKET, Key="map-runs/abc/manifest.json", Body=json.dumps(manifest).encode())
    return {
        "MapRunArn": "arn:map-run",
        "ResultWriterDetails": {"Bucket": BUCKET, "Key": "map-runs/abc/manifest.json"},
    }


def child_record(connector_id: str, schema: str, status: str, output: dict | None = None, **extra) -> dict:
    record = {
        "Input": json.dumps({"connector": {"connector_id": connector_id, "schema": schema}}),
        "Status": status,
        "StartDate": "2026-11-30T10:00:00.000Z",
        "StopDate": "2026-11-30T10:01:00.000Z",
        **extra,
    }
    if output is not None:
        record["Output"] = json.dumps(output)
    return record


def test_collect_outcomes_reads_every_result_file_and_writes_the_runs_outcomes_and_exclusions(client, s3):
    connections = [
        {"connector_id": "stripe_prod", "schema": "stripe"},
        {"connector_id": "zendesk_support", "schema": "zendesk"},
        {"connector_id": "lost_one", "schema": "lost"},
    ]
    s3.put_object(Bucket=BUCKET, Key="runs/run-1/connections.json", Body=json.dumps(connections).encode())
    s3.put_object(
        Bucket=BUCKET, Key="runs/run-1/skipped.json", Body=b'[{"connector_id": "old", "reason": "paused"}]'
    )
    map_run = write_map_results(
        s3,
        {
            "SUCCEEDED": [
                child_record(
                    "stripe_prod",
                    "stripe",
                    "SUCCEEDED",
                    {
                        "connector_id": "stripe_prod",
                        "schema": "stripe",
                        "outcome": "succeeded",
                        "sync_id": "s1",
                    },
                )
            ],
            "FAILED": [
                child_record("zendesk_support", "zendesk", "FAILED", Error="States.Runtime", Cause="x")
            ],
        },
    )

    result = client.lambda_.invoke(
        "collect_outcomes",
        {
            "map_run": map_run,
            "execution_arn": EXECUTION,
            "execution_name": "run-1",
            "artifacts_bucket": BUCKET,
        },
    ).payload

    assert result["counts"] == {"total": 3, "succeeded": 1, "failed": 2, "timed_out": 0, "skipped": 1}
    assert result["any_failed"] is True
    assert result["outcomes"] == {"bucket": BUCKET, "key": "runs/run-1/outcomes.json"}
    assert result["exclude_sources_uri"] == f"s3://{BUCKET}/runs/run-1/exclude_sources.json"
    assert read_json(s3, "runs/run-1/exclude_sources.json") == ["zendesk", "lost"]
    written = read_json(s3, "runs/run-1/outcomes.json")
    assert written["execution_arn"] == EXECUTION and written["map_run_arn"] == "arn:map-run"
    assert [(c["connector_id"], c["outcome"]) for c in written["connections"]] == [
        ("stripe_prod", "succeeded"),
        ("zendesk_support", "failed"),
        ("lost_one", "failed"),
    ]
    assert written["skipped"] == [{"connector_id": "old", "reason": "paused"}]


def test_collect_outcomes_names_the_missing_file_in_a_typed_error(client, s3):
    with pytest.raises(Exception) as raised:
        client.lambda_.invoke(
            "collect_outcomes",
            {
                "map_run": {"ResultWriterDetails": {"Bucket": BUCKET, "Key": "map-runs/none/manifest.json"}},
                "execution_name": "run-1",
                "artifacts_bucket": BUCKET,
            },
        )

    assert type(raised.value).__name__ == "Orchestrator.RunFilesError"
    assert f"s3://{BUCKET}/map-runs/none/manifest.json" in str(raised.value)
    assert "NoSuchKey" in str(raised.value)


def test_collect_outcomes_without_a_map_run_raises_invalid_input(client):
    with pytest.raises(InvalidInput, match="collect_outcomes expects"):
        client.lambda_.invoke("collect_outcomes", {"execution_name": "run-1"})
