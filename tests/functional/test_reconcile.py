"""``reconcile_syncs``: the safety net for webhooks that never came, invoked as the schedule invokes it.

Chalice's test client hands every invoke a ``LambdaContext`` with 3 s left, which is less than the
job's own time reserve; the ``client`` fixture gives it the stage's configured budget instead
(``reconcile_syncs`` has ``lambda_timeout: 50`` in dev), except where the short budget is the point.
"""

from __future__ import annotations

import json
import time
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
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.errors import FivetranApiError, FivetranRateLimited
from chalicelib.safety_net.reconcile import LEASE_NAME
from chalicelib.tokens.records import TokenRecord
from chalicelib.tokens.store import TokenStore
from chalicelib.wiring import Dependencies, set_dependencies
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

    def get_connection(self, connection_id: str, *, timeout: float | None = None):
        self.reads.append(connection_id)
        if self.error is not None:
            raise self.error
        return super().get_connection(connection_id)


def sync(sync_id: str, start: datetime, end: datetime | None = None, status: str | None = None, **more: Any):
    """A sync-history row as the client returns it (Fivetran's clock)."""
    return SyncRecord(sync_id, started_at=start, ended_at=end, status=status, source="history", **more)


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
    budget = {"ms": 50_000}

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


# -- the exact sync decides ---------------------------------------------------------------------------


def test_the_tokens_own_sync_ended_successfully_completes_it_with_that_sync(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    accepted = record.accepted_at
    fivetran.connections["stripe_prod"] = connection("stripe_prod")
    ended = accepted + timedelta(minutes=3)
    fivetran.history["stripe_prod"] = [sync("ours", accepted + timedelta(seconds=2), ended, "SUCCESSFUL")]

    report = invoke(client)

    assert report["completed"] == 1
    assert report["examined"] == 1
    assert report["connections_checked"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output == {
        "connector_id": "stripe_prod",
        "status": "SUCCESSFUL",
        "sync_id": "ours",
        "finished_at": ended.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert deps.store.count() == 0


def test_the_tokens_own_sync_failed_fails_it_with_fivetrans_reason(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "zendesk_support")
    fivetran.connections["zendesk_support"] = connection("zendesk_support")
    start = record.accepted_at + timedelta(seconds=1)
    fivetran.history["zendesk_support"] = [
        sync("ours", start, start + timedelta(minutes=2), "FAILURE_WITH_TASK", reason="token revoked")
    ]

    report = invoke(client)

    assert report["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Fivetran.SyncFailed"
    for named in ("zendesk_support", "FAILURE_WITH_TASK", "token revoked", "sync ours", "reconcile"):
        assert named in described["cause"]


def test_a_later_scheduled_sync_that_failed_is_never_credited_to_the_run(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    at = record.accepted_at
    fivetran.connections["stripe_prod"] = connection("stripe_prod")
    fivetran.history["stripe_prod"] = [
        sync("scheduled-later", at + timedelta(minutes=10), at + timedelta(minutes=11), "FAILURE"),
        sync("ours", at + timedelta(seconds=5), at + timedelta(minutes=2), "SUCCESSFUL"),
    ]

    invoke(client)

    output = json.loads(waiting.wait_for_end(arn)["output"])
    assert output["sync_id"] == "ours"
    assert output["status"] == "SUCCESSFUL"


def test_a_sync_running_when_the_trigger_was_accepted_is_the_one_joined(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", joined=True)
    at = record.accepted_at
    fivetran.connections["stripe_prod"] = connection("stripe_prod")
    fivetran.history["stripe_prod"] = [
        sync("already-running", at - timedelta(minutes=5), at + timedelta(minutes=1), "SUCCESSFUL"),
        sync("next", at + timedelta(minutes=2), at + timedelta(minutes=3), "FAILURE"),
    ]

    invoke(client)

    assert json.loads(waiting.wait_for_end(arn)["output"])["sync_id"] == "already-running"


def test_a_sync_that_ended_before_the_trigger_was_accepted_is_not_this_sync(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "hubspot_crm")
    at = record.accepted_at
    fivetran.connections["hubspot_crm"] = connection("hubspot_crm")
    fivetran.history["hubspot_crm"] = [
        sync("earlier", at - timedelta(hours=1), at - timedelta(seconds=2), "FAILURE")
    ]

    report = invoke(client)

    assert report["completed"] == 0
    assert report["heartbeats"] == 1
    assert waiting.status(arn) == "RUNNING"
    assert deps.store.get(record.connector_id, record.token_id) is not None


def test_a_sync_still_running_gets_a_heartbeat_and_keeps_its_token(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", sync_state="syncing")
    fivetran.history["stripe_prod"] = [sync("ours", record.accepted_at + timedelta(seconds=1))]

    report = invoke(client)

    assert report["heartbeats"] == 1
    assert report["completed"] == 0
    assert waiting.status(arn) == "RUNNING"
    assert deps.store.get(record.connector_id, record.token_id) is not None


def test_a_heartbeat_for_a_token_step_functions_no_longer_knows_deletes_it(client, deps, fivetran):
    park(deps.store, fake_token(), "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", sync_state="syncing")

    report = invoke(client)

    assert report["heartbeats"] == 0
    assert deps.store.count() == 0


def test_a_rescheduled_sync_completes_the_token_with_rescheduled_for(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "hubspot_crm")
    at = record.accepted_at
    later = datetime(2026, 1, 15, 11, 34, 53, 894000, tzinfo=UTC)
    fivetran.connections["hubspot_crm"] = connection("hubspot_crm", sync_state="rescheduled")
    fivetran.history["hubspot_crm"] = [
        sync(
            "ours", at + timedelta(seconds=1), at + timedelta(minutes=1), "RESCHEDULED", rescheduled_for=later
        )
    ]

    invoke(client)

    output = json.loads(waiting.wait_for_end(arn)["output"])
    assert output["status"] == "RESCHEDULED"
    assert output["rescheduled_for"] == "2026-01-15T11:34:54Z"
    assert output["sync_id"] == "ours"


# -- dropped syncs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named", "error"),
    [
        ({"paused": True}, "ended with status PAUSED", "Fivetran.ConnectionPaused"),
        ({"setup_state": "broken"}, "setup is broken", "Fivetran.SyncFailed"),
    ],
    ids=["paused", "broken"],
)
def test_a_sync_dropped_by_a_connection_that_changed_mid_run_fails_in_one_pass(
    client, deps, fivetran, waiting, changes, named, error
):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", **changes)
    fivetran.history["stripe_prod"] = [sync("dropped", record.accepted_at + timedelta(seconds=1))]  # no end

    report = invoke(client)

    assert report["dropped"] == 1
    described = waiting.wait_for_end(arn)
    assert (described["status"], described["error"]) == ("FAILED", error)
    assert named in described["cause"]
    assert "dropped" in described["cause"]
    assert deps.store.count() == 0


def test_a_sync_the_history_shows_running_after_a_later_sync_started_fails_as_dropped(
    client, deps, fivetran, waiting
):
    # Paused and resumed mid-sync: the connection looks healthy again, Fivetran dropped the running
    # sync without an end, and the sync after the resume has already ended.
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", group_id="group")
    at = record.accepted_at
    fivetran.connections["stripe_prod"] = connection("stripe_prod")
    fivetran.history["stripe_prod"] = [
        sync("after-resume", at + timedelta(seconds=40), at + timedelta(seconds=70), "SUCCESSFUL"),
        sync("dropped", at + timedelta(seconds=1)),  # RUNNING, no end, ever
    ]

    report = invoke(client)

    assert report["dropped"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Fivetran.SyncFailed"
    cause = described["cause"]
    assert "the sync was dropped: the connection was paused/resumed or moved" in cause
    assert "a later sync after-resume started" in cause
    assert "status DROPPED" in cause and "sync dropped" in cause
    assert deps.store.count() == 0


def test_a_connection_found_in_another_group_than_the_runs_is_reported_as_moved(
    client, deps, fivetran, waiting
):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", group_id="group")
    fivetran.connections["stripe_prod"] = replace(connection("stripe_prod"), group_id="other_group")
    fivetran.history["stripe_prod"] = [sync("dropped", record.accepted_at + timedelta(seconds=1))]

    report = invoke(client)

    assert report["dropped"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert "moved to group other_group" in described["cause"]
    assert "listed it in group group" in described["cause"]


def test_a_sync_still_running_with_nothing_after_it_keeps_waiting(client, deps, fivetran, waiting):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", group_id="group")
    at = record.accepted_at
    fivetran.connections["stripe_prod"] = connection("stripe_prod", sync_state="syncing")
    fivetran.history["stripe_prod"] = [
        sync("before", at - timedelta(minutes=9), at - timedelta(minutes=8), "FAILURE"),
        sync("ours", at + timedelta(seconds=1)),
    ]

    report = invoke(client)

    assert report["dropped"] == 0
    assert waiting.status(arn) == "RUNNING"


def test_a_connection_fivetran_no_longer_has_fails_the_token(client, deps, waiting):
    arn, token = waiting.start()
    park(deps.store, token, "vanished_connection")

    report = invoke(client)

    assert report["dropped"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert "NOT_FOUND" in described["cause"]
    assert "no longer exists" in described["cause"]


# -- heartbeats never depend on Fivetran ------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        FivetranApiError("Fivetran kept failing", status=503),
        FivetranRateLimited("quota", retry_after=3600, status=429),
    ],
    ids=["outage", "rate-limit"],
)
def test_every_token_gets_its_heartbeat_whatever_fivetran_answers(client, deps, fivetran, waiting, error):
    fivetran.error = error
    runs = [waiting.start() for _ in range(3)]
    for i, (_, token) in enumerate(runs):
        park(deps.store, token, f"conn_{i}")

    report = invoke(client)

    assert report["heartbeats"] == 3
    assert report["api_errors"] == 3
    assert report["stopped_early"] is None
    assert all(waiting.status(arn) == "RUNNING" for arn, _ in runs)
    assert deps.store.count() == 3


def test_tokens_younger_than_the_threshold_get_heartbeats_but_no_read(client, deps, fivetran, waiting):
    _, token = waiting.start()
    park(deps.store, token, "stripe_prod", ago=10)

    report = invoke(client)

    assert report["heartbeats"] == 1
    assert fivetran.reads == []
    assert report["examined"] == 1


def test_a_token_whose_trigger_is_still_in_flight_gets_a_heartbeat_but_no_read(
    client, deps, fivetran, waiting
):
    _, token = waiting.start()
    park_token(deps.store, token, "stripe_prod", ago=600, armed=False)

    report = invoke(client)

    assert report["heartbeats"] == 1
    assert fivetran.reads == []


def test_each_connection_is_read_once_however_many_tokens_it_has(client, deps, fivetran):
    for _ in range(3):
        park(deps.store, fake_token(), "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod", sync_state="syncing")

    report = invoke(client)

    assert report["examined"] == 3
    assert fivetran.reads == ["stripe_prod"]
    assert fivetran.history_reads == ["stripe_prod"]


def test_reads_are_bounded_per_pass_and_rotate_so_no_connection_starves(
    moto_aws, token_table, settings, fivetran, lambda_budget_ms, waiting
):
    bounded = replace(settings, reconcile_max_tokens=2)
    deps = Dependencies.from_clients(
        bounded,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        fivetran_factory=lambda credentials: fivetran,
    )
    set_dependencies(deps)
    for i in range(5):
        _, token = waiting.start()
        park(deps.store, token, f"conn_{i}")
        fivetran.connections[f"conn_{i}"] = connection(f"conn_{i}", sync_state="syncing")
    client = Client(app, stage_name="dev", project_dir=str(ROOT))

    passes = [invoke(client) for _ in range(3)]

    assert [p["connections_checked"] for p in passes] == [2, 2, 2]
    assert all(p["heartbeats"] == 5 for p in passes)
    assert set(fivetran.reads) == {f"conn_{i}" for i in range(5)}  # every connection read within 3 passes
    assert len(fivetran.reads[:4]) == len(set(fivetran.reads[:4]))  # least recently checked first


def test_with_less_time_left_than_its_reserve_it_reads_nothing(
    client, deps, fivetran, waiting, lambda_budget_ms
):
    lambda_budget_ms["ms"] = 3_000  # what Chalice's test client gives by default
    record = park(deps.store, waiting.start()[1], "stripe_prod")
    fivetran.connections["stripe_prod"] = connection("stripe_prod")

    report = invoke(client)

    assert report["stopped_early"] == "lambda time"
    assert fivetran.reads == []
    assert deps.store.get(record.connector_id, record.token_id) is not None


def test_a_second_pass_while_one_holds_the_lease_does_nothing(client, deps, fivetran):
    record = park(deps.store, fake_token(), "stripe_prod")
    assert deps.store.lease.acquire(LEASE_NAME, "the-other-pass", time.time(), 300)

    report = invoke(client)

    assert report["stopped_early"] == "another pass holds the lease"
    assert report["heartbeats"] == 0
    assert fivetran.reads == []
    assert deps.store.get(record.connector_id, record.token_id) is not None


def test_a_pass_takes_an_abandoned_lease_and_gives_it_back(client, deps, fivetran):
    assert deps.store.lease.acquire(LEASE_NAME, "crashed-pass", time.time() - 600, 300)

    report = invoke(client)

    assert report["stopped_early"] is None
    assert deps.store.lease.acquire(LEASE_NAME, "next-pass", time.time(), 300)


def test_nothing_parked_is_a_quiet_run(client):
    assert invoke(client) == {
        "examined": 0,
        "groups_listed": 0,
        "unchanged": 0,
        "connections_checked": 0,
        "heartbeats": 0,
        "dropped": 0,
        "api_errors": 0,
        "auth_errors": 0,
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
        claiming = "claimed_by" in kwargs.get("UpdateExpression", "")
        if claiming and kwargs["Key"]["connector_id"]["S"] == self._connector_id:
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
    fivetran.connections["ended_connection"] = connection("ended_connection")
    accepted = deps.store.parked_for("ended_connection")[0].accepted_at
    fivetran.history["ended_connection"] = [
        sync("ours", accepted + timedelta(seconds=1), accepted + timedelta(seconds=30), "SUCCESSFUL")
    ]

    report = invoke(Client(app, stage_name="dev", project_dir=str(ROOT)))

    assert report["errors"] == 1
    assert report["completed"] == 1
    healthy = "ended_connection" if failing == "deleted_connection" else "deleted_connection"
    assert waiting.wait_for_end(executions[healthy])["status"] in ("SUCCEEDED", "FAILED")
    assert waiting.status(executions[failing]) == "RUNNING"
    assert len(deps.store.parked_for(failing)) == 1


def park(store: TokenStore, token: str, connector_id: str, *, ago: float = 600, **armed: Any) -> TokenRecord:
    """Tokens here are older than the reconcile threshold unless a test says otherwise."""
    return park_token(store, token, connector_id, ago=ago, **armed)
