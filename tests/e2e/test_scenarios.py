"""Every scenario in local/scenarios/, played end to end in the local runtime.

Real state machine (moto), real handlers (in-process and behind ``chalice local``),
the Fivetran simulator posting signed webhooks, dbt on DuckDB. Each test asserts the
run report: final status, each connection's outcome, whether dbt ran and its exit
code, no token left behind, webhooks rejected only where the scenario says so.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from local.report import build_report, run_problems
from local.runs import play_runs
from local.runtime import LocalRuntime
from local.scenario import Scenario, load_scenario
from tests.e2e.scenario_checks import assert_ended_as_it_expects

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "local" / "scenarios").glob("*.yaml"))
# Runs of hundreds or thousands of connections take minutes: `make test` leaves them out (each says so in
# its description). RUN_SCALE_SCENARIOS=1 plays them too, e.g.
# `RUN_SCALE_SCENARIOS=1 pytest tests/e2e/test_scenarios.py -k hundred_connections`.
SCALE_SCENARIOS = {"hundred_connections", "thousand_connections", "twenty_five_hundred_connections"}
RUN_SCALE = os.environ.get("RUN_SCALE_SCENARIOS") == "1"
# Scenarios whose subject is dbt (it fails, runs the steps a selection names, builds by new data, or runs
# without the sources of `schema.table` connections that failed) run the real dbt; the others the
# stand-in (local/dbt_standin.py: the same entrypoint, exit code, artifacts and summary, without dbt's
# seconds of CPU). all_succeed and one_fails_policy_continue play the stand-in: a whole build on the
# landed rows, and one without a failed connection's source, are what `python -m local demo` runs with
# the real dbt (tests/e2e/test_demo_command.py) and tests/dbt checks node by node;
# connection_without_dbt_source's warning is the entrypoint's (its source contract), which the stand-in
# runs as it is; two_runs_one_dbt_at_a_time is about the transform lease, which holds the stand-in's
# build as it holds dbt's (the second run still waits: both runs reach the lease at the same sync end).
REAL_DBT = {
    "dbt_fails",
    "new_data_mode_all",
    "new_data_stripe_only",
    "schema_table_name",
    "selector_matches_nothing",
    "sheets_connection_fails_continue",
}

pytestmark = pytest.mark.e2e

# What AWS bills these runs, counted by hand from the definition (the report measures it).
SUCCESS_PATH = [  # the parent's states on a run whose syncs and dbt all succeed
    "ListConnectors",
    "ListingRateLimited",
    "AnythingToSync",
    "SyncConnectors",
    "CollectOutcomes",
    "ApplyFailurePolicy",
    "AllSyncsSucceeded",
    "TakeTransformLease",
    "TransformLeaseTaken",
    "RunDbt",
    "DbtExitedCleanly",
    "ReadDbtBuildSummary",
    "ReleaseTransformLease",
    "DidDbtFail",
    "BuildRunReport",
    "Succeeded",
]
SYNCED = ["(child start)", "StartSyncAndWait", "WasRescheduled", "RecordSucceeded"]
DEFERRED = [
    "(child start)",
    *["StartSyncAndWait", "WasRescheduled", "LogRateLimit", "RateLimitedBeforeDeadline", "WaitForRateLimit"],
    "TriggerAgain",
    *["StartSyncAndWait", "WasRescheduled", "RecordSucceeded"],
]


def hand_count(connections: int, deferred: int) -> dict[str, Any]:
    """A run whose syncs and dbt all succeed, ``deferred`` of its triggers waiting once for the budget."""
    children = (connections - deferred) * len(SYNCED) + deferred * len(DEFERRED)
    return {
        "state_transitions": {
            "parent": len(SUCCESS_PATH),
            "children": children,
            "total": len(SUCCESS_PATH) + children,
        },
        "lambda_invocations": {
            "list_connectors": 1,
            "start_sync": connections + deferred,
            "collect_outcomes": 1,
        },
    }


HAND_COUNTED = {"api_budget_defers", "all_succeed"}


def _param(path: Path) -> object:
    marks = [pytest.mark.timeout(3600)] if path.stem in SCALE_SCENARIOS else []
    return pytest.param(path, id=path.stem, marks=marks)


# Scenarios another test plays with the real dbt, making these tests' checks and its own (what reached
# dbt): played there only, since a real dbt task costs seconds of CPU.
PLAYED_ELSEWHERE = {
    "dbt_step_fails_stops_the_rest": "tests/e2e/test_dbt_options.py",
    "dbt_vars_full_refresh_steps": "tests/e2e/test_dbt_options.py",
}
# Not collected (rather than skipped) unless asked for: `make test` reports only what it ran.
PLAYED = [
    p for p in SCENARIOS if (RUN_SCALE or p.stem not in SCALE_SCENARIOS) and p.stem not in PLAYED_ELSEWHERE
]


MULTI_RUN = [p for p in PLAYED if load_scenario(p).multi_run]


@pytest.mark.parametrize("path", [_param(p) for p in MULTI_RUN])
def test_multi_run_scenario_ends_as_each_run_expects_and_no_two_dbt_builds_overlap(
    path: Path, tmp_path: Path
) -> None:
    scenario = load_scenario(path)
    dbt = "real" if path.stem in REAL_DBT else "stand-in"
    with LocalRuntime(scenario, workdir=tmp_path, dbt=dbt) as runtime:
        played = play_runs(runtime)
        reports = [build_report(runtime, run.result) for run in played]
        problems = run_problems(runtime, played, reports)

    assert problems == [], reports
    assert reports[-1]["tokens_left"] == 0
    built = sorted((r for r in reports if r["dbt"]["ran"]), key=lambda r: r["dbt"]["started_at"])
    for earlier, later in itertools.pairwise(built):
        # One dbt at a time on the warehouse: each build starts after the previous one ended.
        assert earlier["dbt"]["ended_at"] is not None
        assert later["dbt"]["started_at"] > earlier["dbt"]["ended_at"], [r["dbt"] for r in built]
    _check_waits(scenario, reports)


def _check_waits(scenario: Scenario, reports: list[dict]) -> None:
    """A run that waited names a run of this scenario whose dbt ended before its own began; of runs
    started together that both built, all but the first to build waited, and they shared each sync
    (the later trigger answered 409 and joined the running sync)."""
    arns = {r["execution"]["arn"]: r for r in reports}
    for report in reports:
        lease = report["dbt"]["transform_lease"]
        if report["dbt"]["ran"] and lease["waited_for"] is not None:
            holder = arns[lease["waited_for"]]
            assert holder["dbt"]["ended_at"] < report["dbt"]["started_at"]
            assert lease["waited_s"] > 0
    together: dict[float, list[dict]] = {}
    for spec, report in zip(scenario.runs, reports, strict=True):
        if spec.start_s is not None and report["dbt"]["ran"]:
            together.setdefault(spec.start_s, []).append(report)
    for group in together.values():
        synced = [{c["connector_id"]: c["sync_id"] for c in r["connectors"]} for r in group]
        assert all(ids == synced[0] for ids in synced), synced
        group.sort(key=lambda r: r["dbt"]["started_at"])
        assert [r["dbt"]["transform_lease"]["waited_for"] is not None for r in group] == [
            False,
            *[True] * (len(group) - 1),
        ]


@pytest.mark.parametrize("name", sorted(PLAYED_ELSEWHERE))
def test_a_scenario_left_to_another_test_is_played_there_with_these_checks(name: str) -> None:
    played_by = (Path(__file__).resolve().parents[2] / PLAYED_ELSEWHERE[name]).read_text(encoding="utf-8")
    assert f'"{name}"' in played_by
    assert "assert_ended_as_it_expects(" in played_by


@pytest.mark.parametrize("path", [_param(p) for p in PLAYED if p not in MULTI_RUN])
def test_scenario_ends_as_it_expects(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    dbt = "real" if path.stem in REAL_DBT else "stand-in"
    with LocalRuntime(scenario, workdir=tmp_path, dbt=dbt) as runtime:
        result = runtime.run()
        report = build_report(runtime, result)

    assert_ended_as_it_expects(scenario, runtime, result, report)
    if path.stem in HAND_COUNTED:
        counted = hand_count(len(scenario.connectors), report["deferrals"])  # every connection syncs
        assert report["state_transitions"] == counted["state_transitions"]
        invocations = report["lambda_invocations"]
        assert {name: invocations.get(name) for name in counted["lambda_invocations"]} == counted[
            "lambda_invocations"
        ]
        assert invocations["api_handler"] == report["webhooks"]["sent"]
