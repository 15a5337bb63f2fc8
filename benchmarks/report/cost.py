"""Sections 4 and 8 of ``results.md``: the cost of one run against one polling worker, priced from
the measured scale runs (section 4) and from the distributed definition's shape (section 8); the
prices and the model are ``benchmarks.cost``'s."""

from __future__ import annotations

import json
import math
from typing import Any

from benchmarks import ROOT, cost
from benchmarks.latency import PRODUCTION_RECONCILE_AFTER_S, RECONCILE_EVERY_S
from benchmarks.tables import fmt, markdown_table, money
from benchmarks.webhook import CaseResult

__all__ = ["cost_section", "distributed_cost_section", "lambda_memory_mb"]

WRITE_OPS = ("PutItem", "UpdateItem", "DeleteItem")
READ_OPS = ("Query", "GetItem")


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
    api_calls = int(run["fivetran_api_calls"]) + checks * math.ceil(n / 1000)  # one group listing a pass
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
        "(`.chalice/config.json`). Fivetran API calls include the safety net's group listings over the "
        "window.",
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
        "- Not per run: the `reconcile_syncs` schedule (43,200 invocations a month, about $0.06 a month at "
        "0.3 s each before the free tier), CloudWatch Logs, Secrets Manager reads (cached 5 min).",
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
            "A model, not a measurement, and a low one: the local runtime now measures what AWS bills each "
            "run (`python -m local demo --report`: `state_transitions` of the parent and of every child, the "
            "child's start included, `lambda_invocations`, `deferrals`, `aws_requests`; local/README.md, "
            '"Report"), but this table has not been re-priced from measured runs yet (issue 23). Where the '
            "model is now known to be wrong: AWS bills one more transition for each child execution the Map "
            "starts (4 per child on the success path: the start, `StartSyncAndWait`, `WasRescheduled`, "
            "`Record*`, not 3), and a trigger the API budget defers costs 6 more "
            "(`LogRateLimit`, `RateLimitedBeforeDeadline`, `WaitForRateLimit`, `TriggerAgain` and a second "
            "`StartSyncAndWait` + `WasRescheduled`) and one "
            "more `start_sync` invocation; at the default budget (a burst of 2,000) runs of up to 2,000 "
            "connections defer none. The model's other inputs: the distributed definition (every sync at "
            "once, child executions reading their items from S3, ResultWriter, `collect_outcomes`). Per run: "
            f"{model.parent_transitions} parent transitions + {model.map_run_transitions} for the map run "
            f"+ {model.child_transitions} per child execution; S3: "
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
