"""The scenario key ``runs``: several runs on one runtime, each with its own connections' changes,
input, start time and ``expect``; a scenario without it is one run, as before. Also how the simulator
plays a run's ``connectors`` (``FivetranSimulator.play_run``) and the demo summary of a run that
waited for another run's dbt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from local.demo import _summary
from local.fivetran_sim import FivetranSimulator
from local.scenario import Expectation, ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
STRIPE = {"id": "stripe_prod", "service": "stripe", "schema": "stripe", "sync": {"duration_s": 2, "rows": 7}}
HUBSPOT = {"id": "hubspot_crm", "service": "hubspot", "schema": "hubspot"}


def scenario(runs: Any, **extra: Any) -> Any:
    return parse_scenario({"connectors": [STRIPE, HUBSPOT], "runs": runs, **extra})


def test_a_scenario_without_runs_is_one_run_with_its_own_input_and_expect() -> None:
    one = parse_scenario({"connectors": [STRIPE], "input": {"on_sync_failure": "continue"}})

    assert one.runs == () and not one.multi_run
    assert one.execution_input() == {"group_id": "demo_group", "on_sync_failure": "continue"}


def test_each_run_has_its_start_its_input_merged_into_the_scenarios_and_its_expect() -> None:
    played = scenario(
        [
            {"start_s": 0},
            {
                "start_s": 0.5,
                "input": {"dbt": {"select": "stg_stripe__customers"}},
                "expect": {"status": "FAILED"},
            },
            {},
        ],
        input={"on_sync_failure": "continue", "dbt": {"command": "run"}},
        expect={"status": "SUCCEEDED", "dbt_ran": True},
    )

    assert played.multi_run
    assert [r.start_s for r in played.runs] == [0.0, 0.5, None]
    assert played.execution_input(played.runs[1]) == {
        "group_id": "demo_group",
        "on_sync_failure": "continue",
        "dbt": {"select": "stg_stripe__customers"},
    }
    assert played.runs[1].expect.status == "FAILED"
    assert played.runs[0].expect == played.runs[2].expect == Expectation(status="SUCCEEDED", dbt_ran=True)


def test_a_runs_connector_fields_replace_that_connections_own_whole_keys() -> None:
    played = scenario([{"connectors": {"stripe_prod": {"sync": {"rows": 0}, "paused": True}}}])

    spec = played.runs[0].connectors["stripe_prod"]
    assert (spec.sync.rows, spec.sync.duration_s, spec.paused) == (0, 1.0, True)  # duration_s: the default
    assert (spec.service, spec.schema) == ("stripe", "stripe")
    assert set(played.runs[0].connectors) == {"stripe_prod"}


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ([], "runs must be a non-empty list"),
        ({"start_s": 0}, "runs must be a non-empty list"),
        ([{"begin": 0}], "unknown key runs[0].begin"),
        ([{"start_s": -1}], "runs[0].start_s must not be negative"),
        ([{"start_s": "soon"}], "runs[0].start_s must be a number"),
        ([{"connectors": {"zendesk": {"sync": {}}}}], "runs[0].connectors.zendesk is not a connector"),
        (
            [{}, {"connectors": {"stripe_prod": {"schema": "x"}}}],
            "unknown key runs[1].connectors.stripe_prod.schema",
        ),
        (
            [{"connectors": {"stripe_prod": {"sync": {"rowz": 1}}}}],
            "unknown key runs[0].connectors.stripe_prod.sync.rowz",
        ),
        (
            [{"connectors": {"stripe_prod": {"sync": {"outcome": "maybe"}}}}],
            "runs[0].connectors.stripe_prod.sync.outcome",
        ),
        ([{"expect": {"status": "DONE"}}], "runs[0].expect.status must be"),
        (
            [{"expect": {"connectors": {"nope": "succeeded"}}}],
            "runs[0].expect.connectors.nope is not a connector",
        ),
    ],
)
def test_a_bad_run_is_an_error_naming_its_key(runs: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        scenario(runs)


def test_the_two_runs_scenario_starts_both_runs_at_the_zero_and_expects_both_to_succeed() -> None:
    played = load_scenario(ROOT / "local" / "scenarios" / "two_runs_one_dbt_at_a_time.yaml")

    assert [r.start_s for r in played.runs] == [0.0, 0.0]
    assert [(r.expect.status, r.expect.dbt_ran) for r in played.runs] == [("SUCCEEDED", True)] * 2


def test_the_simulator_plays_a_runs_changes_then_the_scenarios_own_entry_again(tmp_path: Path) -> None:
    played = scenario([{"connectors": {"stripe_prod": {"sync": {"rows": 0}, "paused": True}}}, {}])
    simulator = FivetranSimulator(
        played,
        api_key="k",
        api_secret="s",
        webhook_secret="w",
        webhook_url=None,
        duckdb_path=tmp_path / "w.db",
    )
    stripe = simulator.connections["stripe_prod"]
    hubspot_spec = simulator.connections["hubspot_crm"].spec

    simulator.play_run(played.runs[0].connectors)
    assert (stripe.spec.sync.rows, stripe.paused) == (0, True)
    assert simulator.connections["hubspot_crm"].spec is hubspot_spec

    simulator.play_run(played.runs[1].connectors)
    assert (stripe.spec.sync.rows, stripe.spec.sync.duration_s, stripe.paused) == (7, 2.0, False)


def test_the_demo_summary_says_whose_dbt_a_run_waited_for() -> None:
    holder = "arn:aws:states:us-east-1:123456789012:execution:fivetran-orchestrator-local:run-a"
    report = {
        "connectors": [],
        "skipped": [],
        "dbt": {
            "ran": True,
            "exit_code": 0,
            "exclude_sources": [],
            "summary": {"counts": {"pass": 3}},
            "transform_lease": {"waited_for": holder, "waited_s": 12},
        },
    }
    console = Console(record=True, width=200, color_system=None)

    console.print(_summary(report))

    assert "waited 12 s for run run-a's dbt" in console.export_text()


def test_a_sync_of_zero_rows_succeeds_and_loads_nothing(tmp_path: Path) -> None:
    """``sync: {rows: 0}``: what the simulator writes for such a sync (then it ends SUCCESSFUL)."""
    from local.warehouse.syncs import write_sync

    db = tmp_path / "w.duckdb"
    assert write_sync(db, schema="stripe", service="stripe", rows=3) > 0
    assert write_sync(db, schema="stripe", service="stripe", rows=0) == 0


def test_the_pace_setting_is_off_unless_a_scenario_turns_it_on_as_the_scale_scenarios_do() -> None:
    root = Path(__file__).resolve().parents[2] / "local" / "scenarios"
    scale = ("hundred_connections", "thousand_connections", "twenty_five_hundred_connections")

    assert [load_scenario(root / f"{name}.yaml").settings.get("pace") for name in scale] == [True] * 3
    assert "pace" not in load_scenario(root / "all_succeed.yaml").settings
    with pytest.raises(ScenarioError, match=r"settings\.pace must be true or false"):
        parse_scenario({"connectors": [STRIPE], "settings": {"pace": "yes"}})
