"""Sections 5 and 6 of ``results.md``: wall time at scale and Fivetran trouble, ours and the polling
peer on the same scenario (from ``benchmarks.sidebyside``'s ``CaseRun`` of each side)."""

from __future__ import annotations

from benchmarks.sidebyside import CaseRun
from benchmarks.stats import ratio
from benchmarks.tables import fmt, markdown_table

__all__ = ["trouble_section", "walltime_section"]


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _r(ours: float | None, peer: float | None) -> str:
    if ours is None or peer is None:
        return "—"
    value = ratio(ours, peer)
    return "—" if value is None else f"{value:.2f}"


def walltime_section(
    rows: list[tuple[int, CaseRun | None, CaseRun | None, str]], low: float, high: float, definition: str
) -> str:
    table = markdown_table(
        [
            "connections",
            "ours: to last detection (s)",
            "ours: to dbt start (s)",
            "peer: to last detection (s)",
            "peer: to dbt start (s)",
            "ratio ours/peer, detection",
            "ratio ours/peer, dbt start",
            "API calls ours / peer",
        ],
        [
            [
                fmt(n),
                _s(o.to_last_detection_s if o else None),
                _s(o.to_dbt_s if o else None),
                _s(p.to_last_detection_s if p else None),
                _s(p.to_dbt_s if p else None),
                _r(o.to_last_detection_s if o else None, p.to_last_detection_s if p else None),
                _r(o.to_dbt_s if o else None, p.to_dbt_s if p else None),
                f"{fmt(o.api_calls) if o else '—'} / {fmt(p.api_calls) if p else '—'}",
            ]
            for n, o, p, _ in rows
        ],
    )
    notes = [f"- {n:,} connections: {note}" for n, _, _, note in rows if note]
    peer = next((p for _, _, p, _ in rows if p is not None), None)
    label = peer.extra.get("label", "the peer") if peer else "the peer"
    interval = peer.extra.get("poll_interval_s") if peer else None
    return "\n\n".join(
        [
            "## 5. Wall time at scale: ours versus the polling peer",
            f"N connections, sync durations spread evenly over {low:g}-{high:g} s (long and short "
            "interleaved), default settings on both sides, one run each, the same simulator. "
            f"Ours: {definition}; times from the execution history's `ExecutionStarted` to the last "
            "`sync_end` the webhook receiver accepted (the simulator's delivery log) and to `RunDbt`'s "
            "`TaskStateEntered` (dbt's task exits at once; the simulator's DuckDB writes are off). "
            f"Peer: {label}, `sync_and_poll` at its default interval "
            f"({fmt(interval, 0) if interval else '?'} s), one thread per connection, from its first "
            "thread's start to the last `sync_and_poll` return (dbt would start then). "
            "Ratio < 1: ours is faster.",
            table,
            "\n".join(notes),
        ]
    ).strip()


def trouble_section(cases: list[tuple[str, str, list[CaseRun], list[CaseRun]]]) -> str:
    rows = []
    for name, _description, ours, peer in cases:
        for side, runs in (
            ("this design", ours),
            (peer[0].extra.get("label", "peer") if peer else "peer", peer),
        ):
            if not runs:
                continue
            total: dict[str, int] = {}
            for run in runs:
                for key, value in run.outcomes.items():
                    total[key] = total.get(key, 0) + value
            rows.append(
                [
                    name,
                    side,
                    f"{sum(r.ok for r in runs)} / {len(runs)}",
                    fmt(sum(r.connections for r in runs)),
                    fmt(total.get("succeeded", 0)),
                    fmt(total.get("failed", 0)),
                    fmt(total.get("timed_out", 0) + total.get("unfinished", 0)),
                    fmt(round(sum(r.api_calls for r in runs) / len(runs))),
                    "; ".join(sorted({r.note for r in runs if r.note}))[:160] or "",
                ]
            )
    table = markdown_table(
        [
            "fault",
            "orchestrator",
            "runs finished correctly",
            "syncs",
            "succeeded",
            "failed",
            "timed out / unfinished",
            "API calls / run",
            "error",
        ],
        rows,
        align="llrrrrrrl",
    )
    described = "\n".join(f"- **{name}**: {description}" for name, description, _, _ in cases)
    return "\n\n".join(
        [
            "## 6. Fivetran trouble: an API outage and a 429 storm during long syncs",
            "Both sides play the same scenario with the same fault plan (`fivetran.api_outage` in the "
            "simulator: every REST call in the window answers the status; 429 carries `Retry-After` = "
            "the seconds left). The window counts from each side's zero (ours: the runtime is up, just "
            "before the execution starts; the peer: its first API call). A run finished correctly when "
            "every sync ended succeeded and dbt started (the peer: every `sync_and_poll` returned "
            "without a `Failure`). Ours runs with the production safety-net cadence and threshold "
            "(a pass every 60 s, tokens from 60 s).",
            table,
            described,
        ]
    )
