"""Our triggers of one connection are accepted in different seconds of Fivetran's clock: a trigger
waits for the connection's trigger slot (``chalicelib/tokens/trigger_spacing.py``), on moto's DynamoDB."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib.platform.errors import FivetranApiError
from chalicelib.tokens.records import TRIGGER_ITEM
from chalicelib.tokens.store import TokenStore
from chalicelib.tokens.trigger_spacing import IN_FLIGHT_SECONDS, MAX_WAIT_SECONDS, SPACING_SECONDS
from tests.fakes import FakeFivetran, connection

ROOT = Path(__file__).resolve().parents[2]
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:orchestrator:run-1"


class FakeClock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def store(token_table: str) -> TokenStore:
    return TokenStore(token_table, boto3.client("dynamodb", region_name="us-east-1"))


@pytest.fixture
def fivetran() -> FakeFivetran:
    return FakeFivetran(connection("stripe_prod", service="stripe", schema="stripe"))


def payload(task: str) -> dict:
    return {
        "connector": {"connector_id": "stripe_prod", "service": "stripe", "schema": "stripe"},
        "task_token": task,
        "execution_id": EXECUTION,
        "sync_timeout_seconds": 3600,
        "resume": False,
    }


def test_a_second_runs_trigger_is_sent_more_than_a_second_after_the_first_was_answered(deps, fivetran):
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    sent: list[float] = []
    answered: list[float] = []
    original = fivetran.trigger_sync

    def timed_trigger(connection_id):
        sent.append(time.time())
        try:
            return original(connection_id)
        finally:
            answered.append(time.time())

    fivetran.trigger_sync = timed_trigger

    client.lambda_.invoke("start_sync", payload("run-a-token"))
    client.lambda_.invoke("start_sync", payload("run-b-token"))

    assert fivetran.triggered == ["stripe_prod", "stripe_prod"]
    assert sent[1] >= answered[0] + SPACING_SECONDS


def test_a_failed_trigger_spaces_the_next_one_too(deps, fivetran):
    """Fivetran may have accepted a trigger whose answer was an error (a timeout, a 500)."""
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    fivetran.trigger_errors["stripe_prod"] = FivetranApiError("boom", status=500)
    before = time.time()

    with pytest.raises(FivetranApiError):
        client.lambda_.invoke("start_sync", payload("run-a-token"))

    item = deps.store.client.get_item(
        TableName=deps.store.table_name,
        Key={"connector_id": {"S": "stripe_prod"}, "token_id": {"S": TRIGGER_ITEM}},
    )["Item"]
    assert float(item["until"]["N"]) >= before + SPACING_SECONDS
    assert float(item["until"]["N"]) < before + IN_FLIGHT_SECONDS  # released, not left in flight


def test_a_trigger_waits_exactly_until_the_slot_frees(store):
    clock = FakeClock()
    assert store.triggers.hold("stripe_prod", "run-a", clock()) is None
    store.triggers.release_after("stripe_prod", "run-a", clock() + 0.2)

    held = store.triggers.wait_for_slot("stripe_prod", "run-b", clock=clock, sleep=clock.sleep)

    assert held is True
    assert sum(clock.slept) == pytest.approx(0.2 + SPACING_SECONDS, abs=0.01)


def test_a_slot_whose_trigger_never_answered_is_given_up_after_the_longest_wait(store):
    clock = FakeClock()
    store.triggers.hold("stripe_prod", "a-lambda-that-died", clock())

    held = store.triggers.wait_for_slot("stripe_prod", "run-b", clock=clock, sleep=clock.sleep)

    assert held is False
    assert sum(clock.slept) == pytest.approx(MAX_WAIT_SECONDS, abs=0.01)


def test_a_lambda_retry_with_the_same_token_does_not_wait_for_itself(store):
    clock = FakeClock()
    store.triggers.hold("stripe_prod", "run-a", clock())

    assert store.triggers.wait_for_slot("stripe_prod", "run-a", clock=clock, sleep=clock.sleep) is True
    assert clock.slept == []


def test_triggers_of_different_connections_do_not_wait_for_each_other(store):
    clock = FakeClock()
    store.triggers.hold("stripe_prod", "run-a", clock())

    assert store.triggers.wait_for_slot("hubspot_crm", "run-a", clock=clock, sleep=clock.sleep) is True
    assert clock.slept == []


def test_only_the_holder_frees_the_slot(store):
    clock = FakeClock()
    store.triggers.hold("stripe_prod", "run-a", clock())

    store.triggers.release_after("stripe_prod", "someone-else", clock())

    assert store.triggers.hold("stripe_prod", "run-b", clock()) == pytest.approx(clock() + IN_FLIGHT_SECONDS)


def test_the_slot_is_not_read_as_a_parked_token(store):
    store.triggers.hold("stripe_prod", "run-a", time.time())

    tokens, syncs = store.connection_state("stripe_prod")

    assert (tokens, syncs) == ([], [])
    assert store.count() == 0
