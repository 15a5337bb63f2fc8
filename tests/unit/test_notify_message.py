"""A run's message (chalicelib/notify/message.py): which ends send one, and what it says."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.notify.message import MAX_NAMED, build_message, worth_sending

START = datetime(2026, 12, 6, 6, 0, 0, tzinfo=UTC)


def execution(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:fivetran-orchestrator-dev:run-42",
        "name": "run-42",
        "status": status,
        "startDate": START,
        "stopDate": datetime(2026, 12, 6, 7, 2, 5, tzinfo=UTC),
        **extra,
    }


def outcomes(*bad: dict[str, Any], succeeded: int = 1) -> dict[str, Any]:
    connections = [
        {"connector_id": f"ok_{i}", "schema": f"ok_{i}", "outcome": "succeeded"} for i in range(succeeded)
    ]
    connections += list(bad)
    failed = sum(1 for c in bad if c["outcome"] == "failed")
    return {
        "counts": {
            "total": len(connections),
            "succeeded": succeeded,
            "failed": failed,
            "timed_out": len(bad) - failed,
            "skipped": 0,
        },
        "connections": connections,
        "skipped": [],
    }


TIMED_OUT = {
    "connector_id": "hubspot",
    "schema": "hubspot",
    "outcome": "timed_out",
    "cause": "no end in 7200 s",
}
FAILED = {
    "connector_id": "salesforce_main",
    "schema": "salesforce",
    "outcome": "failed",
    "cause": "OAuth expired",
}


def test_a_clean_success_sends_nothing_and_every_other_end_sends_one() -> None:
    clean = execution("SUCCEEDED", output=json.dumps({"dbt": {"excluded_sources": []}}))

    assert not worth_sending("SUCCEEDED", outcomes(), clean)
    assert worth_sending("SUCCEEDED", outcomes(FAILED), clean)
    assert worth_sending(
        "SUCCEEDED", None, execution("SUCCEEDED", output='{"dbt": {"excluded_sources": ["x"]}}')
    )
    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        assert worth_sending(status, None, execution(status))
    assert not worth_sending("RUNNING", outcomes(FAILED), execution("RUNNING"))


def test_a_timed_out_run_names_its_connections_reasons_duration_and_commands() -> None:
    message = build_message(
        execution("TIMED_OUT", error="States.Timeout", cause="the run's deadline passed"),
        outcomes=outcomes(TIMED_OUT, FAILED),
        dbt_summary=None,
        stage="dev",
    )

    assert message.subject == "[dev] run run-42 timed out"
    assert message.lines[0] == "Run run-42 (dev): TIMED_OUT. Duration: 1 h 2 min 5 s."
    assert "Why: States.Timeout: the run's deadline passed" in message.text
    assert "  • hubspot (hubspot): timed_out: no end in 7200 s" in message.lines
    assert "  • salesforce_main (salesforce): failed: OAuth expired" in message.lines
    assert "dbt: did not run, or left no summary." in message.lines
    assert message.lines[-2:] == [
        "See it: orchestrator show run-42 --stage dev",
        "Retry it: orchestrator retry run-42 --stage dev",
    ]


def test_a_dbt_failure_names_the_failed_nodes_what_was_built_and_the_sources_left_out() -> None:
    summary = {
        "exit_code": 1,
        "counts": {"pass": 3, "warn": 0, "error": 1, "skip": 2},
        "failed_nodes": ["model.shop.revenue_daily"],
        "models_built": ["customer_360", "stg_stripe__charges"],
        "models_built_count": 2,
    }
    message = build_message(
        execution("FAILED", error="Orchestrator.DbtFailed", cause="dbt build exited with code 1"),
        outcomes=outcomes(FAILED),
        dbt_summary=summary,
        stage="prod",
    )

    assert "dbt: exit code 1; 3 pass, 0 warn, 1 error, 2 skip" in message.lines
    assert "dbt built 2 model(s): customer_360, stg_stripe__charges" in message.lines
    assert "  • model.shop.revenue_daily" in message.lines
    assert "dbt excluded these sources (their connection did not succeed): salesforce" in message.lines


def test_a_long_list_is_cut_and_says_how_many_more() -> None:
    many = [{**FAILED, "connector_id": f"c{i:03}"} for i in range(MAX_NAMED + 5)]
    message = build_message(execution("FAILED"), outcomes=outcomes(*many), dbt_summary=None, stage="dev")

    assert sum(1 for line in message.lines if line.startswith("  • c")) == MAX_NAMED
    assert "  • and 5 more connections (see `show`)" in message.lines


def test_a_run_that_ended_before_its_outcomes_were_written_says_so_and_the_local_stage_says_local() -> None:
    message = build_message(
        {"executionArn": "arn:aws:states:us-east-1:1:execution:m:run-7", "status": "ABORTED"},
        outcomes=None,
        dbt_summary=None,
        stage="local",
    )

    assert message.subject == "[local] run run-7 was stopped"
    assert "Duration: unknown." in message.lines[0]
    assert message.lines[1].startswith("Connections: no outcomes were written")
    assert "Retry it: orchestrator retry run-7 --local" in message.lines


def test_eventbridge_dates_in_epoch_milliseconds_give_the_duration() -> None:
    detail = {"name": "run-1", "status": "FAILED", "startDate": 1_000_000, "stopDate": 1_095_000}

    assert (
        "Duration: 1 min 35 s."
        in build_message(detail, outcomes=None, dbt_summary=None, stage="dev").lines[0]
    )


def test_the_slack_payload_is_the_subject_in_bold_then_the_text() -> None:
    message = build_message(execution("FAILED"), outcomes=None, dbt_summary=None, stage="dev")

    assert message.slack_payload() == {"text": f"*{message.subject}*\n{message.text}"}
