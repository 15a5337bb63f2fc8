"""DBT_VARS, DBT_FULL_REFRESH and DBT_STEPS in the entrypoint: vars travel as one ``--vars=<JSON>``
argument whatever they hold, ``--full-refresh`` goes only to the commands that take it, steps run in
order with their own selection and a failing step stops the rest; bad values are a config error (exit 2)
naming the variable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.dbt.test_dbt_entrypoint_units import ep, settings

VARS = '{"run_label": "nightly --target prod", "start_date": "2026-01-01"}'
STEPS = json.dumps(
    [
        {"command": "source freshness"},
        {"command": "build", "select": "tag:daily", "exclude": "stg_x"},
        {"command": "test", "select": "customer_360"},
    ]
)


class ScriptedDbt(ep.DbtProcess):  # type: ignore[misc,name-defined]
    """Records each dbt command line and answers the exit codes given, in order (0 once they run out)."""

    def __init__(self, *codes: int) -> None:
        super().__init__(0.0)
        self.codes = list(codes)
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], env: Mapping[str, str]) -> int:
        self.calls.append(list(argv))
        return self.codes.pop(0) if self.codes else 0


def test_vars_are_one_argument_whatever_they_hold() -> None:
    args = ep.dbt_args(settings(DBT_COMMAND="run", DBT_VARS=VARS))

    (given,) = [a for a in args if a.startswith("--vars")]
    assert json.loads(given.removeprefix("--vars=")) == json.loads(VARS)
    # The text inside the var is data: no argument of its own.
    assert "--target" in args and args[args.index("--target") + 1] == "duckdb"
    assert "prod" not in args and "--full-refresh" not in args


@pytest.mark.parametrize(
    ("command", "flagged"), [("build", True), ("run", True), ("seed", True), ("test", False)]
)
def test_full_refresh_goes_only_to_the_commands_that_take_it(command: str, flagged: bool) -> None:
    args = ep.dbt_args(settings(DBT_COMMAND=command, DBT_FULL_REFRESH="true"))
    assert ("--full-refresh" in args) is flagged


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DBT_VARS": "[1, 2]"}, "DBT_VARS"),
        ({"DBT_VARS": "{not json"}, "DBT_VARS"),
        ({"DBT_FULL_REFRESH": "yes"}, "DBT_FULL_REFRESH"),
        ({"DBT_FULL_REFRESH": "true", "DBT_MODE": "new_data"}, "DBT_FULL_REFRESH"),
        ({"DBT_STEPS": '[{"command": "run-operation"}]'}, "DBT_STEPS[0].command"),
        ({"DBT_STEPS": '[{"command": "run", "select": "--empty"}]'}, "DBT_STEPS[0].select"),
        ({"DBT_STEPS": '[{"command": "run", "flags": "x"}]'}, "DBT_STEPS[0]"),
        ({"DBT_STEPS": '[{"command": "run"}]', "DBT_SELECT": "a"}, "DBT_SELECT"),
        ({"DBT_STEPS": '[{"command": "run"}]', "DBT_COMMAND": "build"}, "DBT_COMMAND"),
    ],
)
def test_a_bad_option_is_a_config_error_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ep.ConfigError, match=named.replace("[", r"\[")):
        settings(**env)


def test_steps_run_in_order_each_with_its_selection_and_the_run_s_exclusions(tmp_path: Path) -> None:
    s = settings(
        DBT_STEPS=STEPS,
        DBT_COMMAND="source freshness then build then test",
        DBT_EXCLUDE_SOURCES='["zendesk"]',
        DBT_VARS=VARS,
        DBT_TARGET_PATH=str(tmp_path / "target"),
    )
    dbt = ScriptedDbt()

    outcome = ep.execute(s, {}, dbt)

    assert outcome.exit_code == 0
    assert [call[:2] for call in dbt.calls] == [
        ["source", "freshness"],
        ["build", "--project-dir"],
        ["test", "--project-dir"],
    ]
    build = dbt.calls[1]
    assert [a for a in build if a.startswith(("--select", "--exclude"))] == [
        "--select=tag:daily",
        "--exclude=stg_x",
        "--exclude=source:zendesk+",
    ]
    assert all(any(a.startswith("--vars=") for a in call) for call in dbt.calls)
    assert [(step["command"], step["exit_code"]) for step in outcome.steps] == [
        ("source freshness", 0),
        ("build", 0),
        ("test", 0),
    ]


def test_a_failing_step_stops_the_rest_and_its_exit_code_is_the_run_s(tmp_path: Path) -> None:
    s = settings(DBT_STEPS=STEPS, DBT_TARGET_PATH=str(tmp_path / "target"))
    dbt = ScriptedDbt(0, 1)

    outcome = ep.execute(s, {}, dbt)

    assert outcome.exit_code == 1
    assert len(dbt.calls) == 2  # source freshness, then the build that failed; the test never ran
    assert [step["exit_code"] for step in outcome.steps] == [0, 1, None]


def test_without_steps_the_summary_has_no_steps_and_says_vars_and_full_refresh(tmp_path: Path) -> None:
    s = settings(DBT_VARS=VARS, DBT_FULL_REFRESH="true", DBT_TARGET_PATH=str(tmp_path / "target"))
    outcome = ep.execute(s, {}, ScriptedDbt())

    summary = json.loads(ep.summary_line(s, outcome, 0.0, {}))

    assert "steps" not in summary
    assert summary["vars"] == json.loads(VARS) and summary["full_refresh"] is True
    assert summary["command"] == "build"
