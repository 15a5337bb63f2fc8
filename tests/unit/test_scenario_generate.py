"""The scenario key ``generate``: connections made by rule (ids, services, schemas, sync lengths),
deterministic for a seed, and each bad value an error naming ``generate.<key>``."""

from __future__ import annotations

from typing import Any

import pytest

from local.scenario import ScenarioError, parse_scenario


def generated(**generate: Any) -> list[Any]:
    return list(parse_scenario({"generate": generate}).connectors)


def test_ids_are_the_service_and_the_index_padded_to_the_width_of_the_count() -> None:
    made = generated(count=2500, services=["stripe", "hubspot", "marketo"])
    assert len(made) == 2500
    assert [c.id for c in made[:4]] == ["stripe_0000", "hubspot_0001", "marketo_0002", "stripe_0003"]
    assert made[-1].id == "stripe_2499"
    assert [c.service for c in made[:3]] == ["stripe", "hubspot", "marketo"]
    assert all(c.schema == c.id for c in made)
    assert [c.id for c in generated(count=10, services=["zendesk"])][-1] == "zendesk_9"
    assert len({c.id for c in made}) == 2500


def test_defaults_are_the_five_demo_services_one_second_and_fifty_rows() -> None:
    made = generated(count=5)
    assert [c.id for c in made] == ["stripe_0", "hubspot_1", "salesforce_2", "postgres_3", "zendesk_4"]
    assert {(c.sync.duration_s, c.sync.rows, c.sync.outcome) for c in made} == {(1.0, 50, "success")}
    assert not any(c.paused or c.webhook.drop or c.api.trigger_status for c in made)


def test_a_fixed_duration_and_rows_apply_to_every_connection() -> None:
    made = generated(count=20, duration_s=5, rows=3)
    assert {(c.sync.duration_s, c.sync.rows) for c in made} == {(5.0, 3)}


def test_a_duration_range_is_drawn_per_connection_the_same_for_the_same_seed() -> None:
    first = [c.sync.duration_s for c in generated(count=200, duration_s=[4, 6], seed=1)]
    again = [c.sync.duration_s for c in generated(count=200, duration_s=[4, 6], seed=1)]
    other = [c.sync.duration_s for c in generated(count=200, duration_s=[4, 6], seed=2)]
    assert first == again
    assert first != other
    assert all(4 <= d <= 6 for d in first)
    assert len(set(first)) > 50
    assert all(round(d, 3) == d for d in first)


def test_generated_connections_come_after_the_listed_ones() -> None:
    scenario = parse_scenario(
        {"connectors": [{"id": "special", "sync": {"outcome": "failure"}}], "generate": {"count": 3}}
    )
    assert [c.id for c in scenario.connectors] == ["special", "stripe_0", "hubspot_1", "salesforce_2"]


def test_an_id_a_listed_connection_already_has_is_a_duplicate() -> None:
    with pytest.raises(ScenarioError, match=r"unique \(duplicate: \['stripe_0'\]\)"):
        parse_scenario({"connectors": [{"id": "stripe_0"}], "generate": {"count": 2}})


def test_no_connectors_and_no_generate_is_still_an_error() -> None:
    with pytest.raises(ScenarioError, match="connectors must be a non-empty list"):
        parse_scenario({"expect": {"status": "SUCCEEDED"}})


@pytest.mark.parametrize(
    ("generate", "message"),
    [
        ({}, "generate.count must be a whole number from 1 to 100000"),
        ({"count": 0}, "generate.count must be a whole number from 1 to 100000"),
        ({"count": 100_001}, "generate.count must be a whole number from 1 to 100000"),
        ({"count": "10"}, "generate.count must be a whole number"),
        ({"count": True}, "generate.count must be a whole number"),
        ({"count": 2, "services": []}, "generate.services must be a non-empty list"),
        ({"count": 2, "services": "stripe"}, "generate.services must be a non-empty list"),
        ({"count": 2, "services": ["stripe", "bad-name"]}, "generate.services: 'bad-name' is not a service"),
        ({"count": 2, "services": [3]}, "generate.services: 3 is not a service"),
        ({"count": 2, "duration_s": -1}, "generate.duration_s must not be negative"),
        ({"count": 2, "duration_s": "5"}, "generate.duration_s must be a number"),
        ({"count": 2, "duration_s": [6, 4]}, r"generate.duration_s \[min, max\] needs min <= max"),
        ({"count": 2, "duration_s": [1, 2, 3]}, r"generate.duration_s must be a number or \[min, max\]"),
        ({"count": 2, "duration_s": [-1, 2]}, "generate.duration_s must not be negative"),
        ({"count": 2, "rows": -1}, "generate.rows must be a whole number >= 0"),
        ({"count": 2, "rows": 1.5}, "generate.rows must be a whole number >= 0"),
        ({"count": 2, "seed": "x"}, "generate.seed must be a whole number"),
        ({"count": 2, "outcome": "failure"}, "unknown key generate.outcome"),
    ],
)
def test_bad_values_are_errors_naming_the_key(generate: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"generate": generate})


def test_generate_must_be_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="generate must be a mapping"):
        parse_scenario({"generate": [1, 2]})


def test_the_scale_scenarios_parse() -> None:
    from pathlib import Path

    from local.scenario import load_scenario

    root = Path(__file__).resolve().parents[2] / "local" / "scenarios"
    big = load_scenario(root / "twenty_five_hundred_connections.yaml")
    assert len(big.connectors) == 2500 and big.settings["timeout_s"] >= 900
    assert all(4 <= c.sync.duration_s <= 6 for c in big.connectors)
    hundred = load_scenario(root / "hundred_connections.yaml")
    assert len(hundred.connectors) == 100 and hundred.settings == {"pace": True}
    assert {c.sync.duration_s for c in hundred.connectors} == {5.0}
    thousand = load_scenario(root / "thousand_connections.yaml")
    # every orchestrator setting at the stack's default (no budget or concurrency key at all); moto's pace on
    assert len(thousand.connectors) == 1000
    assert set(thousand.settings) == {
        "pace",
        "heartbeat_seconds",
        "reconcile_after_s",
        "reconcile_interval_s",
        "timeout_s",
    }
    assert thousand.settings["heartbeat_seconds"] == 900 and thousand.settings["reconcile_after_s"] == 240
    assert all(5 <= c.sync.duration_s <= 20 for c in thousand.connectors)
    assert thousand.expect.max_deferrals == 0
    assert "triggers_per_minute" not in big.settings and big.expect.max_deferrals_per_connection == 1
