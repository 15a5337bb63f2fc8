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

from local.report import build_report, expectation_problems, run_problems
from local.runs import play_runs
from local.runtime import LocalRuntime
from local.scenario import Scenario, load_scenario

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
    "dbt_step_fails_stops_the_rest",
    "dbt_vars_full_refresh_steps",
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


# Not collected (rather than skipped) unless asked for: `make test` reports only what it ran.
PLAYED = [p for p in SCENARIOS if RUN_SCALE or p.stem not in SCALE_SCENARIOS]


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


@pytest.mark.parametrize("path", [_param(p) for p in PLAYED if p not in MULTI_RUN])
def test_scenario_ends_as_it_expects(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    dbt = "real" if path.stem in REAL_DBT else "stand-in"
    with LocalRuntime(scenario, workdir=tmp_path, dbt=dbt) as runtime:
        result = runtime.run()
        report = build_report(runtime, result)

    assert expectation_problems(runtime, report) == [], report
    assert report["tokens_left"] == 0
    # Rejected deliveries only where the scenario makes them fail (each is then redelivered).
    expects_rejection = any(c.webhook.bad_signature or c.webhook.fail_first for c in scenario.connectors)
    assert (report["webhooks"]["rejected"] > 0) == expects_rejection, report["webhooks"]
    if any(c.webhook.bad_signature for c in scenario.connectors):
        assert report["webhooks"]["by_status"].get("401", 0) >= 1
    if any(c.webhook.fail_first for c in scenario.connectors):
        assert report["webhooks"]["by_status"].get("503", 0) >= 1
    if report["dbt"]["ran"] and scenario.expect.status == "SUCCEEDED":
        assert report["dbt"]["exit_code"] == 0
        failed = sorted(
            spec.schema
            for spec in scenario.connectors
            if scenario.expect.connectors.get(spec.id) in ("failed", "timed_out")
        )
        assert sorted(report["dbt"]["exclude_sources"]) == failed
    if scenario.expect.error == "Orchestrator.InvalidInput":
        _assert_refused_within_the_first_state(result.history, report)
        return
    if not scenario.fivetran.webhook_events:
        _assert_found_by_group_reads(scenario, report)
    groups = scenario.execution_input().get("group_ids")  # a run of several groups syncs theirs only
    syncing = [
        c
        for c in scenario.connectors
        if not c.paused
        and c.setup_state == "connected"
        and (not groups or (c.group_id or scenario.group_id) in groups)
    ]
    listed = {c.id for c in syncing}
    paused_mid_run = [s for s in report["skipped"] if s["connector_id"] in listed]  # under paused=skip
    assert all(s["reason"] == "paused" for s in paused_mid_run)
    assert len(report["connectors"]) + len(paused_mid_run) == len(syncing)
    assert report["fivetran_api_calls"]["by_endpoint"].get("POST /v1/connections/{id}/sync", 0) >= len(
        syncing
    )
    # Counts as AWS bills them: every trigger parks a token, takes a budget place and arms it.
    assert report["aws_requests"]["dynamodb"] >= 3 * len(syncing)
    assert report["lambda_invocations"].get("start_sync", 0) >= len(syncing)
    assert report["state_transitions"]["children"] >= 2 * len(syncing)
    _check_report_waits(scenario, report)
    if path.stem in HAND_COUNTED:
        counted = hand_count(len(syncing), report["deferrals"])
        assert report["state_transitions"] == counted["state_transitions"]
        invocations = report["lambda_invocations"]
        assert {name: invocations.get(name) for name in counted["lambda_invocations"]} == counted[
            "lambda_invocations"
        ]
        assert invocations["api_handler"] == report["webhooks"]["sent"]


def _check_report_waits(scenario: Scenario, report: dict[str, Any]) -> None:
    """Waits you can see (issue 27): a connection Fivetran rescheduled, that then succeeded, says so in
    the report with until when and why; every budget deferral is one of the report's rate-limit waits."""
    rescheduled = {c.id for c in scenario.connectors if c.sync.outcome == "rescheduled"}
    for connector in report["connectors"]:
        waits = connector["waits"]
        assert waits["count"] == waits["rescheduled"] + waits["rate_limited"], connector
        if connector["connector_id"] in rescheduled and connector["outcome"] == "succeeded":
            (first, *_) = [item for item in waits["items"] if item["kind"] == "rescheduled"]
            assert first["until"] and first["at"] and first["reason"], connector
    assert report["waits"]["rate_limited"] >= report["deferrals"]
    assert report["waits"]["count"] == sum(c["waits"]["count"] for c in report["connectors"])


def _assert_refused_within_the_first_state(history: list[dict[str, Any]], report: dict[str, Any]) -> None:
    """A refused run input ends in ListConnectors: no other Task state, no Map run, no call to Fivetran,
    no sync, no dbt task."""
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered == ["ListConnectors", "InvalidInput"], entered
    assert not [e["type"] for e in history if e["type"].startswith("MapRun")]
    assert report["fivetran_api_calls"]["total"] == 0, report["fivetran_api_calls"]
    assert report["connectors"] == []
    assert report["dbt"]["ran"] is False


def _assert_found_by_group_reads(scenario: Scenario, report: dict[str, Any]) -> None:
    """No webhook at all: the safety net found every end through its group's listing, reading each
    connection's sync history once (when its sync had ended) and no connection alone."""
    calls = report["fivetran_api_calls"]["by_endpoint"]
    assert report["webhooks"]["sent"] == 0
    assert calls.get("GET /v1/groups/{id}/connections", 0) >= 2  # the run's listing, then the passes'
    assert calls.get("GET /v1/connections/{id}/sync-history", 0) == len(scenario.connectors), calls
    assert calls.get("GET /v1/connections/{id}", 0) == 0, calls
