"""The RunDbt ECS overrides stay within 8,192 characters for any run the first state accepts: the
overrides are built as the state machine builds them, with the run's dbt text at the bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.platform.errors import InvalidInput
from chalicelib.run.dbt_overrides import (
    OVERRIDES_MAX_CHARS,
    DbtText,
    dbt_text_budget,
    overrides_chars,
    run_dbt_overrides,
    worst_case_overrides,
)
from chalicelib.run.run_input import parse_run_input

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "orchestrator.asl.json"


def _selection(chars: int) -> str:
    """A valid selection of exactly ``chars`` characters: model names joined by spaces."""
    words, size = [], -1
    while size + 16 <= chars:
        words.append(f"stg_model_{len(words):05d}")
        size += 16
    text = " ".join(words)
    return text + "x" * (chars - len(text)) if words else "x" * chars


def test_the_overrides_are_those_the_state_machine_sends_to_ecs() -> None:
    asl = json.loads(ASL.read_text())["States"]["RunDbt"]["Parameters"]["Overrides"]
    ours = run_dbt_overrides("build", DbtText("s", "e"), "uri", "run")

    (asl_container,) = asl["ContainerOverrides"]
    (our_container,) = ours["ContainerOverrides"]
    assert asl_container["Name"] == our_container["Name"] == "dbt"
    assert [e["Name"] for e in asl_container["Environment"]] == [
        e["Name"] for e in our_container["Environment"]
    ]
    assert [next(iter(k for k in e if k.startswith("Value"))) for e in asl_container["Environment"]] == [
        "Value.$"
    ] * len(asl_container["Environment"])
    values = {e["Name"]: e["Value.$"] for e in asl_container["Environment"]}
    assert values == {
        "DBT_COMMAND": "$.options.dbt.command",
        "DBT_SELECT": "$.options.dbt.select",
        "DBT_EXCLUDE": "$.options.dbt.exclude",
        "DBT_MODE": "$.options.dbt.mode",
        "DBT_VARS": "$.options.dbt.vars",
        "DBT_FULL_REFRESH": "$.options.dbt.full_refresh",
        "DBT_STEPS": "$.options.dbt.steps",
        "DBT_EXCLUDE_SOURCES_URI": "$.exclude_sources_uri",
        "RUN_ID": "$$.Execution.Name",
    }


def test_dbt_text_at_the_bound_keeps_the_longest_overrides_within_8192_characters() -> None:
    budget = dbt_text_budget()
    select = _selection(budget // 2)
    exclude = _selection(budget - len(select))
    assert len(select) + len(exclude) == budget

    options = parse_run_input({"group_id": "g", "dbt": {"select": select, "exclude": exclude}})

    overrides = worst_case_overrides(DbtText(options.dbt.select, options.dbt.exclude))
    assert overrides_chars(overrides) <= OVERRIDES_MAX_CHARS
    # The same overrides as ECS receives them (camelCase keys, compact JSON) are shorter still.
    assert len(json.dumps(overrides, separators=(",", ":"))) <= OVERRIDES_MAX_CHARS


def test_one_character_past_the_bound_is_refused_naming_both_fields() -> None:
    budget = dbt_text_budget()
    select = _selection(budget // 2)
    exclude = _selection(budget - len(select) + 1)
    assert overrides_chars(worst_case_overrides(DbtText(select, exclude))) > OVERRIDES_MAX_CHARS

    with pytest.raises(InvalidInput) as refused:
        parse_run_input({"group_id": "g", "dbt": {"select": select, "exclude": exclude}})

    message = str(refused.value)
    assert "'dbt.select'" in message and "'dbt.exclude'" in message
    assert f"at most {budget:,} fit" in message


def test_a_9500_character_selection_is_refused_naming_dbt_select() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_run_input({"group_id": "g", "dbt": {"select": _selection(9_500)}})
    assert "'dbt.select' takes 9,500 characters" in str(refused.value)


def test_the_budget_leaves_room_for_the_longest_values_the_run_input_does_not_choose() -> None:
    assert 7_000 < dbt_text_budget() < OVERRIDES_MAX_CHARS - 80 - 63
