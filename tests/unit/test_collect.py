"""Every connection's outcome from the Distributed Map's result records, counted and bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.run.collect import (
    NO_RESULT_ERROR,
    STATE_CAUSE_CHARS,
    STATE_OUTCOMES,
    SUMMARY_CHARS,
    collect,
    readable_cause,
)
from chalicelib.tokens.outcomes import SyncOutcome

ITEMS = [
    {"connector_id": "stripe_prod", "schema": "stripe"},
    {"connector_id": "zendesk_support", "schema": "zendesk"},
    {"connector_id": "budget_sheet", "schema": "sheets.budget"},
]


def child(connector: dict, status: str = "SUCCEEDED", output: dict | None = None, **extra) -> dict:
    """One ResultWriter record as AWS writes it: Input and Output are JSON text."""
    record = {
        "ExecutionArn": "arn:aws:states:us-east-1:1:execution:sm/Sync:" + connector["connector_id"],
        "Input": json.dumps({"connector": connector, "resume": False, "after": None}),
        "Status": status,
        "StartDate": "2026-11-30T10:00:00.000Z",
        "StopDate": "2026-11-30T10:05:00.000Z",
        **extra,
    }
    if output is not None:
        record["Output"] = json.dumps(output)
    return record


def succeeded(connector: dict, sync_id: str = "s1") -> dict:
    return child(
        connector,
        output={
            "connector_id": connector["connector_id"],
            "schema": connector["schema"],
            "outcome": "succeeded",
            "status": "SUCCESSFUL",
            "sync_id": sync_id,
            "finished_at": "2026-11-30T10:04:59Z",
        },
    )


def failed(connector: dict, cause: str) -> dict:
    return child(
        connector,
        output={
            "connector_id": connector["connector_id"],
            "schema": connector["schema"],
            "outcome": "failed",
            "error": "Fivetran.SyncFailed",
            "cause": cause,
        },
    )


def test_outcomes_follow_the_listing_order_with_the_childs_times():
    records = [failed(ITEMS[1], "token revoked"), succeeded(ITEMS[0]), succeeded(ITEMS[2], "s3")]

    collected = collect(ITEMS, records)

    assert [o.connector_id for o in collected.outcomes] == ["stripe_prod", "zendesk_support", "budget_sheet"]
    assert collected.outcomes[0].to_dict() == {
        "connector_id": "stripe_prod",
        "schema": "stripe",
        "outcome": "succeeded",
        "status": "SUCCESSFUL",
        "sync_id": "s1",
        "finished_at": "2026-11-30T10:04:59Z",
        "started_at": "2026-11-30T10:00:00.000Z",
        "ended_at": "2026-11-30T10:05:00.000Z",
    }
    assert collected.counts == {"total": 3, "succeeded": 2, "failed": 1, "timed_out": 0, "skipped": 0}
    assert collected.excluded_sources == ["zendesk"]


def test_a_connection_without_a_result_is_reported_failed_never_dropped():
    collected = collect(ITEMS, [succeeded(ITEMS[0])])

    missing = [o.to_dict() for o in collected.outcomes if o.connector_id != "stripe_prod"]
    assert [m["error"] for m in missing] == [NO_RESULT_ERROR, NO_RESULT_ERROR]
    assert "zendesk_support" in missing[0]["cause"]
    assert collected.excluded_sources == ["zendesk", "sheets.budget"]


def test_a_child_that_failed_timed_out_or_was_aborted_is_reported_from_its_input():
    records = [
        child(ITEMS[0], "FAILED", Error="States.Runtime", Cause="bad path"),
        child(ITEMS[1], "TIMED_OUT"),
        child(ITEMS[2], "ABORTED"),
    ]

    outcomes = [o.to_dict() for o in collect(ITEMS, records).outcomes]

    assert [(o["outcome"], o["error"]) for o in outcomes] == [
        ("failed", "States.Runtime"),
        ("timed_out", "States.Timeout"),
        ("failed", "States.Aborted"),
    ]
    assert outcomes[0]["cause"] == "bad path"
    assert "ABORTED" in outcomes[2]["cause"]


def test_a_lambda_errors_stack_trace_never_reaches_an_outcome():
    lambda_error = json.dumps(
        {
            "errorType": "Fivetran.AuthError",
            "errorMessage": "Fivetran refused the API key (401)",
            "stackTrace": ['  File "/var/task/app.py", line 99, in start_sync\n'] * 20,
        }
    )

    outcome = collect(ITEMS[:1], [failed(ITEMS[0], lambda_error)]).outcomes[0].to_dict()

    assert outcome["cause"] == "Fivetran.AuthError: Fivetran refused the API key (401)"
    assert readable_cause("plain text") == "plain text"
    assert readable_cause("{not json") == "{not json"


@pytest.mark.slow
def test_the_state_stays_bounded_however_many_connections_fail_with_whatever_causes():
    items = [{"connector_id": f"c{i:05d}", "schema": f"s{i:05d}"} for i in range(10_000)]
    records = [failed(item, "x" * 32_000) for item in items]

    collected = collect(items, records, [{"connector_id": "p", "reason": "paused"}] * 500)
    state = collected.state(outcomes_uri="s3://b/runs/r/outcomes.json")

    assert len(json.dumps(state)) < 200 * 1024  # Step Functions' state holds 256 KiB
    assert len(state["connectors"]) == STATE_OUTCOMES
    assert all(len(o["cause"]) <= STATE_CAUSE_CHARS for o in state["connectors"])
    assert len(state["skipped"]) == STATE_OUTCOMES
    assert state["counts"] == {
        "total": 10_000,
        "succeeded": 0,
        "failed": 10_000,
        "timed_out": 0,
        "skipped": 500,
    }
    assert state["excluded_sources_count"] == 10_000 and len(state["excluded_sources"]) == STATE_OUTCOMES
    assert len(state["failure_summary"]) <= SUMMARY_CHARS
    assert state["failure_summary"].startswith("c00000 (failed: xxx")
    assert state["failure_summary"].endswith(
        ", and 9995 more (10000 of 10000; full list: s3://b/runs/r/outcomes.json)"
    )
    # The full text is kept for outcomes.json.
    assert len(collected.file(execution_arn="arn", map_run_arn="m")["connections"][0]["cause"]) == 32_000


def test_the_state_lists_the_connections_that_did_not_succeed_first():
    records = [succeeded(ITEMS[0]), succeeded(ITEMS[1]), failed(ITEMS[2], "sheet gone")]

    state = collect(ITEMS, records).state(outcomes_uri="s3://b/k")

    assert [o["connector_id"] for o in state["connectors"]] == [
        "budget_sheet",
        "stripe_prod",
        "zendesk_support",
    ]
    assert state["any_failed"] is True
    assert state["failure_summary"] == ("budget_sheet (failed: sheet gone) (1 of 3; full list: s3://b/k)")


def test_a_run_where_everything_succeeded_has_no_failure_summary():
    state = collect(ITEMS[:1], [succeeded(ITEMS[0])]).state(outcomes_uri="s3://b/k")

    assert state["any_failed"] is False
    assert state["failure_summary"] == ""
    assert state["excluded_sources"] == []


def paused(connector: dict) -> dict:
    """What ``RecordPaused`` writes for a connection paused while the run waited."""
    return child(
        connector,
        output={
            "connector_id": connector["connector_id"],
            "schema": connector["schema"],
            "outcome": "paused",
            "status": "PAUSED",
            "error": "Fivetran.ConnectionPaused",
            "cause": "the connection was paused in Fivetran while the run waited",
        },
    )


def test_a_connection_paused_while_the_run_waited_is_skipped_under_the_default_policy():
    collected = collect(
        ITEMS[:2], [succeeded(ITEMS[0]), paused(ITEMS[1])], [{"connector_id": "x", "reason": "broken"}]
    )

    assert [o.connector_id for o in collected.outcomes] == ["stripe_prod"]
    assert collected.skipped == [
        {"connector_id": "x", "reason": "broken"},
        {"connector_id": "zendesk_support", "reason": "paused"},
    ]
    assert collected.counts == {"total": 1, "succeeded": 1, "failed": 0, "timed_out": 0, "skipped": 2}
    assert collected.excluded_sources == []


def test_a_connection_paused_while_the_run_waited_fails_under_paused_fail():
    collected = collect(ITEMS[:2], [succeeded(ITEMS[0]), paused(ITEMS[1])], paused="fail")

    (stopped,) = collected.not_succeeded
    assert stopped.outcome == "failed"
    assert stopped.fields["error"] == "Fivetran.ConnectionPaused"
    assert collected.counts["failed"] == 1 and collected.counts["skipped"] == 0
    assert collected.excluded_sources == ["zendesk"]


def test_a_failed_connection_gets_the_sync_id_its_cause_names():
    ended = datetime(2026, 11, 30, 10, 4, tzinfo=UTC)
    cause = SyncOutcome("zendesk_support", "FAILURE", ended, sync_id="sync-42", reason="token revoked")
    unknown = SyncOutcome("stripe_prod", "FAILURE", ended, reason="token revoked")
    records = [failed(ITEMS[1], cause.failure_cause()), failed(ITEMS[0], unknown.failure_cause())]

    by_connection = {o.connector_id: o.to_dict() for o in collect(ITEMS[:2], records).outcomes}

    assert by_connection["zendesk_support"]["sync_id"] == "sync-42"
    assert by_connection["stripe_prod"].get("sync_id") is None
