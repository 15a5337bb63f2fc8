"""A week of hourly runs on the demo project, selection by new data against ``mode: all`` (issue 21).

Each hour, each demo connection's sync lands rows or not (``new_data_pattern.week_pattern``: most syncs
of most connections load nothing), written into a DuckDB file by the local warehouse as the simulator
writes them; then the dbt task runs: ``dbt_container/entrypoint.py`` in the dbt venv, the code the ECS
task runs, with the environment the state machine's ``RunDbt`` overrides give it (``DBT_MODE``,
``RUN_ID``, ``ARTIFACTS_BUCKET``, ``DBT_EXCLUDE_SOURCES_URI``), the run's ``outcomes.json``,
``connections.json`` and ``exclude_sources.json`` in a moto S3 server (what CollectOutcomes and
list_connectors write), and the build state kept in that bucket between runs, as on AWS. Each mode has its
own warehouse file and bucket and replays the same week.

Before the week, one bootstrap run per mode (every connection loads rows; the first run builds
everything) is not counted. After every counted run, each model it did not build is checked against the
warehouse (``TruthCheck``). Run it from ``python -m benchmarks --new-data-week`` or alone:
``python -m benchmarks.new_data_week [--hours N]`` (prints the section).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import duckdb

from benchmarks import ROOT
from benchmarks.child import dbt_python
from benchmarks.new_data_pattern import (
    DEMO_CONNECTIONS,
    HOURS_IN_A_WEEK,
    Connection,
    HourResult,
    ModeResult,
    Sync,
    TruthCheck,
    lineage,
    week_pattern,
)
from benchmarks.tables import machine_line
from local import warehouse
from local.dbt_env import dbt_task_env

ENTRYPOINT = ROOT / "dbt_container" / "entrypoint.py"
MODES = ("new_data", "all")
BOOTSTRAP_ROWS = 20
RUN_TIMEOUT_S = 600
_LOG_LOCK = threading.Lock()


def _say(message: str) -> None:
    print(f"bench: new-data week: {message}", file=sys.stderr, flush=True)


@dataclass
class WeekResult:
    hours: int
    seed: int
    connections: tuple[Connection, ...]
    pattern: list[dict[str, Sync]]
    modes: list[ModeResult]
    models: int  # the project's models
    wall_s: float
    started: str = ""  # UTC, when the week began
    load: tuple[float, float] = (0.0, 0.0)  # the 15-minute load average at the start and at the end
    manifest: dict[str, Any] | None = None  # the project's manifest.json (for the replay of every hour)


class ModeRunner:
    """One mode's warehouse, bucket and runs."""

    def __init__(self, mode: str, workdir: Path, endpoint: str, python: Path) -> None:
        self.mode, self.endpoint, self.python = mode, endpoint, python
        self.folder = workdir / mode
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = self.folder / "warehouse.duckdb"
        self.bucket = f"bench-week-{mode.replace('_', '-')}"
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's stand-in credentials
        )
        self.s3.create_bucket(Bucket=self.bucket)

    def land(self, connections: tuple[Connection, ...], hour: dict[str, Sync], seed: int) -> None:
        """Write the hour's rows: each sync that loaded rows (failed ones included) lands them now."""
        synced_at = datetime.now(UTC)
        loads = [
            warehouse.Load(c.schema, c.service, hour[c.connector_id].rows, seed + i, synced_at)
            for i, c in enumerate(connections)
            if hour[c.connector_id].rows > 0
        ]
        if loads:
            for written in warehouse.write_syncs(self.db, loads):
                if isinstance(written, Exception):
                    raise written

    def _put(self, run_id: str, name: str, body: Any) -> str:
        key = f"runs/{run_id}/{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(body).encode())
        return f"s3://{self.bucket}/{key}"

    def run(self, run_id: str, connections: tuple[Connection, ...], hour: dict[str, Sync]) -> dict[str, Any]:
        """The run's files in S3, then the dbt task to its end: its summary line, plus ``task_s``."""
        failed = [c for c in connections if hour[c.connector_id].failed]
        self._put(
            run_id,
            "connections.json",
            [{"connector_id": c.connector_id, "schema": c.schema, "service": c.service} for c in connections],
        )
        self._put(
            run_id,
            "outcomes.json",
            {
                "connections": [
                    {
                        "connector_id": c.connector_id,
                        "schema": c.schema,
                        "outcome": "failed" if c in failed else "succeeded",
                    }
                    for c in connections
                ]
            },
        )
        exclude_uri = self._put(run_id, "exclude_sources.json", [c.schema for c in failed])
        env = {
            **dbt_task_env(self.endpoint),
            "DUCKDB_PATH": str(self.db),
            "DBT_MODE": self.mode,
            "RUN_ID": run_id,
            "ARTIFACTS_BUCKET": self.bucket,
            "DBT_EXCLUDE_SOURCES_URI": exclude_uri,
            "DBT_TARGET_PATH": str(self.folder / "target"),
            "DBT_LOG_PATH": str(self.folder / "logs"),
        }
        began = time.monotonic()
        done = subprocess.run(
            [str(self.python), str(ENTRYPOINT)],
            env=env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        task_s = time.monotonic() - began
        lines = [line for line in done.stdout.splitlines() if line.startswith('{"event": "dbt_summary"')]
        if not lines:
            raise RuntimeError(f"{run_id}: no summary (exit {done.returncode}): {done.stderr[-2000:]}")
        summary: dict[str, Any] = json.loads(lines[-1])
        (self.folder / "logs" / f"{run_id}.stderr").write_text(done.stderr, encoding="utf-8")
        return {**summary, "task_s": task_s, "returncode": done.returncode}

    def truth(self, tables: set[str]) -> dict[str, str | None]:
        """Each source table's ``max(_fivetran_synced)`` in the warehouse now (None: no such table)."""
        found: dict[str, str | None] = {}
        with duckdb.connect(str(self.db), read_only=True) as con:
            for table in sorted(tables):
                try:
                    row = con.execute(f"select max(_fivetran_synced) from {table}").fetchone()  # noqa: S608
                except duckdb.CatalogException:
                    row = None
                found[table] = str(row[0]) if row and row[0] is not None else None
        return found

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "target" / "manifest.json").read_text())
        return data


def run_mode(
    mode: str,
    workdir: Path,
    endpoint: str,
    connections: tuple[Connection, ...],
    pattern: list[dict[str, Sync]],
    python: Path,
    log: Path | None = None,
) -> tuple[ModeResult, dict[str, Any]]:
    """Bootstrap, then one run per hour of ``pattern``: (the mode's result, the project's manifest)."""
    runner = ModeRunner(mode, workdir, endpoint, python)
    everything = {c.connector_id: Sync(BOOTSTRAP_ROWS) for c in connections}
    runner.land(connections, everything, seed=1)
    first = runner.run(f"{mode}-bootstrap", connections, everything)
    if first["exit_code"] != 0:
        raise RuntimeError(f"{mode}: the bootstrap run failed: {first}")
    manifest = runner.manifest()
    models = lineage(manifest)
    tables = set().union(*models.values())
    check = TruthCheck(models)
    check.after_run(first["models_built"], runner.truth(tables))
    result = ModeResult(mode)
    for number, hour in enumerate(pattern):
        runner.land(connections, hour, seed=1000 * (number + 1))
        summary = runner.run(f"{mode}-h{number:03d}", connections, hour)
        failed = [c.schema for c in connections if hour[c.connector_id].failed]
        hour_check = check.after_run(summary["models_built"], runner.truth(tables), failed)
        selection = summary.get("selection") or {}
        result.hours.append(
            hour_result := HourResult(
                hour=number,
                exit_code=int(summary["exit_code"]),
                models_built=list(summary["models_built"]),
                build_started=not selection.get("skipped", False),
                dbt_s=float(summary["elapsed_s"]),
                task_s=float(summary["task_s"]),
                false_skips=hour_check.false_skips,
                held_back=hour_check.held_back,
            )
        )
        if log is not None:
            with _LOG_LOCK, log.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"mode": mode, "models": len(models), **asdict(hour_result)}) + "\n")
        _say(
            f"{mode} hour {number + 1}/{len(pattern)}: built {len(summary['models_built'])}, "
            f"exit {summary['exit_code']}, {summary['task_s']:.1f} s"
            + (f", FALSE SKIPS {hour_check.false_skips}" if hour_check.false_skips else "")
        )
    return result, manifest


def run_week(
    workdir: Path,
    hours: int = HOURS_IN_A_WEEK,
    seed: int = 21,
    modes: tuple[str, ...] = MODES,
    *,
    parallel: bool = False,
    log: Path | None = None,
) -> WeekResult:
    """Both modes over the same ``hours`` of rows; a moto S3 server for the run's files and state.
    ``parallel``: the modes side by side (each its own warehouse and bucket; both under the same load).
    ``log``: a JSON line per counted run appended as it ends (the week so far, if it is stopped)."""
    from moto.server import ThreadedMotoServer

    python = dbt_python()
    if not python.exists():
        raise RuntimeError(f"no dbt interpreter at {python}: the benchmark runs the real dbt")
    connections = DEMO_CONNECTIONS
    pattern = week_pattern(connections, hours, seed)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    began, started, load_before = time.monotonic(), datetime.now(UTC), os.getloadavg()[2]
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        if log is not None:
            meta = {"hours": hours, "seed": seed, "started": datetime.now(UTC).isoformat()}
            log.write_text(json.dumps({"week": meta, "load": os.getloadavg()[2]}) + "\n", encoding="utf-8")

        def one(mode: str) -> tuple[ModeResult, dict[str, Any]]:
            _say(f"{mode}: bootstrap, then {hours} hourly runs")
            return run_mode(mode, workdir, endpoint, connections, pattern, python, log)

        with ThreadPoolExecutor(max_workers=len(modes) if parallel else 1) as pool:
            done = list(pool.map(one, modes))
        results, manifest = [r for r, _ in done], done[0][1]
    finally:
        server.stop()
    return WeekResult(
        hours,
        seed,
        connections,
        pattern,
        results,
        len(lineage(manifest)),
        time.monotonic() - began,
        started.strftime("%Y-%m-%d %H:%M UTC"),
        (load_before, os.getloadavg()[2]),
        manifest,
    )


def week_from_log(log: Path, seed: int = 21, manifest: Path | None = None) -> WeekResult:
    """The week so far from ``run_week``'s log: the hours every mode measured (the first N of the week),
    the pattern replayed from the seed; ``manifest``: the project's, kept from the week's runs."""
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    head, runs = lines[0], lines[1:]
    by_mode: dict[str, ModeResult] = {}
    models = 0
    for run in runs:
        models = max(models, int(run.pop("models")))
        mode = run.pop("mode")
        by_mode.setdefault(mode, ModeResult(mode)).hours.append(HourResult(**run))
    hours = min((len(m.hours) for m in by_mode.values()), default=0)
    for result in by_mode.values():  # the hours both modes measured, so their totals compare
        result.hours = sorted(result.hours, key=lambda h: h.hour)[:hours]
    seed = int(head["week"].get("seed", seed))
    return WeekResult(
        hours,
        seed,
        DEMO_CONNECTIONS,
        week_pattern(DEMO_CONNECTIONS, hours, seed),
        [by_mode[m] for m in MODES if m in by_mode],
        models,
        (
            datetime.fromtimestamp(log.stat().st_mtime, UTC) - datetime.fromisoformat(head["week"]["started"])
        ).total_seconds(),
        datetime.fromisoformat(head["week"]["started"]).strftime("%Y-%m-%d %H:%M UTC"),
        (float(head["load"]), os.getloadavg()[2]),
        json.loads(manifest.read_text(encoding="utf-8")) if manifest else None,
    )


def main(argv: list[str] | None = None) -> int:

    from benchmarks.report.new_data_week import new_data_week_section

    parser = argparse.ArgumentParser(prog="python -m benchmarks.new_data_week", description=__doc__)
    parser.add_argument("--hours", type=int, default=HOURS_IN_A_WEEK)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--parallel", action="store_true", help="both modes side by side")
    parser.add_argument("--log", type=Path, help="append a JSON line per run here")
    parser.add_argument("--from-log", type=Path, help="only print the section of a --log file so far")
    parser.add_argument("--manifest", type=Path, help="with --from-log: the project's manifest.json")
    args = parser.parse_args(argv)
    if args.from_log:
        week = week_from_log(args.from_log, args.seed, args.manifest)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-week-") as tmp:
            week = run_week(Path(tmp), args.hours, args.seed, parallel=args.parallel, log=args.log)
    title, rest = new_data_week_section(week).split("\n", 1)
    print(f"{title}\n\nMachine: {machine_line()}.\n{rest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
