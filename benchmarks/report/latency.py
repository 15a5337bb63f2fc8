"""Section 1 of ``results.md``: detection latency and Fivetran API calls, ours versus the polling peer
(from ``benchmarks.latency``'s ``SideResult`` of each side)."""

from __future__ import annotations

from benchmarks.latency import PRODUCTION_RECONCILE_AFTER_S, RECONCILE_EVERY_S, SideResult
from benchmarks.stats import ratio
from benchmarks.tables import fmt, markdown_table

__all__ = ["latency_section"]


def _interval(side: SideResult) -> str:
    if side.poll_interval_s is None:
        return "webhook"
    return f"polling every {side.poll_interval_s:g} s" + (" (its default)" if side.default_interval else "")


def latency_section(
    sides: list[SideResult], sync_durations: list[float], peer_note: str, problems: list[str]
) -> str:
    ours = sides[0]
    rows = []
    for side in sides:
        s = side.summary
        rows.append(
            [
                side.label,
                _interval(side),
                side.syncs,
                fmt(s.median, 3) if s else "—",
                fmt(s.p95, 3) if s else "—",
                fmt(s.max, 3) if s else "—",
                fmt(side.calls_per_sync, 1),
                fmt(side.calls_per_hour_of_sync(), 0),
            ]
        )
    table = markdown_table(
        [
            "orchestrator",
            "learns of the end by",
            "syncs",
            "latency median (s)",
            "p95 (s)",
            "max (s)",
            "API calls / sync",
            "API calls / 1-h sync (model)",
        ],
        rows,
    )
    ratio_rows = []
    for peer in sides[1:]:
        if not (ours.summary and peer.summary):
            continue
        ratio_rows.append(
            [
                f"{peer.label}, {_interval(peer)}",
                fmt(ratio(ours.summary.median, peer.summary.median), 4),
                fmt(ratio(ours.summary.p95, peer.summary.p95), 4),
                fmt(ratio(ours.summary.max, peer.summary.max), 4),
                fmt(ratio(ours.calls_per_sync, peer.calls_per_sync), 3),
                fmt(ratio(ours.calls_per_hour_of_sync(), peer.calls_per_hour_of_sync()), 4),
            ]
        )
    ratios = markdown_table(
        [
            "ours / peer",
            "median latency",
            "p95 latency",
            "max latency",
            "API calls / sync",
            "API calls / 1-h sync",
        ],
        ratio_rows,
    )
    endpoints = "; ".join(
        f"{side.label}, {_interval(side)}: "
        + ", ".join(f"`{k}` {v}" for k, v in sorted(side.by_endpoint.items()))
        for side in sides
    )
    dbt_s = ours.extra.get("dbt_s")
    lines = [
        "## 1. Detection latency and Fivetran API calls: ours versus a polling peer",
        "",
        f"{len(sync_durations)} connections, syncs of {sync_durations[0]:g}-{sync_durations[-1]:g} s, "
        "played by the same simulator for both sides. Latency = when the orchestrator knew the sync had "
        f"ended minus when the simulator ended it. Peer: {peer_note}.",
        "",
        table,
        "",
        ratios,
        "",
        "- Ours: when the webhook route answered the first accepted `sync_end` of each sync (the "
        "simulator's delivery log; webhook → `chalice local` → token store → `SendTaskSuccess` → the "
        "token deleted and the delivery noted for the watchdog → the answer; section 12 splits that "
        "time; until 2026-11-27 this was the `TaskSucceeded` event, before the answer); the execution "
        f"{ours.extra.get('status')}, "
        f"{ours.extra.get('history_events')} history events"
        + (f", dbt took {dbt_s:.1f} s after the syncs (not in the latency)." if dbt_s else "."),
        "- Peer: when `sync_and_poll` returned. It calls the legacy `/v1/connectors` paths through the "
        "benchmark's proxy (`benchmarks/peer_proxy.py`), which counts every call.",
        f"- API calls by endpoint: {endpoints}.",
        "- 1-hour model: ours = the measured calls plus the connection's share of the safety net's one"
        f" group listing every {RECONCILE_EVERY_S} s once a token is older than"
        f" {PRODUCTION_RECONCILE_AFTER_S} s (the webhook ends the wait; without one, add one sync-history"
        " read: section 10); the peer = its measured setup calls plus one `GET` per poll interval for an"
        " hour.",
    ]
    lines += [f"- **Problem:** {p}" for p in problems]
    return "\n".join(lines)
