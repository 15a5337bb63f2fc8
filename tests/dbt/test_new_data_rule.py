"""The rule of selection by new data on small hand-made projects: what builds, what is skipped, and why."""

from __future__ import annotations

import sys
from typing import Any

from tests.dbt.support import REPO

sys.path.insert(0, str(REPO / "dbt_container"))
from task import new_data  # the dbt image's package, beside its entrypoint

T1, T2 = "2026-01-15T10:00:00", "2026-01-15T11:00:00"


def _source(name: str, *, loader: str = "fivetran", loaded_at_field: str | None = "_fivetran_synced") -> Any:
    return {"source_name": name, "name": "t", "loader": loader, "loaded_at_field": loaded_at_field}


def _node(name: str, *parents: str, kind: str = "model", code: str = "v1") -> Any:
    return {
        "resource_type": kind,
        "name": name,
        "checksum": {"checksum": code},
        "config": {},
        "depends_on": {"nodes": list(parents)},
    }


def project(**sources: Any) -> dict[str, Any]:
    """stripe -> stg_stripe -> mart <- stg_hubspot <- hubspot, and the given sources' overrides."""
    return {
        "sources": {
            "source.p.stripe.t": sources.get("stripe", _source("stripe")),
            "source.p.hubspot.t": sources.get("hubspot", _source("hubspot")),
        },
        "nodes": {
            "model.p.stg_stripe": _node("stg_stripe", "source.p.stripe.t"),
            "model.p.stg_hubspot": _node("stg_hubspot", "source.p.hubspot.t"),
            "model.p.mart": _node("mart", "model.p.stg_stripe", "model.p.stg_hubspot"),
        },
    }


RUN = ["stripe", "hubspot"]
BEFORE = {"source.p.stripe.t": T1, "source.p.hubspot.t": T1}
ROWS = {"source.p.stripe.t": 20, "source.p.hubspot.t": 20}


def select(
    manifest: dict[str, Any],
    freshness: dict[str, str | None],
    state: new_data.BuildState | None,
    run: list[str],
    rows: dict[str, int | None] = ROWS,
) -> new_data.Selection:
    return new_data.select_new_data(manifest, freshness, state, run, row_counts=rows)


def built_then(
    manifest: dict[str, Any],
    now: dict[str, str | None],
    run: list[str] = RUN,
    rows: dict[str, int | None] = ROWS,
) -> set[str]:
    """Build everything at BEFORE (ROWS rows a table), then select with the freshness ``now`` and the row
    counts ``rows``: the names selected."""
    first = select(manifest, BEFORE, None, run)
    state = new_data.next_state(None, first, first.nodes)
    selection = select(manifest, now, state, run, rows)
    return {new_data.node_name(manifest, uid) for uid in selection.nodes}


def test_a_first_run_builds_everything():
    selection = select(project(), BEFORE, None, RUN)

    assert selection.first_run
    assert len(selection.nodes) == 3


def test_nothing_new_builds_nothing_and_says_so():
    manifest = project()
    first = select(manifest, BEFORE, None, RUN)
    selection = select(manifest, BEFORE, new_data.next_state(None, first, first.nodes), RUN)

    assert selection.nodes == frozenset()
    assert selection.reason.startswith("no new data")


def test_new_rows_in_one_source_build_its_lineage_only():
    assert built_then(project(), {**BEFORE, "source.p.stripe.t": T2}) == {"stg_stripe", "mart"}


def test_rows_deleted_from_one_source_build_its_lineage_though_its_max_loaded_at_stayed():
    # a hard delete (or a re-sync that drops rows) writes no row: max(_fivetran_synced) does not move
    selection_rows = {**ROWS, "source.p.stripe.t": 17}

    assert built_then(project(), BEFORE, rows=selection_rows) == {"stg_stripe", "mart"}


def test_rows_flagged_deleted_in_bulk_build_the_lineage_though_no_row_was_added_or_removed():
    # a TRUNCATE or a re-sync's mass delete, soft: _fivetran_deleted set, _fivetran_synced not updated
    before = {"source.p.stripe.t": (20, 0, -1), "source.p.hubspot.t": (20, 0, -1)}
    manifest = project()
    first = select(manifest, BEFORE, None, RUN, before)
    state = new_data.BuildState.from_dict(
        new_data.next_state(None, first, first.nodes).to_dict()
    )  # kept in S3

    unchanged = select(manifest, BEFORE, state, RUN, before)
    flagged = select(manifest, BEFORE, state, RUN, {**before, "source.p.hubspot.t": (20, 20, -1)})

    assert unchanged.nodes == frozenset()
    assert {new_data.node_name(manifest, u) for u in flagged.nodes} == {"stg_hubspot", "mart"}


def test_a_source_whose_row_count_could_not_be_measured_builds_its_lineage():
    assert built_then(project(), BEFORE, rows={**ROWS, "source.p.hubspot.t": None}) == {"stg_hubspot", "mart"}
    assert built_then(project(), BEFORE, rows={"source.p.stripe.t": 20}) == {"stg_hubspot", "mart"}


def test_a_changed_source_is_named_for_new_rows_and_for_deleted_rows():
    manifest = project()
    first = select(manifest, BEFORE, None, RUN)
    state = new_data.next_state(None, first, first.nodes)

    selection = select(
        manifest, {**BEFORE, "source.p.hubspot.t": T2}, state, RUN, {**ROWS, "source.p.stripe.t": 3}
    )

    assert selection.changed_sources == ("hubspot.t", "stripe.t")
    assert new_data.next_state(state, selection, selection.nodes).row_counts == {
        **ROWS,
        "source.p.stripe.t": 3,
    }


def test_a_source_whose_freshness_errored_builds_its_lineage():
    assert built_then(project(), {**BEFORE, "source.p.hubspot.t": None}) == {"stg_hubspot", "mart"}


def test_a_source_without_loaded_at_field_always_builds_its_lineage():
    manifest = project(hubspot=_source("hubspot", loaded_at_field=None))

    assert built_then(manifest, {"source.p.stripe.t": T1}) == {"stg_hubspot", "mart"}


def test_a_source_of_another_loader_always_builds_its_lineage():
    assert built_then(project(stripe=_source("stripe", loader="airbyte")), BEFORE) == {"stg_stripe", "mart"}


def test_a_source_outside_the_runs_connections_always_builds_its_lineage():
    assert built_then(project(), BEFORE, run=["stripe"]) == {"stg_hubspot", "mart"}


def test_a_changed_model_builds_with_everything_downstream():
    manifest = project()
    first = select(manifest, BEFORE, None, RUN)
    state = new_data.next_state(None, first, first.nodes)
    manifest["nodes"]["model.p.stg_stripe"]["checksum"]["checksum"] = "v2"

    selection = select(manifest, BEFORE, state, RUN)

    assert {new_data.node_name(manifest, u) for u in selection.nodes} == {"stg_stripe", "mart"}


def test_a_seed_and_what_reads_it_always_build():
    manifest = project()
    manifest["nodes"]["seed.p.rates"] = _node("rates", kind="seed")
    manifest["nodes"]["model.p.stg_stripe"]["depends_on"]["nodes"].append("seed.p.rates")

    assert built_then(manifest, BEFORE) == {"rates", "stg_stripe", "mart"}


def test_a_node_not_built_last_time_is_still_owed_its_build():
    manifest = project()
    first = select(manifest, BEFORE, None, RUN)
    state = new_data.next_state(None, first, first.nodes)
    newer = {**BEFORE, "source.p.stripe.t": T2}
    second = select(manifest, newer, state, RUN)
    state = new_data.next_state(state, second, ["model.p.stg_stripe"])  # mart failed (or was excluded)

    third = select(manifest, newer, state, RUN)

    assert {new_data.node_name(manifest, u) for u in third.nodes} == {"mart"}


def test_the_build_state_survives_its_json_and_refuses_anything_else():
    state = new_data.BuildState({"model.p.a": "k"}, {"source.p.s.t": T1}, {"source.p.s.t": 20})

    assert new_data.BuildState.from_dict(state.to_dict()) == state
    assert (
        new_data.BuildState.from_dict({"version": 1, "keys": {}}) == new_data.BuildState()
    )  # kept before counts
    assert new_data.BuildState.from_dict({"keys": {}}) is None
    assert new_data.BuildState.from_dict("nonsense") is None
