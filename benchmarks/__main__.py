"""``python -m benchmarks`` (``make bench``): run the benchmarks, print Markdown, write ``results.md``.

Every benchmark is bounded in count and time and talks to 127.0.0.1 only. With no benchmark flag all
run (28 minutes on 2 idle cores on 2026-12-07, longer on busy ones: the new-data week, the largest run, 2,500
connections at the default budget, take most of it; 10,000 is extrapolated, as the budget alone keeps
it past the hour); ``--quick`` shrinks each (7 minutes on 2 idle cores). The polling peer's venv
(``.venv-bench``) is created on first use with pip from PyPI. Progress goes to stderr; the Markdown
goes to stdout and to ``--output`` (``benchmarks/results.md``, the one place the figures live).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks import ROOT
from benchmarks.attribution import run_attribution
from benchmarks.child import dbt_python
from benchmarks.latency import SideResult, durations, run_ours, run_peer
from benchmarks.measured_runs import (
    LargestRun,
    deferral_probe,
    largest_runs,
    load_walltime,
    measured_sections,
    merge_sections,
    webhook_line,
)
from benchmarks.new_data_week import run_week
from benchmarks.options import parse_args
from benchmarks.peer_env import PEER_VENV, ensure_peer_env
from benchmarks.report.attribution import attribution_section
from benchmarks.report.cost import lambda_memory_mb
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
from benchmarks.webhook_path.__main__ import measure as measure_webhook_path
from benchmarks.webhook_path.__main__ import render as render_webhook_path


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


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


def _load() -> str:
    """The load averages (1, 5, 15 min) now, and the UTC time: other work may share the CPU."""
    one, five, fifteen = os.getloadavg()
    return f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load {one:.2f} {five:.2f} {fifteen:.2f}"


def _keep(args: argparse.Namespace, name: str, data: object) -> None:
    """Write one measurement to ``--measurements`` (if given), so its section can be re-rendered."""
    if args.measurements is None:
        return
    args.measurements.mkdir(parents=True, exist_ok=True)
    (args.measurements / f"{name}.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def _walltime(
    args: argparse.Namespace, workdir: Path, peer: tuple[Path, str, str]
) -> tuple[str, list[tuple[int, CaseRun | None, CaseRun | None, str]]]:
    low, high = (float(x) for x in args.walltime_range.split(","))
    if args.from_measurements is not None:
        saved, loads = load_walltime(args.from_measurements)
        section = walltime_section(saved, low, high, _definition())
        measured = "- Measured (UTC, load averages 1/5/15 min): " + "; ".join(loads) + "."
        notes = args.from_measurements / "walltime-notes.txt"
        extra = notes.read_text(encoding="utf-8").strip() if notes.exists() else ""
        return "\n".join([section, "", measured, webhook_line(saved), extra]).rstrip(), saved
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
        _keep(args, f"walltime-{n}", {"ours": asdict(ours), "peer": asdict(theirs), "load": _load()})
        if ours.to_dbt_s:
            per_connection = max(0.0, ours.to_dbt_s - high) / n
    return walltime_section(rows, low, high, _definition()), rows


def _webhook_path(args: argparse.Namespace) -> str:
    """Section 12; its raw stages kept in ``--measurements`` (``webhookpath.json``)."""
    saved = args.from_measurements / "webhookpath.json" if args.from_measurements else None
    if saved is not None and saved.exists():
        return render_webhook_path(saved)
    _say(f"webhook path: {args.connections} connections, timed")
    raw = args.measurements / "webhookpath.json" if args.measurements else None
    if raw is not None:
        raw.parent.mkdir(parents=True, exist_ok=True)
    return measure_webhook_path(args.connections, raw)


def _measured(
    args: argparse.Namespace, workdir: Path, walltime: list[tuple[int, CaseRun | None, CaseRun | None, str]]
) -> list[str]:
    """Sections 8 (cost from measured counts) and 11 (the largest run)."""
    sizes = [int(x) for x in args.largest_sizes.split(",") if x.strip()]
    runs: list[LargestRun] = []
    notes: list[str] = []
    if args.largest:
        _say(
            f"largest: {sizes} connections (a size the budget keeps past {args.largest_limit:g} s: estimated)"
        )
        runs, notes = largest_runs(
            sizes,
            limit_s=args.largest_limit,
            workdir=workdir,
            keep=args.measurements,
            load=args.from_measurements,
        )
    # Each run where it ran (not the machine rendering it: a kept run may come from another).
    where = [f"{r.connections:,}: {r.machine or 'machine not recorded'}, load {r.load}" for r in runs]
    notes.append(f"Machine and load averages (1/5/15 min) at each run's end: {'; '.join(where) or '—'}.")
    probe = None
    saved = (
        [args.from_measurements / f"deferral-{n}.json" for n in ("probe", "twin")]
        if args.from_measurements
        else []
    )
    if saved and all(path.exists() for path in saved):
        probe = (
            CaseRun(**json.loads(saved[0].read_text("utf-8"))),
            CaseRun(**json.loads(saved[1].read_text("utf-8"))),
        )
    elif args.from_measurements is None and (args.walltime or args.cost):
        _say("cost: 20 connections at a tiny budget (each trigger but one deferred), and at the default")
        probe = deferral_probe(workdir)
        _keep(args, "deferral-probe", asdict(probe[0]))
        _keep(args, "deferral-twin", asdict(probe[1]))
    return measured_sections(
        walltime,
        runs,
        probe=probe,
        extrapolate=sorted({*sizes, 10_000}),
        memory_mb=lambda_memory_mb(),
        dbt_s=args.dbt_seconds,
        window_s=args.sync_window,
        notes=notes,
    )


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


def _with_notes(sections: list[str], folder: Path | None) -> list[str]:
    """Each section with ``notes-<n>.txt`` of the measurements folder (a person's notes) appended."""
    if folder is None:
        return sections
    noted = []
    for section in sections:
        number = section.split(".", 1)[0].removeprefix("## ")
        extra = folder / f"notes-{number}.txt"
        noted.append(
            section.rstrip() + "\n" + extra.read_text(encoding="utf-8").rstrip()
            if extra.exists()
            else section
        )
    return noted


def _document(args: argparse.Namespace, header: str, sections: list[str]) -> str:
    """The results file: the header and the sections, or (``--merge``) the sections put into it."""
    if args.merge and args.output.exists():
        numbers = ", ".join(line.split(".")[0].removeprefix("## ") for line in sections)
        machine_and_command = header.split("\n", 2)[2].replace("\n", " ")
        note = f"{'Sections' if len(sections) > 1 else 'Section'} {numbers}: {machine_and_command}"
        taken = args.from_measurements / "commands.txt" if args.from_measurements else None
        if taken is not None and taken.exists():  # how the measurements rendered here were taken
            note += " Measured by: " + " ".join(taken.read_text(encoding="utf-8").split())
        return merge_sections(args.output.read_text(encoding="utf-8"), sections, note)
    return "\n\n".join([header, *sections]) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    info = machine()
    sections: list[str] = []
    webhook_cases: list[CaseResult] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        if args.latency:
            text, _dbt_s = _latency(args, workdir)
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
        if args.webhookpath:
            extra.append(_webhook_path(args))
        rendering = args.from_measurements is not None
        peer = _peer(args, workdir) if ((args.walltime and not rendering) or args.trouble) else None
        walltime_rows: list[tuple[int, CaseRun | None, CaseRun | None, str]] = []
        if args.walltime:
            text, walltime_rows = _walltime(args, workdir, peer or (Path(sys.executable), "", ""))
            extra.append(text)
        if args.walltime or args.largest or args.cost:
            extra.extend(_measured(args, workdir, walltime_rows))
        if args.trouble and peer is not None:
            extra.append(_trouble(args, workdir, peer))
        if args.attribution:
            real_worlds = min(
                args.attribution_real_worlds or args.attribution_worlds, args.attribution_worlds
            )
            _say(f"attribution: {args.attribution_worlds} worlds ({real_worlds} through the real path)")
            result = run_attribution(args.attribution_worlds, real_worlds=real_worlds)
            extra.append(attribution_section(result, real_worlds))
        if args.syncstage:
            _say(f"sync stage: {args.syncstage_runs} runs of 100 connections")
            extra.append(
                sync_stage_section(run_sync_stage(args.syncstage_runs, workdir=workdir), args.syncstage_runs)
            )
        extra += _new_data_week(args, workdir)
        scale_data = None
        if args.scale:
            sizes = sorted({int(s) for s in args.scale_sizes.split(",") if s.strip()})
            _say(f"scale: runs of {sizes} connections, within {args.scale_budget:g} s")
            scale_data = run_scale(
                sizes,
                workdir=workdir,
                budget_s=args.scale_budget,
                max_concurrency=args.max_concurrency,
                real_warehouse=args.real_warehouse,
                paths=True,
                measure_up_to=100 if args.quick else None,
            )
        if args.scale and scale_data is not None:
            sections.append(scale_section(scale_data, limits(scale_data), args.max_concurrency))
    sections.extend(extra)
    sections = _with_notes(sections, args.from_measurements)
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    header = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Machine: {machine_line(info)}.",
            (
                f"Rendered by `python -m benchmarks{(' ' + flags) if flags else ''}` from saved measurements."
                if args.from_measurements
                else f"Command: `python -m benchmarks{(' ' + flags) if flags else ''}` "
                f"(`make bench`); took {time.monotonic() - began:.0f} s."
            ),
        ]
    )
    document = _document(args, header, sections)
    print(document)
    args.output.write_text(document, encoding="utf-8")
    _say(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
