"""Detection without webhooks: the safety net alone at its production cadence, versus ``dagster-fivetran``
polling every 10 s (issue 22).

``python -m benchmarks.no_webhook [--sizes 10,100] [--write]`` prints a Markdown section and, with
``--write``, puts it between the ``nowebhook:begin``/``nowebhook:end`` markers of ``benchmarks/results.md``
(the one place the figures live).

- **Ours**: one run of the real state machine in the local runtime with ``fivetran.webhook_events: []``
  (the simulator sends no webhook at all) and the safety net as on AWS: a pass every 60 s, tokens checked
  from 60 s of age (``reconcile_interval_s``/``reconcile_after_s`` 60). Each pass lists the group once and
  reads the sync history of the connections whose sync ended. "Knew" is when the safety net completed the
  sync's task token (``Resolver.resolve_token`` returned; recorded in-process), minus when the simulator
  ended the sync (``FivetranSimulator.sync_ended_at``), both on this machine's clock.
- **Peer**: ``dagster-fivetran``'s ``sync_and_poll`` at 10 s through ``benchmarks.peer_run`` (the real
  package from ``.venv-bench`` with ``--peer-mode real``, else the labelled re-implementation of its calls).
- **API calls per connection-hour**: the reads spent on detection (ours: the group listings after the
  run's own, the sync-history and connection reads; the peer: its ``GET /v1/connectors/{id}`` polls after
  the two it makes before triggering) over the connection-hours waited (each sync's duration plus its
  detection latency). Short syncs make this figure large for both sides (fixed costs over a few minutes);
  the 1-hour model gives a sync of an hour: ours ``60 x ceil(N / 1000) / N`` listings plus one history read,
  the peer ``3600 / 10`` polls.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks import ROOT
from benchmarks.hooks import no_warehouse_writes, skip_dbt
from benchmarks.latency import run_peer
from benchmarks.stats import Summary, summarize
from benchmarks.tables import fmt, markdown_table
from local.runtime import LocalRuntime
from local.scenario import Scenario, parse_scenario

__all__ = ["NoWebhookResult", "no_webhook_scenario", "run_ours_without_webhooks", "section"]

PASS_EVERY_S = 60  # reconcile_syncs' schedule on AWS
CHECK_FROM_S = 60  # RECONCILE_AFTER_SECONDS on AWS
PEER_POLL_S = 10.0
RESULTS = ROOT / "benchmarks" / "results.md"
BEGIN, END = "<!-- nowebhook:begin -->", "<!-- nowebhook:end -->"
DETECTION_READS = ("GET /v1/connections/{id}/sync-history", "GET /v1/connections/{id}")
LISTING = "GET /v1/groups/{id}/connections"


def spread(n: int, low: float, high: float) -> list[float]:
    """``n`` sync durations spread evenly over ``low``..``high`` seconds (long and short interleaved)."""
    ordered = [low + (high - low) * i / max(1, n - 1) for i in range(n)]
    return [round(d, 1) for d in ordered[0::2] + ordered[1::2]]


def no_webhook_scenario(durations: list[float]) -> Scenario:
    return parse_scenario(
        {
            "name": "bench-no-webhook",
            "input": {"sync_timeout_seconds": 1800},
            "fivetran": {"webhook_events": []},
            "settings": {
                "reconcile_interval_s": PASS_EVERY_S,
                "reconcile_after_s": CHECK_FROM_S,
                "timeout_s": 900,
            },
            "connectors": [
                {"id": f"bench_conn_{i:03d}", "service": "bench", "sync": {"duration_s": d, "rows": 1}}
                for i, d in enumerate(durations)
            ],
        }
    )


@dataclass
class NoWebhookResult:
    label: str
    connections: int
    latencies_s: list[float]
    detection_calls: int
    connection_hours: float
    by_endpoint: dict[str, int]
    note: str = ""
    durations_s: list[float] | None = None  # each connection's sync, in the order of ``latencies_s``

    @property
    def summary(self) -> Summary | None:
        return summarize(self.latencies_s) if self.latencies_s else None

    def long_syncs(self) -> Summary | None:
        """Latency of the syncs that last at least ``CHECK_FROM_S`` (their token is due when they end)."""
        pairs = zip(self.durations_s or [], self.latencies_s, strict=False)
        long = [lat for d, lat in pairs if d >= CHECK_FROM_S]
        return summarize(long) if long else None

    @property
    def calls_per_connection_hour(self) -> float:
        return self.detection_calls / self.connection_hours if self.connection_hours else 0.0

    def model_per_connection_hour(self) -> float:
        """Calls for one connection-hour of a sync that lasts an hour."""
        if self.label.startswith("this design"):
            return PASS_EVERY_S * math.ceil(self.connections / 1000) / self.connections + 1
        return 3600 / PEER_POLL_S


def run_ours_without_webhooks(durations: list[float], workdir: Path) -> NoWebhookResult:
    from chalicelib.tokens.resolver import Resolver

    known: dict[str, float] = {}
    lock = threading.Lock()
    original = Resolver.resolve_token

    def noted(self: Resolver, record: Any, outcome: Any, result: Any) -> None:
        original(self, record, outcome, result)
        with lock:
            known.setdefault(record.connector_id, time.time())

    scenario = no_webhook_scenario(durations)
    with (
        no_warehouse_writes(),
        mock.patch.object(Resolver, "resolve_token", noted),
        LocalRuntime(scenario, workdir=workdir, pace=True) as runtime,
    ):
        skip_dbt()
        result = runtime.run(timeout=900)
        assert runtime.simulator is not None
        ended = {cid: times[0].timestamp() for cid, times in runtime.simulator.sync_ended_at.items() if times}
        calls = dict(runtime.simulator.api_calls()["by_endpoint"])
        sent = runtime.simulator.webhooks.to_dict()["sent"]
    latencies = [known[cid] - ended[cid] for cid in sorted(known) if cid in ended]
    waited = sum(d + lat for d, lat in zip(durations, latencies, strict=False))
    detection = sum(calls.get(e, 0) for e in DETECTION_READS) + max(0, calls.get(LISTING, 0) - 1)
    return NoWebhookResult(
        label="this design, no webhook",
        connections=len(durations),
        latencies_s=latencies,
        detection_calls=detection,
        connection_hours=waited / 3600,
        by_endpoint=calls,
        note=f"execution {result.described['status']}; webhooks sent: {sent}",
        durations_s=durations,
    )


def run_peer_polling(durations: list[float], workdir: Path, peer_python: Path, mode: str) -> NoWebhookResult:
    side = run_peer(
        durations, peer_python, mode=mode, poll_interval_s=PEER_POLL_S, workdir=workdir, timeout_s=900
    )
    polls = max(0, side.by_endpoint.get("GET /v1/connectors/{id}", 0) - 2 * len(durations))
    waited = sum(d + lat for d, lat in zip(durations, side.latencies_s, strict=False))
    return NoWebhookResult(
        label=f"{side.label}",
        connections=len(durations),
        latencies_s=side.latencies_s,
        detection_calls=polls,
        connection_hours=waited / 3600,
        by_endpoint=side.by_endpoint,
        note=side.note,
        durations_s=durations,
    )


def _long(result: NoWebhookResult) -> str:
    long = result.long_syncs()
    return f"{fmt(long.median, 1)} / {fmt(long.p95, 1)}" if long else "—"


def section(results: list[NoWebhookResult], durations_note: str, skipped: list[str]) -> str:
    rows = []
    for r in results:
        s = r.summary
        rows.append(
            [
                r.label,
                "safety net, a pass a minute" if r.label.startswith("this design") else "polling every 10 s",
                r.connections,
                fmt(s.median, 1) if s else "—",
                fmt(s.p95, 1) if s else "—",
                fmt(s.max, 1) if s else "—",
                _long(r),
                fmt(r.calls_per_connection_hour, 1),
                fmt(r.model_per_connection_hour(), 1),
            ]
        )
    table = markdown_table(
        [
            "orchestrator",
            "learns of the end by",
            "connections",
            "latency median (s)",
            "p95 (s)",
            "max (s)",
            f"syncs >= {CHECK_FROM_S} s: median / p95 (s)",
            "detection calls / connection-hour (measured)",
            "calls / connection-hour, 1-h syncs (model)",
        ],
        rows,
    )
    notes = [
        f"- Syncs of {durations_note}, no webhook at all (`fivetran.webhook_events: []`); ours with the"
        " production cadence (a pass every 60 s, tokens from 60 s of age; the first pass comes 60 s after"
        " the runtime is up, as a schedule's phase is arbitrary).",
        "- Latency: when the orchestrator completed (ours) or returned from (peer) the wait, minus when the"
        " simulator ended the sync. A sync shorter than 60 s is found at the first pass after its token is"
        " 60 s old: up to about 60 s + one interval after its end.",
        "- Measured calls / connection-hour: detection reads over (sync duration + latency) summed over"
        " connections; fixed costs over short waits make it high on both sides. Model: ours"
        " `60 x ceil(N/1000)/N` group listings + 1 history read per connection-hour; the peer 3,600/10"
        " polls.",
    ]
    for r in results:
        endpoints = ", ".join(f"`{k}` {v}" for k, v in sorted(r.by_endpoint.items()))
        notes.append(f"- {r.label}, {r.connections} connections: {r.note}; calls by endpoint: {endpoints}.")
    notes += [f"- Not run: {s}" for s in skipped]
    return "\n".join([table, "", *notes])


def replace_block(path: Path, body: str) -> None:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + body + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.no_webhook", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="10,100", help="connections per run (default 10,100)")
    parser.add_argument("--durations", default="20,140", help="sync durations low,high in s (default 20,140)")
    parser.add_argument("--peer-mode", choices=("real", "reimplementation"), default="reimplementation")
    parser.add_argument("--peer-python", type=Path, default=Path(sys.executable))
    parser.add_argument("--write", action="store_true", help="update benchmarks/results.md")
    args = parser.parse_args(argv)
    low, high = (float(x) for x in args.durations.split(","))
    results: list[NoWebhookResult] = []
    for n in (int(x) for x in args.sizes.split(",")):
        durations = spread(n, low, high)
        with tempfile.TemporaryDirectory(prefix="bench-nowebhook-") as tmp:
            print(f"bench: no webhook, {n} connections: ours", file=sys.stderr, flush=True)
            results.append(run_ours_without_webhooks(durations, Path(tmp) / "ours"))
            print(f"bench: no webhook, {n} connections: peer", file=sys.stderr, flush=True)
            results.append(run_peer_polling(durations, Path(tmp), args.peer_python, args.peer_mode))
    body = section(results, f"{low:g}-{high:g} s spread evenly", [])
    print(body)
    if args.write:
        replace_block(RESULTS, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
