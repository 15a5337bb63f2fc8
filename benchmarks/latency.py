"""Detection latency and Fivetran API calls: this design versus ``dagster-fivetran`` polling the same syncs.

Both sides get the same simulated work: N connections whose syncs last ``durations`` seconds, played
by ``local/fivetran_sim/``. Latency is, per sync, when the orchestrator knew the sync had ended
minus when the simulator ended it (``FivetranSimulator.sync_ended_at``); all clocks are this machine's.

- **Ours**: one run of the real state machine in the local runtime (moto, ``chalice local`` serving the
  webhook, the simulator posting signed ``sync_end`` webhooks). "Knew" is when the webhook route
  answered the first accepted ``sync_end`` of each sync (the simulator's delivery log): the route
  answers after its ``SendTaskSuccess``/``Failure`` reached Step Functions. (Each sync's task runs in
  a child execution of the Distributed Map, whose events are not in the run's history.) The safety
  net runs at the production cadence and threshold (a pass every 60 s for tokens older than 60 s), so
  it stays silent for these short syncs, as it would on AWS. API calls are the simulator's own counts.
- **Peer**: ``dagster-fivetran``'s ``FivetranClient.sync_and_poll`` (what ``FivetranWorkspace`` runs to
  materialize a connector's assets), one thread per connection, in its own venv (``peer_env``). The
  client hard-codes ``https://api.fivetran.com/v1``, so ``peer_driver.py`` subclasses it to override the
  ``api_base_url`` property only, and points it at ``peer_proxy.LegacyPathProxy``: the peer calls the
  legacy ``/v1/connectors/{id}`` paths (``GET``, ``PATCH``, ``POST .../force``, ``GET .../schemas``), the
  simulator serves ``/v1/connections/{id}`` and ``POST .../sync``, and the proxy maps one to the other
  and counts every call the peer makes. "Knew" is when ``sync_and_poll`` returned. It runs at the
  package's default poll interval (``DEFAULT_POLL_INTERVAL``, read from the installed package: 10 s in
  0.29.27) and at 1 s. If the package cannot be installed here, ``peer_driver.py --mode reimplementation``
  replays the same calls in the same order and every row says so.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.history import state_seconds
from benchmarks.hooks import skip_dbt
from benchmarks.peer_run import run_peer_driver
from benchmarks.stats import Summary, summarize
from local.runtime import LocalRuntime
from local.scenario import Scenario, parse_scenario

__all__ = ["SideResult", "durations", "latency_scenario", "run_ours", "run_peer"]

PRODUCTION_RECONCILE_AFTER_S = 60  # RECONCILE_AFTER_SECONDS on AWS
RECONCILE_EVERY_S = 60  # the reconcile_syncs schedule on AWS


def durations(n: int, low: float = 2.0, high: float = 6.0) -> list[float]:
    """``n`` sync durations spread evenly over ``low``..``high`` seconds."""
    if n == 1:
        return [low]
    return [round(low + (high - low) * i / (n - 1), 2) for i in range(n)]


def latency_scenario(sync_durations: list[float]) -> Scenario:
    return parse_scenario(
        {
            "name": "bench-latency",
            "input": {"sync_timeout_seconds": 300},
            "settings": {
                "max_concurrency": max(10, len(sync_durations)),
                "reconcile_after_s": PRODUCTION_RECONCILE_AFTER_S,
                "reconcile_interval_s": RECONCILE_EVERY_S,
                "timeout_s": 300,
            },
            "connectors": [
                {"id": f"bench_conn_{i:02d}", "service": "bench", "sync": {"duration_s": d, "rows": 5}}
                for i, d in enumerate(sync_durations)
            ],
        }
    )


@dataclass
class SideResult:
    label: str
    syncs: int
    latencies_s: list[float]
    api_calls: int
    by_endpoint: dict[str, int]
    poll_interval_s: float | None = None
    default_interval: bool = False
    note: str = ""
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> Summary | None:
        return summarize(self.latencies_s) if self.latencies_s else None

    @property
    def calls_per_sync(self) -> float:
        return self.api_calls / self.syncs if self.syncs else 0.0

    def calls_per_hour_of_sync(self) -> float:
        """Model: API calls for one connection whose sync lasts an hour."""
        if self.poll_interval_s is None:  # ours: trigger + a share of the group listing each pass after 60 s
            passes = math.ceil((3600 - PRODUCTION_RECONCILE_AFTER_S) / RECONCILE_EVERY_S)
            return self.calls_per_sync + passes / max(1, self.syncs)
        polls_seen = self.extra.get("polls_per_sync", 0.0)
        setup = self.calls_per_sync - polls_seen
        return setup + 3600 / self.poll_interval_s + 1


def accepted_sync_ends(deliveries: list[dict[str, Any]]) -> dict[str, list[datetime]]:
    """Per connection, when the route accepted (2xx) a ``sync_end``: the moment the run knew."""
    done: dict[str, list[datetime]] = {}
    for delivery in sorted(deliveries, key=lambda d: d["at"]):
        status = delivery.get("status")
        if delivery.get("event") == "sync_end" and isinstance(status, int) and 200 <= status < 300:
            done.setdefault(delivery["connector_id"], []).append(datetime.fromtimestamp(delivery["at"], UTC))
    return done


def run_ours(sync_durations: list[float], workdir: Path, *, run_dbt: bool = True) -> SideResult:
    scenario = latency_scenario(sync_durations)
    started = time.monotonic()
    with LocalRuntime(scenario, workdir=workdir, pace=True) as runtime:
        if not run_dbt:
            skip_dbt()
        result = runtime.run(timeout=300)
        assert runtime.simulator is not None
        ended = {cid: list(times) for cid, times in runtime.simulator.sync_ended_at.items()}
        calls = runtime.simulator.api_calls()
        webhooks = runtime.simulator.webhooks.to_dict()
        deliveries = list(runtime.simulator.webhooks.deliveries)
    done = accepted_sync_ends(deliveries)
    latencies = [
        (done[cid][0] - ended[cid][0]).total_seconds() for cid in sorted(done) if ended.get(cid) and done[cid]
    ]
    status = result.described["status"]
    return SideResult(
        label="this design (webhook)",
        syncs=len(sync_durations),
        latencies_s=latencies,
        api_calls=int(calls["total"]),
        by_endpoint=dict(calls["by_endpoint"]),
        note=f"execution {status}; webhooks {webhooks['accepted']}/{webhooks['sent']} accepted",
        wall_s=time.monotonic() - started,
        extra={
            "status": status,
            "history_events": len(result.history),
            "dbt_s": state_seconds(result.history, "RunDbt") if run_dbt else None,
        },
    )


def run_peer(
    sync_durations: list[float],
    peer_python: Path,
    *,
    mode: str,
    poll_interval_s: float | None,
    workdir: Path,
    timeout_s: float = 180,
) -> SideResult:
    """Let the peer sync-and-poll the same connections against a fresh simulator, through the proxy."""
    run = run_peer_driver(
        latency_scenario(sync_durations),
        peer_python,
        mode=mode,
        timeout_s=timeout_s,
        grace_s=60,
        duckdb_path=workdir / "peer-warehouse.duckdb",
        poll_interval_s=poll_interval_s,
    )
    if run.returncode is None:
        raise subprocess.TimeoutExpired(run.command, timeout_s + 60)
    if run.answer is None:
        raise RuntimeError(f"peer driver exited {run.returncode}: {run.stderr.strip()[-800:]}")
    answer, ended, calls = run.answer, run.ended, run.calls
    latencies, failures = [], []
    for cid, entry in sorted(answer["results"].items()):
        if not entry.get("ok"):
            failures.append(f"{cid}: {entry.get('error')}")
        if ended.get(cid):
            latencies.append(entry["seen_at"] - ended[cid][0].timestamp())
    interval = float(answer["poll_interval_s"])
    # Two GETs per sync come before the trigger (_sync_and_poll, then _start_sync); the rest are polls.
    polls = calls.get("GET /v1/connectors/{id}", 0) / len(sync_durations) - 2
    note = answer["peer"]
    if failures or answer.get("unfinished"):
        note += f"; problems: {failures + answer.get('unfinished', [])}"
    return SideResult(
        label=answer["peer"],
        syncs=len(sync_durations),
        latencies_s=latencies,
        api_calls=sum(calls.values()),
        by_endpoint=calls,
        poll_interval_s=interval,
        default_interval=interval == float(answer["default_poll_interval_s"]),
        note=note,
        wall_s=run.seconds,
        extra={"polls_per_sync": polls, "default_poll_interval_s": answer["default_poll_interval_s"]},
    )


def main() -> int:
    """``python -m benchmarks.latency``: a quick look at ours and the reimplemented peer (no venv needed)."""
    sync_durations = durations(4)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        ours = run_ours(sync_durations, Path(tmp) / "ours", run_dbt=False)
        peer = run_peer(
            sync_durations,
            Path(sys.executable),
            mode="reimplementation",
            poll_interval_s=1,
            workdir=Path(tmp),
        )
    for side in (ours, peer):
        print(side.label, side.summary, side.by_endpoint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
