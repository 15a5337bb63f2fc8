"""The Markdown sections of ``results.md``: one function per benchmark, results in, text out."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks import cost
from benchmarks.history import STEP_FUNCTIONS_MAX_EVENTS, STEP_FUNCTIONS_MAX_PAYLOAD_BYTES
from benchmarks.latency import PRODUCTION_RECONCILE_AFTER_S, RECONCILE_EVERY_S, SideResult
from benchmarks.scale import ScaleLimits
from benchmarks.stats import ratio
from benchmarks.tables import fmt, markdown_table, money
from benchmarks.webhook import CaseResult

__all__ = ["cost_section", "lambda_memory_mb", "latency_section", "scale_section", "webhook_section"]

ROOT = Path(__file__).resolve().parent.parent
WRITE_OPS = ("PutItem", "UpdateItem", "DeleteItem")
READ_OPS = ("Query", "GetItem")


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
        f"- Ours: the `TaskSucceeded` event of each `StartSyncAndWait` in the history (webhook → `chalice "
        f"local` → `SendTaskSuccess`); the execution {ours.extra.get('status')}, "
        f"{ours.extra.get('history_events')} history events"
        + (f", dbt took {dbt_s:.1f} s after the syncs (not in the latency)." if dbt_s else "."),
        "- Peer: when `sync_and_poll` returned. It calls the legacy `/v1/connectors` paths through the "
        "benchmark's proxy (`benchmarks/peer_proxy.py`), which counts every call.",
        f"- API calls by endpoint: {endpoints}.",
        f"- 1-hour model: ours = the measured calls plus the safety net's one `GET` every "
        f"{RECONCILE_EVERY_S // 60} min once a token is older than {PRODUCTION_RECONCILE_AFTER_S} s; the "
        "peer = its measured setup calls plus one `GET` per poll interval for an hour.",
    ]
    lines += [f"- **Problem:** {p}" for p in problems]
    return "\n".join(lines)


def webhook_section(cases: list[CaseResult], requests_per_case: int, time_limit_s: float) -> str:
    rows = [
        [
            c.target,
            "yes" if c.parked else "no",
            c.concurrency,
            c.sent,
            c.ok,
            c.resolved,
            fmt(c.rps, 0),
            fmt(c.p50_ms, 1),
            fmt(c.p99_ms, 1),
        ]
        for c in cases
    ]
    table = markdown_table(
        [
            "target",
            "parked tokens",
            "clients",
            "requests",
            "200",
            "tokens resolved",
            "req/s",
            "p50 (ms)",
            "p99 (ms)",
        ],
        rows,
    )
    per_event = next((c.aws_calls_per_event for c in cases if c.target == "in-process" and c.parked), {})
    calls = ", ".join(f"`{k}` {v:g}" for k, v in per_event.items()) or "not measured"
    return "\n".join(
        [
            "## 2. Webhook receiver throughput",
            "",
            f"Signed `sync_end` events, at most {requests_per_case} per case and {time_limit_s:g} s, on "
            "127.0.0.1 against moto. In-process = `chalicelib.webhook.handler.handle_webhook`, one request "
            "at a "
            "time (what one Lambda container does); `chalice local` = the real route over HTTP with "
            "concurrent clients.",
            "",
            table,
            "",
            f"- AWS calls per event with a parked token (in-process, counted): {calls}. Without one: "
            "a single `Query`.",
            "- Parked tokens are written straight into the table, so moto's Step Functions answers "
            "`InvalidToken` and the handler deletes them as already resolved: the same calls as a "
            "live token.",
            "- On AWS, API Gateway and Lambda scale out per request; these figures bound one container "
            "(in-process) and a development server (`chalice local`), not the deployed endpoint.",
        ]
    )


def _predicted_status(limits: ScaleLimits | None, n: int) -> str:
    if limits is None:
        return "not run" if n > 10_000 else "not run (within the 10,000-connection ceiling)"
    if limits.payload_at(n) > STEP_FUNCTIONS_MAX_PAYLOAD_BYTES:
        return "would fail: payload over 256 KiB"
    if limits.events_at(n) > STEP_FUNCTIONS_MAX_EVENTS:
        return "would fail: over 25,000 events"
    return "would succeed"


def scale_section(scale: dict[str, Any], limits: ScaleLimits | None, max_concurrency: int) -> str:
    rows = []
    measured = [r for r in scale["runs"] if r.get("measured")]
    per_connection_s = (measured[-1]["wall_s"] / measured[-1]["connections"]) if measured else None
    for run in scale["runs"]:
        n = run["connections"]
        if run.get("measured"):
            status = run["status"] + (f" ({run['error']})" if run.get("error") else "")
            rows.append(
                [
                    fmt(n),
                    "measured",
                    status,
                    fmt(run["wall_s"], 1),
                    fmt(run["rss_peak_mb"], 0),
                    fmt(run["history_events"]),
                    fmt(run["iteration_events_median"], 0),
                    fmt(run["transitions"]),
                    fmt(run["largest_payload_bytes"] / 1024, 1),
                ]
            )
        else:
            rows.append(
                [
                    fmt(n),
                    "extrapolated",
                    _predicted_status(limits, n),
                    f"~{per_connection_s * n:.0f}" if per_connection_s else "—",
                    "—",
                    f"~{limits.events_at(n):,}" if limits else "—",
                    fmt(limits.events_per_connection, 0) if limits else "—",
                    "—",
                    f"~{limits.payload_at(n) / 1024:.1f}" if limits else "—",
                ]
            )
    table = markdown_table(
        [
            "connections",
            "how",
            "execution",
            "wall time (s)",
            "peak RSS (MiB)",
            "history events",
            "events / connection",
            "state transitions",
            "largest state payload (KiB)",
        ],
        rows,
    )
    lines = [
        "## 3. Scale",
        "",
        f"Syncs of 0.5-1.5 s, `MaxConcurrency` {max_concurrency or 'unset (every sync at once)'}, "
        "dbt replaced by a task that exits 0, the "
        "simulator's DuckDB writes off"
        + (" (kept: --real-warehouse)" if any(r.get("real_warehouse") for r in measured) else "")
        + ". Wall time is the execution's; peak RSS is the runtime's process (moto, in-process Lambdas, "
        "simulator), not `chalice local`.",
        "",
        table,
        "",
    ]
    if limits:
        paths = scale.get("paths") or {}
        by_outcome = paths.get("events_by_outcome", {})
        resched = limits.events_per_rescheduled
        limit_rows = [
            [
                "history events",
                f"{STEP_FUNCTIONS_MAX_EVENTS:,}",
                f"{limits.events_per_connection:g} per connection"
                + (f" ({resched:g} if rescheduled once)" if resched else ""),
                f"{limits.fixed_events:g}",
                f"{limits.by_events():,}"
                + (f" ({limits.by_events(resched):,} if every sync is rescheduled once)" if resched else ""),
            ],
            [
                "state input/output",
                "256 KiB",
                f"{limits.payload_per_connection:.0f} bytes per connection",
                f"{limits.payload_fixed:.0f} bytes",
                f"{limits.by_payload():,}",
            ],
        ]
        lines += [
            "Largest group one execution can hold:",
            "",
            markdown_table(["limit", "quota", "grows by", "fixed part", "largest group"], limit_rows),
            "",
            "- Per path, events per iteration (paths run): "
            + ", ".join(f"{k} {v:g}" for k, v in by_outcome.items())
            + ".",
            "- The payload is the `SyncConnectors` Map state's output: every connection's outcome, written "
            "over the input list (`ResultPath: $.connectors`). It grows with connection id and schema "
            "lengths; these runs use Fivetran-length ids (`bench_conn_0001`, `bench_schema_0001`).",
        ]
    if limits is None and measured:
        lines += [
            "- The run's own history and state do not grow with connections: each sync runs in a child "
            "execution of the Distributed Map (its own history, about 12 events), and the state keeps "
            "a bounded summary (outcomes go to S3). One run's ceiling is `MAX_CONNECTIONS_PER_RUN` "
            "(10,000, Step Functions' most child executions at once), not a payload or history limit.",
        ]
    for run in measured:
        if run["status"] == "SUCCEEDED":
            continue
        line = f"- {run['connections']:,} connections: {run['error']}: {run['cause'][:200]}"
        if run["error"] == "States.DataLimitExceeded":
            line += (
                f" Every one of its {run['iterations']:,} syncs ran; then the Map's output passed 256 KiB "
                "and the execution failed before dbt. `States.ALL` in the Map's `Catch` does not catch this "
                "error (nor does it on AWS). Its largest recorded payload is smaller: the oversized output "
                "never reaches the history."
            )
        lines.append(line)
    lines += [f"- {note}." for note in scale.get("notes", [])]
    return "\n".join(lines)


def lambda_memory_mb() -> int:
    """The functions' memory from ``.chalice/config.json`` (what AWS bills GB-seconds on)."""
    try:
        config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
        return int(config.get("lambda_memory_size", 128))
    except (OSError, ValueError):
        return 128


def _ours_usage(
    run: dict[str, Any], webhook_seconds: float, memory_mb: int, dbt_s: float, window_s: float
) -> tuple[cost.Usage, int]:
    webhooks = int(run["webhooks"]["accepted"])
    durations = [seconds for _name, seconds in run["lambda_calls"]] + [webhook_seconds] * webhooks
    ddb = run["dynamodb_calls"]
    # the webhook (chalice local, another process) claims and deletes each token after one Query
    writes = sum(ddb.get(op, 0) for op in WRITE_OPS) + 2 * webhooks
    reads = sum(ddb.get(op, 0) for op in READ_OPS) + webhooks
    n = int(run["connections"])
    checks = max(0, math.ceil((window_s - PRODUCTION_RECONCILE_AFTER_S) / RECONCILE_EVERY_S))
    api_calls = int(run["fivetran_api_calls"]) + checks * n
    usage = cost.Usage(
        transitions=int(run["transitions"]),
        lambda_requests=len(durations),
        lambda_gb_seconds=cost.lambda_gb_seconds(durations, memory_mb),
        apigw_requests=webhooks,
        dynamodb_write_units=writes * cost.WRITE_UNITS_PER_WRITE,
        dynamodb_read_units=reads * cost.READ_UNITS_PER_READ,
        fargate_seconds=dbt_s,
        fargate_vcpu=cost.DBT_TASK_VCPU,
        fargate_gb=cost.DBT_TASK_GB,
    )
    return usage, api_calls


def cost_section(
    scale: dict[str, Any],
    webhook_cases: list[CaseResult] | None,
    *,
    window_s: float,
    dbt_s: float,
    measured_dbt_s: float | None,
    sizes: tuple[int, int] = (10, 100),
) -> str:
    runs = {r["connections"]: r for r in scale["runs"] if r.get("measured") and r["status"] == "SUCCEEDED"}
    missing = [n for n in sizes if n not in runs]
    if missing:
        return f"## 4. Cost per run\n\nNot computed: no successful run of {missing} connections."
    if all(not runs[n].get("iterations") for n in sizes):
        return (
            "## 4. Cost per run\n\n"
            "Not priced from the histories: each sync runs in a child execution of the Distributed Map, "
            "whose "
            "transitions and `start_sync` invocations are not in the run's history (the run's own history "
            f"holds {runs[sizes[0]]['history_events']} events at {sizes[0]} connections and "
            f"{runs[sizes[1]]['history_events']} at {sizes[1]}). Section 8 prices the distributed run from "
            "the definition's shape, against the same polling worker."
        )
    memory = lambda_memory_mb()
    parked = next((c for c in webhook_cases or [] if c.target == "in-process" and c.parked), None)
    webhook_s = (sum(parked.latencies_ms) / len(parked.latencies_ms) / 1000) if parked else 0.05
    webhook_basis = "measured in-process mean" if parked else "assumed (webhook benchmark not run)"
    worker = cost.PollingWorker()
    columns: list[tuple[str, dict[str, float], int]] = []
    for n in sizes:
        usage, calls = _ours_usage(runs[n], webhook_s, memory, dbt_s, window_s)
        columns.append((f"ours, {n}", cost.price(usage), calls))
        polling = cost.polling_usage(worker, window_s, dbt_s)
        columns.append((f"polling, {n}", cost.price(polling), cost.polling_api_calls(worker, n, window_s)))
    items = list(columns[0][1])
    rows = [[item, *[money(col[1][item]) for col in columns]] for item in items]
    rows.append(["**total per run**", *[f"**{money(cost.total(col[1]))}**" for col in columns]])
    rows.append(["Fivetran API calls per run", *[fmt(col[2]) for col in columns]])
    table = markdown_table(["line item", *[c[0] for c in columns]], rows)
    ours_totals = [cost.total(columns[0][1]), cost.total(columns[2][1])]
    even = cost.break_even(sizes[0], ours_totals[0], sizes[1], ours_totals[1], cost.total(columns[1][1]))
    transitions = {n: runs[n]["transitions"] for n in sizes}
    local_dbt = f"; the local dbt run took {measured_dbt_s:.1f} s" if measured_dbt_s else ""
    per_connection = (transitions[sizes[1]] - transitions[sizes[0]]) / (sizes[1] - sizes[0])
    lines = [
        "## 4. Cost per run",
        "",
        f"Assumed production run: the longest sync lasts {window_s / 60:g} min; `dbt build` runs "
        f"{dbt_s / 60:g} min on Fargate ({cost.DBT_TASK_VCPU:g} vCPU, {cost.DBT_TASK_GB:g} GB, the "
        f"template's default){local_dbt}.",
        "",
        f"- Ours: state transitions, Lambda invocations and their durations come from the execution "
        f"histories of the {sizes[0]}- and {sizes[1]}-connection runs of section 3 ({transitions[sizes[0]]} "
        f"and {transitions[sizes[1]]} transitions). Each webhook is one API Gateway request and one Lambda "
        f"invocation of {webhook_s * 1000:.1f} ms ({webhook_basis}). Lambda memory: {memory} MB "
        "(`.chalice/config.json`). Fivetran API calls include the safety net's checks over the window.",
        f"- Polling: one worker (a Dagster run worker, an Airflow worker) on Fargate, {worker.vcpu:g} vCPU / "
        f"{worker.gb:g} GB, held for the sync window and then running dbt itself, polling every "
        f"{worker.poll_interval_s:g} s (dagster-fivetran's default).",
        "",
        table,
        "",
        f"- Rates: {cost.describe_rates()}",
        f"- DynamoDB: {cost.WRITE_UNITS_PER_WRITE} write units per write (a token item is 1-2 KB) and "
        f"{cost.READ_UNITS_PER_READ} read unit per consistent `Query`; per sync: park, claim, delete, one "
        "query.",
        "- Not per run: the `reconcile_syncs` schedule (8,640 invocations a month, under $0.02 a month at "
        "0.3 s each), CloudWatch Logs, Secrets Manager reads (cached 5 min).",
    ]
    if even is not None and even > 0:
        calls_then = cost.polling_api_calls(worker, round(even), window_s)
        lines.append(
            "- Our cost grows with connections (Step Functions transitions: about "
            f"{per_connection:.1f} per connection); one polling worker's does not. With a "
            f"{window_s / 60:g}-minute sync window both cost the same at about {even:,.0f} connections "
            f"per run, where the worker makes {calls_then:,} Fivetran API calls per run."
        )
    return "\n".join(lines)
