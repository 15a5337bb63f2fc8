"""Child dispatch that a new account survives (issue 20): the Distributed Map starts up to 100 child
executions a second, each invoking ``start_sync``; an account with 10 concurrent Lambdas (new accounts
often have 10) throttles most of them. The throttling retry must outlast the time such an account needs
to run every ``start_sync`` of the largest run, or connections are recorded failed for no reason.

The figures: ``MAX_CONNECTIONS_PER_RUN`` (10,000) connections; ``start_sync`` is one DynamoDB write and
one Fivetran call (about a second, `START_SYNC_SECONDS`); 10 concurrent invocations. The retry window
counts the expected wait under full jitter (half of each capped backoff), not the longest."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.platform.config import Settings
from deploy.template import DEFINITION_PATH

NEW_ACCOUNT_CONCURRENCY = 10
START_SYNC_SECONDS = 1.0
THROTTLED = "Lambda.TooManyRequestsException"
MAX_CONNECTIONS_PER_RUN = Settings.max_connections_per_run  # the default cap of a run


def start_sync_task() -> dict[str, Any]:
    definition = json.loads(DEFINITION_PATH.read_text(encoding="utf-8"))
    found = []

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            if "StartSyncFunctionArn" in json.dumps(state.get("Parameters", {})):
                found.append(state)
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key]["States"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(definition["States"])
    (task,) = found
    return task


def expected_retry_window_seconds(retrier: dict[str, Any]) -> float:
    """The expected total wait of a retrier's attempts: each wait is interval * rate**n, capped by
    MaxDelaySeconds, and FULL jitter draws uniformly below it (so half on average)."""
    interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    waits = [min(interval * rate**n, cap) for n in range(retrier.get("MaxAttempts", 3))]
    factor = 0.5 if retrier.get("JitterStrategy") == "FULL" else 1.0
    return factor * sum(waits)


def test_a_throttled_start_sync_is_retried_longer_than_a_new_account_needs_to_start_the_largest_run() -> None:
    (retrier,) = [r for r in start_sync_task()["Retry"] if THROTTLED in r["ErrorEquals"]]
    needed = MAX_CONNECTIONS_PER_RUN * START_SYNC_SECONDS / NEW_ACCOUNT_CONCURRENCY

    assert expected_retry_window_seconds(retrier) > needed


def test_the_throttling_retry_waits_at_most_a_minute_between_attempts() -> None:
    (retrier,) = [r for r in start_sync_task()["Retry"] if THROTTLED in r["ErrorEquals"]]

    assert retrier["MaxDelaySeconds"] <= 60
    assert retrier["JitterStrategy"] == "FULL"  # children throttled together do not retry together
