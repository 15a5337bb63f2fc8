"""Scale: runs of 10 to 1,000 connections in the local runtime, and the ceiling of one execution.

Each size runs in its own process (``python -m benchmarks.scale --child N``), so its peak RSS
(``resource.getrusage``) is its own and moto starts empty. Per run: wall time of the execution, peak
RSS of the runtime's process (moto, the in-process Lambda handlers, the simulator; ``chalice local``
is a separate process and not included), history events, events per Map iteration, billed state
transitions, and the largest state input/output.

Two things are switched off in these runs because they measure something else (``benchmarks.hooks``,
without changing ``local/``): dbt (``RunDbt`` still runs through ``ecs:runTask.sync``, its task exits 0
at once) and, unless ``--real-warehouse``, the simulator's DuckDB writes (each takes the one DuckDB
file under a process-wide lock, about 90 ms here: hundreds of connections would measure DuckDB).

A small extra run (``--child-paths``) plays 4 successful, 4 failed and 4 rescheduled syncs to count
the events each path costs an iteration. From the per-iteration events and the payload growth the
parent states the largest group one execution can hold under the 25,000-event history limit and the
256 KiB payload limit. Sizes that would not fit the time budget are extrapolated and marked so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import statistics
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.child import run_child
from benchmarks.history import (
    STEP_FUNCTIONS_MAX_EVENTS,
    STEP_FUNCTIONS_MAX_PAYLOAD_BYTES,
    events_per_iteration,
    iteration_connectors,
    lambda_calls,
    largest_payload,
    state_transitions,
)
from benchmarks.hooks import no_warehouse_writes, skip_dbt

__all__ = ["ScaleLimits", "limits", "run_scale"]

# -- the child: one run ------------------------------------------------------------------------


def _rss_mb() -> float:
    """Current resident set size of this process, MiB (Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _scale_scenario(n: int, max_concurrency: int) -> dict[str, Any]:
    return {
        "name": f"bench-scale-{n}",
        "input": {"sync_timeout_seconds": 900},
        "settings": {
            "max_concurrency": max_concurrency,
            "reconcile_after_s": 240,  # the safety net stays out of the way (here a pass comes every second)
            "timeout_s": 900,
        },
        # ids and schemas as long as Fivetran's (two words): payload sizes depend on them
        "connectors": [
            {
                "id": f"bench_conn_{i:04d}",
                "service": "bench",
                "schema": f"bench_schema_{i:04d}",
                "sync": {"duration_s": 0.5 + (i % 5) * 0.25, "rows": 1},
            }
            for i in range(n)
        ],
    }


def _paths_scenario() -> dict[str, Any]:
    connectors = []
    for i in range(4):
        connectors += [
            {"id": f"ok_conn_{i}", "service": "bench", "sync": {"duration_s": 0.5}},
            {"id": f"failed_conn_{i}", "service": "bench", "sync": {"duration_s": 0.5, "outcome": "failure"}},
            {
                "id": f"resched_conn_{i}",
                "service": "bench",
                "sync": {"duration_s": 0.5, "outcome": "rescheduled", "rescheduled_for_s": 1},
            },
        ]
    return {
        "name": "bench-paths",
        "input": {"sync_timeout_seconds": 300, "on_sync_failure": "continue"},
        "settings": {"max_concurrency": 0, "reconcile_after_s": 2, "timeout_s": 300},
        "connectors": connectors,
    }


def child(raw_scenario: dict[str, Any], out: Path, *, real_warehouse: bool) -> None:
    from local.report import build_report
    from local.runtime import LocalRuntime
    from local.scenario import parse_scenario

    scenario = parse_scenario(raw_scenario)
    n = len(scenario.connectors)
    writes = contextlib.nullcontext() if real_warehouse else no_warehouse_writes()
    started = time.monotonic()
    with writes, LocalRuntime(scenario, pace=True) as runtime:
        skip_dbt()
        dynamodb_calls: Counter[str] = Counter()

        def count(model: Any = None, **_: Any) -> None:
            if model is not None and threading.current_thread().name != "reconcile":
                dynamodb_calls[model.name] += 1

        runtime.clients["dynamodb"].meta.events.register("before-call", count)
        start_s = time.monotonic() - started
        rss_start = _rss_mb()
        result = runtime.run(timeout=float(scenario.settings["timeout_s"]))
        dynamodb_during_run = dict(dynamodb_calls)  # before the report's own Scan
        report = build_report(runtime, result)
    history = result.history
    per_iteration = events_per_iteration(history)
    connectors_of = iteration_connectors(history)
    outcome_of = {c["connector_id"]: c["outcome"] for c in report["connectors"]}
    by_outcome: dict[str, list[int]] = {}
    for index, count_ in per_iteration.items():
        cid = connectors_of.get(index, "")
        label = outcome_of.get(cid, "unknown")
        if cid.startswith("resched_"):  # the paths run: rescheduled once, then succeeded
            label += "_after_reschedule"
        by_outcome.setdefault(label, []).append(count_)
    size, where = largest_payload(history)
    calls = lambda_calls(history)
    execution = report["execution"]
    out.write_text(
        json.dumps(
            {
                "connections": n,
                "status": execution["status"],
                "error": execution["error"],
                "cause": (execution["cause"] or "")[:300],
                "start_s": start_s,
                "wall_s": result.duration_s,
                "history_events": len(history),
                "iteration_events_median": statistics.median(per_iteration.values()) if per_iteration else 0,
                "iterations": len(per_iteration),
                "fixed_events": len(history) - sum(per_iteration.values()),
                "events_by_outcome": {k: statistics.median(v) for k, v in sorted(by_outcome.items())},
                "transitions": state_transitions(history),
                "largest_payload_bytes": size,
                "largest_payload_at": where,
                "rss_start_mb": rss_start,
                "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "lambda_calls": [[c.function, c.seconds] for c in calls],
                "dynamodb_calls": dynamodb_during_run,
                "fivetran_api_calls": report["fivetran_api_calls"]["total"],
                "webhooks": report["webhooks"],
                "real_warehouse": real_warehouse,
            }
        ),
        encoding="utf-8",
    )


# -- the parent: sizes, budget, extrapolation ---------------------------------------------------


def _run_child(args: list[str], workdir: Path, timeout_s: float) -> dict[str, Any]:
    out = workdir / f"scale-{'-'.join(args).replace('--', '')}.json"
    log = workdir / "scale-children.log"
    code = run_child("scale", [*args, "--out", str(out)], log=log, timeout_s=timeout_s)
    if code != 0 or not out.exists():
        raise RuntimeError(f"scale run {args} exited {code}; see {log}")
    return json.loads(out.read_text(encoding="utf-8"))


def run_scale(
    sizes: list[int],
    *,
    workdir: Path,
    budget_s: float = 240.0,
    max_concurrency: int = 0,
    real_warehouse: bool = False,
    paths: bool = True,
    measure_up_to: int | None = None,
) -> dict[str, Any]:
    """Measure each size that fits ``budget_s`` (and ``measure_up_to``); the rest are extrapolated."""
    began = time.monotonic()
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    seconds_per_connection = 0.0
    extra = ["--real-warehouse"] if real_warehouse else []
    for n in sorted(sizes):
        spent = time.monotonic() - began
        predicted = seconds_per_connection * n * 1.2 + 5
        if measure_up_to is not None and n > measure_up_to:
            runs.append({"connections": n, "measured": False, "predicted_s": predicted})
            notes.append(f"{n} connections: not run (measuring up to {measure_up_to})")
            continue
        if seconds_per_connection and spent + predicted > budget_s:
            runs.append({"connections": n, "measured": False, "predicted_s": predicted})
            notes.append(f"{n} connections: predicted {predicted:.0f} s, over the {budget_s:.0f} s budget")
            continue
        try:
            result = _run_child(
                ["--child", str(n), "--max-concurrency", str(max_concurrency), *extra],
                workdir,
                timeout_s=max(60.0, budget_s - spent + 60),
            )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            runs.append({"connections": n, "measured": False, "predicted_s": predicted})
            notes.append(f"{n} connections: {exc}")
            continue
        result["measured"] = True
        runs.append(result)
        seconds_per_connection = (result["wall_s"] + result["start_s"]) / n
    paths_run = None
    if paths:
        try:
            paths_run = _run_child(["--child-paths"], workdir, timeout_s=300)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            notes.append(f"paths run: {exc}")
    return {"runs": runs, "paths": paths_run, "notes": notes, "elapsed_s": time.monotonic() - began}


class ScaleLimits:
    """The ceiling of one execution, from measured runs."""

    def __init__(
        self,
        fixed_events: float,
        events_per_connection: float,
        payload_fixed: float,
        payload_per_connection: float,
        events_per_rescheduled: float | None = None,
    ) -> None:
        self.fixed_events = fixed_events
        self.events_per_connection = events_per_connection
        self.payload_fixed = payload_fixed
        self.payload_per_connection = payload_per_connection
        self.events_per_rescheduled = events_per_rescheduled

    def by_events(self, per_connection: float | None = None) -> int:
        per = per_connection or self.events_per_connection
        return math.floor((STEP_FUNCTIONS_MAX_EVENTS - self.fixed_events) / per)

    def by_payload(self) -> int:
        return math.floor(
            (STEP_FUNCTIONS_MAX_PAYLOAD_BYTES - self.payload_fixed) / self.payload_per_connection
        )

    def events_at(self, n: int) -> int:
        return round(self.fixed_events + self.events_per_connection * n)

    def payload_at(self, n: int) -> int:
        return round(self.payload_fixed + self.payload_per_connection * n)


def limits(scale: dict[str, Any]) -> ScaleLimits | None:
    """Fit events and payload against connections over the runs that succeeded; ``None`` when the
    run's own history does not grow with connections (a Distributed Map: each sync is a child
    execution with its own history, and the state keeps a bounded summary)."""
    ok = [r for r in scale["runs"] if r.get("measured") and r["status"] == "SUCCEEDED"]
    if not ok:
        return None
    largest = max(ok, key=lambda r: r["connections"])
    per_connection = float(largest["iteration_events_median"])
    if per_connection <= 0:
        return None
    if len(ok) >= 2:
        small = min(ok, key=lambda r: r["connections"])
        slope = (largest["largest_payload_bytes"] - small["largest_payload_bytes"]) / (
            largest["connections"] - small["connections"]
        )
    else:
        slope = largest["largest_payload_bytes"] / largest["connections"]
    payload_fixed = largest["largest_payload_bytes"] - slope * largest["connections"]
    rescheduled = None
    if scale.get("paths"):
        rescheduled = scale["paths"]["events_by_outcome"].get("succeeded_after_reschedule")
    return ScaleLimits(
        fixed_events=float(largest["fixed_events"]),
        events_per_connection=per_connection,
        payload_fixed=payload_fixed,
        payload_per_connection=slope,
        events_per_rescheduled=rescheduled,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One scale run (used by python -m benchmarks).")
    parser.add_argument("--child", type=int, help="connections")
    parser.add_argument("--child-paths", action="store_true", help="the success/failure/reschedule run")
    parser.add_argument("--max-concurrency", type=int, default=0)
    parser.add_argument("--real-warehouse", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.child_paths:
        child(_paths_scenario(), args.out, real_warehouse=args.real_warehouse)
    elif args.child:
        child(_scale_scenario(args.child, args.max_concurrency), args.out, real_warehouse=args.real_warehouse)
    else:
        parser.error("give --child N or --child-paths")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
