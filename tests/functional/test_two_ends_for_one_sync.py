"""Two ends for one sync: Fivetran has been seen sending a ``FAILURE`` then a ``SUCCESSFUL`` ``sync_end``
with the same ``sync_id`` (a type promotion), its sync history ending SUCCESSFUL. Played through
``POST /webhooks/fivetran``: the history is read once before a token fails, its final status wins, and the
second, contradicting end is logged as a warning with both statuses and counted in ``ConflictingSyncEnds``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform import metrics
from chalicelib.platform.errors import FivetranApiError
from chalicelib.platform.log import logger
from tests.fakes import FakeFivetran
from tests.functional.test_webhook_route import Webhook, sync_end_body
from tests.tokens import WaitingTask, park

SYNC_ID = "6a1f0c2e-3d4b-4e5f-8a9b-0c1d2a3f4a5b"


class UnreadableHistory(FakeFivetran):
    def sync_history(self, connection_id: str, start: Any, end: Any, *, timeout: float | None = None) -> Any:
        self.history_reads.append(connection_id)
        raise FivetranApiError("Fivetran kept failing", status=503)


@pytest.fixture
def webhook(deps: Any) -> Webhook:
    return Webhook()


@pytest.fixture
def waiting(moto_aws: None) -> WaitingTask:
    return WaitingTask()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield buffer
    logger.registered_handler.setStream(previous)


@pytest.fixture
def emitted() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    metrics.set_stream(stream)
    yield stream
    metrics.set_stream(None)


def conflicting_ends(stream: io.StringIO) -> int:
    return sum(
        sum(document.get(metrics.CONFLICTING_SYNC_ENDS, []))
        for document in map(json.loads, stream.getvalue().splitlines())
    )


def warnings(buffer: io.StringIO, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line["level"] == "WARNING" and line["message"].startswith(message)]


def started_sync(deps: Any, webhook: Webhook, waiting: WaitingTask) -> tuple[str, Any]:
    """A run waits for a sync that started just after its trigger was accepted (its sync_start seen)."""
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod")
    start = record.accepted_at + timedelta(milliseconds=400)
    response = webhook.deliver(sync_end_body(status="", event="sync_start", created=start, sync_id=SYNC_ID))
    assert response.status_code == 200
    return arn, record


def test_failure_then_successful_for_one_sync_ends_as_the_history_says_with_a_warning_and_a_metric(
    webhook, deps, fivetran, waiting, log_lines, emitted
):
    arn, record = started_sync(deps, webhook, waiting)
    start = record.accepted_at + timedelta(milliseconds=400)
    fivetran.history["stripe_prod"] = [
        SyncRecord(SYNC_ID, start, start + timedelta(minutes=3), "SUCCESSFUL", source="history")
    ]

    first = webhook.deliver(sync_end_body(status="FAILURE", sync_id=SYNC_ID, reason="type promotion"))
    second = webhook.deliver(sync_end_body(status="SUCCESSFUL", sync_id=SYNC_ID))

    assert (first.status_code, second.status_code) == (200, 200)
    assert fivetran.history_reads == ["stripe_prod"]  # read once, before failing
    described = waiting.wait_for_end(arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["status"] == "SUCCESSFUL"
    assert json.loads(described["output"])["sync_id"] == SYNC_ID
    [differs] = warnings(log_lines, "the sync history's final status differs")
    assert (differs["webhook_status"], differs["history_status"]) == ("FAILURE", "SUCCESSFUL")
    [conflict] = warnings(log_lines, "a second, conflicting end for one sync")
    assert (conflict["first_status"], conflict["second_status"]) == ("FAILURE", "SUCCESSFUL")
    assert conflict["sync_id"] == SYNC_ID
    assert conflicting_ends(emitted) == 1
    assert deps.store.parked_for("stripe_prod") == []


def test_a_failure_the_history_confirms_fails_the_token_after_one_read(
    webhook, deps, fivetran, waiting, emitted
):
    arn, record = started_sync(deps, webhook, waiting)
    start = record.accepted_at + timedelta(milliseconds=400)
    fivetran.history["stripe_prod"] = [
        SyncRecord(SYNC_ID, start, start + timedelta(minutes=3), "FAILURE", "disk full", source="history")
    ]

    webhook.deliver(sync_end_body(status="FAILURE", sync_id=SYNC_ID, reason="disk full"))
    webhook.deliver(sync_end_body(status="FAILURE", sync_id=SYNC_ID, reason="disk full"))  # a redelivery

    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert "FAILURE" in described["cause"] and "disk full" in described["cause"]
    assert fivetran.history_reads == ["stripe_prod"]
    assert conflicting_ends(emitted) == 0  # the same end twice is no conflict


def test_a_failure_whose_history_cannot_be_read_waits_for_the_safety_net(webhook, deps, fivetran, waiting):
    failing = UnreadableHistory()
    deps.fivetran_factory = lambda credentials: failing
    deps._fivetran = None
    arn, _ = started_sync(deps, webhook, waiting)

    response = webhook.deliver(sync_end_body(status="FAILURE", sync_id=SYNC_ID))

    assert response.status_code == 200
    assert response.json_body["newer_than_event"] == 1
    assert failing.history_reads == ["stripe_prod"]
    assert waiting.status(arn) == "RUNNING"
    assert len(deps.store.parked_for("stripe_prod")) == 1
