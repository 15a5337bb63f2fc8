"""The largest run: N connections at every default setting, the API budget included, in one run.

``run_largest`` writes a scenario (``scenario``: N generated connections, syncs of 5-20 s that all
succeed, the stack's safety-net cadence and heartbeat) and plays it with ``python -m local demo
--scenario FILE --report FILE`` in a child process, as a user would; it returns the run report, the
child's wall time and its peak RSS (``os.wait4``: the child's, or its largest waited descendant's).
Warehouse writes and dbt are included (the demo's own). ``estimate`` gives, before running, the least
time the default budget needs to trigger N syncs, so a size that cannot fit the hour is not started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks import ROOT
from benchmarks.measured_cost import paced_trigger_seconds
from benchmarks.tables import machine_where

__all__ = ["LargestRun", "budget_estimate", "run_largest", "scenario"]

SYNC_SECONDS = (5, 20)


def scenario(connections: int, timeout_s: int) -> dict[str, Any]:
    """The scenario of ``connections`` generated connections at every default setting."""
    return {
        "description": f"Benchmark: {connections:,} generated connections at every default setting.",
        "group_id": "demo_group",
        "settings": {
            "heartbeat_seconds": 900,  # the stack's HeartbeatSeconds
            "reconcile_after_s": 240,  # RECONCILE_AFTER_SECONDS
            "reconcile_interval_s": 20,
            "timeout_s": timeout_s,
        },
        "generate": {
            "count": connections,
            "services": ["stripe", "hubspot", "salesforce", "postgres", "zendesk"],
            "duration_s": list(SYNC_SECONDS),
            "rows": 5,
            "seed": 1,
        },
        "expect": {"status": "SUCCEEDED", "dbt_ran": True, "max_deferrals_per_connection": 1},
    }


def budget_estimate(connections: int) -> float:
    """Seconds the default budget needs at least to trigger ``connections`` syncs, plus the longest
    sync: the run cannot end sooner, whatever the machine."""
    from chalicelib.tokens.api_budget import BudgetRule

    rule = BudgetRule.from_quota()
    paced = paced_trigger_seconds(connections, burst=rule.burst, interval_s=rule.interval_us / 1e6)
    return paced + SYNC_SECONDS[1]


@dataclass
class LargestRun:
    connections: int
    exit_code: int
    wall_s: float
    peak_rss_mib: float
    report: dict[str, Any] | None
    load: str  # the load averages when it ended
    machine: str = ""  # where it ran: "2 CPUs (<cpu>), Python <version>, <os>" (tables.machine_where)


def _wait(process: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, float]:
    """(exit code, peak RSS in MiB) of ``process``, killed past ``timeout_s``; reaped with ``wait4``
    so its resource usage is its own (and its largest waited descendant's)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss / 1024
        if time.monotonic() > deadline:
            process.kill()
        time.sleep(1.0)


def run_largest(connections: int, *, workdir: Path, timeout_s: int) -> LargestRun:
    """Play ``connections`` connections in ``python -m local demo``; at most ``timeout_s`` s."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec = workdir / f"largest-{connections}.yaml"
    report = workdir / f"largest-{connections}.report.json"
    spec.write_text(yaml.safe_dump(scenario(connections, timeout_s)), encoding="utf-8")
    command = [sys.executable, "-m", "local", "demo", "--scenario", str(spec), "--report", str(report)]
    command += ["--workdir", str(workdir / f"largest-{connections}")]
    started = time.monotonic()
    with (workdir / f"largest-{connections}.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        code, peak = _wait(process, timeout_s + 300)
    one, five, fifteen = os.getloadavg()
    return LargestRun(
        connections=connections,
        exit_code=code,
        wall_s=time.monotonic() - started,
        peak_rss_mib=peak,
        report=json.loads(report.read_text(encoding="utf-8")) if report.exists() else None,
        load=f"{one:.2f} {five:.2f} {fifteen:.2f}",
        machine=machine_where(),
    )
