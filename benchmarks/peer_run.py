"""One run of the polling peer: ``peer_driver.py`` in the peer's interpreter, syncing-and-polling a
scenario's connections on a fresh simulator through ``peer_proxy.LegacyPathProxy``, which counts its
calls. ``latency`` and ``sidebyside`` both run the peer through ``run_peer_driver``.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.peer_proxy import LegacyPathProxy
from local.fivetran_sim import FivetranSimulator
from local.runtime import API_KEY, API_SECRET, WEBHOOK_SECRET
from local.scenario import Scenario

__all__ = ["DRIVER", "PeerRun", "run_peer_driver"]

DRIVER = Path(__file__).resolve().with_name("peer_driver.py")


@dataclass
class PeerRun:
    command: list[str]
    returncode: int | None  # None: the driver did not finish within its time
    stderr: str
    answer: dict[str, Any] | None  # the driver's JSON document (when it exited 0)
    calls: dict[str, int]  # Fivetran API calls by endpoint, counted by the proxy
    ended: dict[str, list[datetime]]  # per connection, when the simulator ended its syncs
    seconds: float  # from the proxy's start to the driver's exit


def run_peer_driver(
    scenario: Scenario,
    peer_python: Path,
    *,
    mode: str,
    timeout_s: float,
    grace_s: float,
    duckdb_path: Path,
    poll_interval_s: float | None = None,
) -> PeerRun:
    """The peer's run of ``scenario``: the driver gets ``timeout_s``, its process ``grace_s`` more."""
    simulator = FivetranSimulator(
        scenario,
        api_key=API_KEY,
        api_secret=API_SECRET,
        webhook_secret=WEBHOOK_SECRET,
        webhook_url=None,  # the peer never hears a webhook
        duckdb_path=duckdb_path,
    )
    simulator.seed_history()
    proxy: LegacyPathProxy | None = None
    command: list[str] = []
    started = time.monotonic()
    try:
        proxy = LegacyPathProxy(simulator.start())
        command = [
            str(peer_python),
            str(DRIVER),
            "--base-url",
            proxy.start(),
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
            "--mode",
            mode,
            "--timeout",
            str(timeout_s),
        ]
        if poll_interval_s is not None:
            command += ["--poll-interval", str(poll_interval_s)]
        for spec in scenario.connectors:
            command += ["--connector", spec.id]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s + grace_s, check=False
            )
        except subprocess.TimeoutExpired:
            return PeerRun(command, None, "", None, dict(proxy.calls), {}, time.monotonic() - started)
        answer = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
        ended = {cid: list(times) for cid, times in simulator.sync_ended_at.items()}
        calls = dict(proxy.calls)
    finally:
        if proxy is not None:
            proxy.stop()
        simulator.stop()
    return PeerRun(command, done.returncode, done.stderr, answer, calls, ended, time.monotonic() - started)
