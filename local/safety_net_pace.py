"""The local safety net's pace: how long a pass may read Fivetran, how long it rests after a pass, and the
HeartbeatSeconds a local run gets.

On AWS the safety net runs every minute in its own Lambda and heartbeats within 900 s; here it runs
every second or so in the runtime's own process, beside the webhooks it watches, on a small machine
(or at the production cadence, when a scenario sets ``reconcile_interval_s: 60``).
"""

from __future__ import annotations

import math
import time
from typing import Any

from chalicelib.safety_net.reconcile import TIME_RESERVE_MS
from local.scenario import Scenario

__all__ = [
    "CONNECTIONS_PER_HEARTBEAT_SECOND",
    "PASS_IDLE_FACTOR",
    "PASS_SECONDS",
    "local_heartbeat_seconds",
    "pass_budget",
]

# How long one local safety-net pass may spend reading Fivetran: passes come every second or
# so here, and a Fivetran outage must not delay the next pass's heartbeats.
PASS_SECONDS = 3.0
# moto answers about 60 calls a second here, and one safety-net pass heartbeats every parked token:
# the local heartbeat leaves a pass one second per this many connections (AWS: 900 s, a pass a minute).
CONNECTIONS_PER_HEARTBEAT_SECOND = 20
# After a pass that took T seconds the next waits at least T x this: the safety net takes at most
# a quarter of the machine from the webhooks and triggers it watches (1,000 tokens: a pass ~2 s).
PASS_IDLE_FACTOR = 3.0


def local_heartbeat_seconds(scenario: Scenario) -> int:
    """HeartbeatSeconds for a local run: the scenario's ``heartbeat_seconds``, else 20, or longer for
    scenarios large enough that one pass of heartbeats takes moto longer (1,000 connections: 50 s), or
    whose safety net runs seldom (``reconcile_interval_s``: twice the interval plus a pass, as the AWS
    heartbeat, 900 s, stays well above its worst gap, the 60 s schedule plus the 50 s timeout)."""
    interval = float(scenario.settings.get("reconcile_interval_s", 1.0))
    computed = max(
        20,
        math.ceil(len(scenario.connectors) / CONNECTIONS_PER_HEARTBEAT_SECOND),
        math.ceil(2 * interval + PASS_SECONDS),
    )
    return int(scenario.settings.get("heartbeat_seconds", computed))


def pass_budget(seconds: float) -> Any:
    """A ``remaining_ms`` for a pass that may read Fivetran for ``seconds`` (plus the reserve)."""
    deadline = time.monotonic() + seconds + TIME_RESERVE_MS / 1000
    return lambda: int((deadline - time.monotonic()) * 1000)
