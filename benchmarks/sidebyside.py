"""Wall time at scale and Fivetran trouble: ours and the polling peer on the same simulated work.

Each case is one scenario (``local/README.md``'s format) played twice by the same simulator code:

- **Ours**: the real state machine in ``local.runtime.LocalRuntime``, whatever definition it provisions
  (inline or distributed Map), in its own process (``python -m benchmarks.sidebyside --child``) so moto
  starts empty. Default settings: the runtime's own Map concurrency, the production safety-net
  cadence and threshold (a pass every 60 s, tokens from 60 s), the heartbeat that cadence needs. dbt's
  task exits at once and the simulator's DuckDB writes are off (``benchmarks.hooks``): dbt's *start* is
  what is measured. Times, from the execution history and the simulator: the run's start is the
  ``ExecutionStarted`` event; each sync's **detection** is
  the first ``sync_end`` delivery of that connection the webhook receiver answered 2xx (the simulator's
  delivery log: the receiver answers after it completed the token); **dbt's start** is the
  ``TaskStateEntered`` event of ``RunDbt``. Outcomes: the runtime's report.
- **Peer**: ``dagster-fivetran``'s ``sync_and_poll`` (``peer_driver.py``, its own venv, through
  ``peer_proxy``), one thread per connection, at its default poll interval. Its start is when the first
  thread started; a sync's detection is when its ``sync_and_poll`` returned; dbt would start when the
  last one returned, and only if none failed (Dagster skips the steps downstream of a failed one).

Fivetran API calls: the simulator's count for ours, the proxy's for the peer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import resource
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.child import run_child
from benchmarks.latency import PRODUCTION_RECONCILE_AFTER_S, RECONCILE_EVERY_S

__all__ = [
    "CaseRun",
    "run_case",
    "trouble_scenario",
    "walltime_scenario",
]


def spread(n: int, low: float, high: float) -> list[float]:
    """``n`` sync durations spread evenly over ``low``..``high`` seconds, interleaved so that long and
    short ones alternate (a Map that starts them in order does not get the short ones first)."""
    if n == 1:
        return [low]
    values = [round(low + (high - low) * i / (n - 1), 2) for i in range(n)]
    return [values[(i * 7919) % n] for i in range(n)] if n % 7919 else values


def walltime_scenario(n: int, low: float, high: float) -> dict[str, Any]:
    timeout = int(high * 4 + n * 2 + 120)
    return {
        "name": f"bench-walltime-{n}",
        "input": {"sync_timeout_seconds": max(900, timeout)},
        "settings": {
            "reconcile_after_s": PRODUCTION_RECONCILE_AFTER_S,
            "reconcile_interval_s": RECONCILE_EVERY_S,
            "timeout_s": timeout,
        },
        "connectors": [
            {
                "id": f"bench_conn_{i:04d}",
                "service": "bench",
                "schema": f"bench_schema_{i:04d}",
                "sync": {"duration_s": d, "rows": 1},
            }
            for i, d in enumerate(spread(n, low, high))
        ],
    }


def trouble_scenario(
    kind: str, n: int, low: float, high: float, start_s: float, duration_s: float
) -> dict[str, Any]:
    """``kind``: ``outage`` (every call answers 503) or ``storm`` (429, Retry-After = what is left)."""
    status = 503 if kind == "outage" else 429
    scenario = walltime_scenario(n, low, high)
    scenario["name"] = f"bench-{kind}-{n}"
    scenario["fivetran"] = {"api_outage": {"start_s": start_s, "duration_s": duration_s, "status": status}}
    scenario["settings"]["timeout_s"] = int(high + duration_s + 300)
    return scenario


# The run report's fields that count what AWS bills (local/README.md, "Report"), kept per run of ours.
BILLED_FIELDS = (
    "lambda_invocations",
    "deferrals",
    "max_deferrals_per_connection",
    "state_transitions",
    "aws_requests",
    "duration_s",
)


# -- one side's run -------------------------------------------------------------------------------------


@dataclass
class CaseRun:
    side: str
    connections: int
    ok: bool  # the run finished correctly: every sync succeeded and dbt started
    to_last_detection_s: float | None
    to_dbt_s: float | None
    outcomes: dict[str, int]  # succeeded / failed / timed_out / unfinished
    api_calls: int
    status: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _seconds(later: datetime | float, earlier: datetime | float) -> float:
    a = later.timestamp() if isinstance(later, datetime) else later
    b = earlier.timestamp() if isinstance(earlier, datetime) else earlier
    return a - b


def _ours_child(raw: dict[str, Any], out: Path) -> None:
    from benchmarks.hooks import no_warehouse_writes, skip_dbt
    from local.report import build_report
    from local.runtime import LocalRuntime
    from local.scenario import parse_scenario

    scenario = parse_scenario(raw)
    ids = {c.id for c in scenario.connectors}
    with no_warehouse_writes(), LocalRuntime(scenario, pace=True) as runtime:
        skip_dbt()
        result = runtime.run(timeout=float(scenario.settings["timeout_s"]))
        report = build_report(runtime, result)
        assert runtime.simulator is not None
        deliveries = list(runtime.simulator.webhooks.deliveries)
        calls = runtime.simulator.api_calls()
    history = result.history
    started = history[0]["timestamp"]
    dbt = next(
        (
            e["timestamp"]
            for e in history
            if e["type"] == "TaskStateEntered"
            and e.get("stateEnteredEventDetails", {}).get("name") == "RunDbt"
        ),
        None,
    )
    detected: dict[str, float] = {}
    for d in deliveries:
        if d["event"] == "sync_end" and d["connector_id"] in ids and str(d["status"]).startswith("2"):
            detected.setdefault(d["connector_id"], d["at"])
    outcomes = Counter(c["outcome"] for c in report["connectors"])
    outcomes["unfinished"] = len(ids) - sum(outcomes.values())
    billed = {key: report.get(key) for key in BILLED_FIELDS}
    billed["webhooks"] = report.get("webhooks")
    billed["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = report["execution"]["status"]
    ok = status == "SUCCEEDED" and outcomes.get("succeeded", 0) == len(ids) and dbt is not None
    out.write_text(
        json.dumps(
            {
                "status": status,
                "ok": ok,
                "to_last_detection_s": _seconds(max(detected.values()), started)
                if len(detected) == len(ids)
                else None,
                "to_dbt_s": _seconds(dbt, started) if dbt is not None else None,
                "outcomes": dict(outcomes),
                "api_calls": int(calls["total"]),
                "by_endpoint": dict(calls["by_endpoint"]),
                "history_events": len(history),
                "error": report["execution"]["error"],
                "billed": billed,
            }
        ),
        encoding="utf-8",
    )


def _run_ours(raw: dict[str, Any], workdir: Path, timeout_s: float) -> CaseRun:
    n = len(raw["connectors"])
    spec = workdir / f"{raw['name']}-{time.monotonic_ns()}.json"
    out = spec.with_suffix(".out.json")
    spec.write_text(json.dumps(raw), encoding="utf-8")
    try:
        code = run_child(
            "sidebyside",
            ["--child", str(spec), "--out", str(out)],
            log=workdir / "sidebyside-children.log",
            timeout_s=timeout_s,
        )
    except subprocess.TimeoutExpired:
        code = -1
    if code != 0 or not out.exists():
        return CaseRun("ours", n, False, None, None, {"unfinished": n}, 0, "ERROR", f"child exited {code}")
    data = json.loads(out.read_text(encoding="utf-8"))
    return CaseRun(
        "ours",
        n,
        data["ok"],
        data["to_last_detection_s"],
        data["to_dbt_s"],
        data["outcomes"],
        data["api_calls"],
        data["status"],
        data.get("error") or "",
        extra={
            "history_events": data["history_events"],
            "by_endpoint": data["by_endpoint"],
            "billed": data.get("billed") or {},
        },
    )


def _short(error: str) -> str:
    """``Failure('Max retries (3) exceeded with url: ...')`` -> ``Failure: Max retries (3) exceeded``."""
    text = re.sub(r" with url: \S+", "", error.replace("\\n", " "))
    return re.sub(r"^(\w+)\(['\"]?", r"\1: ", text).rstrip("')\" ")[:90]


def _run_peer(raw: dict[str, Any], peer_python: Path, mode: str, workdir: Path, timeout_s: float) -> CaseRun:
    from benchmarks.hooks import no_warehouse_writes
    from benchmarks.peer_run import run_peer_driver
    from local.scenario import parse_scenario

    scenario = parse_scenario(raw)
    n = len(scenario.connectors)
    with no_warehouse_writes():
        run = run_peer_driver(
            scenario,
            peer_python,
            mode=mode,
            timeout_s=timeout_s,
            grace_s=90,
            duckdb_path=workdir / f"peer-{time.monotonic_ns()}.duckdb",
        )
    calls = run.calls
    if run.returncode is None:
        return CaseRun("peer", n, False, None, None, {"unfinished": n}, sum(calls.values()), "ERROR")
    if run.answer is None:
        return CaseRun(
            "peer", n, False, None, None, {"unfinished": n}, sum(calls.values()), "ERROR", run.stderr[-300:]
        )
    answer = run.answer
    results = answer["results"]
    start = min((r["started_at"] for r in results.values()), default=0.0)
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for entry in results.values():
        if entry.get("ok"):
            outcomes["succeeded"] += 1
        else:
            error = str(entry.get("error", ""))
            kind = "timed_out" if "timed out" in error else "failed"
            outcomes[kind] += 1
            errors[_short(error)] += 1
    outcomes["unfinished"] = len(answer.get("unfinished", []))
    last = max((r["seen_at"] for r in results.values()), default=None)
    ok = outcomes["succeeded"] == n
    return CaseRun(
        "peer",
        n,
        ok,
        (last - start) if last is not None and len(results) == n else None,
        (last - start) if ok and last is not None else None,
        dict(outcomes),
        sum(calls.values()),
        "SUCCEEDED" if ok else "FAILED",
        "; ".join(f"{k} x{v}" for k, v in errors.most_common(2)),
        extra={"label": answer["peer"], "poll_interval_s": answer["poll_interval_s"], "by_endpoint": calls},
    )


def run_case(
    raw: dict[str, Any], *, side: str, workdir: Path, peer_python: Path | None = None, peer_mode: str = "real"
) -> CaseRun:
    timeout = float(raw["settings"]["timeout_s"]) + 120
    if side == "ours":
        return _run_ours(raw, workdir, timeout)
    assert peer_python is not None
    return _run_peer(raw, peer_python, peer_mode, workdir, float(raw["settings"]["timeout_s"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One of our runs (used by python -m benchmarks).")
    parser.add_argument("--child", type=Path, required=True, help="a scenario as JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(BrokenPipeError):
        _ours_child(json.loads(args.child.read_text(encoding="utf-8")), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
