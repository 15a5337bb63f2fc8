"""``python -m benchmarks``'s command line: which benchmarks run, and their sizes."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import ROOT, cost
from benchmarks.new_data_pattern import HOURS_IN_A_WEEK
from benchmarks.peer_env import PEER_VENV

__all__ = ["RESULTS", "parse_args"]

RESULTS = Path(__file__).resolve().with_name("results.md")
DESCRIPTION = (
    "``python -m benchmarks`` (``make bench``): run the benchmarks, print Markdown, write ``results.md``."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=DESCRIPTION)
    which = parser.add_argument_group("benchmarks (none given: all)")
    which.add_argument("--latency", action="store_true", help="ours versus the polling peer")
    which.add_argument("--webhook", action="store_true", help="webhook receiver throughput")
    which.add_argument("--scale", action="store_true", help="10 to 1,000 connections")
    which.add_argument(
        "--cost",
        action="store_true",
        help="cost per run, priced from the wall-time runs' counts (implies --walltime)",
    )
    which.add_argument("--walltime", action="store_true", help="wall time at scale, ours versus the peer")
    which.add_argument("--trouble", action="store_true", help="API outage and 429 storm, both sides")
    which.add_argument("--attribution", action="store_true", help="attribution under chaos, both rules")
    which.add_argument("--syncstage", action="store_true", help="the sync stage of 100 five-second syncs")
    which.add_argument(
        "--webhookpath", action="store_true", help="where a webhook's time goes (section 1's run, timed)"
    )
    which.add_argument(
        "--largest", action="store_true", help="the largest run at the default budget (up to 10,000)"
    )
    which.add_argument(
        "--new-data-week", action="store_true", help="a week of hourly dbt runs, mode new_data versus all"
    )
    parser.add_argument("--quick", action="store_true", help="smaller and faster: for a first look")
    parser.add_argument("--connections", type=int, default=8, help="latency: connections (default 8)")
    parser.add_argument("--no-dbt", action="store_true", help="latency: skip the real dbt run at the end")
    parser.add_argument(
        "--peer-mode",
        choices=("auto", "real", "reimplementation"),
        default="auto",
        help="auto: the real dagster-fivetran, else the labelled re-implementation",
    )
    parser.add_argument("--peer-python", type=Path, help="a Python with dagster-fivetran (skips .venv-bench)")
    parser.add_argument("--no-peer-install", action="store_true", help=f"never create {PEER_VENV.name}")
    parser.add_argument("--webhook-requests", type=int, default=500, help="per case (default 500)")
    parser.add_argument(
        "--webhook-time-limit", type=float, default=20.0, help="seconds per case (default 20)"
    )
    parser.add_argument("--webhook-clients", type=int, default=4, help="chalice local clients (default 4)")
    parser.add_argument(
        "--scale-sizes", default="10,100,500,1000", help="connections per run (default 10,100,500,1000)"
    )
    parser.add_argument("--scale-budget", type=float, default=240.0, help="seconds for all scale runs")
    parser.add_argument(
        "--max-concurrency", type=int, default=0, help="the Map's MaxConcurrency (0: every sync at once)"
    )
    parser.add_argument(
        "--real-warehouse", action="store_true", help="scale: keep the simulator's DuckDB writes"
    )
    parser.add_argument("--sync-window", type=float, default=cost.ASSUMED_SYNC_WINDOW_SECONDS, help="cost: s")
    parser.add_argument("--dbt-seconds", type=float, default=cost.ASSUMED_DBT_SECONDS, help="cost: s")
    parser.add_argument("--walltime-sizes", default="10,100,1000", help="connections (default 10,100,1000)")
    parser.add_argument(
        "--walltime-range", default="5,20", help="sync durations low,high in s (default 5,20)"
    )
    parser.add_argument(
        "--walltime-budget",
        type=float,
        default=300.0,
        help="skip a size predicted over this (s, default 300)",
    )
    parser.add_argument("--syncstage-runs", type=int, default=3, help="sync stage runs (default 3)")
    parser.add_argument("--trouble-runs", type=int, default=1, help="runs per fault and side (default 1)")
    parser.add_argument("--attribution-worlds", type=int, default=200, help="random worlds (default 200)")
    parser.add_argument(
        "--attribution-real-worlds", type=int, default=None, help="of which through the real path (all)"
    )
    parser.add_argument(
        "--largest-sizes", default="2500,10000", help="largest: connections (default 2500,10000)"
    )
    parser.add_argument(
        "--largest-limit",
        type=float,
        default=3600.0,
        help="largest: skip a size the default budget alone keeps past this (s, default 3600)",
    )
    parser.add_argument(
        "--from-measurements",
        type=Path,
        help="render the wall-time, cost and largest sections from this --measurements folder; run none",
    )
    parser.add_argument("--merge", action="store_true", help="replace only these sections in --output")
    parser.add_argument(
        "--measurements",
        type=Path,
        help="keep each section's raw measurements (JSON) in this folder",
    )
    parser.add_argument(
        "--new-data-hours", type=int, default=HOURS_IN_A_WEEK, help="new-data week: hourly runs (168)"
    )
    parser.add_argument(
        "--new-data-log", type=Path, help="new-data week: append a JSON line per run here (the week so far)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    chosen = (
        args.latency,
        args.webhook,
        args.scale,
        args.cost,
        args.walltime,
        args.trouble,
        args.attribution,
        args.syncstage,
        args.largest,
        args.webhookpath,
        args.new_data_week,
    )
    if not any(chosen):
        args.latency = args.webhook = args.scale = args.cost = True
        args.walltime = args.trouble = args.attribution = args.syncstage = args.largest = args.webhookpath = (
            True
        )
        args.new_data_week = True
    if args.cost:
        args.walltime = True
    if args.quick:
        args.largest_sizes = "10000"  # estimated from the budget, not run
        args.walltime_sizes = "10,100"
        args.walltime_range = "2,8"
        args.trouble_runs = 1
        args.syncstage_runs = 1
        args.attribution_real_worlds = min(args.attribution_real_worlds or 60, 60)
        args.connections = min(args.connections, 4)
        args.webhook_requests = min(args.webhook_requests, 100)
        args.webhook_time_limit = min(args.webhook_time_limit, 10.0)
        args.scale_budget = min(args.scale_budget, 90.0)
        args.new_data_hours = min(args.new_data_hours, 24)
    return args
