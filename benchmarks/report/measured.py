"""Sections 8 and 11 of ``results.md``: the cost of one run priced from measured counts, and the
largest run at the default budget (``benchmarks.measured_cost``, ``benchmarks.largest``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks import cost
from benchmarks.measured_cost import (
    AWS_CHILD_STARTS_PER_SECOND,
    DURATION_S,
    OTHER_DURATION_S,
    SCHEDULED,
    BilledRun,
    Fit,
    expected_deferrals,
    paced_trigger_seconds,
    price_run,
)
from benchmarks.tables import fmt, markdown_table, money

__all__ = ["Budget", "LargestRow", "largest_section", "measured_cost_section"]


@dataclass(frozen=True)
class Budget:
    """The default API budget: ``burst`` triggers at once, then one every ``interval_s``."""

    burst: int
    interval_s: float
    per_hour: int


@dataclass(frozen=True)
class LargestRow:
    connections: int
    how: str  # "measured" or "estimated"
    status: str
    wall_s: float | None
    peak_rss_mib: float | None
    run: BilledRun | None
    max_deferrals_per_connection: int | None
    note: str = ""


def _per_connection(fitted: Fit, key: str) -> str:
    return f"{fitted.per_connection.get(key, 0.0):.2f}"


def measured_cost_section(
    measured: Sequence[BilledRun],
    fitted: Fit,
    *,
    extrapolate: Sequence[int],
    budget: Budget,
    memory_mb: int,
    dbt_s: float,
    window_s: float,
    source: str,
) -> str:
    """``measured`` runs priced as counted, and each size of ``extrapolate`` priced from ``fitted``
    with the deferrals the default budget gives it when AWS starts the children."""
    columns: list[tuple[str, BilledRun]] = [(f"{r.connections:,} (measured)", r) for r in measured]
    for n in extrapolate:
        deferred = expected_deferrals(n, burst=budget.burst, interval_s=budget.interval_s)
        columns.append((f"{n:,} (extrapolated)", fitted.predict(n, deferred)))
    priced = [price_run(run, memory_mb=memory_mb, dbt_s=dbt_s) for _, run in columns]
    worker = cost.PollingWorker()
    polling = cost.total(cost.price(cost.polling_usage(worker, window_s, dbt_s)))
    functions = sorted({name for _, run in columns for name in run.billed_invocations})
    count_rows: list[list[str]] = [
        ["state transitions (parent + children)", *[fmt(run.transitions) for _, run in columns]],
        ["budget deferrals", *[fmt(run.deferrals) for _, run in columns]],
        *[
            [f"`{name}` invocations", *[fmt(run.billed_invocations.get(name, 0)) for _, run in columns]]
            for name in functions
        ],
        ["DynamoDB requests", *[fmt(run.dynamodb_requests) for _, run in columns]],
        ["S3 requests", *[fmt(run.s3_requests) for _, run in columns]],
    ]
    items = list(priced[0])
    money_rows: list[list[object]] = [[item, *[money(p[item]) for p in priced]] for item in items]
    money_rows.append(["**total, ours**", *[f"**{money(cost.total(p))}**" for p in priced]])
    money_rows.append(["one polling worker", *[money(polling) for _ in priced]])
    money_rows.append(["ratio ours / polling", *[f"{cost.total(p) / polling:.2f}" for p in priced]])
    headers = ["per run", *[label for label, _ in columns]]
    durations = ", ".join(f"`{k}` {v * 1000:g} ms" for k, v in DURATION_S.items())
    return "\n\n".join(
        [
            "## 8. Cost per run, from measured counts",
            f"Counted by the local runtime as AWS bills them (the run report's `state_transitions`, "
            f'`lambda_invocations`, `deferrals`, `aws_requests`; local/README.md, "Report") in {source}. '
            "Extrapolated sizes: each count as fixed + per connection x N, a least-squares line through "
            "the measured runs without a deferral, plus per deferral x the deferrals the default budget "
            f"gives N when AWS starts the children at about {AWS_CHILD_STARTS_PER_SECOND:g} a second "
            f"(burst {budget.burst:,}, then one every {budget.interval_s:.4f} s; per deferral: "
            f"{fitted.deferral_basis}). Nothing is modelled but the durations and the dbt task.",
            markdown_table(headers, count_rows),
            markdown_table(headers, money_rows),
            "- Per connection (the fit): "
            f"{_per_connection(fitted, 'transitions')} state transitions, "
            f"{_per_connection(fitted, 'lambda:start_sync')} `start_sync` and "
            f"{_per_connection(fitted, 'lambda:api_handler')} webhook invocations, "
            f"{_per_connection(fitted, 'dynamodb')} DynamoDB and {_per_connection(fitted, 's3')} S3 "
            f"requests; per deferral: {fitted.per_deferral.get('transitions', 0.0):.2f} transitions, "
            f"{fitted.per_deferral.get('lambda:start_sync', 0.0):.2f} `start_sync` invocations and "
            f"{fitted.per_deferral.get('dynamodb', 0.0):.2f} DynamoDB requests.",
            f"- Priced: DynamoDB requests as writes of {cost.WRITE_UNITS_PER_WRITE} units and S3 requests "
            "as PUTs (the report does not split reads from writes: an upper bound); the requests include "
            "the safety net's passes during the run. Lambda GB-seconds at "
            f"{memory_mb} MB with assumed durations ({durations}, others {OTHER_DURATION_S * 1000:g} ms: "
            "the local runtime's in-process durations are not Lambda's); `"
            + "`, `".join(SCHEDULED)
            + "` is left out (a schedule, one a minute whatever the runs: about $0.06 a month). dbt: "
            f"{dbt_s:g} s on Fargate ({cost.DBT_TASK_VCPU:g} vCPU, {cost.DBT_TASK_GB:g} GB); the polling "
            f"worker ({worker.vcpu:g} vCPU, {worker.gb:g} GB) is held for a {window_s:g} s sync window "
            "and dbt.",
            f"- Rates: {cost.describe_rates()} S3 Standard: PUT ${cost.S3_PUT_PER_REQUEST * 1000:.3f} per "
            f"1,000, GET ${cost.S3_GET_PER_REQUEST * 1000:.4f} per 1,000 (source: {cost.S3_SOURCE}).",
        ]
    )


def _cost(run: BilledRun | None, memory_mb: int, dbt_s: float) -> str:
    return "—" if run is None else money(cost.total(price_run(run, memory_mb=memory_mb, dbt_s=dbt_s)))


def _wall(row: LargestRow) -> str:
    if row.wall_s is None:
        return "—"
    return (
        fmt(row.wall_s, 0)
        if row.how.startswith("measured")
        else f"at least {fmt(row.wall_s, 0)} (the budget and a sync)"
    )


def largest_section(
    rows: Sequence[LargestRow], *, budget: Budget, memory_mb: int, dbt_s: float, notes: Sequence[str]
) -> str:
    table = markdown_table(
        [
            "connections",
            "how",
            "execution",
            "wall time (s)",
            "peak RSS (MiB)",
            "state transitions",
            "deferrals (most per connection)",
            "`start_sync` invocations",
            "cost per run",
        ],
        [
            [
                fmt(r.connections),
                r.how,
                r.status,
                _wall(r),
                fmt(r.peak_rss_mib, 0) if r.peak_rss_mib is not None else "—",
                fmt(r.run.transitions) if r.run else "—",
                (
                    f"{fmt(r.run.deferrals)} ({r.max_deferrals_per_connection})"
                    if r.run and r.max_deferrals_per_connection is not None
                    else (fmt(r.run.deferrals) if r.run else "—")
                ),
                fmt(r.run.billed_invocations.get("start_sync", 0)) if r.run else "—",
                _cost(r.run, memory_mb, dbt_s),
            ]
            for r in rows
        ],
    )
    paced = {
        r.connections: paced_trigger_seconds(r.connections, burst=budget.burst, interval_s=budget.interval_s)
        for r in rows
    }
    lines = [
        "## 11. The largest run at the default budget",
        f"One run of N generated connections at every default setting (`python -m local demo`: syncs of "
        "5-20 s that all succeed, the stack's heartbeat and safety-net threshold, warehouse writes and "
        f"dbt included), the API budget at its default: {budget.burst:,} triggers at once, then "
        f"{budget.per_hour:,} an hour (one every {budget.interval_s:.4f} s). Wall time: the demo's "
        "process, start to exit; peak RSS: that process (moto, the in-process Lambdas, the simulator).",
        table,
        "- The budget alone: "
        + "; ".join(f"{n:,} connections need at least {s:,.0f} s of triggers" for n, s in paced.items())
        + " (the triggers over the burst, one per interval), whatever the machine.",
        *[f"- {note}" for note in notes],
    ]
    return "\n\n".join([*lines[:3], "\n".join(lines[3:])])
