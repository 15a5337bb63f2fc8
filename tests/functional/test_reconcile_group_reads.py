"""The safety net reads each waiting group once a pass and the sync history only for the connections the
group's listing shows changed (issue 22): a sync's end is found within a pass of it, at one listing call
per group and one history read per ended sync, and the identity rule still decides which sync is whose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.errors import FivetranAuthError
from chalicelib.safety_net.reconcile import reconcile
from tests.fakes import FakeFivetran, connection
from tests.tokens import WaitingTask, park

GROUP = "group"


class CountingFivetran(FakeFivetran):
    def __init__(self, *connections, refuse_listing: bool = False) -> None:
        super().__init__(*connections)
        self.connection_reads: list[str] = []
        self.refuse_listing = refuse_listing

    def get_connection(self, connection_id: str, *, timeout: float | None = None):
        self.connection_reads.append(connection_id)
        return super().get_connection(connection_id)

    def list_group_connections(self, group_id: str, *, timeout: float | None = None):
        if self.refuse_listing:
            self.group_reads.append(group_id)
            raise FivetranAuthError("Fivetran refused the API key (401 AuthFailed)", status=401)
        return super().list_group_connections(group_id, timeout=timeout)


@pytest.fixture
def waiting(moto_aws: None) -> WaitingTask:
    return WaitingTask()


def one_pass(deps, fivetran, now: datetime | None = None, **more):
    return reconcile(
        deps.store,
        fivetran,
        deps.resolver(),
        now=now or datetime.now(UTC),
        older_than_seconds=60,
        max_connections=50,
        **more,
    ).to_dict()


def ended(sync_id: str, start: datetime, seconds: float, status: str = "SUCCESSFUL") -> SyncRecord:
    return SyncRecord(
        sync_id,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        status=status,
        source="history",
    )


def test_one_listing_for_the_group_and_one_history_read_for_the_connection_whose_sync_ended(deps, waiting):
    ids = ("stripe_prod", "hubspot_crm", "zendesk_support")
    fivetran = CountingFivetran(*(connection(cid, sync_state="syncing") for cid in ids))
    runs = {cid: waiting.start() for cid in ids}
    records = {cid: park(deps.store, runs[cid][1], cid, ago=120, group_id=GROUP) for cid in ids}
    ours = records["stripe_prod"].accepted_at + timedelta(seconds=1)
    fivetran.history["stripe_prod"] = [ended("ours", ours, 30)]

    report = one_pass(deps, fivetran)

    assert fivetran.group_reads == [GROUP]
    assert fivetran.history_reads == ["stripe_prod"]
    assert fivetran.connection_reads == []
    assert (report["groups_listed"], report["unchanged"], report["completed"]) == (1, 2, 1)
    assert report["heartbeats"] == 3
    assert waiting.wait_for_end(runs["stripe_prod"][0])["status"] == "SUCCEEDED"
    assert waiting.status(runs["hubspot_crm"][0]) == "RUNNING"


def test_an_end_that_is_not_the_tokens_sync_is_read_once_not_on_every_pass(deps, waiting):
    fivetran = CountingFivetran(connection("stripe_prod", sync_state="syncing"))
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", ago=120, group_id=GROUP)
    # An earlier sync ended within the trigger's second; the token's own sync is still running.
    at = record.accepted_at
    fivetran.history["stripe_prod"] = [
        ended("earlier", at - timedelta(minutes=5), 300.5),
        SyncRecord("ours", at),
    ]

    first, second = one_pass(deps, fivetran), one_pass(deps, fivetran)

    assert fivetran.history_reads == ["stripe_prod"]
    assert (first["connections_checked"], second["connections_checked"], second["unchanged"]) == (1, 0, 1)
    assert waiting.status(arn) == "RUNNING"


def test_an_end_the_listing_shows_before_the_history_does_is_read_again_until_the_history_has_it(
    deps, waiting
):
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", ago=120, group_id=GROUP)
    at = record.accepted_at
    fivetran = CountingFivetran(connection("stripe_prod", succeeded_at=at + timedelta(seconds=31)))
    fivetran.history["stripe_prod"] = [SyncRecord("ours", at + timedelta(seconds=1))]  # no end there yet

    first, second = one_pass(deps, fivetran), one_pass(deps, fivetran)
    fivetran.history["stripe_prod"] = [ended("ours", at + timedelta(seconds=1), 30)]
    third = one_pass(deps, fivetran)

    assert fivetran.history_reads == ["stripe_prod"] * 3
    assert (first["completed"], second["completed"], third["completed"]) == (0, 0, 1)
    assert waiting.wait_for_end(arn)["status"] == "SUCCEEDED"


def test_a_later_sync_that_ended_is_read_and_never_credited_to_the_run(deps, waiting):
    fivetran = CountingFivetran(connection("stripe_prod"))
    arn, token = waiting.start()
    record = park(deps.store, token, "stripe_prod", ago=600, group_id=GROUP)
    at = record.accepted_at
    fivetran.history["stripe_prod"] = [
        ended("ours", at + timedelta(seconds=1), 60, "FAILURE"),
        ended("later", at + timedelta(minutes=5), 60),
    ]

    report = one_pass(deps, fivetran)

    assert report["completed"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"


def test_a_connection_deleted_from_its_group_fails_its_token_as_not_found(deps, waiting):
    fivetran = CountingFivetran(connection("hubspot_crm"))
    arn, token = waiting.start()
    park(deps.store, token, "stripe_prod", ago=120, group_id=GROUP)

    report = one_pass(deps, fivetran)

    assert fivetran.connection_reads == ["stripe_prod"]
    assert report["dropped"] == 1
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert "no longer exists" in described["cause"]


def test_tokens_younger_than_the_threshold_cost_no_read_and_nothing_parked_costs_no_call(deps, waiting):
    fivetran = CountingFivetran(connection("stripe_prod"))

    one_pass(deps, fivetran)
    park(deps.store, waiting.start()[1], "stripe_prod", ago=30, group_id=GROUP)
    report = one_pass(deps, fivetran)

    assert fivetran.group_reads == [] and fivetran.history_reads == []
    assert report["heartbeats"] == 1


def test_a_listing_refused_past_the_bound_ends_the_tokens_and_one_answered_listing_resets_it(deps, waiting):
    fivetran = CountingFivetran(connection("stripe_prod", sync_state="syncing"), refuse_listing=True)
    arn, token = waiting.start()
    park(deps.store, token, "stripe_prod", ago=120, group_id=GROUP)
    start = datetime.now(UTC)

    first = one_pass(deps, fivetran, start, auth_failure_seconds=900)
    fivetran.refuse_listing = False
    one_pass(deps, fivetran, start + timedelta(minutes=10), auth_failure_seconds=900)  # answered: reset
    fivetran.refuse_listing = True
    one_pass(deps, fivetran, start + timedelta(minutes=11), auth_failure_seconds=900)
    one_pass(deps, fivetran, start + timedelta(minutes=20), auth_failure_seconds=900)  # refused for 9 min
    still = waiting.status(arn)
    one_pass(deps, fivetran, start + timedelta(minutes=27), auth_failure_seconds=900)

    assert (first["api_errors"], first["auth_errors"]) == (1, 1)
    assert still == "RUNNING"
    described = waiting.wait_for_end(arn)
    assert described["status"] == "FAILED"
    assert "refused the API key" in described["cause"]
