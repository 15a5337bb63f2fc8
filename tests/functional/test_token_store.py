"""The token store on moto's DynamoDB: conditional park, lookups, claim/release leases, bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.errors import TokenStoreError
from chalicelib.platform.log import token_ref
from chalicelib.tokens.records import token_id
from chalicelib.tokens.store import TokenStore

REGION = "us-east-1"
T0 = datetime(2026, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store(token_table: str) -> TokenStore:
    return TokenStore(token_table, boto3.client("dynamodb", region_name=REGION), lease_seconds=60)


def record(store: TokenStore, connector_id: str = "stripe_prod", task: str = "token-1", *, at: datetime = T0):
    return store.new_record(
        connector_id=connector_id,
        task_token=task,
        execution_id="arn:aws:states:us-east-1:123456789012:execution:m:run-1",
        requested_at=at,
        expires_at=int((at + timedelta(days=1)).timestamp()),
        schedule_type="manual",
    )


def test_a_parked_token_reads_back_exactly(store):
    original = record(store)

    stored, created = store.park(original)

    assert created is True
    assert stored == original
    assert store.get("stripe_prod", original.token_id) == original  # microseconds and all
    assert original.token_id == token_id("token-1")
    assert original.ref == token_ref("token-1")
    assert len(original.ref) == 12
    assert "token-1" not in original.token_id


def test_parking_the_same_token_twice_keeps_the_original(store):
    first, created_first = store.park(record(store, at=T0))

    second, created_second = store.park(record(store, at=T0 + timedelta(minutes=3)))

    assert created_first is True
    assert created_second is False
    assert second == first
    assert second.requested_at == T0
    assert store.count() == 1


def test_parked_for_returns_every_token_of_that_connection_only(store):
    store.park(record(store, "stripe_prod", "t1"))
    store.park(record(store, "stripe_prod", "t2", at=T0 + timedelta(seconds=1)))
    store.park(record(store, "hubspot_crm", "t3"))

    tokens = {r.task_token for r in store.parked_for("stripe_prod")}

    assert tokens == {"t1", "t2"}
    assert [r.task_token for r in store.parked_for("hubspot_crm")] == ["t3"]
    assert store.parked_for("nobody") == []


def test_remove_deletes_one_token_and_is_idempotent(store):
    kept, gone = record(store, task="keep"), record(store, task="gone")
    store.park(kept)
    store.park(gone)

    store.remove(gone.connector_id, gone.token_id)
    store.remove(gone.connector_id, gone.token_id)

    assert store.get(gone.connector_id, gone.token_id) is None
    assert store.get(kept.connector_id, kept.token_id) == kept
    assert store.count() == 1


def test_a_claim_is_exclusive_while_its_lease_lives(store):
    parked = record(store)
    store.park(parked)

    assert store.claim(parked, "webhook", now=1_000.0) is True
    assert store.claim(parked, "reconcile", now=1_030.0) is False


def test_a_released_token_can_be_claimed_again(store):
    parked = record(store)
    store.park(parked)
    store.claim(parked, "webhook", now=1_000.0)

    store.release(parked, "webhook")

    assert store.claim(parked, "reconcile", now=1_001.0) is True


def test_only_the_holder_can_release_a_claim(store):
    parked = record(store)
    store.park(parked)
    store.claim(parked, "webhook", now=1_000.0)

    store.release(parked, "someone-else")  # ignored, not raised

    assert store.claim(parked, "reconcile", now=1_001.0) is False


def test_an_abandoned_lease_expires(store):
    parked = record(store)
    store.park(parked)
    store.claim(parked, "crashed", now=1_000.0)

    assert store.claim(parked, "reconcile", now=1_000.0 + 59) is False
    assert store.claim(parked, "reconcile", now=1_000.0 + 61) is True


def test_claiming_a_token_that_is_gone_returns_false_and_creates_nothing(store):
    parked = record(store)
    store.park(parked)
    store.remove(parked.connector_id, parked.token_id)

    assert store.claim(parked, "late", now=1_000.0) is False
    assert store.count() == 0


def test_a_claim_keeps_the_record_readable(store):
    parked = record(store)
    store.park(parked)
    store.claim(parked, "webhook", now=1_000.0)

    assert store.get(parked.connector_id, parked.token_id) == parked
    assert store.parked_for(parked.connector_id) == [parked]


def test_every_parked_token_is_listed_and_nothing_else_the_table_holds(store):
    for i in range(5):
        store.park(record(store, f"conn_{i}", f"t{i}", at=T0 + timedelta(minutes=i)))
    store.syncs.record("conn_0", SyncRecord("s1", started_at=T0), expires_at=1)
    assert store.lease.acquire("reconcile", "me", 1000.0, 60)

    assert sorted(r.task_token for r in store.all_parked()) == [f"t{i}" for i in range(5)]
    assert store.count() == 5


def test_arming_records_fivetrans_acceptance_and_the_join_and_gives_the_tokens_anchor(store):
    parked, _ = store.park(record(store))
    accepted = datetime(2026, 1, 15, 10, 0, 5, tzinfo=UTC)

    armed = store.arm(parked, accepted_at=accepted, joined=True)

    assert armed == store.get(parked.connector_id, parked.token_id)
    assert (armed.anchor.at, armed.anchor.joined) == (accepted, True)
    assert parked.anchor is None  # not armed: the trigger is still in flight
    store.remove(parked.connector_id, parked.token_id)
    assert store.arm(parked, accepted_at=accepted, joined=False) is None  # gone: nothing is created
    assert store.count() == 0


def test_a_seen_sync_keeps_the_first_value_of_each_field_and_sits_beside_the_tokens(store):
    parked, _ = store.park(record(store))
    store.syncs.record("stripe_prod", SyncRecord("s1", started_at=T0), expires_at=1)
    store.syncs.record(
        "stripe_prod", SyncRecord("s1", ended_at=T0 + timedelta(minutes=1), status="FAILURE"), expires_at=1
    )
    store.syncs.record(
        "stripe_prod", SyncRecord("s1", ended_at=T0 + timedelta(minutes=2), status="SUCCESSFUL"), expires_at=1
    )

    tokens, syncs = store.connection_state("stripe_prod")

    assert tokens == [parked]
    assert syncs == [SyncRecord("s1", T0, T0 + timedelta(minutes=1), "FAILURE")]


def test_one_lease_holder_at_a_time_until_it_lapses_or_is_released(store):
    assert store.lease.acquire("reconcile", "first", 1000.0, 60)
    assert not store.lease.acquire("reconcile", "second", 1030.0, 60)
    assert store.lease.acquire("reconcile", "second", 1061.0, 60)  # the first one's lapsed
    store.lease.release("reconcile", "first")  # not the holder: nothing happens
    assert not store.lease.acquire("reconcile", "third", 1062.0, 60)
    store.lease.release("reconcile", "second")
    assert store.lease.acquire("reconcile", "third", 1062.0, 60)


def test_count_counts_every_parked_token(store):
    assert store.count() == 0
    for i in range(4):
        store.park(record(store, "c", f"t{i}"))
    assert store.count() == 4


def test_an_unreachable_table_raises_token_store_error_not_a_botocore_error(moto_aws):
    store = TokenStore("no-such-table", boto3.client("dynamodb", region_name=REGION))
    parked = record(store)

    for action in (
        lambda: store.park(parked),
        lambda: store.get("c", "t"),
        lambda: store.parked_for("c"),
        lambda: list(store.all_parked()),
        lambda: store.count(),
        lambda: store.remove("c", "t"),
        lambda: store.claim(parked, "me", 1.0),
        lambda: store.arm(parked, accepted_at=T0, joined=False),
        lambda: store.syncs.record("c", SyncRecord("s"), expires_at=1),
        lambda: store.lease.acquire("reconcile", "me", 1.0, 60),
    ):
        with pytest.raises(TokenStoreError, match="ResourceNotFoundException"):
            action()


# -- the API budget's slot counter ---------------------------------------------------------------


def test_the_budget_counter_starts_at_now_and_advances_one_interval_per_caller(store):
    assert store.budget_slots.advance_budget_slot(1_000_000, 500) == 1_000_500
    assert store.budget_slots.advance_budget_slot(1_000_000, 500) == 1_001_000
    # a caller whose clock is behind queues after the others; one after an idle spell starts afresh
    assert store.budget_slots.advance_budget_slot(900_000, 500) == 1_001_500
    assert store.budget_slots.advance_budget_slot(5_000_000, 500) == 5_000_500
    assert store.count() == 0  # the budget item is no parked token


def test_concurrent_callers_each_get_their_own_slot(store):
    from concurrent.futures import ThreadPoolExecutor
    from itertools import pairwise

    with ThreadPoolExecutor(max_workers=8) as pool:
        tats = list(
            pool.map(lambda n: store.budget_slots.advance_budget_slot(1_000_000 + n % 3, 1_000), range(40))
        )

    assert len(set(tats)) == 40
    ordered = sorted(tats)
    assert all(b - a >= 1_000 for a, b in pairwise(ordered))
