"""The scenario key ``expect.connections_without_dbt_source``: exactly the connections the dbt task warns
have no dbt source, read from the report's ``dbt.source_contract_warnings``; absent, nothing is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.report import _built_problems
from local.scenario import Expectation, ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
ADS = {"id": "ads_conn", "service": "facebook_ads", "schema": "facebook_ads"}
STRIPE = {"id": "stripe_prod", "service": "stripe", "schema": "stripe"}
WARNING = (
    "connection ads_conn has no dbt source (name a source after its schema, or give one "
    "meta.fivetran_connection: ads_conn): nothing in dbt depends on it"
)


def expect(**keys: object) -> Expectation:
    return parse_scenario({"connectors": [ADS, STRIPE], "expect": keys}).expect


def test_the_warned_connections_must_be_exactly_the_expected_ones() -> None:
    wanted = expect(connections_without_dbt_source=["ads_conn"])

    assert _built_problems({"source_contract_warnings": [WARNING]}, wanted) == []
    assert _built_problems({"source_contract_warnings": []}, wanted) == [
        "dbt warned of connections without a dbt source [] (expected ['ads_conn'])"
    ]
    none = expect(connections_without_dbt_source=[])
    assert _built_problems({"source_contract_warnings": [WARNING]}, none) == [
        "dbt warned of connections without a dbt source ['ads_conn'] (expected [])"
    ]
    assert _built_problems({"source_contract_warnings": [WARNING]}, expect()) == []  # not checked


def test_only_this_scenarios_connections_may_be_named() -> None:
    with pytest.raises(ScenarioError, match="connections_without_dbt_source must be a list of this scenario"):
        expect(connections_without_dbt_source=["nobody"])


def test_the_shipped_scenario_expects_the_facebook_ads_connection_to_be_warned() -> None:
    played = load_scenario(ROOT / "local" / "scenarios" / "connection_without_dbt_source.yaml")
    assert played.expect.connections_without_dbt_source == ("ads_conn",)
