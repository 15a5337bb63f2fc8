"""The entrypoint re-checks the selection and passes every selector as its own --select=/--exclude=
argument (never a bare token dbt could read as an option), and a selector of DBT_SELECT that matches no
node fails the run naming it (dbt's NoNodesForSelectionCriteria, read from its JSON log file)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from tests.dbt.support import Run, run_entrypoint
from tests.dbt.test_dbt_entrypoint_units import ep, settings

selection = importlib.import_module("task.selection")  # the entrypoint's folder is on sys.path once loaded


@pytest.fixture(scope="module")
def typo_run(dbt_python: Path, seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`dbt run` of one model and one typo'd model, with an exclusion of a source the project lacks."""
    return run_entrypoint(
        dbt_python,
        tmp_path_factory.mktemp("typo"),
        DUCKDB_PATH=str(seeded_db),
        RUN_ID="run-typo",
        DBT_COMMAND="run",
        DBT_SELECT="stg_stripe__charges stg_stripe__custmers",
        DBT_EXCLUDE_SOURCES='["marketo"]',
    )


def test_each_selector_is_its_own_option_value() -> None:
    s = settings(DBT_SELECT="tag:a  source:b+", DBT_EXCLUDE="c", DBT_EXCLUDE_SOURCES='["zendesk"]')
    args = ep.dbt_args(s)
    assert [a for a in args if a.startswith(("--select", "--exclude"))] == [
        "--select=tag:a",
        "--select=source:b+",
        "--exclude=c",
        "--exclude=source:zendesk+",
    ]
    assert args[args.index("--log-format-file") + 1] == "json"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DBT_SELECT", "stg_stripe__customers --empty"),
        ("DBT_SELECT", "--full-refresh"),
        ("DBT_SELECT", "a,-b"),
        ("DBT_EXCLUDE", "x --target prod"),
        ("DBT_SELECT", "a;b"),
        ("DBT_SELECT", "a=b"),
    ],
)
def test_a_token_that_is_not_a_selector_is_a_config_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ep.ConfigError) as refused:
        settings(**{name: value})
    assert str(refused.value).startswith(f"{name} holds ")


def test_only_selectors_of_the_selection_reported_as_matching_nothing_are_named(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    events = [
        {
            "info": {"name": "NoNodesForSelectionCriteria", "msg": "..."},
            "data": {"spec_raw": "source:marketo+"},
        },
        {"info": {"name": "NoNodesForSelectionCriteria", "msg": "..."}, "data": {"spec_raw": "b_typo"}},
        {
            "info": {"name": "MainReportVersion", "msg": "NoNodesForSelectionCriteria"},
            "data": {"spec_raw": "a"},
        },
    ]
    log.write_text("\n".join(json.dumps(e) for e in events) + "\nnot json NoNodesForSelectionCriteria\n")

    assert selection.unmatched_selectors(log, "a b_typo c") == ["b_typo"]
    assert selection.unmatched_selectors(log, "") == []
    assert selection.unmatched_selectors(tmp_path / "missing.log", "b_typo") == []


def test_a_selector_matching_no_node_fails_the_run_naming_it(typo_run: Run) -> None:
    assert typo_run.returncode == ep.NO_NODES_EXIT == 1, typo_run.explain()
    summary = typo_run.summary
    assert summary["unmatched_selectors"] == ["stg_stripe__custmers"]
    assert summary["selection_problem"] == "the selection matches no node: stg_stripe__custmers"
    assert typo_run.nodes() == {"model.orchestrator.stg_stripe__charges"}  # the rest was built
    (event,) = typo_run.events("selection_matches_no_node")
    assert event["selectors"] == ["stg_stripe__custmers"]


def test_a_flag_in_the_selection_never_reaches_dbt(dbt_python: Path, seeded_db: Path, tmp_path: Path) -> None:
    run = run_entrypoint(
        dbt_python,
        tmp_path,
        DUCKDB_PATH=str(seeded_db),
        DBT_COMMAND="run",
        DBT_SELECT="stg_stripe__customers --empty",
    )
    assert run.returncode == ep.CONFIG_ERROR, run.explain()
    (error,) = run.events("config_error")
    assert "'--empty'" in error["error"]
    assert not run.events("dbt_started")
