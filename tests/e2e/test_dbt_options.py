"""The run input's dbt options (issue 27) through the local runtime, from the execution input to dbt:
``dbt.vars`` and ``dbt.full_refresh`` reach each step's dbt command (dbt's own ``run_results.json`` says
so), ``dbt.steps`` run in order, a failing step stops the rest, and the stand-in keeps the same contract.
Each play with the real dbt also makes every scenario's checks (tests/e2e/test_scenarios.py leaves these
two scenarios to this file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.report import build_report
from local.runtime import LocalRuntime
from local.scenario import load_scenario
from tests.e2e.scenario_checks import assert_ended_as_it_expects

pytestmark = pytest.mark.e2e

SCENARIOS = Path(__file__).resolve().parents[2] / "local" / "scenarios"
VARS = {"run_label": "nightly --target prod", "start_date": "2026-01-01"}


def _play(name: str, dbt: str, workdir: Path) -> tuple[dict[str, Any], list[Any]]:
    """The run's report and, for each step that succeeded, the run_results.json kept beside the artifacts.
    A play with the real dbt passed every scenario's checks (the stand-in does not select as dbt does, so
    the scenario's ``dbt_built`` is not its to meet)."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    with LocalRuntime(scenario, workdir=workdir, dbt=dbt) as runtime:
        result = runtime.run()
        report = build_report(runtime, result)
        if dbt == "real":
            assert_ended_as_it_expects(scenario, runtime, result, report)
        summary = report["dbt"]["summary"] or {}
        results = []
        for number, step in enumerate(summary.get("steps") or [], start=1):
            if step["exit_code"] == 0:  # a step dbt refused (exit 2) leaves no results
                body = runtime.read_s3_uri(f"{summary['artifacts']}run_results.step-{number}.json")
                results.append(json.loads(body or b"null"))
    return report, results


def test_vars_and_full_refresh_reach_dbt_in_each_step_run_in_order(tmp_path: Path) -> None:
    report, (first, second) = _play("dbt_vars_full_refresh_steps", "real", tmp_path)

    assert report["execution"]["status"] == "SUCCEEDED", report["execution"]
    summary = report["dbt"]["summary"]
    assert [(s["command"], s["select"], s["exit_code"]) for s in summary["steps"]] == [
        ("run", "stg_stripe__customers", 0),
        ("build", "stg_stripe__charges", 0),
    ]
    assert summary["command"] == "run then build"
    assert summary["vars"] == VARS and summary["full_refresh"] is True
    # dbt's own record of each command: the vars whole (their text never became an option) and the
    # full refresh.
    assert first["args"]["which"] == "run" and second["args"]["which"] == "build"
    for results in (first, second):
        assert results["args"]["vars"] == VARS
        assert results["args"]["full_refresh"] is True
        assert results["args"]["target"] == "duckdb"


def test_a_failing_step_stops_the_rest_and_fails_the_run(tmp_path: Path) -> None:
    report, _ = _play("dbt_step_fails_stops_the_rest", "real", tmp_path)

    assert report["execution"]["error"] == "Orchestrator.DbtFailed"
    steps = report["dbt"]["summary"]["steps"]
    assert [(s["command"], s["exit_code"]) for s in steps] == [("run", 2), ("build", None)]
    assert report["dbt"]["models_built"] == []


def test_the_stand_in_gives_the_same_steps_vars_and_full_refresh(tmp_path: Path) -> None:
    report, (first, second) = _play("dbt_vars_full_refresh_steps", "stand-in", tmp_path)

    assert report["execution"]["status"] == "SUCCEEDED", report["execution"]
    summary = report["dbt"]["summary"]
    assert [(s["command"], s["exit_code"]) for s in summary["steps"]] == [("run", 0), ("build", 0)]
    assert summary["vars"] == VARS and summary["full_refresh"] is True
    # The stand-in records the command line the entrypoint gave it: the vars are one argument.
    for results, command in ((first, "run"), (second, "build")):
        args = results["args"]
        assert args[0] == command and "--full-refresh" in args
        assert [json.loads(a.removeprefix("--vars=")) for a in args if a.startswith("--vars")] == [VARS]
