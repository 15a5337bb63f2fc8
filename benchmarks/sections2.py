"""Markdown for the second round: wall time at scale, Fivetran trouble, attribution, the distributed cost."""

from __future__ import annotations

from typing import Any

from benchmarks import cost
from benchmarks.attribution import AttributionResult
from benchmarks.sidebyside import CaseRun
from benchmarks.stats import ratio
from benchmarks.tables import fmt, markdown_table, money

__all__ = ["attribution_section", "distributed_cost_section", "trouble_section", "walltime_section"]


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
            "without a `Failure`). Ours runs with the production safety-net threshold (240 s).",
            table,
            described,
        ]
    )


def attribution_section(result: AttributionResult, real_worlds: int) -> str:
    def row(label: str, tally: Any, how: str) -> list[str]:
        return [label, how, fmt(tally.runs), fmt(tally.wrong), fmt(tally.unresolved)]

    real = row(
        "this design (real path)",
        result.ours_real,
        "`start_sync` + `handle_webhook` (signed) + token store on moto DynamoDB",
    )
    real[-1] += f" ({result.ours_real.unresolved_after_safety_net} after one safety-net pass)"
    rows = [
        real,
        row(
            "this design (the rule, webhooks only)",
            result.ours_rule_webhooks,
            "`bind(complete=False)`: BOUND to another sync",
        ),
        row("this design (the rule, full history)", result.ours_rule_history, "`bind(complete=True)`"),
    ]
    for interval, tally in sorted(result.peer.items(), reverse=True):
        rows.append(
            row(
                f"dagster-fivetran's rule, polling every {interval:g} s",
                tally,
                "`last_sync_completed_at > previous` (`poll_sync`)",
            )
        )
    table = markdown_table(
        ["decides", "how", "runs", "given another sync's outcome", "unresolved"], rows, align="llrrr"
    )
    real_note = (
        f"the real path ran {result.ours_real.runs:,} runs ({real_worlds:,} worlds)"
        if real_worlds < result.worlds
        else "every world also ran the real path"
    )
    return "\n\n".join(
        [
            "## 7. Attribution under chaos: is each run given its own sync's outcome?",
            f"{result.worlds:,} seeded random worlds (`benchmarks/attribution.py`), "
            f"{result.ours_rule_history.runs:,} runs: per connection 0-3 syncs before the trigger, "
            f"a trigger that joins a running sync (409: {result.joined:,} runs) or starts one, syncs "
            f"after it, a second run on the same connection in {result.second_runs:,} worlds, "
            f"`sync_end`-only webhooks in {result.sync_end_only:,}; every delivery delayed (up to 60 s), "
            "a third delivered twice, so reordered; "
            f"Fivetran's clock offset up to ±{result.max_offset_s:.0f} s. "
            f"The truth is known by construction; {real_note}. Unresolved = no outcome once every "
            f"event was delivered, before any safety-net pass. Took {result.seconds:.0f} s.",
            table,
            "- The peer reads the connection's `succeeded_at`/`failed_at` before triggering and takes "
            "the outcome of the first completion it polls after that. A sync that ends between that read "
            "and the trigger (a scheduled sync finishing), or a later sync that ends before its next poll, "
            "gives it another sync's outcome. It reads no webhooks, so the delivery chaos does not reach "
            "it; the clock offset reaches neither side (both compare Fivetran's times with Fivetran's).",
        ]
    )


def _break_even(priced: dict[int, dict[str, float]], polling: float) -> str:
    sizes = sorted(priced)
    n = cost.break_even(
        sizes[0], cost.total(priced[sizes[0]]), sizes[-1], cost.total(priced[sizes[-1]]), polling
    )
    return "—" if n is None else f"{n:,.0f}"


def distributed_cost_section(
    sizes: list[int], *, memory_mb: int, dbt_s: float, window_s: float, model: cost.DistributedModel
) -> str:
    worker = cost.PollingWorker()
    polling = cost.total(cost.price(cost.polling_usage(worker, window_s, dbt_s)))
    priced = {n: cost.distributed_price(n, model, memory_mb=memory_mb, dbt_s=dbt_s) for n in sizes}
    items = list(next(iter(priced.values())).keys())
    rows = [[item, *[money(priced[n][item]) for n in sizes]] for item in items]
    rows.append(["**total, ours**", *[f"**{money(cost.total(priced[n]))}**" for n in sizes]])
    rows.append(["one polling worker", *[money(polling) for _ in sizes]])
    rows.append(["ratio ours / polling", *[f"{cost.total(priced[n]) / polling:.2f}" for n in sizes]])
    rows.append(
        ["Fivetran API calls, polling", *[fmt(cost.polling_api_calls(worker, n, window_s)) for n in sizes]]
    )
    table = markdown_table(["per run", *[f"{n:,} connections" for n in sizes]], rows)
    return "\n\n".join(
        [
            "## 8. Cost per run, re-priced for the distributed run",
            f"A model, not a measurement: the distributed definition (every sync at once, child "
            f"executions reading their items from S3, ResultWriter, `collect_outcomes`). Per run: "
            f"{model.parent_transitions} parent transitions + {model.map_run_transitions} for the map run "
            f"+ {model.child_transitions} per child execution (`StartSyncAndWait` + one `Record*`; "
            "re-count from `statemachine/orchestrator.asl.json` once the distributed Map is merged); S3: "
            "the item file PUT, ItemReader's GET, ResultWriter's manifest and "
            f"{model.result_files_fixed} + 1 per 1,000 result files (PUT, then GET by `collect_outcomes`), "
            f"the `outcomes.json` PUT; Lambda at {memory_mb} MB: `start_sync` {model.start_sync_s:g} s per "
            f"connection, {model.webhooks_per_sync} webhooks per sync at {model.webhook_s * 1000:.1f} ms, "
            f"list/items/collect; DynamoDB {model.writes_per_sync} writes and {model.reads_per_sync} reads "
            f"per sync; dbt on Fargate {dbt_s:g} s. Polling: one worker (1 vCPU, 2 GB) held for the "
            f"{window_s:g} s sync window and dbt, polling every {worker.poll_interval_s:g} s.",
            table,
            f"- Rates: {cost.describe_rates()} S3 Standard: PUT ${cost.S3_PUT_PER_REQUEST * 1000:.3f} per "
            f"1,000, GET ${cost.S3_GET_PER_REQUEST * 1000:.4f} per 1,000 (source: {cost.S3_SOURCE}).",
            f"- Break-even: ours costs what one polling worker does at about {_break_even(priced, polling)} "
            "connections per run. The polling worker's cost does not grow with connections, but one worker "
            "polling 10,000 connections every 10 s makes 1,000 API calls a second, far past Fivetran's "
            "rate limits.",
        ]
    )
