"""The safety net's timing holds by construction (issue 20): a pass's lease lapses before its Lambda
times out, so a pass killed at its timeout never makes the next one skip; and ``HeartbeatSeconds``
cannot be set below the worst gap between two heartbeats (the schedule's interval plus the timeout).

The facts come from where they are set: the schedule from ``app.py``, the timeout from
``.chalice/config.json`` for each AWS stage, the floor from ``infra/template.yaml``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Rate

import app
from chalicelib.safety_net.reconcile import lease_seconds_for

ROOT = Path(__file__).resolve().parents[2]
AWS_STAGES = ("dev", "prod")
SECONDS_PER_UNIT = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


def schedule_interval_seconds() -> int:
    (source,) = [s for s in app.app.event_sources if s.name == "reconcile_syncs"]
    rate = source.schedule_expression
    assert isinstance(rate, Rate), "reconcile_syncs runs on a fixed rate"
    return int(rate.value) * SECONDS_PER_UNIT[rate.unit]


def reconcile_timeout_seconds(stage: str) -> int:
    config: dict[str, Any] = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    stage_config = config["stages"][stage]
    function = stage_config.get("lambda_functions", {}).get("reconcile_syncs", {})
    return int(function.get("lambda_timeout", stage_config.get("lambda_timeout", config["lambda_timeout"])))


@pytest.mark.parametrize("stage", AWS_STAGES)
def test_a_pass_lets_go_of_the_lease_before_its_lambda_times_out(stage: str) -> None:
    timeout = reconcile_timeout_seconds(stage)

    lease = lease_seconds_for(timeout * 1000)  # what a pass takes when it starts

    assert lease < timeout


@pytest.mark.parametrize("stage", AWS_STAGES)
def test_a_pass_killed_at_its_timeout_leaves_the_next_scheduled_pass_free_to_run(stage: str) -> None:
    timeout = reconcile_timeout_seconds(stage)

    assert timeout < schedule_interval_seconds()
    assert lease_seconds_for(timeout * 1000) < schedule_interval_seconds()


def test_outside_lambda_the_lease_is_still_shorter_than_the_schedule() -> None:
    assert lease_seconds_for(10**9) < schedule_interval_seconds()


@pytest.mark.parametrize("stage", AWS_STAGES)
def test_heartbeat_seconds_cannot_be_set_below_the_safety_nets_worst_gap(
    stage: str, template: dict[str, Any]
) -> None:
    worst_gap = schedule_interval_seconds() + reconcile_timeout_seconds(stage)
    heartbeat = template["Parameters"]["HeartbeatSeconds"]

    assert heartbeat["MinValue"] > worst_gap
    assert heartbeat["Default"] >= heartbeat["MinValue"]


class LeaseRecorder:
    """A token store whose lease records what a pass asks for and says another pass holds it."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.lease = self

    def acquire(self, name: str, holder: str, now: float, seconds: float) -> bool:
        self.asked.append(seconds)
        return False


def test_a_pass_asks_for_the_lease_only_until_just_before_its_own_deadline() -> None:
    from chalicelib.safety_net.reconcile import reconcile

    store = LeaseRecorder()
    timeout = reconcile_timeout_seconds("dev")

    report = reconcile(
        store,  # type: ignore[arg-type]
        fivetran=None,  # type: ignore[arg-type]
        resolver=None,  # type: ignore[arg-type]
        now=None,  # type: ignore[arg-type]
        older_than_seconds=240,
        max_connections=10,
        remaining_ms=lambda: timeout * 1000,
    )

    assert report.stopped_early == "another pass holds the lease"
    assert store.asked == [lease_seconds_for(timeout * 1000)]
    assert store.asked[0] < timeout
