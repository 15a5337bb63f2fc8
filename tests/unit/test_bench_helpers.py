"""Smoke tests of the benchmarks' pure helpers (percentiles, tables, the cost model, history reading).

The benchmarks themselves are not tests (``python -m benchmarks``); these only guard the arithmetic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks import cost
from benchmarks.history import (
    completions,
    events_per_iteration,
    iteration_connectors,
    lambda_calls,
    largest_payload,
    state_seconds,
    state_transitions,
)
from benchmarks.stats import percentile, ratio, summarize
from benchmarks.tables import fmt, markdown_table, money

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_percentile_interpolates_like_numpy():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(range(101)), 95) == 95.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summarize_and_ratio():
    summary = summarize([3.0, 1.0, 2.0])
    assert (summary.n, summary.median, summary.max, summary.mean) == (3, 2.0, 3.0, 2.0)
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(1.0, 0.0) is None


def test_markdown_table_and_formats():
    table = markdown_table(["a", "b"], [["x|y", 1]])
    assert table.splitlines() == ["| a | b |", "| :--- | ---: |", "| x\\|y | 1 |"]
    with pytest.raises(ValueError):
        markdown_table(["a"], [[1, 2]])
    assert fmt(12345) == "12,345"
    assert fmt(0.12345, 3) == "0.123"
    assert fmt(None) == "—"
    assert money(0) == "$0"
    assert money(0.0000123) == "$0.000012"
    assert money(0.0123) == "$0.0123"


def test_cost_model_prices_each_line():
    rates = cost.RATES
    usage = cost.Usage(
        transitions=1000,
        lambda_requests=1_000_000,
        lambda_gb_seconds=1.0,
        apigw_requests=1_000_000,
        dynamodb_write_units=1_000_000,
        dynamodb_read_units=1_000_000,
        fargate_seconds=3600,
        fargate_vcpu=1,
        fargate_gb=2,
    )
    lines = cost.price(usage, rates)
    assert lines["Step Functions transitions"] == pytest.approx(0.025)
    assert lines["Lambda requests"] == pytest.approx(0.20)
    assert lines["Lambda GB-seconds"] == pytest.approx(0.0000166667)
    assert lines["API Gateway requests"] == pytest.approx(3.50)
    assert lines["Fargate"] == pytest.approx(0.04048 + 2 * 0.004445)
    assert cost.total(lines) == pytest.approx(sum(lines.values()))
    # Fargate bills at least one minute; nothing when no task ran
    assert cost.price(cost.Usage(fargate_seconds=1, fargate_vcpu=1))["Fargate"] == pytest.approx(0.04048 / 60)
    assert cost.price(cost.Usage())["Fargate"] == 0
    assert rates.as_of and rates.source


def test_lambda_billing_rounds_up_to_the_millisecond():
    assert cost.lambda_gb_seconds([0.0001, 0.0011], memory_mb=1024) == pytest.approx(0.003)


def test_polling_model_and_break_even():
    worker = cost.PollingWorker(poll_interval_s=10, calls_per_sync_before_polling=5)
    assert cost.polling_api_calls(worker, connections=2, sync_window_s=60) == 2 * (5 + 6 + 1)
    usage = cost.polling_usage(worker, sync_window_s=900, dbt_s=300)
    assert usage.fargate_seconds == 1200
    assert cost.break_even(10, 1.0, 110, 2.0, other=3.0) == pytest.approx(210)
    assert cost.break_even(10, 2.0, 110, 1.0, other=3.0) is None


def _event(eid: int, prev: int, kind: str, at: float, **details: object) -> dict:
    return {
        "id": eid,
        "previousEventId": prev,
        "type": kind,
        "timestamp": T0 + timedelta(seconds=at),
        **details,
    }


def _history() -> list[dict]:
    connector = json.dumps({"connector": {"connector_id": "stripe_prod"}})
    params = json.dumps({"FunctionName": "arn:aws:lambda:us-east-1:1:function:app-local-start_sync"})
    wait = {"resourceType": "lambda", "resource": "invoke.waitForTaskToken"}
    return [
        _event(1, 0, "ExecutionStarted", 0),
        _event(
            2, 1, "MapStateEntered", 0, stateEnteredEventDetails={"name": "SyncConnectors", "input": "{}"}
        ),
        _event(3, 2, "MapIterationStarted", 0, mapIterationStartedEventDetails={"index": 0}),
        _event(
            4,
            3,
            "TaskStateEntered",
            0,
            stateEnteredEventDetails={"name": "StartSyncAndWait", "input": connector},
        ),
        _event(5, 4, "TaskScheduled", 0, taskScheduledEventDetails={**wait, "parameters": params}),
        _event(6, 5, "TaskStarted", 0.1, taskStartedEventDetails=wait),
        _event(7, 6, "TaskSubmitted", 0.15, taskSubmittedEventDetails=wait),
        _event(8, 7, "TaskSucceeded", 2.5, taskSucceededEventDetails={**wait, "output": "{}"}),
        _event(
            9, 8, "TaskStateExited", 2.5, stateExitedEventDetails={"name": "StartSyncAndWait", "output": "{}"}
        ),
        _event(10, 9, "MapIterationSucceeded", 2.5),
        _event(
            11,
            10,
            "MapStateExited",
            2.6,
            stateExitedEventDetails={"name": "SyncConnectors", "output": "x" * 99},
        ),
        _event(12, 11, "ExecutionSucceeded", 2.6),
    ]


def test_history_helpers():
    history = _history()
    assert completions(history) == {"stripe_prod": [T0 + timedelta(seconds=2.5)]}
    assert completions(history, state="Other") == {}
    assert events_per_iteration(history) == {0: 8}
    assert iteration_connectors(history) == {0: "stripe_prod"}
    assert state_transitions(history) == 2
    assert largest_payload(history) == (99, "MapStateExited SyncConnectors")
    calls = lambda_calls(history)
    assert [(c.function, round(c.seconds, 3)) for c in calls] == [("start_sync", 0.05)]
    assert state_seconds(history, "SyncConnectors") == pytest.approx(2.6)
    assert state_seconds(history, "RunDbt") is None
