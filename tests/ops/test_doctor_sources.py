"""``orchestrator doctor``'s source-naming check reads the run's output: each warning of the latest run
whose dbt task built is its own ✔ line; no run yet, a clean run and an image older than the check each say
so in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.doctor_sources import check_source_contract

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:orchestrator"
WARNING = (
    "connection ads_conn has no dbt source (name a source after its schema, or give one "
    "meta.fivetran_connection: ads_conn): nothing in dbt depends on it"
)


class StepFunctions:
    """ListExecutions (newest last here, as no order is promised) and DescribeExecution's output."""

    def __init__(self, outputs: list[dict[str, Any] | None]) -> None:
        start = datetime(2026, 12, 1, tzinfo=UTC)
        self.runs = [
            (f"run-{i}", start + timedelta(minutes=i), json.dumps(o) if o is not None else None)
            for i, o in enumerate(outputs)
        ]

    def list_executions(self, stateMachineArn: str, statusFilter: str, maxResults: int) -> dict[str, Any]:
        assert (stateMachineArn, statusFilter) == (MACHINE, "SUCCEEDED")
        return {
            "executions": [
                {"executionArn": f"{MACHINE}:{n}", "name": n, "startDate": d} for n, d, _ in self.runs
            ][-maxResults:]
        }

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        (output,) = [o for n, _, o in self.runs if executionArn.endswith(":" + n)]
        return {"output": output} if output is not None else {}


def built(warnings: list[str] | None, count: int | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {"exit_code": 0}
    if warnings is not None:
        summary["source_contract_warnings"] = warnings
        summary["source_contract_warnings_count"] = len(warnings) if count is None else count
    return {"dbt": {"exit_code": 0, "build": {"summary": summary}}}


def lines(outputs: list[dict[str, Any] | None]) -> list[str]:
    return [check.line() for check in check_source_contract(StepFunctions(outputs), MACHINE)]


def test_a_connection_without_a_dbt_source_is_a_warning_line_of_the_latest_run_that_built() -> None:
    skipped_dbt = {"dbt": {"exit_code": None, "build": None}}
    assert lines([built([]), built([WARNING]), skipped_dbt]) == [
        f"✔ dbt sources: warning: {WARNING} (run run-1)"
    ]


def test_warnings_cut_from_the_summary_are_counted() -> None:
    assert lines([built([WARNING], count=51)])[-1] == (
        "✔ dbt sources: warning: 50 more in the dbt task's log of run run-0"
    )


def test_a_clean_run_no_run_and_an_older_image_each_say_so() -> None:
    assert lines([built([WARNING]), built([])]) == [
        "✔ dbt sources: run run-1: every connection has a dbt source and every dbt source a connection"
    ]
    assert lines([None])[0].startswith("✔ dbt sources: no succeeded run with a dbt build yet")
    assert "predates the check" in lines([built(None)])[0]
