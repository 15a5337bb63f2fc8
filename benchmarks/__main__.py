"""``python -m benchmarks`` (``make bench``): run the benchmarks, print Markdown, write ``results.md``.

Every benchmark is bounded in count and time and talks to 127.0.0.1 only. With no benchmark flag all
nine run (about half an hour on 2 busy cores: the wall-time and trouble runs start the local runtime
once per side and case); ``--quick`` shrinks each (a few minutes). The polling peer's venv
(``.venv-bench``) is created on first use with pip from PyPI. Progress goes to stderr; the Markdown
goes to stdout and to ``--output``. ``--readme`` also replaces the table block in README.md's
"Performance" section (between the ``bench:begin``/``bench:end`` markers).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import ROOT, cost
from benchmarks.attribution import run_attribution
from benchmarks.child import dbt_python
from benchmarks.latency import SideResult, durations, run_ours, run_peer
from benchmarks.new_data_pattern import HOURS_IN_A_WEEK
from benchmarks.new_data_week import run_week
from benchmarks.peer_env import PEER_VENV, ensure_peer_env
from benchmarks.report.attribution import attribution_section
from benchmarks.report.cost import cost_section, distributed_cost_section, lambda_memory_mb
from benchmarks.report.latency import latency_section
from benchmarks.report.new_data_week import new_data_week_section
from benchmarks.report.scale import scale_section
from benchmarks.report.sidebyside import trouble_section, walltime_section
from benchmarks.report.sync_stage import sync_stage_section
from benchmarks.report.webhook import webhook_section
from benchmarks.scale import limits, run_scale
from benchmarks.sidebyside import CaseRun, run_case, trouble_scenario, walltime_scenario
from benchmarks.sync_stage import run_sync_stage
from benchmarks.tables import machine, machine_line
from benchmarks.webhook import CaseResult, run_webhook_benchmark

RESULTS = Path(__file__).resolve().with_name("results.md")
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    which = parser.add_argument_group("benchmarks (none given: all)")
    which.add_argument("--latency", action="store_true", help="ours versus the polling peer")
    which.add_argument("--webhook", action="store_true", help="webhook receiver throughput")
    which.add_argument("--scale", action="store_true", help="10 to 1,000 connections")
    which.add_argument("--cost", action="store_true", help="cost per run (runs 10 and 100 connections)")
    which.add_argument("--walltime", action="store_true", help="wall time at scale, ours versus the peer")
    which.add_argument("--trouble", action="store_true", help="API outage and 429 storm, both sides")
    which.add_argument("--attribution", action="store_true", help="attribution under chaos, both rules")
    which.add_argument("--syncstage", action="store_true", help="the sync stage of 100 five-second syncs")
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
        "--new-data-hours", type=int, default=HOURS_IN_A_WEEK, help="new-data week: hourly runs (168)"
    )
    parser.add_argument(
        "--new-data-log", type=Path, help="new-data week: append a JSON line per run here (the week so far)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--readme", action="store_true", help="also update README.md's Performance table")
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
        args.new_data_week,
    )
    if not any(chosen):
        args.latency = args.webhook = args.scale = args.cost = True
        args.walltime = args.trouble = args.attribution = args.syncstage = True
        args.new_data_week = True
    if args.quick:
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


def _peer(args: argparse.Namespace, workdir: Path) -> tuple[Path, str, str]:
    """(python, mode, note) for the peer driver."""
    if args.peer_mode == "reimplementation":
        return Path(sys.executable), "reimplementation", "--peer-mode reimplementation was given"
    if args.peer_python:
        return args.peer_python, "real", f"`{args.peer_python}` (--peer-python)"
    _say(f"preparing the peer's venv {PEER_VENV.name} (pip, first run only)")
    env = ensure_peer_env(install=not args.no_peer_install, log=workdir / "peer-install.log")
    if env.python is not None:
        return env.python, "real", f"dagster-fivetran, the real package, in its own venv ({env.note})"
    if args.peer_mode == "real":
        raise SystemExit(f"bench: the peer could not be installed: {env.note}")
    _say(f"peer not installable, measuring the re-implementation: {env.note}")
    return (
        Path(sys.executable),
        "reimplementation",
        f"**dagster-fivetran could not be installed here** ({env.note})",
    )


def _latency(args: argparse.Namespace, workdir: Path) -> tuple[str, float | None]:
    sync_durations = durations(args.connections)
    dbt = dbt_python()
    run_dbt = not args.no_dbt and dbt.exists()
    problems: list[str] = []
    if not args.no_dbt and not run_dbt:
        problems.append(f"no dbt interpreter at {dbt}: our run skipped dbt")
        os.environ["DBT_PYTHON"] = sys.executable  # the runtime checks it exists; dbt is not started
    _say(f"latency: our run of {len(sync_durations)} connections")
    sides: list[SideResult] = [run_ours(sync_durations, workdir / "ours", run_dbt=run_dbt)]
    python, mode, note = _peer(args, workdir)
    for interval in (None, 1.0):
        _say(f"latency: peer ({mode}) at {'its default' if interval is None else f'{interval:g} s'} interval")
        try:
            sides.append(
                run_peer(sync_durations, python, mode=mode, poll_interval_s=interval, workdir=workdir)
            )
        except (RuntimeError, OSError, ValueError) as exc:
            problems.append(f"peer run failed: {exc}")
    if mode == "reimplementation":
        note += (
            "; measured instead: the labelled re-implementation of dagster-fivetran's `sync_and_poll` "
            "(`benchmarks/peer_driver.py`), the same calls in the same order, not the package"
        )
    return latency_section(sides, sync_durations, note, problems), sides[0].extra.get("dbt_s")


def _definition() -> str:
    """Which Map the local runtime's state machine uses, read from the definition it provisions."""
    text = (ROOT / "statemachine" / "orchestrator.asl.json").read_text(encoding="utf-8")
    if '"DISTRIBUTED"' in text:
        return "the Distributed Map definition (every sync started at once)"
    return "the inline Map definition (`MaxConcurrency` 10: the runtime's default)"


def _walltime(args: argparse.Namespace, workdir: Path, peer: tuple[Path, str, str]) -> str:
    low, high = (float(x) for x in args.walltime_range.split(","))
    rows: list[tuple[int, CaseRun | None, CaseRun | None, str]] = []
    per_connection = 0.0
    for n in sorted(int(x) for x in args.walltime_sizes.split(",") if x.strip()):
        predicted = high + 30 + per_connection * n
        if per_connection and predicted > args.walltime_budget:
            rows.append(
                (
                    n,
                    None,
                    None,
                    f"not run: ours predicted {predicted:.0f} s, over the {args.walltime_budget:g} s budget",
                )
            )
            continue
        raw = walltime_scenario(n, low, high)
        _say(f"walltime: ours, {n} connections")
        ours = run_case(raw, side="ours", workdir=workdir)
        _say(f"walltime: peer, {n} connections")
        theirs = run_case(raw, side="peer", workdir=workdir, peer_python=peer[0], peer_mode=peer[1])
        notes = [f"{side.side}: {side.status} {side.note}".strip() for side in (ours, theirs) if not side.ok]
        rows.append((n, ours, theirs, "; ".join(notes)))
        if ours.to_dbt_s:
            per_connection = max(0.0, ours.to_dbt_s - high) / n
    return walltime_section(rows, low, high, _definition())


def _trouble(args: argparse.Namespace, workdir: Path, peer: tuple[Path, str, str]) -> str:
    n, low, high = (5, 10.0, 14.0) if args.quick else (10, 20.0, 40.0)
    plans = [
        ("API outage (503)", "outage", 3.0, 8.0 if args.quick else 15.0),
        ("429 storm, long Retry-After", "storm", 3.0, 12.0 if args.quick else 35.0),
    ]
    cases = []
    for name, kind, start, length in plans:
        description = (
            f"{n} connections, syncs of {low:g}-{high:g} s; from {start:g} s for {length:g} s every call "
            + ("answers 503" if kind == "outage" else f"answers 429 with Retry-After up to {length:g} s")
        )
        ours_runs, peer_runs = [], []
        for i in range(args.trouble_runs):
            raw = trouble_scenario(kind, n, low, high, start + 2 * i, length)
            _say(f"trouble: {kind} run {i + 1}, ours")
            ours_runs.append(run_case(raw, side="ours", workdir=workdir))
            _say(f"trouble: {kind} run {i + 1}, peer")
            peer_runs.append(
                run_case(raw, side="peer", workdir=workdir, peer_python=peer[0], peer_mode=peer[1])
            )
        cases.append((name, description, ours_runs, peer_runs))
    return trouble_section(cases)


def _new_data_week(args: argparse.Namespace, workdir: Path) -> list[str]:
    """The new-data week's section, if asked for (both modes side by side: under the same load)."""
    if not args.new_data_week:
        return []
    _say(f"new-data week: {args.new_data_hours} hourly runs per mode, both modes side by side")
    week = run_week(workdir / "new-data-week", args.new_data_hours, parallel=True, log=args.new_data_log)
    return [new_data_week_section(week)]


def _tables_only(section: str) -> str:
    """A section's heading (one level down, under README's Performance) and its tables, without the notes."""
    kept: list[str] = []
    for line in section.splitlines():
        if line.startswith("## "):
            kept.append("#### " + line[3:])
        elif line.startswith("|") or (not line.strip() and kept and kept[-1].strip()):
            kept.append(line)
    return "\n".join(kept).strip()


def _readme(text: str) -> bool:
    content = README.read_text(encoding="utf-8")
    if BEGIN not in content or END not in content:
        return False
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{text.strip()}\n{END}{tail}", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    info = machine()
    sections: list[str] = []
    webhook_cases: list[CaseResult] | None = None
    measured_dbt_s = None
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        if args.latency:
            text, measured_dbt_s = _latency(args, workdir)
            sections.append(text)
        if args.webhook:
            _say(f"webhook: {args.webhook_requests} signed events per case")
            webhook_cases = run_webhook_benchmark(
                requests_per_case=args.webhook_requests,
                time_limit_s=args.webhook_time_limit,
                concurrency=args.webhook_clients,
                workdir=workdir,
            )
            sections.append(webhook_section(webhook_cases, args.webhook_requests, args.webhook_time_limit))
        extra: list[str] = []
        peer = _peer(args, workdir) if (args.walltime or args.trouble) else None
        if args.walltime and peer is not None:
            extra.append(_walltime(args, workdir, peer))
        if args.trouble and peer is not None:
            extra.append(_trouble(args, workdir, peer))
        if args.attribution:
            real_worlds = args.attribution_real_worlds or args.attribution_worlds
            _say(f"attribution: {args.attribution_worlds} worlds ({real_worlds} through the real path)")
            result = run_attribution(args.attribution_worlds, real_worlds=real_worlds)
            extra.append(attribution_section(result, real_worlds))
        if args.syncstage:
            _say(f"sync stage: {args.syncstage_runs} runs of 100 connections")
            extra.append(
                sync_stage_section(run_sync_stage(args.syncstage_runs, workdir=workdir), args.syncstage_runs)
            )
        extra += _new_data_week(args, workdir)
        if args.cost:
            extra.append(
                distributed_cost_section(
                    [10, 100, 1_000, 10_000],
                    memory_mb=lambda_memory_mb(),
                    dbt_s=args.dbt_seconds,
                    window_s=args.sync_window,
                    model=cost.DistributedModel(),
                )
            )
        scale_data = None
        if args.scale or args.cost:
            sizes = [int(s) for s in args.scale_sizes.split(",") if s.strip()] if args.scale else []
            sizes = sorted(set(sizes) | ({10, 100} if args.cost else set()))
            _say(f"scale: runs of {sizes} connections, within {args.scale_budget:g} s")
            scale_data = run_scale(
                sizes,
                workdir=workdir,
                budget_s=args.scale_budget,
                max_concurrency=args.max_concurrency,
                real_warehouse=args.real_warehouse,
                paths=args.scale,
                measure_up_to=100 if args.quick else None,
            )
        if args.scale and scale_data is not None:
            sections.append(scale_section(scale_data, limits(scale_data), args.max_concurrency))
        if args.cost and scale_data is not None:
            sections.append(
                cost_section(
                    scale_data,
                    webhook_cases,
                    window_s=args.sync_window,
                    dbt_s=args.dbt_seconds,
                    measured_dbt_s=measured_dbt_s,
                )
            )
    sections.extend(extra)
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    header = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Machine: {machine_line(info)}.",
            f"Command: `python -m benchmarks{(' ' + flags) if flags else ''}` "
            f"(`make bench` runs it with `--readme`); took {time.monotonic() - began:.0f} s.",
        ]
    )
    document = "\n\n".join([header, *sections]) + "\n"
    print(document)
    args.output.write_text(document, encoding="utf-8")
    _say(f"written to {args.output}")
    if args.readme:
        block = f"Latest run: {machine_line(info)}.\n\n" + "\n\n".join(_tables_only(s) for s in sections)
        _say("README.md updated" if _readme(block) else "README.md has no bench markers; not updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
