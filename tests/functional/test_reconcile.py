"""``reconcile_syncs``: the safety net for webhooks that never came, invoked as the schedule invokes it.

Chalice's test client hands every invoke a ``LambdaContext`` with 3 s left, which is less than the
job's own time reserve; the ``client`` fixture gives it the stage's configured budget instead
(``reconcile_syncs`` has ``lambda_timeout: 240`` in dev), except where the short budget is the point.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import chalice.test
import pytest
from botocore.exceptions import ClientError
from chalice.local import LambdaContext
from chalice.test import Client

from app import app
from chalicelib.dependencies import Dependencies, set_dependencies
from chalicelib.errors import FivetranApiError, FivetranRateLimited
from chalicelib.token_store import TokenRecord, TokenStore
from tests.conftest import REGION
from tests.fakes import FakeFivetran, connection
from tests.tokens import WaitingTask
from tests.tokens import park as park_token

ROOT = Path(__file__).resolve().parents[2]
THRESHOLD = 240


class CountingFivetran(FakeFivetran):
    def __init__(self, *connections, error: Exception | None = None) -> None:
        super().__init__(*connections)
        self.reads: list[str] = []
        self.error = error

    def get_connection(self, connection_id: str):
        self.reads.append(connection_id)
        if self.error is not None:
            raise self.error
        return super().get_connection(connection_id)


@pytest.fixture
def fivetran() -> CountingFivetran:
    return CountingFivetran()


@pytest.fixture
def settings(settings):
    return replace(settings, reconcile_after_seconds=THRESHOLD, reconcile_max_tokens=50)


@pytest.fixture
def waiting(moto_aws: None) -> WaitingTask:
    return WaitingTask()


@pytest.fixture
def lambda_budget_ms(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    budget = {"ms": 240_000}

    def context(function_name: str, memory_size: int, *args: Any, **kwargs: Any) -> LambdaContext:
        return LambdaContext(function_name, memory_size, max_runtime_ms=budget["ms"])

    monkeypatch.setattr(chalice.test, "LambdaContext", context)
    return budget


@pytest.fixture
def client(deps: Dependencies, lambda_budget_ms: dict[str, int]) -> Client:
    return Client(app, stage_name="dev", project_dir=str(ROOT))


def invoke(client: Client) -> dict[str, Any]:
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/x"],
    )
    return client.lambda_.invoke("reconcile_syncs", event).payload


def fake_token() -> str:
    return f"not-a-real-token-{uuid.uuid4()}"


# -- ended syncs ---------------------------------------------------------------------------------------


def test_a_sync_that_succeeded_after_the_token_was_parked_completes_it(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    ended = record.requested_at + timedelta(minutes=3)
    fivetran.connections["stripe_prod"] = connection("stripe_prod", succeeded_at=ended)

    report = invoke(client)

    assert report["completed"] == 1
    assert report["examined"] == 1
    assert report["connections_checked"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["connector_id"] == "stripe_prod"
    assert output["status"] == "SUCCESSFUL"
    assert output["finished_at"] == ended.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert deps.store.count() == 0


def test_a_sync_that_failed_after_the_token_was_parked_fails_it(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "zendesk_support")
    fivetran.connections["zendesk_support"] = connection(
        "zendesk_support",
        succeeded_at=record.requested_at - timedelta(days=1),
        failed_at=record.requested_at + timedelta(minutes=2),
    )

    report = invoke(client)

    assert report["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Fivetran.SyncFailed"
    assert "zendesk_support" in described["cause"]
    assert "FAILURE" in described["cause"]
    assert "reconcile" in described["cause"]
    assert deps.store.count() == 0


def test_a_later_success_after_a_failure_counts_as_success(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    fivetran.connections["stripe_prod"] = connection(
        "stripe_prod",
        failed_at=record.requested_at + timedelta(minutes=1),
        succeeded_at=record.requested_at + timedelta(minutes=2),
    )

    invoke(client)

    assert waiting.wait_for_end(arn)["status"] == "SUCCEEDED"


# -- still running -------------------------------------------------------------------------------------


def test_a_sync_still_running_gets_a_heartbeat_and_keeps_its_token(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    fivetran.connections["stripe_prod"] = connection(
        "stripe_prod", sync_state="syncing", succeeded_at=record.requested_at - timedelta(hours=1)
    )

    report = invoke(client)

    assert report["heartbeats"] == 1
    assert report["completed"] == 0
    assert deps.store.get(record.connector_id, record.token_id) == record
    assert waiting.status(arn) == "RUNNING"


def test_a_completion_before_the_token_was_parked_is_not_this_sync(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    fivetran.connections["stripe_prod"] = connection(
        "stripe_prod", sync_state="scheduled", succeeded_at=record.requested_at - timedelta(seconds=1)
    )

    report = invoke(client)

    assert report["completed"] == 0
    assert report["heartbeats"] == 1
    assert waiting.status(arn) == "RUNNING"


def test_a_heartbeat_for_a_token_step_functions_no_longer_knows_deletes_it(client, deps, fivetran):
    record = park(deps.store, fake_token(), "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", sync_state="syncing")

    report = invoke(client)

    assert report["heartbeats"] == 0
    assert deps.store.get(record.connector_id, record.token_id) is None


# -- rescheduled, paused, gone ----------------------------------------------------------------------------


def test_a_rescheduled_connection_completes_the_token_with_rescheduled(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "hubspot_crm")
    at = datetime(2099, 1, 15, 11, 34, 53, 894000, tzinfo=UTC)
    fivetran.connections["hubspot_crm"] = connection(
        "hubspot_crm", sync_state="rescheduled", rescheduled_for=at
    )

    report = invoke(client)

    assert report["completed"] == 1
    output = json.loads(waiting.wait_for_end(arn)["output"])
    assert output["status"] == "RESCHEDULED"
    assert output["rescheduled_for"] == "2099-01-15T11:34:54Z"


def test_a_rescheduled_connection_without_a_time_waits_five_minutes(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "hubspot_crm")
    fivetran.connections["hubspot_crm"] = connection("hubspot_crm", sync_state="rescheduled")
    before = datetime.now(UTC)

    invoke(client)

    output = json.loads(waiting.wait_for_end(arn)["output"])
    rescheduled_for = datetime.strptime(output["rescheduled_for"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(minutes=5) - timedelta(seconds=1) <= rescheduled_for
    assert rescheduled_for <= datetime.now(UTC) + timedelta(minutes=5, seconds=1)


def test_a_connection_paused_while_waiting_fails_the_token(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "old_crm")
    fivetran.connections["old_crm"] = connection("old_crm", paused=True, sync_state="paused")

    invoke(client)

    described = waiting.wait_for_end(arn)
    assert (described["status"], described["error"]) == ("FAILED", "Fivetran.SyncFailed")
    assert "paused" in described["cause"]


def test_a_connection_fivetran_no_longer_has_fails_the_token(client, deps, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "deleted_connection")

    report = invoke(client)

    assert report["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert (described["status"], described["error"]) == ("FAILED", "Fivetran.SyncFailed")
    assert "deleted_connection" in described["cause"]
    assert "no longer exists" in described["cause"]
    assert deps.store.count() == 0


# -- what is examined, and how much -------------------------------------------------------------------------


def test_tokens_younger_than_the_threshold_are_left_alone(client, deps, fivetran):
    young = park(deps.store, fake_token(), "stripe_prod", ago=THRESHOLD - 60)
    fivetran.connections["stripe_prod"] = connection("stripe_prod", succeeded_at=datetime.now(UTC))

    report = invoke(client)

    assert report["examined"] == 0
    assert fivetran.reads == []
    assert deps.store.get(young.connector_id, young.token_id) == young


def test_each_connection_is_read_once_however_many_tokens_it_has(client, deps, fivetran):
    for _ in range(3):
        park(deps.store, fake_token(), "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", sync_state="syncing")

    report = invoke(client)

    assert report["examined"] == 3
    assert fivetran.reads == ["stripe_prod"]


def test_work_is_bounded_by_max_tokens(moto_aws, token_table, settings, fivetran, lambda_budget_ms):
    bounded = replace(settings, reconcile_max_tokens=2)
    deps = Dependencies.from_clients(
        bounded,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        fivetran_factory=lambda credentials: fivetran,
    )
    set_dependencies(deps)
    for i in range(5):
        park(deps.store, fake_token(), f"conn_{i}")
        fivetran.connections[f"conn_{i}"] = connection(f"conn_{i}", succeeded_at=datetime.now(UTC))

    report = invoke(Client(app, stage_name="dev", project_dir=str(ROOT)))

    assert report["examined"] == 2
    assert len(fivetran.reads) == 2
    assert deps.store.count() == 3


def test_a_rate_limit_stops_the_run_early_and_keeps_every_token(client, deps, fivetran):
    fivetran.error = FivetranRateLimited("slow down", retry_after=3600, status=429)
    for i in range(3):
        park(deps.store, fake_token(), f"conn_{i}")

    report = invoke(client)

    assert report["stopped_early"] == "fivetran rate limit"
    assert len(fivetran.reads) == 1
    assert deps.store.count() == 3


def test_an_api_error_for_one_connection_skips_it_and_is_counted(client, deps, fivetran):
    fivetran.error = FivetranApiError("boom", status=500)
    record = park(deps.store, fake_token(), "stripe_prod")

    report = invoke(client)

    assert report["api_errors"] == 1
    assert report["stopped_early"] is None
    assert deps.store.get(record.connector_id, record.token_id) == record


def test_with_less_time_left_than_its_reserve_it_stops_without_touching_anything(
    client, deps, fivetran, lambda_budget_ms
):
    lambda_budget_ms["ms"] = 3_000  # what Chalice's test client gives by default
    record = park(deps.store, fake_token(), "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", succeeded_at=datetime.now(UTC))

    report = invoke(client)

    assert report["stopped_early"] == "lambda time"
    assert fivetran.reads == []
    assert deps.store.get(record.connector_id, record.token_id) == record


def test_nothing_parked_is_a_quiet_run(client):
    assert invoke(client) == {
        "examined": 0,
        "connections_checked": 0,
        "heartbeats": 0,
        "api_errors": 0,
        "stopped_early": None,
        "completed": 0,
        "already_resolved": 0,
        "newer_than_event": 0,
        "busy": 0,
        "errors": 0,
    }


class ThrottledClaims:
    """DynamoDB that refuses conditional updates (claims) for one connection, as under a throttling storm."""

    def __init__(self, client: Any, connector_id: str) -> None:
        self._client = client
        self._connector_id = connector_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if kwargs["Key"]["connector_id"]["S"] == self._connector_id:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "UpdateItem",
            )
        return self._client.update_item(**kwargs)


@pytest.mark.parametrize("failing", ["deleted_connection", "ended_connection"])
def test_a_token_store_failure_on_one_connection_does_not_stop_the_others(
    moto_aws, token_table, settings, fivetran, waiting, lambda_budget_ms, failing
):
    # One connection Fivetran no longer has, one whose sync ended; claims fail for one of them.
    real = boto3.client("dynamodb", region_name=REGION)
    deps = Dependencies.from_clients(
        settings,
        dynamodb=ThrottledClaims(real, failing),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        fivetran_factory=lambda credentials: fivetran,
    )
    set_dependencies(deps)
    executions = {}
    for connector_id in ("deleted_connection", "ended_connection"):
        arn, token = waiting.start()
        executions[connector_id] = arn
        park(deps.store, token, connector_id)
    fivetran.connections["ended_connection"] = connection("ended_connection", succeeded_at=datetime.now(UTC))

    report = invoke(Client(app, stage_name="dev", project_dir=str(ROOT)))

    assert report["errors"] == 1
    assert report["completed"] == 1
    healthy = "ended_connection" if failing == "deleted_connection" else "deleted_connection"
    assert waiting.wait_for_end(executions[healthy])["status"] in ("SUCCEEDED", "FAILED")
    assert waiting.status(executions[failing]) == "RUNNING"
    assert len(deps.store.parked_for(failing)) == 1


def park(store: TokenStore, token: str, connector_id: str, *, ago: float = 600) -> TokenRecord:
    """Tokens here are older than the reconcile threshold unless a test says otherwise."""
    return park_token(store, token, connector_id, ago=ago)
