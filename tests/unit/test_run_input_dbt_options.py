"""The run input's dbt options beyond one command (dbt.vars, dbt.full_refresh, dbt.steps) and several
groups (group_ids): normalised to the text the RunDbt task's environment takes, refused naming the field,
and within the ECS overrides budget."""

from __future__ import annotations

import json

import pytest

from chalicelib.platform.errors import InvalidInput
from chalicelib.run.dbt_input import MAX_STEPS
from chalicelib.run.dbt_overrides import (
    OVERRIDES_MAX_CHARS,
    DbtText,
    dbt_text_budget,
    overrides_chars,
    worst_case_overrides,
)
from chalicelib.run.run_input import MAX_GROUPS_PER_RUN, parse_run_input


def dbt(**fields: object) -> dict:
    return parse_run_input({"group_id": "g", "dbt": fields}).to_dict()["dbt"]


def refused(raw: dict) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_run_input(raw)
    return str(caught.value)


def test_vars_travel_as_one_compact_json_object() -> None:
    options = dbt(vars={"start_date": "2026-01-01", "label": "--full-refresh", "n": [1, 2]})
    assert json.loads(options["vars"]) == {"start_date": "2026-01-01", "label": "--full-refresh", "n": [1, 2]}
    assert " " not in options["vars"]
    assert dbt(vars={})["vars"] == "" and dbt()["vars"] == ""


@pytest.mark.parametrize("value", ["--full-refresh", ["a"], 3, True])
def test_vars_that_are_not_an_object_are_refused_naming_dbt_vars(value: object) -> None:
    assert "'dbt.vars' must be an object" in refused({"group_id": "g", "dbt": {"vars": value}})


def test_full_refresh_is_true_or_false_text_and_implies_mode_all() -> None:
    assert dbt()["full_refresh"] == "false"
    options = dbt(full_refresh=True)
    assert (options["full_refresh"], options["mode"]) == ("true", "all")


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_a_full_refresh_that_is_not_a_boolean_is_refused_naming_it(value: object) -> None:
    assert "'dbt.full_refresh' must be true or false" in refused(
        {"group_id": "g", "dbt": {"full_refresh": value}}
    )


def test_a_full_refresh_with_mode_new_data_is_refused_naming_both() -> None:
    message = refused({"group_id": "g", "dbt": {"full_refresh": True, "mode": "new_data"}})
    assert "'dbt.full_refresh'" in message and "'dbt.mode'" in message


def test_a_full_refresh_needs_a_command_that_takes_it() -> None:
    message = refused({"group_id": "g", "dbt": {"full_refresh": True, "command": "test"}})
    assert "'dbt.full_refresh' applies to build, run, seed" in message
    steps = [{"command": "source freshness"}, {"command": "seed"}]
    assert dbt(full_refresh=True, steps=steps)["full_refresh"] == "true"


def test_steps_keep_their_order_and_selection_and_name_the_run_s_command() -> None:
    options = dbt(
        steps=[
            {"command": " source  freshness "},
            {"command": "build", "select": " tag:daily ", "exclude": "stg_x"},
        ],
        exclude="tag:slow",
    )
    assert json.loads(options["steps"]) == [
        {"command": "source freshness", "select": "", "exclude": ""},
        {"command": "build", "select": "tag:daily", "exclude": "stg_x"},
    ]
    assert options["command"] == "source freshness then build"
    assert options["exclude"] == "tag:slow" and options["select"] == ""


@pytest.mark.parametrize(
    ("steps", "named"),
    [
        ([], "'dbt.steps' must be a non-empty list"),
        ("build", "'dbt.steps' must be a non-empty list"),
        ([{"command": "build"}] * (MAX_STEPS + 1), f"at most {MAX_STEPS}"),
        (["build"], "'dbt.steps[0]' must be an object"),
        ([{"command": "build"}, {"command": "run-operation"}], "'dbt.steps[1].command' must be one of"),
        ([{"command": "build", "select": "a --empty"}], "'dbt.steps[0].select' is not a dbt node selection"),
        ([{"command": "build", "exclude": 3}], "'dbt.steps[0].exclude' must be a string"),
        ([{"command": "build", "vars": {}}], "unknown key(s) dbt.steps[0].vars"),
    ],
)
def test_a_bad_step_is_refused_naming_it(steps: object, named: str) -> None:
    assert named in refused({"group_id": "g", "dbt": {"steps": steps}})


@pytest.mark.parametrize("key", ["command", "select"])
def test_steps_beside_a_command_or_a_selection_are_refused(key: str) -> None:
    message = refused({"group_id": "g", "dbt": {key: "build", "steps": [{"command": "run"}]}})
    assert f"give 'dbt.{key}' or 'dbt.steps', not both" in message


def test_vars_and_steps_count_in_the_overrides_budget_naming_the_fields() -> None:
    big = {"ids": ["x" * 50] * (dbt_text_budget() // 50)}
    message = refused({"group_id": "g", "dbt": {"vars": big}})
    assert "'dbt.vars' takes" in message and "8,192 characters" in message
    steps = [{"command": "build", "select": f"tag:t{i:04d} " * 80} for i in range(MAX_STEPS)]
    message = refused({"group_id": "g", "dbt": {"steps": steps, "vars": {"a": "b" * 500}}})
    assert "'dbt.vars'" in message and "'dbt.steps'" in message


def test_the_longest_accepted_steps_and_vars_keep_the_overrides_within_8192_characters() -> None:
    options = parse_run_input(
        {
            "group_id": "g",
            "dbt": {
                "vars": {"k": "v" * 3_000},
                "steps": [{"command": "source freshness", "select": "a" * 350}] * MAX_STEPS,
            },
        }
    ).dbt
    text = DbtText(vars=options.vars, steps=options.steps, command=options.command)
    assert overrides_chars(worst_case_overrides(text)) <= OVERRIDES_MAX_CHARS


def test_group_ids_name_every_group_of_the_run() -> None:
    options = parse_run_input({"group_ids": ["sales", " finance ", "sales"]})
    assert options.group_ids == ("sales", "finance")
    assert options.group_id is None and options.connector_ids == ()
    assert options.to_dict()["group_ids"] == ["sales", "finance"]


def test_one_group_in_group_ids_is_the_run_of_group_id() -> None:
    assert (
        parse_run_input({"group_ids": ["sales"]}).to_dict()
        == parse_run_input({"group_id": "sales"}).to_dict()
    )


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"group_ids": ["a"], "group_id": "b"}, "give either 'group_ids' or 'group_id', not both"),
        (
            {"group_ids": ["a"], "connector_ids": ["c"]},
            "give either 'group_ids' or 'connector_ids', not both",
        ),
        ({"group_ids": []}, "'group_ids' must be a non-empty list"),
        ({"group_ids": "sales"}, "'group_ids' must be a non-empty list"),
        ({"group_ids": ["a", ""]}, "'group_ids' must be a non-empty list"),
        ({"group_ids": [f"g{i}" for i in range(MAX_GROUPS_PER_RUN + 1)]}, f"at most {MAX_GROUPS_PER_RUN}"),
    ],
)
def test_bad_group_ids_are_refused_naming_the_field(raw: dict, named: str) -> None:
    assert named in refused(raw)
