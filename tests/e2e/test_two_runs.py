"""Faults a scenario file cannot express, because they need two runs: driven here on one local
runtime (real state machine, handlers, ``chalice local``, the Fivetran simulator, dbt).

Between the runs the test changes how the connection's *next* triggered sync plays (its outcome,
whether its webhooks are lost), as Fivetran's behaviour would change between two syncs. Each run
must end with the outcome of the sync its own trigger started.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from local.runtime import LocalRuntime
from local.scenario import parse_scenario

pytestmark = pytest.mark.e2e

CID = "stripe_prod"


def _scenario(**extra: Any) -> Any:
    connector = {"id": CID, "service": "stripe", "schema": "stripe", **extra.pop("connector", {})}
    return parse_scenario({"group_id": "demo_group", "connectors": [connector], **extra})


def _first_sync_ended(runtime: LocalRuntime, timeout: float = 60) -> None:
    """Wait until Fivetran has ended the connection's first sync."""
    assert runtime.simulator is not None
    state = runtime.simulator.connections[CID]
    deadline = time.monotonic() + timeout
    while not (state.syncs and state.syncs[0].ended):
        assert time.monotonic() < deadline, "the first run's sync never ended"
        time.sleep(0.05)


def _next_syncs(runtime: LocalRuntime, *, webhook: dict[str, Any] | None = None, **sync: Any) -> None:
    """From now on the connection's triggered syncs play ``sync`` (and ``webhook``) instead."""
    assert runtime.simulator is not None
    state = runtime.simulator.connections[CID]
    spec = state.spec
    state.spec = dataclasses.replace(
        spec,
        sync=dataclasses.replace(spec.sync, **sync),
        webhook=dataclasses.replace(spec.webhook, **(webhook or {})),
    )


def _finish(runtime: LocalRuntime, arn: str) -> tuple[str, list[str], bool]:
    """(execution status, the connection outcomes it recorded, whether it ran dbt)."""
    described = runtime.wait(arn, timeout=90)
    history = runtime.history(arn)
    entered = {e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e}
    return described["status"], [o["outcome"] for o in runtime.outcomes(history)], "RunDbt" in entered


def test_fivetran_clock_ahead_a_second_run_gets_its_own_failed_sync(tmp_path: Path) -> None:
    """Fivetran's clock 5 s ahead: the first run's success (succeeded_at in "our" future) must not be
    credited to a second run whose own sync fails."""
    scenario = _scenario(
        fivetran={"clock_offset_s": 5},
        settings={"reconcile_after_s": 1, "reconcile_interval_s": 1, "timeout_s": 90},
        input={"sync_timeout_seconds": 30},
        connector={"sync": {"duration_s": 3}},
    )
    with LocalRuntime(scenario, workdir=tmp_path, dbt="stand-in") as runtime:
        first = runtime.start_execution()
        _first_sync_ended(runtime)
        _next_syncs(runtime, outcome="failure", reason="the second run's own sync failed")
        second = runtime.start_execution()
        second_result = _finish(runtime, second)
        first_result = _finish(runtime, first)

    assert first_result == ("SUCCEEDED", ["succeeded"], True)
    assert second_result == ("FAILED", ["failed"], False)


def test_overlapping_runs_the_later_runs_failure_does_not_fail_the_earlier_run(tmp_path: Path) -> None:
    """Run A's sync succeeds but its webhooks are lost; run B triggers the next sync, which fails and
    whose sync_end arrives while A still waits. A succeeds, B fails."""
    scenario = _scenario(
        settings={"reconcile_after_s": 4, "reconcile_interval_s": 1, "timeout_s": 90},
        input={"sync_timeout_seconds": 30},
        # 0.5 s: run A's sync ends inside the second in which Fivetran accepts run B's trigger unless
        # start_sync spaces one connection's triggers (chalicelib/tokens/trigger_spacing.py); without
        # the spacing run A was given run B's failed sync in 4 of 6 runs (2026-12-06).
        connector={"sync": {"duration_s": 0.5}, "webhook": {"drop": True}},
    )
    with LocalRuntime(scenario, workdir=tmp_path, dbt="stand-in") as runtime:
        run_a = runtime.start_execution()
        _first_sync_ended(runtime)
        _next_syncs(runtime, outcome="failure", reason="run B's sync failed", webhook={"drop": False})
        run_b = runtime.start_execution()
        result_b = _finish(runtime, run_b)
        result_a = _finish(runtime, run_a)
        outcomes_a = runtime.outcomes(runtime.history(run_a))  # named in the failure: whose sync A was given

    assert result_a == ("SUCCEEDED", ["succeeded"], True), outcomes_a
    assert result_b == ("FAILED", ["failed"], False)
