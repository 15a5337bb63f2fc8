"""The new-data week's replay: every hour through the task's own selection rule, checked against the
replayed warehouse, and compared with the hours the real runs measured."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from benchmarks import new_data_replay
from benchmarks.new_data_pattern import Connection, HourResult, Sync
from benchmarks.new_data_replay import replay

STRIPE = Connection("stripe_prod", "stripe", "stripe", "regular")
APP = Connection("postgres_app", "postgres", "app_db", "busy")


def source(schema: str, table: str) -> dict[str, Any]:
    return {
        "source_name": schema,
        "name": table,
        "schema": schema,
        "loader": "fivetran",
        "loaded_at_field": "_fivetran_synced",
    }


def model(name: str, *parents: str) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "name": name,
        "depends_on": {"nodes": list(parents)},
        "checksum": {"checksum": name},
        "config": {},
    }


MANIFEST = {
    "sources": {
        "source.p.stripe.charges": source("stripe", "charges"),
        "source.p.app_db.orders": source("app_db", "orders"),
    },
    "nodes": {
        "model.p.stg_charges": model("stg_charges", "source.p.stripe.charges"),
        "model.p.stg_orders": model("stg_orders", "source.p.app_db.orders"),
        "model.p.revenue": model("revenue", "model.p.stg_charges", "model.p.stg_orders"),
    },
    "parent_map": {
        "model.p.stg_charges": ["source.p.stripe.charges"],
        "model.p.stg_orders": ["source.p.app_db.orders"],
        "model.p.revenue": ["model.p.stg_charges", "model.p.stg_orders"],
    },
    "macros": {},
}

# Hour 0: nothing loads. Hour 1: stripe loads. Hour 2: app_db fails after committing rows. Hour 3: app_db
# succeeds and loads nothing (its models are still owed the failed hour's rows).
WEEK = [
    {"stripe_prod": Sync(0), "postgres_app": Sync(0)},
    {"stripe_prod": Sync(5), "postgres_app": Sync(0)},
    {"stripe_prod": Sync(0), "postgres_app": Sync(3, failed=True)},
    {"stripe_prod": Sync(0), "postgres_app": Sync(0)},
]


def test_new_data_builds_only_the_lineage_of_what_loaded_and_owes_a_failed_connections_rows():
    result = replay(MANIFEST, (STRIPE, APP), WEEK, "new_data")

    assert [h.built for h in result.hours] == [[], ["revenue", "stg_charges"], [], ["revenue", "stg_orders"]]
    assert [h.build_started for h in result.hours] == [False, True, True, True]
    assert result.hours[2].held_back == ["revenue", "stg_orders"]
    assert result.false_skips == 0 and result.models_built == 4 and result.builds_started == 3


def test_mode_all_builds_everything_but_a_failed_connections_lineage():
    result = replay(MANIFEST, (STRIPE, APP), WEEK, "all")

    assert [len(h.built) for h in result.hours] == [3, 3, 1, 3]
    assert result.false_skips == 0 and result.builds_started == 4


def test_a_weakened_rule_that_skips_what_changed_is_caught(monkeypatch: pytest.MonkeyPatch):
    real_rule = new_data_replay.select_new_data

    def skips_the_marts(*args: Any, **kwargs: Any) -> Any:
        selection = real_rule(*args, **kwargs)
        return replace(selection, nodes=selection.nodes - {"model.p.revenue"})

    monkeypatch.setattr(new_data_replay, "select_new_data", skips_the_marts)
    result = replay(MANIFEST, (STRIPE, APP), WEEK, "new_data")

    assert result.false_skips > 0
    assert result.hours[1].false_skips == ["revenue"]


def test_an_hour_the_real_run_built_otherwise_is_a_mismatch():
    def measured(hour: int, built: list[str], started: bool) -> HourResult:
        return HourResult(hour, 0, built, started, 1.0, 1.0, [], [])

    result = replay(
        MANIFEST,
        (STRIPE, APP),
        WEEK,
        "new_data",
        [
            measured(0, [], False),
            measured(1, ["stg_charges"], True),
            measured(3, ["revenue", "stg_orders"], True),
        ],
    )

    assert result.mismatches == [1]


def test_the_section_replays_every_hour_of_the_week_beside_the_measured_sample():
    from benchmarks.new_data_pattern import ModeResult
    from benchmarks.new_data_week import WeekResult
    from benchmarks.report.new_data_week import replay_section

    measured = [
        HourResult(0, 0, [], False, 1.0, 2.0, [], []),
        HourResult(1, 0, ["a"], True, 1.0, 4.0, [], []),
    ]
    week = WeekResult(2, 21, (STRIPE, APP), [], [ModeResult("new_data", measured)], 3, 1.0, manifest=MANIFEST)
    text = replay_section(week, hours=24)

    assert "over all 24 hours" in text
    assert "| runs (hourly) | 24 | 24 |" in text
    assert "| false skips (against the replayed warehouse) | 0 | 0 |" in text
