"""The sync stage of a 100-connection run: every sync of 5 s, default settings, nothing switched off.

Plays ``local/scenarios/hundred_connections.yaml`` (100 generated connections, 5-second syncs that
all succeed, the simulator's warehouse writes and dbt included) in the local runtime, each run in a
child process (``python -m benchmarks.sync_stage --child FILE``) so that moto starts empty. Per run:

- **sync stage**: the Distributed Map's ``MapRunStarted`` to its ``MapRunSucceeded`` (or failure),
  from the execution history, and its ratio to one sync's duration (5 s);
- **triggers**: when the first and last sync triggers were made and the first sync ended (the
  simulator's clock, from the execution's start), and whether every trigger came before that end.

The figure the issue asks for is the ratio (target: under 4); no test times it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import ROOT
from benchmarks.child import run_child

__all__ = ["SCENARIO", "StageRun", "run_sync_stage"]

SCENARIO = ROOT / "local" / "scenarios" / "hundred_connections.yaml"
RUN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class StageRun:
    status: str  # the execution's
    connections: int
    sync_s: float  # one sync's duration
    stage_s: float | None  # MapRunStarted to the Map run's end
    first_trigger_s: float | None  # from ExecutionStarted
    last_trigger_s: float | None
    first_end_s: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.stage_s is None else self.stage_s / self.sync_s

    @property
    def all_triggered_before_first_end(self) -> bool:
        return None not in (self.last_trigger_s, self.first_end_s) and (
            self.last_trigger_s <= self.first_end_s  # type: ignore[operator]
        )


def run_sync_stage(runs: int, *, workdir: Path) -> list[StageRun]:
    """``runs`` runs of the scenario, each in its own process; a run that fails to report is left out."""
    results = []
    for i in range(runs):
        out = workdir / f"sync-stage-{i}.json"
        log = workdir / "sync-stage.log"
        run_child("sync_stage", ["--child", str(out)], log=log, timeout_s=RUN_TIMEOUT_S)
        if out.exists():
            results.append(StageRun(**json.loads(out.read_text(encoding="utf-8"))))
    return results


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _child(out: Path) -> None:
    from local.runtime import LocalRuntime
    from local.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    sync_s = float(scenario.connectors[0].sync.duration_s)
    with LocalRuntime(scenario, pace=True) as runtime:
        result = runtime.run()
        assert runtime.simulator is not None
        zero = result.history[0]["timestamp"]
        stage = _map_run_seconds(result.history)
        ours = [s for c in runtime.simulator.connections.values() for s in c.syncs if s.ours]
        starts = sorted((s.started - zero).total_seconds() for s in ours)
        ends = sorted((s.ended - zero).total_seconds() for s in ours if s.ended is not None)
        run = StageRun(
            status=result.described["status"],
            connections=len(scenario.connectors),
            sync_s=sync_s,
            stage_s=stage,
            first_trigger_s=starts[0] if starts else None,
            last_trigger_s=starts[-1] if starts else None,
            first_end_s=ends[0] if ends else None,
        )
    out.write_text(json.dumps(asdict(run)), encoding="utf-8")


def _map_run_seconds(history: list[dict[str, Any]]) -> float | None:
    started = next((e["timestamp"] for e in history if e["type"] == "MapRunStarted"), None)
    ends = ("MapRunSucceeded", "MapRunFailed", "MapRunAborted")
    ended = next((e["timestamp"] for e in history if e["type"] in ends), None)
    return None if started is None or ended is None else (ended - started).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync_stage", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--child", type=Path, help="run once here and write the figures to this file")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-stage-") as tmp:
        for run in run_sync_stage(args.runs, workdir=Path(tmp)):
            print(json.dumps({**asdict(run), "ratio": run.ratio}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
