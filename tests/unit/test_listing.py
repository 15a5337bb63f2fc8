"""Which connections a run syncs, and which it skips and why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.fivetran.client import Connection
from chalicelib.platform.errors import PausedConnections
from chalicelib.run.listing import GET_EACH_MAX_IDS, list_connectors
from chalicelib.run.run_input import parse_run_input
from tests.fakes import FakeFivetran, connection


def run(fivetran: FakeFivetran, **raw) -> dict:
    options = parse_run_input(raw, started_at="2026-01-15T10:00:00Z")
    return list_connectors(fivetran, options).to_dict(options)


def test_a_group_listing_syncs_every_connected_unpaused_connection_in_order():
    fivetran = FakeFivetran(
        connection("stripe_prod", service="stripe", schema="stripe"),
        connection("hubspot_crm", service="hubspot", schema="hubspot", schedule_type="manual"),
    )

    result = run(fivetran, group_id="projected_sickle")

    assert result["connectors"] == [
        {"connector_id": "stripe_prod", "service": "stripe", "schema": "stripe", "schedule_type": "auto"},
        {"connector_id": "hubspot_crm", "service": "hubspot", "schema": "hubspot", "schedule_type": "manual"},
    ]
    assert result["skipped"] == []


def test_the_output_has_exactly_connectors_skipped_and_the_normalised_options():
    fivetran = FakeFivetran(connection("a"))
    options = parse_run_input(
        {"group_id": "g", "on_sync_failure": "continue"}, started_at="2026-01-15T10:00:00Z"
    )

    result = list_connectors(fivetran, options).to_dict(options)

    assert set(result) == {"connectors", "skipped", "options"}
    assert result["options"] == options.to_dict()
    assert result["options"]["on_sync_failure"] == "continue"
    assert set(result["connectors"][0]) == {"connector_id", "service", "schema", "schedule_type"}


def test_an_empty_group_lists_nothing():
    assert run(FakeFivetran(), group_id="g") == {
        "connectors": [],
        "skipped": [],
        "options": parse_run_input({"group_id": "g"}, started_at="2026-01-15T10:00:00Z").to_dict(),
    }


def test_explicit_ids_are_fetched_and_a_missing_one_is_skipped_as_not_found():
    fivetran = FakeFivetran(connection("stripe_prod"), connection("unrelated"))

    result = run(fivetran, connector_ids=["stripe_prod", "gone_away"])

    assert [c["connector_id"] for c in result["connectors"]] == ["stripe_prod"]
    assert result["skipped"] == [{"connector_id": "gone_away", "reason": "not_found"}]


def test_explicit_ids_carry_the_group_each_connection_is_in_and_a_group_run_does_not_repeat_it():
    fivetran = FakeFivetran(connection("stripe_prod"))

    by_ids = run(fivetran, connector_ids=["stripe_prod"])
    by_group = run(fivetran, group_id="group")

    assert [c.get("group_id") for c in by_ids["connectors"]] == ["group"]
    assert [c.get("group_id") for c in by_group["connectors"]] == [None]


def test_a_sync_of_a_run_by_ids_parks_its_token_in_the_group_its_item_names():
    from chalicelib.run.syncs import SyncRequest

    def request(**payload: object) -> SyncRequest:
        item = {"connector_id": "stripe_prod", "schedule_type": "auto", **payload.pop("item", {})}  # type: ignore[dict-item]
        return SyncRequest({"connector": item, "task_token": "t", **payload})

    assert request(item={"group_id": "found_in"}).group_id == "found_in"
    assert request(group_id="the_runs", item={"group_id": "found_in"}).group_id == "the_runs"
    assert request().group_id is None


def test_explicit_ids_never_list_the_whole_group():
    class NoGroupListing(FakeFivetran):
        def list_group_connections(self, group_id):
            raise AssertionError("explicit ids must not list the group")

    result = run(NoGroupListing(connection("a")), connector_ids=["a"])
    assert [c["connector_id"] for c in result["connectors"]] == ["a"]


def test_paused_connections_are_skipped_by_default():
    fivetran = FakeFivetran(connection("active"), connection("old_crm", paused=True))

    result = run(fivetran, group_id="g")

    assert [c["connector_id"] for c in result["connectors"]] == ["active"]
    assert result["skipped"] == [{"connector_id": "old_crm", "reason": "paused"}]


def test_paused_fail_raises_paused_connections_naming_every_paused_id():
    fivetran = FakeFivetran(
        connection("active"), connection("old_crm", paused=True), connection("old_db", paused=True)
    )

    with pytest.raises(PausedConnections) as caught:
        run(fivetran, group_id="g", paused="fail")

    message = str(caught.value)
    assert "old_crm" in message and "old_db" in message
    assert "active" not in message
    assert type(caught.value).__name__ == "Orchestrator.PausedConnections"


def test_paused_fail_with_nothing_paused_lists_normally():
    result = run(FakeFivetran(connection("a")), group_id="g", paused="fail")
    assert [c["connector_id"] for c in result["connectors"]] == ["a"]


@pytest.mark.parametrize("setup_state", ["broken", "incomplete"])
def test_connections_not_set_up_are_skipped_as_broken(setup_state):
    fivetran = FakeFivetran(connection("ok"), connection("legacy_db", setup_state=setup_state))

    result = run(fivetran, group_id="g")

    assert [c["connector_id"] for c in result["connectors"]] == ["ok"]
    assert result["skipped"] == [{"connector_id": "legacy_db", "reason": "broken"}]


def test_every_skip_reason_together():
    fivetran = FakeFivetran(
        connection("ok"),
        connection("old_crm", paused=True),
        connection("legacy_db", setup_state="broken"),
    )

    result = run(fivetran, connector_ids=["ok", "old_crm", "legacy_db", "gone"])

    assert [c["connector_id"] for c in result["connectors"]] == ["ok"]
    assert sorted((s["connector_id"], s["reason"]) for s in result["skipped"]) == [
        ("gone", "not_found"),
        ("legacy_db", "broken"),
        ("old_crm", "paused"),
    ]


def test_a_run_larger_than_one_execution_holds_fails_before_any_sync():
    from chalicelib.platform.errors import TooManyConnections

    fivetran = FakeFivetran(*(connection(f"c{i}") for i in range(5)))

    with pytest.raises(TooManyConnections, match="5 connections to sync, more than one run takes \\(4"):
        list_connectors(fivetran, parse_run_input({"group_id": "g"}), max_connections=4)

    assert fivetran.triggered == []


class TwoGroups(FakeFivetran):
    """Connections in two groups, counting every call as Fivetran would bill it: one GET per connection
    read alone, one per page of 1,000 connections of a group."""

    def __init__(self, groups: dict[str, int]) -> None:
        super().__init__(
            *(replace(connection(f"{g}_{i:05d}"), group_id=g) for g, n in groups.items() for i in range(n))
        )
        self.calls: list[str] = []

    def list_group_connections(self, group_id: str) -> list[Connection]:
        members = [c for c in self.connections.values() if c.group_id == group_id]
        self.calls += [f"GET /v1/groups/{group_id}/connections"] * max(1, -(-len(members) // 1000))
        return members

    def get_connection(self, connection_id: str, *, timeout: float | None = None) -> Connection:
        self.calls.append(f"GET /v1/connections/{connection_id}")
        return super().get_connection(connection_id, timeout=timeout)


def test_a_few_ids_are_read_one_get_each():
    fivetran = TwoGroups({"a": 100})
    ids = [f"a_{i:05d}" for i in range(GET_EACH_MAX_IDS)]

    result = run(fivetran, connector_ids=ids)

    assert [c["connector_id"] for c in result["connectors"]] == ids
    assert fivetran.calls == [f"GET /v1/connections/{i}" for i in ids]


def test_many_ids_are_read_through_their_groups_pages_in_the_ids_order():
    fivetran = TwoGroups({"a": 6_000, "b": 4_000, "c": 50})
    ids = [f"b_{i:05d}" for i in range(3_999, -1, -1)] + [f"a_{i:05d}" for i in range(5_000)] + ["gone"]

    result = run(fivetran, connector_ids=ids)

    assert [c["connector_id"] for c in result["connectors"]] == ids[:-1]
    assert result["skipped"] == [{"connector_id": "gone", "reason": "not_found"}]
    assert fivetran.calls == [
        "GET /v1/connections/b_03999",
        *["GET /v1/groups/b/connections"] * 4,
        "GET /v1/connections/a_00000",
        *["GET /v1/groups/a/connections"] * 6,
        "GET /v1/connections/gone",
    ]


def test_a_run_of_several_groups_syncs_every_group_s_connections_each_naming_its_group():
    fivetran = TwoGroups({"a": 2, "b": 1, "c": 1})

    result = run(fivetran, group_ids=["a", "b"])

    assert fivetran.calls == ["GET /v1/groups/a/connections", "GET /v1/groups/b/connections"]
    assert [(c["connector_id"], c["group_id"]) for c in result["connectors"]] == [
        ("a_00000", "a"),
        ("a_00001", "a"),
        ("b_00000", "b"),
    ]
    assert result["options"]["group_ids"] == ["a", "b"]


def test_a_connection_two_groups_list_syncs_once_in_the_first_group_that_lists_it():
    fivetran = FakeFivetran(replace(connection("stripe_prod"), group_id=None))  # every group lists it

    result = run(fivetran, group_ids=["a", "b"])

    assert [(c["connector_id"], c["group_id"]) for c in result["connectors"]] == [("stripe_prod", "a")]
