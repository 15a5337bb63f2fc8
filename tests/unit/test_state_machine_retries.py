"""The definition retries what is transient in the Lambdas it calls (AWS facts: a Lambda timeout or
an unreadable secret is not a Fivetran error, so each needs its own Retry entry)."""

from __future__ import annotations

import json

import pytest

from statemachine.definition import load_text

STATES = json.loads(load_text())["States"]
SYNC = next(s for s in STATES.values() if s["Type"] == "Map")
TASKS = {
    "ListConnectors": STATES["ListConnectors"],
    "StartSyncAndWait": (SYNC.get("ItemProcessor") or SYNC["Iterator"])["States"]["StartSyncAndWait"],
}


def retried(task: dict) -> set[str]:
    return {name for rule in task.get("Retry", []) for name in rule["ErrorEquals"]}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_secret_that_cannot_be_read_for_a_moment_is_retried(name):
    assert "Orchestrator.SecretUnavailable" in retried(TASKS[name])


def test_a_heartbeat_timeout_is_told_apart_from_the_sync_timeout():
    catches = [c["ErrorEquals"] for c in TASKS["StartSyncAndWait"]["Catch"]]

    assert catches.index(["States.HeartbeatTimeout"]) < catches.index(["States.Timeout"])
