"""The checks every played scenario passes (tests/e2e/test_scenarios.py plays each scenario; a test that
plays one to check more, such as tests/e2e/test_dbt_options.py, makes these checks too)."""

from __future__ import annotations

from typing import Any

from local.report import expectation_problems
from local.runtime import LocalRuntime, RunResult
from local.scenario import Scenario

__all__ = ["assert_ended_as_it_expects"]


def assert_ended_as_it_expects(
    scenario: Scenario, runtime: LocalRuntime, result: RunResult, report: dict[str, Any]
) -> None:
    """The run of a one-run scenario ended as its ``expect`` says, left no token, had deliveries refused
    only where the scenario makes them fail, left out exactly the failed connections' sources, and
    billed what every trigger costs at least."""
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
